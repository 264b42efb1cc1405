"""Nothing crosses directions in the AI layer: search page, API, document view, download."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from ai import services
from ai.index_sync import sync_pending
from ai.models import Chunk, Document
from ai.retrieval import access_filter, search
from ai.store import get_store
from ai.tests.conftest import upload
from core.audit import ACCESS_DENIED
from core.models import AuditEvent, Visibility

pytestmark = pytest.mark.django_db

QUESTION = "Quelle est la procédure de remboursement des frais de déplacement ?"


def _doc(text_word: str) -> str:
    return (
        "# Frais de déplacement\n\nLa procédure de remboursement des frais de déplacement "
        f"passe par le formulaire {text_word}, signé par le responsable hiérarchique.\n"
    )


@pytest.fixture
def indexed(org):
    services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("frais.md", _doc("ROUGE"))]
    )
    services.add_uploads(
        user=org["admin_fin"], source=org["src_fin"], files=[upload("frais.md", _doc("VERT"))]
    )
    services.start_run(org["src_rh"], user=org["admin_rh"], inline=True)
    services.start_run(org["src_fin"], user=org["admin_fin"], inline=True)
    sync_pending()
    org["doc_rh"] = Document.objects.get(source=org["src_rh"])
    org["doc_fin"] = Document.objects.get(source=org["src_fin"])
    return org


def words(results) -> set[str]:
    found = set()
    for r in results:
        for w in ("ROUGE", "VERT", "PUBLIC"):
            if w in r.chunk.text:
                found.add(w)
    return found


def test_each_direction_sees_only_its_own(indexed):
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE"}
    assert words(search(indexed["agent_fin"], QUESTION)) == {"VERT"}
    assert words(search(AnonymousUser(), QUESTION)) == set()


def test_search_page_and_api(client, indexed):
    client.force_login(indexed["agent_rh"])
    page = client.get("/recherche/", {"q": QUESTION}).content.decode()
    assert "ROUGE" in page and "VERT" not in page
    api = client.get("/api/v1/ia/recherche/", {"q": QUESTION}).json()
    assert {h["document_id"] for h in api} == {indexed["doc_rh"].pk}
    # A client cannot widen the filter: asking for the other direction's collection narrows
    # to nothing.
    api = client.get(
        "/api/v1/ia/recherche/", {"q": QUESTION, "collection": indexed["col_fin"].pk}
    ).json()
    assert api == []
    docs = client.get("/api/v1/ia/documents/").json()["results"]
    assert [d["id"] for d in docs] == [indexed["doc_rh"].pk]
    assert client.get(f"/api/v1/ia/documents/{indexed['doc_fin'].pk}/").status_code == 404
    cols = client.get("/api/v1/ia/bases/").json()["results"]
    assert [c["slug"] for c in cols] == ["base-rh"]


def test_document_view_and_download_are_checked(client, indexed):
    client.force_login(indexed["agent_rh"])
    own = indexed["doc_rh"].pk
    other = indexed["doc_fin"].pk
    assert client.get(f"/documents/{own}/").status_code == 200
    assert client.get(f"/documents/{own}/fichier/").status_code == 200
    assert client.get(f"/documents/{other}/").status_code == 404
    assert client.get(f"/documents/{other}/fichier/").status_code == 404
    assert (
        AuditEvent.objects.filter(
            action=ACCESS_DENIED, actor=indexed["agent_rh"], object_id=str(indexed["col_fin"].pk)
        ).count()
        == 2
    )


def test_guardian_share_opens_exactly_the_shared_collection(indexed):
    other_fin = services.create_collection(
        user=indexed["admin_fin"],
        name="Autre base finances",
        slug="autre-fin",
        direction=indexed["fin"],
        visibility=Visibility.DIRECTION,
    )
    services.share_collection(
        user=indexed["admin_fin"], collection=indexed["col_fin"], with_whom=indexed["agent_rh"]
    )
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE", "VERT"}
    # The filter opens the shared collection by id, not its whole direction.
    shared = [
        c
        for c in access_filter(indexed["agent_rh"]).should
        if getattr(c, "key", "") == "collection_id"
    ]
    assert shared[0].match.any == [indexed["col_fin"].pk]
    assert other_fin.pk not in shared[0].match.any
    group = Group.objects.get(name="agent")
    services.unshare_collection(
        user=indexed["admin_fin"], collection=indexed["col_fin"], with_whom=indexed["agent_rh"]
    )
    from core.access import clear_cache

    clear_cache(indexed["agent_rh"])
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE"}
    services.share_collection(
        user=indexed["admin_fin"], collection=indexed["col_fin"], with_whom=group
    )
    clear_cache(indexed["agent_rh"])
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE", "VERT"}


def test_visibility_change_is_applied_without_re_embedding(indexed):
    vectors = dict(Chunk.objects.values_list("pk", "dense"))
    services.update_collection_access(
        user=indexed["admin_fin"],
        collection=indexed["col_fin"],
        direction=indexed["fin"],
        visibility=Visibility.PUBLIC,
    )
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE"}  # not yet pushed
    sync_pending()
    assert words(search(indexed["agent_rh"], QUESTION)) == {"ROUGE", "VERT"}
    assert words(search(AnonymousUser(), QUESTION)) == {"VERT"}
    assert dict(Chunk.objects.values_list("pk", "dense")) == vectors
    payload = (
        get_store()
        .client.retrieve(
            get_store().collection,
            ids=[str(indexed["doc_fin"].chunks.first().pk)],
        )[0]
        .payload
    )
    assert payload["visibility"] == "public"


def test_an_admin_of_one_direction_cannot_manage_another(client, indexed):
    client.force_login(indexed["admin_rh"])
    assert client.get(f"/ia/console/bases/{indexed['col_fin'].pk}/").status_code == 404
    src = indexed["src_fin"].pk
    assert client.post(f"/ia/console/sources/{src}/lancer/").status_code == 404
    response = client.post(
        f"/api/v1/ia/sources/{src}/documents/", {"files": [upload("x.txt", "intrus")]}
    )
    assert response.status_code == 404
    assert not Document.objects.filter(uri="x.txt").exists()


def test_search_page_sets_weak_matches_apart(client, indexed):
    client.force_login(indexed["agent_rh"])
    page = client.get("/recherche/", {"q": QUESTION}).content.decode()
    assert "1 résultat" in page and "ROUGE" in page
    off_topic = client.get("/recherche/", {"q": "capitale du Pérou et ses volcans"})
    text = off_topic.content.decode()
    assert "0 résultat" in text
    assert "ne répond vraiment" in text and "moins pertinent" in text


def test_search_returns_one_passage_per_document_on_demand(indexed):
    long_doc = "\n\n".join(
        f"## Étape {i}\n\nLe remboursement des frais de déplacement, étape {i} : formulaire ROUGE."
        + " Texte de remplissage." * 60
        for i in range(6)
    )
    services.add_uploads(
        user=indexed["admin_rh"], source=indexed["src_rh"], files=[upload("long.md", long_doc)]
    )
    services.start_run(indexed["src_rh"], user=indexed["admin_rh"], inline=True)
    sync_pending()
    passages = search(indexed["agent_rh"], QUESTION, limit=10)
    documents = [r.chunk.document_id for r in passages]
    assert len(documents) > len(set(documents))
    grouped = search(indexed["agent_rh"], QUESTION, limit=10, per_document=True)
    assert len(grouped) == len({r.chunk.document_id for r in grouped}) == 2
