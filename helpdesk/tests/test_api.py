"""The helpdesk REST API: a requester follows their own tickets and nobody else's, through every
endpoint; internal notes stay among technicians; technicians work every ticket; agents read
only published articles for agents; token authentication; the OpenAPI schema."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from ai import services as ai_services
from ai.index_sync import sync_pending
from ai.models import Collection, Source
from ai.tests.conftest import _isolated_store  # noqa: F401 - autouse fixture
from core.models import Visibility
from core.tests.factories import DirectionFactory, UserFactory
from helpdesk import services
from helpdesk.models import Article, Category, Comment, Ticket

pytestmark = pytest.mark.django_db

API = "/api/v1/assistance/"
NOT_LOGGED_IN = {"detail": "Informations d'authentification non fournies."}


@pytest.fixture
def colleague(agent):
    """Another agent of the same direction: still not allowed to read the agent's tickets."""
    return UserFactory(roles=["agent"], directions=[DirectionFactory(code="DRH")])


@pytest.fixture
def ticket(agent, technician):
    """The agent's ticket, with a reply to them and a technicians' note."""
    ticket = services.open_ticket(
        requester=agent, title="Écran noir", description="Plus rien ne s'affiche."
    )
    services.add_comment(ticket, author=technician, body="Redémarrez le poste, svp.")
    services.add_comment(ticket, author=technician, body="Carte graphique HS", internal=True)
    return ticket


def as_json(client, method: str, url: str, data=None, **extra):
    return getattr(client, method)(url, data, content_type="application/json", **extra)


def listed_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- A requester's tickets -----------------------------------------------------------------------


def test_an_agent_opens_and_follows_their_ticket(client, agent):
    printers = Category.objects.create(name="Imprimantes")
    client.force_login(agent)
    response = as_json(
        client,
        "post",
        f"{API}tickets/",
        {
            "title": "Imprimante en panne",
            "description": "Code E-203 sur l'écran.",
            "device": "IMP-2E-04",
            "error_message": "E-203",
            "since": "ce matin",
            "category": printers.pk,
            "priority": 3,
        },
    )
    assert response.status_code == 201, response.content
    opened = response.json()
    assert opened["title"] == "Imprimante en panne"
    assert (opened["status"], opened["status_label"]) == ("new", "Nouveau")
    assert (opened["priority"], opened["priority_label"]) == (3, "Haute")
    assert opened["category"] == {"id": printers.pk, "name": "Imprimantes", "path": "Imprimantes"}
    assert (opened["device"], opened["error_message"], opened["since"]) == (
        "IMP-2E-04",
        "E-203",
        "ce matin",
    )
    assert opened["direction"] == "DRH" and opened["requester"] == str(agent)
    assert [(h["from_status"], h["to_status"]) for h in opened["history"]] == [("", "new")]
    assert opened["comments"] == []
    ticket = Ticket.objects.get(pk=opened["id"])
    assert ticket.requester == agent

    assert listed_ids(client.get(f"{API}tickets/")) == {ticket.pk}
    response = as_json(
        client, "post", f"{API}tickets/{ticket.pk}/commentaires/", {"body": "Toujours en panne."}
    )
    assert response.status_code == 201
    assert response.json()["body"] == "Toujours en panne." and not response.json()["internal"]
    detail = client.get(f"{API}tickets/{ticket.pk}/").json()
    assert [c["body"] for c in detail["comments"]] == ["Toujours en panne."]


def test_an_agent_can_neither_write_a_note_nor_work_the_ticket(client, agent, ticket):
    client.force_login(agent)
    response = as_json(
        client,
        "post",
        f"{API}tickets/{ticket.pk}/commentaires/",
        {"body": "note", "internal": True},
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Seuls les techniciens écrivent des notes internes."}
    for body in ({"status": "closed"}, {"resolution": "Réglé"}, {"category": None}):
        response = as_json(client, "patch", f"{API}tickets/{ticket.pk}/", body)
        assert response.status_code == 403, body
        assert response.json() == {"detail": "Réservé aux techniciens."}
    assert client.get(f"{API}tickets/{ticket.pk}/semblables/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "new" and ticket.resolution == ""
    assert not Comment.objects.filter(body="note").exists()


def test_internal_notes_never_reach_the_requester(client, agent, ticket):
    client.force_login(agent)
    response = client.get(f"{API}tickets/{ticket.pk}/")
    assert response.status_code == 200
    assert [c["body"] for c in response.json()["comments"]] == ["Redémarrez le poste, svp."]
    assert "Carte graphique HS" not in response.content.decode()


def test_nobody_reads_another_agents_ticket(client, colleague, ticket):
    client.force_login(colleague)
    assert listed_ids(client.get(f"{API}tickets/")) == set()
    assert listed_ids(client.get(f"{API}tickets/", {"etat": "new"})) == set()
    for method, url, body in (
        ("get", f"{API}tickets/{ticket.pk}/", None),
        ("patch", f"{API}tickets/{ticket.pk}/", {"status": "closed"}),
        ("post", f"{API}tickets/{ticket.pk}/commentaires/", {"body": "Moi aussi"}),
        ("get", f"{API}tickets/{ticket.pk}/semblables/", None),
    ):
        response = as_json(client, method, url, body)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Aucun ticket ne correspond à la demande."}
        assert "Écran noir" not in response.content.decode()
    assert ticket.comments.count() == 2
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_opening_a_ticket_is_refused_with_a_french_reason(client, agent):
    client.force_login(agent)
    response = as_json(client, "post", f"{API}tickets/", {"title": "   "})
    assert response.status_code == 400
    assert response.json() == {"detail": "Donnez un titre au ticket."}
    retired = Category.objects.create(name="Minitel", is_active=False)
    response = as_json(
        client, "post", f"{API}tickets/", {"title": "Panne", "category": retired.pk, "priority": 9}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"category", "priority"}
    assert not Ticket.objects.exists()


# --- Technicians -------------------------------------------------------------------------------


def test_a_technician_sees_every_ticket_and_resolves_one(client, technician, agent, colleague):
    mine = services.open_ticket(requester=agent, title="Écran noir")
    theirs = services.open_ticket(requester=colleague, title="Souris cassée")
    services.change_status(theirs, "assigned", by=technician)
    client.force_login(technician)
    assert listed_ids(client.get(f"{API}tickets/")) == {mine.pk, theirs.pk}
    assert listed_ids(client.get(f"{API}tickets/", {"etat": "new"})) == {mine.pk}
    response = client.get(f"{API}tickets/", {"etat": "perdu"})
    assert response.status_code == 400 and "etat" in response.json()

    url = f"{API}tickets/{mine.pk}/"
    response = as_json(client, "patch", url, {"status": "resolved"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Décrivez la résolution avant de résoudre le ticket."}
    mine.refresh_from_db()
    assert mine.status == "new"

    hardware = Category.objects.create(name="Matériel")
    screens = Category.objects.create(name="Écrans", parent=hardware)
    response = as_json(
        client,
        "patch",
        url,
        {"status": "resolved", "resolution": "Câble HDMI remplacé.", "category": screens.pk},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["resolution"]) == ("resolved", "Câble HDMI remplacé.")
    assert body["category"]["path"] == "Matériel > Écrans"
    assert body["resolved_at"] is not None
    assert [(h["to_status"], h["by"]) for h in body["history"]] == [
        ("new", str(agent)),
        ("resolved", str(technician)),
    ]
    mine.refresh_from_db()
    assert (mine.status, mine.category) == ("resolved", screens)

    response = as_json(client, "patch", url, {"category": None})
    assert response.status_code == 200 and response.json()["category"] is None
    response = as_json(client, "patch", url, {})
    assert response.status_code == 400


def test_a_technician_writes_notes_the_requester_never_sees(client, technician, agent):
    ticket = services.open_ticket(requester=agent, title="VPN coupé")
    client.force_login(technician)
    url = f"{API}tickets/{ticket.pk}/commentaires/"
    response = as_json(client, "post", url, {"body": "Voir le pare-feu", "internal": True})
    assert response.status_code == 201 and response.json()["internal"] is True
    as_json(client, "post", url, {"body": "Nous regardons."})
    response = as_json(client, "post", url, {"body": "  "})
    assert response.status_code == 400
    assert response.json() == {"detail": "Le commentaire est vide."}
    comments = client.get(f"{API}tickets/{ticket.pk}/").json()["comments"]
    assert [(c["body"], c["internal"]) for c in comments] == [
        ("Voir le pare-feu", True),
        ("Nous regardons.", False),
    ]
    client.force_login(agent)
    response = client.get(f"{API}tickets/{ticket.pk}/")
    assert [c["body"] for c in response.json()["comments"]] == ["Nous regardons."]
    assert "pare-feu" not in response.content.decode()


def test_similar_resolved_tickets_for_technicians_only(client, dsi, technician, agent, colleague):
    admin = UserFactory(roles=["agent", "administrateur IA"], directions=[dsi])
    old = services.open_ticket(
        requester=colleague,
        title="Copieur : impression en attente",
        description="Les documents restent en attente sur le copieur du 2e étage.",
    )
    services.change_status(
        old, Ticket.Status.RESOLVED, by=technician, resolution="File d'impression purgée."
    )
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
    new = services.open_ticket(
        requester=agent,
        title="Impression bloquée",
        description="Mes documents restent en attente sur le copieur.",
    )
    client.force_login(technician)
    response = client.get(f"{API}tickets/{new.pk}/semblables/")
    assert response.status_code == 200
    similar = response.json()
    assert [(s["id"], s["title"], s["resolution"]) for s in similar] == [
        (old.pk, "Copieur : impression en attente", "File d'impression purgée.")
    ]
    assert similar[0]["score"] > 0
    # The requester of the new ticket never gets another agent's resolved ticket this way.
    client.force_login(agent)
    response = client.get(f"{API}tickets/{new.pk}/semblables/")
    assert response.status_code == 403
    assert "Copieur" not in response.content.decode()


# --- Knowledge base ------------------------------------------------------------------------------


@pytest.fixture
def articles():
    def article(title, audience, status):
        return Article.objects.create(
            title=title, body=f"Contenu de {title}.", audience=audience, status=status
        )

    return {
        "published": article("Changer son mot de passe", "agents", "published"),
        "draft": article("Brouillon VPN", "agents", "draft"),
        "note": article("Note : redémarrer le spouleur", "technicians", "published"),
        "draft_note": article("Note en cours", "technicians", "draft"),
    }


def test_agents_read_only_published_articles_for_agents(client, agent, articles):
    client.force_login(agent)
    assert listed_ids(client.get(f"{API}articles/")) == {articles["published"].pk}
    assert listed_ids(client.get(f"{API}articles/", {"etat": "draft"})) == set()
    response = client.get(f"{API}articles/{articles['published'].pk}/")
    assert response.status_code == 200
    assert response.json()["body"] == "Contenu de Changer son mot de passe."
    for hidden in ("draft", "note", "draft_note"):
        response = client.get(f"{API}articles/{articles[hidden].pk}/")
        assert response.status_code == 404, hidden
        assert response.json() == {"detail": "Aucun article ne correspond à la demande."}
    # Nor do they edit what they can read.
    response = as_json(
        client, "patch", f"{API}articles/{articles['published'].pk}/", {"title": "Piraté"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Seuls les techniciens modifient les articles."}
    response = as_json(client, "patch", f"{API}articles/{articles['draft'].pk}/", {"title": "x"})
    assert response.status_code == 404
    articles["published"].refresh_from_db()
    assert articles["published"].title == "Changer son mot de passe"


def test_a_technician_reads_everything_and_publishes_a_draft(client, technician, agent, articles):
    client.force_login(technician)
    assert listed_ids(client.get(f"{API}articles/")) == {a.pk for a in articles.values()}
    drafts = listed_ids(client.get(f"{API}articles/", {"etat": "draft"}))
    assert drafts == {articles["draft"].pk, articles["draft_note"].pk}

    url = f"{API}articles/{articles['draft'].pk}/"
    response = as_json(client, "patch", url, {"body": "  "})
    assert response.status_code == 400
    assert response.json() == {"detail": "Un article a besoin d'un titre et d'un contenu."}
    response = as_json(client, "patch", url, {"status": "published"})
    assert response.status_code == 200, response.content
    body = response.json()
    # The fields not sent keep their value.
    assert (body["title"], body["body"], body["audience"], body["status"]) == (
        "Brouillon VPN",
        "Contenu de Brouillon VPN.",
        "agents",
        "published",
    )
    client.force_login(agent)
    assert articles["draft"].pk in listed_ids(client.get(f"{API}articles/"))


# --- Authentication and schema -----------------------------------------------------------------


def issue_token(email: str) -> str:
    out = io.StringIO()
    call_command("api_token", email, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_token_authentication_opens_exactly_the_owners_rights(client, agent, colleague, ticket):
    key = issue_token(agent.email)
    for scheme in ("Token", "Bearer"):
        response = client.get(f"{API}tickets/", HTTP_AUTHORIZATION=f"{scheme} {key}")
        assert listed_ids(response) == {ticket.pk}, scheme
    response = as_json(
        client,
        "post",
        f"{API}tickets/",
        {"title": "Clavier HS"},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201  # no CSRF token needed with a key
    other = services.open_ticket(requester=colleague, title="Souris HS")
    response = client.get(f"{API}tickets/{other.pk}/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 404
    response = client.get(f"{API}tickets/", HTTP_AUTHORIZATION="Token mauvais-jeton")
    assert response.status_code == 401
    assert response.json() == {"detail": "Mauvais jeton d'identification."}


def test_anonymous_visitors_get_nothing(client, ticket, articles):
    for method, url in (
        ("get", f"{API}tickets/"),
        ("post", f"{API}tickets/"),
        ("get", f"{API}tickets/{ticket.pk}/"),
        ("patch", f"{API}tickets/{ticket.pk}/"),
        ("post", f"{API}tickets/{ticket.pk}/commentaires/"),
        ("get", f"{API}tickets/{ticket.pk}/semblables/"),
        ("get", f"{API}articles/"),
        ("get", f"{API}articles/{articles['published'].pk}/"),
        ("patch", f"{API}articles/{articles['published'].pk}/"),
    ):
        response = as_json(client, method, url, {"title": "x", "body": "x", "status": "closed"})
        assert response.status_code == 401, (method, url)
        assert response.json() == NOT_LOGGED_IN
    assert Ticket.objects.count() == 1 and ticket.comments.count() == 2


def test_the_schema_documents_the_helpdesk_api(client, agent):
    client.force_login(agent)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/assistance/tickets/": {"get", "post"},
        "/api/v1/assistance/tickets/{id}/": {"get", "patch"},
        "/api/v1/assistance/tickets/{id}/commentaires/": {"post"},
        "/api/v1/assistance/tickets/{id}/semblables/": {"get"},
        "/api/v1/assistance/articles/": {"get"},
        "/api/v1/assistance/articles/{id}/": {"get", "patch"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    listing = paths["/api/v1/assistance/tickets/"]["get"]
    assert "etat" in {p["name"] for p in listing["parameters"]}
    assert {"tokenAuth", "bearerAuth"} <= {
        name for requirement in listing["security"] for name in requirement
    }
