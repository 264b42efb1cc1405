"""The technician's side of a ticket: a reply drafted from similar resolutions (by the model
when one is configured, extractive otherwise), and a good resolution turned into an article."""

from __future__ import annotations

import pytest

from ai import services as ai_services
from ai.index_sync import sync_pending
from ai.models import Collection, IngestionRun, Source
from ai.tests.conftest import _isolated_store  # noqa: F401 - autouse fixture
from core.models import AuditEvent, Visibility
from core.tests.factories import UserFactory
from helpdesk import services
from helpdesk.models import Article, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(dsi, technician, agent):
    """Two resolved printer tickets indexed for the IT department, and a new one."""
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    for title, description, resolution in (
        (
            "Copieur : impression en attente",
            "Les documents de Mme Martin restent en attente sur le copieur du 2e étage.",
            "File d'impression purgée sur le serveur et service Spouleur redémarré.",
        ),
        (
            "Impressions bloquées au 1er étage",
            "Plus rien ne sort du copieur du 1er étage, les documents restent en attente.",
            "Pilote universel réinstallé sur le poste de l'agent.",
        ),
    ):
        old = services.open_ticket(requester=agent, title=title, description=description)
        services.change_status(old, Ticket.Status.RESOLVED, by=technician, resolution=resolution)
    notes = Collection.objects.create(
        name="Résolutions", slug="res", direction=dsi, visibility=Visibility.DIRECTION
    )
    source = ai_services.create_source(
        user=admin,
        collection=notes,
        name="Tickets",
        kind=Source.Kind.APP,
        config={"provider": "helpdesk.technicians"},
    )
    ai_services.start_run(source, user=admin, inline=True)
    sync_pending()
    return services.open_ticket(
        requester=agent,
        title="Impression en attente",
        description="Mes documents restent en attente sur le copieur, rien ne sort.",
    )


def test_the_extractive_draft_quotes_the_similar_resolutions(client, technician, resolved):
    client.force_login(technician)
    page = client.post(f"/assistance/tickets/{resolved.pk}/reponse-suggeree/")
    body = page.context["comment_form"].initial["body"]
    assert body.startswith("Bonjour")
    assert "Spouleur redémarré" in body and "Pilote universel réinstallé" in body
    assert "Brouillon extractif" in page.content.decode()
    # A draft is only a proposal: nothing was sent to the requester.
    assert not resolved.comments.exists()


def test_the_model_drafts_the_reply_without_seeing_names(
    client, settings, fake_llm, technician, resolved
):
    settings.LLM_PROVIDER, settings.OPENAI_MODEL = "openai", "albert-test"
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = fake_llm.openai_url, "k"
    settings.LLM_MAX_RETRIES = 0
    fake_llm.reply = "Bonjour, nous avons purgé la file d'impression. Cordialement, la DSI"
    client.force_login(technician)
    page = client.post(f"/assistance/tickets/{resolved.pk}/reponse-suggeree/")
    assert page.context["comment_form"].initial["body"].startswith("Bonjour, nous avons purgé")
    assert "rédigé par le modèle albert-test" in page.content.decode()
    sent = fake_llm.requests[-1].text
    assert "Spouleur" in sent and "Martin" not in sent  # pseudonymised on the way out
    call = AuditEvent.objects.get(action="ai.model_call")
    assert call.details["purpose"] == "helpdesk_reply" and call.details["outcome"] == "answered"

    fake_llm.fail_status = 500
    page = client.post(f"/assistance/tickets/{resolved.pk}/reponse-suggeree/")
    assert "Spouleur redémarré" in page.context["comment_form"].initial["body"]
    assert "Brouillon extractif à la place" in page.content.decode()


def test_only_technicians_get_drafts_and_write_articles(client, agent, resolved):
    client.force_login(agent)  # the requester of the ticket
    assert client.post(f"/assistance/tickets/{resolved.pk}/reponse-suggeree/").status_code == 403
    assert client.post(f"/assistance/tickets/{resolved.pk}/article/").status_code == 403
    other = UserFactory(roles=["agent"])
    client.force_login(other)
    assert client.post(f"/assistance/tickets/{resolved.pk}/reponse-suggeree/").status_code == 404


def test_a_good_resolution_becomes_a_published_article(
    client, q_sync, dsi, technician, agent, django_capture_on_commit_callbacks
):
    ticket = services.open_ticket(
        requester=agent, title="Wi-Fi invité", description="Le Wi-Fi invité refuse le code."
    )
    client.force_login(technician)
    response = client.post(f"/assistance/tickets/{ticket.pk}/article/")
    assert "pas encore de résolution" in client.get(response.url).content.decode()
    services.change_status(
        ticket,
        Ticket.Status.RESOLVED,
        by=technician,
        resolution="Le code du Wi-Fi invité change chaque lundi ; il est affiché à l'accueil.",
    )
    response = client.post(f"/assistance/tickets/{ticket.pk}/article/")
    article = Article.objects.get()
    assert response.url == f"/assistance/articles/{article.pk}/modifier/"
    assert article.status == Article.Status.DRAFT and "affiché à l'accueil" in article.body
    # A draft is not for agents yet.
    client.force_login(agent)
    assert client.get(f"/assistance/articles/{article.pk}/").status_code == 404

    kb = Collection.objects.create(
        name="Aide", slug="aide", direction=dsi, visibility=Visibility.INTERNAL
    )
    Source.objects.create(
        collection=kb,
        name="Articles",
        kind=Source.Kind.APP,
        config={"provider": "helpdesk.articles"},
    )
    client.force_login(technician)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/assistance/articles/{article.pk}/modifier/",
            {
                "title": "Se connecter au Wi-Fi invité",
                "body": "1. Demandez le code de la semaine à l'accueil.\n2. Saisissez-le.",
                "audience": "agents",
                "status": "published",
            },
        )
    # Published: the agents' knowledge base is re-indexed at once (inline here), and the
    # article is found by agents' search.
    assert IngestionRun.objects.filter(source__collection=kb).count() == 1
    sync_pending()
    client.force_login(agent)
    page = client.get(f"/assistance/articles/{article.pk}/").content.decode()
    assert "<ol>" in page and "code de la semaine" in page
    assert "Se connecter au Wi-Fi invité" in client.get("/assistance/articles/").content.decode()
    from ai.retrieval import search

    assert any("Wi-Fi invité" in r.document.title for r in search(agent, "code wifi invité"))
    assert client.get(f"/assistance/articles/{article.pk}/modifier/").status_code == 403
