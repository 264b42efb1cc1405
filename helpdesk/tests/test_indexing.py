"""Helpdesk knowledge reaches the AI layer with its access rules: articles for every agent,
resolved tickets and technician notes for the IT department only."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ai import services as ai_services
from ai.index_sync import sync_pending
from ai.models import Collection, Document, Source
from ai.retrieval import search
from ai.tests.conftest import _isolated_store  # noqa: F401 - autouse fixture
from core.models import Visibility
from core.tests.factories import DirectionFactory, UserFactory
from helpdesk import services
from helpdesk.models import Article, Ticket

pytestmark = pytest.mark.django_db


def _app_source(admin, collection, provider):
    return ai_services.create_source(
        user=admin,
        collection=collection,
        name=provider,
        kind=Source.Kind.APP,
        config={"provider": provider},
    )


def test_articles_and_resolutions_are_indexed_with_their_access():
    dsi, rh = DirectionFactory(code="DSI"), DirectionFactory(code="DRH")
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    tech = UserFactory(roles=["agent", "technicien DSI"], directions=[dsi])
    agent = UserFactory(roles=["agent"], directions=[rh])
    Article.objects.create(
        title="Imprimante : bourrage papier",
        body="Ouvrez le capot avant, retirez la feuille coincée puis relancez l'impression.",
        status=Article.Status.PUBLISHED,
    )
    Article.objects.create(
        title="Contrôleur RAID du serveur de fichiers",
        body="Note interne : redémarrer le contrôleur RAID depuis la console iLO.",
        audience=Article.Audience.TECHNICIANS,
        status=Article.Status.PUBLISHED,
    )
    ticket = services.open_ticket(
        requester=agent, title="VPN injoignable", description="Le VPN refuse la connexion."
    )
    services.change_status(
        ticket, Ticket.Status.RESOLVED, by=tech, resolution="Certificat VPN renouvelé."
    )
    kb = Collection.objects.create(
        name="Aide informatique", slug="aide", direction=dsi, visibility=Visibility.INTERNAL
    )
    notes = Collection.objects.create(
        name="Résolutions", slug="resolutions", direction=dsi, visibility=Visibility.DIRECTION
    )
    for collection, provider in ((kb, "helpdesk.articles"), (notes, "helpdesk.technicians")):
        ai_services.start_run(_app_source(admin, collection, provider), user=admin, inline=True)
    sync_pending()
    assert Document.objects.filter(status=Document.Status.INDEXED).count() == 3

    found = {r.document.title for r in search(agent, "bourrage papier imprimante")}
    assert "Imprimante : bourrage papier" in found
    for query in ("contrôleur RAID iLO", "certificat VPN renouvelé"):
        assert all(r.document.collection_id != notes.pk for r in search(agent, query))
    assert any("VPN" in r.document.title for r in search(tech, "certificat VPN renouvelé"))

    # An article unpublished leaves the index at the next run.
    Article.objects.filter(title__startswith="Imprimante").update(status=Article.Status.DRAFT)
    ai_services.start_run(kb.sources.get(), user=admin, inline=True)
    sync_pending()
    assert not search(agent, "bourrage papier imprimante")


def test_an_unknown_provider_is_refused_in_french():
    dsi = DirectionFactory(code="DSI")
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    kb = Collection.objects.create(name="Aide", slug="aide", direction=dsi)
    with pytest.raises(ValidationError, match="Application inconnue"):
        _app_source(admin, kb, "helpdesk.inexistant")


def test_the_console_adds_an_app_source(client):
    dsi = DirectionFactory(code="DSI")
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    kb = Collection.objects.create(name="Aide", slug="aide", direction=dsi)
    client.force_login(admin)
    page = client.get(f"/ia/console/bases/{kb.pk}/").content.decode()
    assert "Assistance informatique : articles pour les agents" in page
    fields = {
        "action": "source",
        "src-name": "Articles",
        "src-kind": "app",
        "src-schedule_minutes": "60",
        "src-folder_include": "*",
        "src-max_depth": "3",
        "src-max_pages": "200",
    }
    missing = client.post(f"/ia/console/bases/{kb.pk}/", fields)
    assert "obligatoire pour ce type de source" in missing.content.decode()
    client.post(f"/ia/console/bases/{kb.pk}/", {**fields, "src-app_provider": "helpdesk.articles"})
    source = Source.objects.get(collection=kb)
    assert (source.kind, source.config) == ("app", {"provider": "helpdesk.articles"})


@pytest.fixture
def it_department():
    """The IT department: an AI administrator, a technician, two colleagues who are not
    technicians; and one internal technician note."""
    dsi = DirectionFactory(code="DSI")
    Article.objects.create(
        title="Contrôleur RAID du serveur de fichiers",
        body="Note interne : redémarrer le contrôleur RAID depuis la console iLO.",
        audience=Article.Audience.TECHNICIANS,
        status=Article.Status.PUBLISHED,
    )
    return (
        dsi,
        UserFactory(roles=["agent", "administrateur IA"], directions=[dsi]),
        UserFactory(roles=["agent", "technicien DSI"], directions=[dsi]),
        UserFactory(roles=["agent"], directions=[dsi]),
        UserFactory(roles=["agent"], directions=[dsi]),
    )


def test_a_dsi_colleague_who_is_not_a_technician_never_reads_the_notes(client, it_department):
    """The resolutions collection belongs to the whole IT department, but the helpdesk's own
    rule holds on every path: internal notes for technicians, a ticket for its requester."""
    dsi, admin, tech, colleague, other = it_department
    for requester, title in ((colleague, "Messagerie saturée"), (other, "Scanner hors service")):
        ticket = services.open_ticket(requester=requester, title=title, description=title)
        services.change_status(
            ticket, Ticket.Status.RESOLVED, by=tech, resolution=f"{title} : quota augmenté."
        )
    notes = Collection.objects.create(
        name="Résolutions", slug="resolutions", direction=dsi, visibility=Visibility.DIRECTION
    )
    ai_services.start_run(
        _app_source(admin, notes, "helpdesk.technicians"), user=admin, inline=True
    )
    sync_pending()

    assert any("RAID" in r.document.title for r in search(tech, "contrôleur RAID iLO"))
    assert not any("RAID" in r.document.title for r in search(colleague, "contrôleur RAID iLO"))
    own = {r.document.title for r in search(colleague, "quota augmenté messagerie scanner")}
    assert any("Messagerie" in t for t in own) and not any("Scanner" in t for t in own)

    raid = Document.objects.get(title__contains="RAID")
    client.force_login(colleague)
    assert client.get(f"/documents/{raid.pk}/").status_code == 404
    listed = client.get("/api/v1/ia/documents/").json()
    assert "RAID" not in str(listed) and "Scanner" not in str(listed)
    client.force_login(tech)
    assert client.get(f"/documents/{raid.pk}/").status_code == 200


def test_the_assistant_never_cites_a_note_or_another_agents_ticket(it_department):
    """Even an assistant opened to every agent on the resolutions base (a console mistake)
    answers a non-technician without the notes or other people's tickets."""
    from chat import services as chat_services
    from chat.models import Assistant, Conversation

    dsi, admin, tech, colleague, other = it_department
    ticket = services.open_ticket(requester=other, title="Scanner hors service")
    services.change_status(
        ticket, Ticket.Status.RESOLVED, by=tech, resolution="Scanner : pilote TWAIN réinstallé."
    )
    notes = Collection.objects.create(
        name="Résolutions", slug="resolutions", direction=dsi, visibility=Visibility.DIRECTION
    )
    ai_services.start_run(
        _app_source(admin, notes, "helpdesk.technicians"), user=admin, inline=True
    )
    sync_pending()
    assistant = Assistant.objects.create(
        name="Aide", slug="aide", kind=Assistant.Kind.HELPDESK, direction=dsi
    )
    assistant.collections.set([notes])

    def cited(user, question):
        conversation = Conversation.objects.create(assistant=assistant, user=user)
        events = list(chat_services.ask(conversation, question, user=user))
        done = next(e for e in events if e.type == "done")
        return " ".join(s["title"] + s["passage"] for s in done.data["sources"])

    for question in ("contrôleur RAID console iLO", "scanner pilote TWAIN réinstallé"):
        seen = cited(colleague, question)
        assert "RAID" not in seen and "TWAIN" not in seen
    assert "RAID" in cited(tech, "contrôleur RAID console iLO")
    assert "TWAIN" in cited(other, "scanner pilote TWAIN réinstallé")  # their own ticket


def test_a_resolution_is_searchable_by_technicians_at_once(
    q_sync, django_capture_on_commit_callbacks
):
    dsi = DirectionFactory(code="DSI")
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    tech = UserFactory(roles=["agent", "technicien DSI"], directions=[dsi])
    notes = Collection.objects.create(
        name="Résolutions", slug="resolutions", direction=dsi, visibility=Visibility.DIRECTION
    )
    _app_source(admin, notes, "helpdesk.technicians")
    ticket = services.open_ticket(requester=tech, title="Badge refusé au portique")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(
            ticket, Ticket.Status.RESOLVED, by=tech, resolution="Badge réencodé à l'accueil."
        )
    sync_pending()
    assert any("Badge" in r.document.title for r in search(tech, "badge réencodé portique"))
