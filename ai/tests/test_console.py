"""The console, search and document pages and the API, as agents and administrators use them."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from django_q.conf import Conf

from ai import services
from ai.index_sync import sync_pending
from ai.models import Chunk, Collection, Document, IngestionRun, Source
from ai.store import get_store
from ai.tests import fixtures_files as ff
from ai.tests.conftest import upload
from core import access
from core.audit import PERMISSION_DENIED
from core.models import AuditEvent, User, Visibility
from core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STATIONNEMENT = """# Stationnement résidentiel

Le tarif résident du stationnement sur voirie est de vingt euros par mois, sur présentation
d'un justificatif de domicile de moins de trois mois.
"""

CIMETIERE = """# Concessions funéraires

Une concession au cimetière communal est accordée pour quinze, trente ou cinquante ans.
"""


@pytest.fixture
def q_sync(settings, monkeypatch):
    """django-q2 runs `async_task` inline: the run started by a page executes in the request."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 reads it once, at import


def fresh(user: User) -> User:
    """The user as a new request would load it (no cached access ids)."""
    return User.objects.get(pk=user.pk)


def ingest(source: Source, user, files) -> IngestionRun:
    services.add_uploads(user=user, source=source, files=files)
    run = services.start_run(source, user=user, inline=True)
    sync_pending()
    return run


# --- The AI administrator of a direction ----------------------------------------------------------


def test_ai_administrator_runs_their_direction_from_the_console(
    client, org, q_sync, monkeypatch, settings
):
    rh, fin = org["rh"], org["fin"]
    # Another direction's documents, indexed (not yet pushed to the index) and failed.
    services.add_uploads(
        user=org["admin_fin"], source=org["src_fin"], files=[upload("budget.md", CIMETIERE)]
    )
    services.start_run(org["src_fin"], inline=True)
    Document.objects.create(
        source=org["src_fin"], collection=org["col_fin"], uri="fin.pdf", status="failed"
    )
    assert Chunk.objects.filter(collection=org["col_fin"], synced=False).exists()
    client.force_login(org["admin_rh"])
    page = client.get("/ia/console/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Base RH" in html and "Base Finances" not in html
    assert list(page.context["form"].fields["direction"].queryset) == [rh]

    # A collection for their direction; a forged one for another direction is refused.
    fields = {"name": "Urbanisme", "slug": "urbanisme", "visibility": "direction"}
    forged = client.post("/ia/console/", {**fields, "direction": fin.pk})
    assert forged.status_code == 200
    assert "Sélectionnez un choix valide" in forged.content.decode()
    assert not Collection.objects.filter(slug="urbanisme").exists()
    created = client.post("/ia/console/", {**fields, "direction": rh.pk})
    collection = Collection.objects.get(slug="urbanisme")
    assert created.url == f"/ia/console/bases/{collection.pk}/"
    assert (collection.direction, collection.visibility) == (rh, Visibility.DIRECTION)

    # An upload source, added the way the form posts it.
    response = client.post(
        f"/ia/console/bases/{collection.pk}/",
        {
            "action": "source",
            "src-name": "Dépôt urbanisme",
            "src-kind": "upload",
            "src-schedule_minutes": "0",
            "src-folder_include": "*",
            "src-max_depth": "3",
            "src-max_pages": "200",
        },
    )
    source = Source.objects.get(collection=collection)
    assert response.url == f"/ia/console/sources/{source.pk}/"
    assert source.kind == Source.Kind.UPLOAD

    # Two files dropped at once; the second hits a passing crash (the worker runs inline).
    settings.AI_MAX_ATTEMPTS = 1  # no back-off retry: the document fails for good at once
    real_convert = services.convert

    def flaky(data, filename, **kwargs):
        if filename == "cimetiere.md":
            raise RuntimeError("disque plein")
        return real_convert(data, filename, **kwargs)

    monkeypatch.setattr(services, "convert", flaky)
    response = client.post(
        f"/ia/console/sources/{source.pk}/",
        {"files": [upload("stationnement.md", STATIONNEMENT), upload("cimetiere.md", CIMETIERE)]},
    )
    assert response.url == f"/ia/console/sources/{source.pk}/"
    monkeypatch.setattr(services, "convert", real_convert)
    run = IngestionRun.objects.get(source=source)
    assert run.status == IngestionRun.Status.DONE
    good = Document.objects.get(source=source, uri="stationnement.md")
    bad = Document.objects.get(source=source, uri="cimetiere.md")
    assert (good.status, bad.status) == (Document.Status.INDEXED, Document.Status.FAILED)

    html = client.get(f"/ia/console/sources/{source.pk}/").content.decode()
    assert escape("2 fichier(s) déposé(s) ; l'indexation est lancée.") in html
    for field, value in {"new": 1, "failed": 1, "done": 2, "total": 2, "deleted": 0}.items():
        assert f'data-field="{field}">{value}</' in html
    assert html.count('badge--status-indexed">Indexé<') == 1
    assert html.count('badge--status-failed">Échec<') == 1
    assert escape(services.UNEXPECTED_ERROR) in html
    assert f"/ia/console/documents/{bad.pk}/reessayer/" in html
    assert f"/ia/console/documents/{good.pk}/reessayer/" not in html
    progress = client.get(f"/ia/console/executions/{run.pk}/progression/").json()
    assert progress == {
        "status": "done",
        "status_label": "Terminée",
        "error": "",
        "new": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "done": 2,
        "deleted": 0,
        "total": 2,
        "percent": 100,
    }
    console = client.get("/ia/console/")
    row = next(c for c in console.context["collections"] if c.pk == collection.pk)
    assert (row.document_count, row.failed) == (2, 1)
    # The figures are those of the direction's collections, not the other directions'.
    assert console.context["stats"] == {
        "documents": 2,
        "failed": 1,
        "chunks": good.chunks.count(),
        "pending": good.chunks.count(),
    }

    # « Réessayer »: the crash has passed, the document is indexed by a run of its own.
    response = client.post(f"/ia/console/documents/{bad.pk}/reessayer/")
    assert response.url == f"/ia/console/sources/{source.pk}/"
    bad.refresh_from_db()
    assert (bad.status, bad.error) == (Document.Status.INDEXED, "")
    retry_run = IngestionRun.objects.filter(source=source).exclude(pk=run.pk).get()
    progress = client.get(f"/ia/console/executions/{retry_run.pk}/progression/").json()
    assert (progress["new"], progress["total"], progress["percent"]) == (1, 1, 100)
    assert AuditEvent.objects.filter(action="ai.document.retry", object_id=str(bad.pk)).exists()

    # Sharing with an agent of another direction, then with a role, then withdrawing both.
    sync_pending()
    agent_fin = org["agent_fin"]
    url = f"/ia/console/bases/{collection.pk}/"
    assert not access.can_view(fresh(agent_fin), collection)
    response = client.post(url, {"action": "share", "share-email": agent_fin.email.upper()})
    assert response.url == url
    assert access.can_view(fresh(agent_fin), collection)
    assert agent_fin.email in client.get(url).content.decode()
    assert (
        client.post(url, {"action": "share", "share-email": "inconnu@ville.example"}).status_code
        == 200
    )
    other = UserFactory(roles=["recruteur"], directions=[fin])
    recruteur = Group.objects.get(name="recruteur")
    client.post(url, {"action": "share", "share-group": recruteur.pk})
    assert access.can_view(fresh(other), collection)
    assert "Rôle « recruteur »" in client.get(url).content.decode()
    client.post(url, {"action": "unshare", "share-email": agent_fin.email})
    client.post(url, {"action": "unshare", "share-group": recruteur.pk})
    assert not access.can_view(fresh(agent_fin), collection)
    assert not access.can_view(fresh(other), collection)
    assert "Aucun partage." in client.get(url).content.decode()
    assert AuditEvent.objects.filter(action="ai.collection.unshare").count() == 2

    # Visibility: every agent may now read it; the payload follows, vectors are not recomputed.
    vectors = dict(Chunk.objects.filter(collection=collection).values_list("pk", "dense"))
    assert vectors
    forged = client.post(url, {"action": "access", "direction": fin.pk, "visibility": "internal"})
    assert forged.status_code == 200
    assert Collection.objects.get(pk=collection.pk).direction == rh
    response = client.post(url, {"action": "access", "direction": rh.pk, "visibility": "internal"})
    assert response.url == url
    chunks = Chunk.objects.filter(collection=collection)
    assert set(chunks.values_list("visibility", flat=True)) == {"internal"}
    assert dict(chunks.values_list("pk", "dense")) == vectors
    sync_pending()
    store = get_store()
    points = store.client.retrieve(store.collection, ids=[str(pk) for pk in vectors])
    assert {p.payload["visibility"] for p in points} == {"internal"}
    client.force_login(agent_fin)
    hits = client.get("/api/v1/ia/recherche/", {"q": "tarif résident stationnement"}).json()
    assert hits[0]["document_id"] == good.pk


def test_agents_get_403_and_other_directions_404_everywhere_in_the_console(client, org):
    run = IngestionRun.objects.create(source=org["src_rh"], total=1)
    doc = Document.objects.create(
        source=org["src_rh"],
        collection=org["col_rh"],
        uri="echec.pdf",
        status=Document.Status.FAILED,
        error="Le PDF est endommagé.",
    )
    col, src = org["col_rh"].pk, org["src_rh"].pk
    gets = [
        "/ia/console/",
        f"/ia/console/bases/{col}/",
        f"/ia/console/sources/{src}/",
        f"/ia/console/executions/{run.pk}/progression/",
        "/ia/console/voir-comme/?email=x@ville.example&q=test",
    ]
    posts = [
        "/ia/console/",
        f"/ia/console/sources/{src}/lancer/",
        f"/ia/console/documents/{doc.pk}/reessayer/",
    ]
    agent = org["agent_rh"]  # of the very direction that owns them: the role is what lacks
    client.force_login(agent)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, {"name": "x"}).status_code == 403, url
    denied = AuditEvent.objects.filter(action=PERMISSION_DENIED, actor=agent)
    assert denied.count() == len(gets) + len(posts)
    assert {e.details["path"] for e in denied} == {u.split("?")[0] for u in gets + posts}

    client.force_login(org["admin_fin"])
    for url in gets[1:4]:
        assert client.get(url).status_code == 404, url
    for url in posts[1:]:
        assert client.post(url).status_code == 404, url
    assert IngestionRun.objects.count() == 1
    doc.refresh_from_db()
    assert doc.status == Document.Status.FAILED
    assert not AuditEvent.objects.filter(action__in=["ai.run.start", "ai.document.retry"]).exists()


# --- « Voir comme » -------------------------------------------------------------------------------


def test_view_as_audits_and_masks_what_the_administrator_may_not_read(client, org):
    fin = org["fin"]
    ingest(
        org["src_fin"],
        org["admin_fin"],
        [upload("primes.md", "# Primes confidentielles\n\nLe barème CONFIDENTIEL des primes.\n")],
    )
    internal = Collection.objects.create(
        name="Guides FIN", slug="guides-fin", direction=fin, visibility=Visibility.INTERNAL
    )
    guide_source = Source.objects.create(collection=internal, name="Guides", kind="upload")
    ingest(
        guide_source,
        org["admin_fin"],
        [upload("guide.md", "# Guide des primes\n\nComment sont versées les primes annuelles.\n")],
    )
    ingest(org["src_rh"], org["admin_rh"], [upload("rh.md", "# Primes RH\n\nPrimes RH.\n")])
    secret = Document.objects.get(uri="primes.md")
    guide = Document.objects.get(uri="guide.md")

    client.force_login(org["admin_rh"])
    response = client.get(
        "/ia/console/voir-comme/", {"email": org["agent_fin"].email, "q": "barème des primes"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    rows = response.context["rows"]
    masked = {r["result"].document.pk: r["masked"] for r in rows}
    assert masked == {secret.pk: True, guide.pk: False}
    assert secret.title and secret.title not in html
    assert "CONFIDENTIEL" not in html and "primes.md" not in html
    assert "Masqué : vous n'avez pas accès à cette base." in html
    assert org["col_fin"].name not in html  # not even the name of the other direction's base
    assert guide.title in html and "<mark>primes</mark>" in html
    event = AuditEvent.objects.get(action="ai.view_as")
    assert event.actor == org["admin_rh"]
    assert event.details["as"] == org["agent_fin"].email
    assert event.details["query"] == "barème des primes"


# --- Search page, document page, download ---------------------------------------------------------


@pytest.fixture
def library(org, tmp_path):
    """Collection A: a two-page PDF and a note; collection « Archives RH »: an old folder file."""
    pdf = ff.text_pdf(
        [
            ["Délibération n° 2024-12 du conseil municipal", "Ordre du jour de la séance."],
            [
                "Article 2 : tarifs du stationnement résidentiel",
                "Le tarif résident du stationnement est fixé à vingt euros par mois.",
            ],
        ]
    )
    ingest(
        org["src_rh"],
        org["admin_rh"],
        [upload("deliberation.pdf", pdf), upload("note.md", STATIONNEMENT)],
    )
    archives = services.create_collection(
        user=org["admin_rh"],
        name="Archives RH",
        slug="archives-rh",
        direction=org["rh"],
        visibility=Visibility.DIRECTION,
    )
    folder = tmp_path / "archives"
    folder.mkdir()
    old = folder / "ancien-tarif.txt"
    old.write_text(
        "En 2019, le tarif résident du stationnement était de quinze euros par mois.",
        encoding="utf-8",
    )
    stamp = datetime(2019, 6, 1, 12).timestamp()
    os.utime(old, (stamp, stamp))
    source = services.create_source(
        user=org["admin_rh"],
        collection=archives,
        name="Partage archives",
        kind=Source.Kind.FOLDER,
        config={"path": str(folder)},
    )
    services.start_run(source, inline=True)
    sync_pending()
    return {
        **org,
        "pdf": Document.objects.get(uri="deliberation.pdf"),
        "note": Document.objects.get(uri="note.md"),
        "old": Document.objects.get(uri="ancien-tarif.txt"),
        "archives": archives,
        "pdf_bytes": pdf,
    }


def found(client, **params) -> set[str]:
    response = client.get("/recherche/", {"q": "tarif résident du stationnement", **params})
    assert response.status_code == 200
    return {r.document.uri for r in response.context["results"]}


def test_search_filters_links_document_page_and_download(client, library):
    client.force_login(library["agent_rh"])
    assert found(client) == {"deliberation.pdf", "note.md", "ancien-tarif.txt"}
    assert found(client, collection=library["archives"].pk) == {"ancien-tarif.txt"}
    assert found(client, collection=library["col_rh"].pk) == {"deliberation.pdf", "note.md"}
    assert found(client, format="pdf") == {"deliberation.pdf"}
    assert found(client, format=["markdown", "txt"]) == {"note.md", "ancien-tarif.txt"}
    assert found(client, since="2024-01-01") == {"deliberation.pdf", "note.md"}
    assert found(client, until="2020-12-31") == {"ancien-tarif.txt"}
    assert found(client, since="2019-05-01", until="2019-06-30") == {"ancien-tarif.txt"}
    # A collection the agent may not read is not even a choice.
    other = client.get("/recherche/", {"q": "tarif", "collection": library["col_fin"].pk})
    assert other.context["results"] == [] and other.context["form"].errors

    html = client.get("/recherche/", {"q": "tarif résident du stationnement"}).content.decode()
    pdf = library["pdf"]
    assert f'href="/documents/{pdf.pk}/?page=2&amp;q=' in html
    assert "<mark>stationnement</mark>" in html

    page = client.get(f"/documents/{pdf.pk}/", {"page": 2})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="page-1"' in html and 'id="page-2"' in html
    assert html.index("Ordre du jour") < html.index('id="page-2"') < html.index("vingt euros")
    assert f'src="/documents/{pdf.pk}/fichier/?inline=1#page=2"' in html
    note_html = client.get(f"/documents/{library['note'].pk}/").content.decode()
    assert "<iframe" not in note_html and 'id="page-1"' in note_html

    response = client.get(f"/documents/{pdf.pk}/fichier/", {"inline": "1"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    # Reading the stream lets the test client close the response the safe way; a direct
    # close() would fire request_finished and close the test's database connection.
    assert b"".join(response.streaming_content) == library["pdf_bytes"]
    response = client.get(f"/documents/{library['note'].pk}/fichier/")
    assert response["Content-Type"] == "text/markdown"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"#")
    downloads = AuditEvent.objects.filter(action="ai.document.download", actor=library["agent_rh"])
    assert {e.object_id for e in downloads} == {str(pdf.pk), str(library["note"].pk)}


# --- API ------------------------------------------------------------------------------------------


def test_api_collections_sources_uploads_search_and_schema(client, org, q_sync):
    client.force_login(org["agent_rh"])
    assert [c["slug"] for c in client.get("/api/v1/ia/bases/").json()["results"]] == ["base-rh"]
    body = {"name": "Juridique", "slug": "juridique", "direction": "DRH", "visibility": "direction"}
    assert client.post("/api/v1/ia/bases/", body).status_code == 403
    assert not Collection.objects.filter(slug="juridique").exists()

    client.force_login(org["admin_rh"])
    assert client.post("/api/v1/ia/bases/", {**body, "direction": "FIN"}).status_code == 403
    response = client.post("/api/v1/ia/bases/", body)
    assert response.status_code == 201
    collection = Collection.objects.get(slug="juridique")
    assert response.json()["id"] == collection.pk
    assert collection.direction == org["rh"]

    def new_source(kind, config):
        return client.post(
            "/api/v1/ia/sources/",
            {"collection": collection.pk, "name": "Source", "kind": kind, "config": config},
            content_type="application/json",
        )

    response = new_source("folder", {"path": "partage/juridique"})
    assert response.status_code == 400
    assert response.json() == ["Le chemin du dossier doit être absolu : « partage/juridique »."]
    response = new_source("folder", {"path": "/srv/partages/absent-xyz"})
    assert response.status_code == 400
    assert "n’existe pas" in response.json()[0]
    response = new_source("folder", {"chemin": "/srv"})
    assert response.status_code == 400
    assert "chemin" in response.json()[0]
    response = new_source("sql", {"url": "sqlite:///x.db", "query": "DROP TABLE t"})
    assert response.status_code == 400
    assert "Seule une requête SELECT unique est acceptée" in response.json()[0]
    assert not Source.objects.filter(collection=collection).exists()
    foreign = client.post(
        "/api/v1/ia/sources/",
        {"collection": org["col_fin"].pk, "name": "Intrus", "kind": "upload", "config": {}},
        content_type="application/json",
    )
    assert foreign.status_code == 404
    response = new_source("upload", {})
    assert response.status_code == 201
    source = Source.objects.get(pk=response.json()["id"])

    response = client.post(
        f"/api/v1/ia/sources/{source.pk}/documents/",
        {
            "files": [
                SimpleUploadedFile("stationnement.md", STATIONNEMENT.encode()),
                SimpleUploadedFile("cimetiere.md", CIMETIERE.encode()),
            ]
        },
    )
    assert response.status_code == 201
    assert sorted(d["filename"] for d in response.json()) == ["cimetiere.md", "stationnement.md"]
    statuses = set(Document.objects.filter(source=source).values_list("status", flat=True))
    assert statuses == {Document.Status.INDEXED}
    assert client.post(f"/api/v1/ia/sources/{source.pk}/documents/", {}).status_code == 400

    sync_pending()
    hits = client.get("/api/v1/ia/recherche/", {"q": "concession au cimetière"}).json()
    doc = Document.objects.get(source=source, uri="cimetiere.md")
    assert hits[0]["document_id"] == doc.pk
    assert hits[0]["collection_id"] == collection.pk
    assert "<mark>cimetière</mark>" in hits[0]["snippet"]
    client.force_login(org["agent_fin"])
    assert client.get("/api/v1/ia/recherche/", {"q": "concession au cimetière"}).json() == []

    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/ia/bases/",
        "/api/v1/ia/sources/",
        "/api/v1/ia/sources/{id}/documents/",
        "/api/v1/ia/recherche/",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/ia/sources/{id}/documents/"]


# --- Pages render, in French ----------------------------------------------------------------------


def test_pages_render_in_french_for_a_superuser(client, org):
    ingest(org["src_rh"], org["admin_rh"], [upload("note.md", STATIONNEMENT)])
    boss = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(boss)
    run = IngestionRun.objects.get()
    doc = Document.objects.get()
    expected = {
        "/ia/console/": ["Console d'administration de l'IA", "Nouvelle base de connaissances"],
        f"/ia/console/bases/{org['col_rh'].pk}/": ["Droits d'accès", "Ajouter une source"],
        f"/ia/console/sources/{org['src_rh'].pk}/": ["Déposer des fichiers", "Exécutions"],
        "/ia/console/voir-comme/": ["Voir comme un agent"],
        "/recherche/?q=stationnement": ["Recherche dans les documents", "1 résultat"],
        f"/documents/{doc.pk}/": ["Texte indexé", "Télécharger le fichier d'origine"],
    }
    for url, labels in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="fr"' in html, url
        for label in labels:
            assert label in html, (url, label)
    console = client.get("/ia/console/").content.decode()
    assert "Base RH" in console and "Base Finances" in console
    assert client.get(f"/ia/console/executions/{run.pk}/progression/").json()["percent"] == 100
