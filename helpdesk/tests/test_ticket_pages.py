"""Ticket pages: an agent opens and follows their own tickets; nobody else's, through any page;
a technician works the queue and sees similar resolved tickets."""

from __future__ import annotations

import pytest

from ai import services as ai_services
from ai.index_sync import sync_pending
from ai.models import Collection, Source
from ai.tests.conftest import _isolated_store  # noqa: F401 - autouse fixture
from core.models import Visibility
from core.tests.factories import DirectionFactory, UserFactory
from helpdesk import services
from helpdesk.models import Comment, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    rh, dsi = DirectionFactory(code="DRH"), DirectionFactory(code="DSI")
    return {
        "alice": UserFactory(roles=["agent"], directions=[rh]),
        "bob": UserFactory(roles=["agent"], directions=[rh]),
        "tech": UserFactory(roles=["agent", "technicien DSI"], directions=[dsi]),
        "admin": UserFactory(roles=["agent", "administrateur IA"], directions=[dsi]),
        "dsi": dsi,
    }


def test_an_agent_opens_and_follows_a_ticket(client, people):
    client.force_login(people["alice"])
    response = client.post(
        "/assistance/tickets/nouveau/",
        {"title": "Imprimante en panne", "description": "Code E-203", "priority": "3"},
    )
    ticket = Ticket.objects.get()
    assert response.url == f"/assistance/tickets/{ticket.pk}/"
    assert (ticket.requester, ticket.priority, ticket.status) == (people["alice"], 3, "new")
    assert "Imprimante en panne" in client.get("/assistance/tickets/").content.decode()
    client.post(f"/assistance/tickets/{ticket.pk}/commentaire/", {"body": "Toujours en panne."})
    # An agent cannot slip in an internal note nor change the status.
    client.post(f"/assistance/tickets/{ticket.pk}/commentaire/", {"body": "note", "internal": "on"})
    assert list(Comment.objects.values_list("body", "internal")) == [("Toujours en panne.", False)]
    assert (
        client.post(f"/assistance/tickets/{ticket.pk}/etat/", {"status": "closed"}).status_code
        == 403
    )


def test_nobody_reads_another_agents_ticket(client, people):
    ticket = services.open_ticket(requester=people["alice"], title="Écran noir")
    services.add_comment(ticket, author=people["tech"], body="Carte graphique HS", internal=True)
    client.force_login(people["bob"])
    assert "Écran noir" not in client.get("/assistance/tickets/").content.decode()
    for url in (
        f"/assistance/tickets/{ticket.pk}/",
        f"/assistance/tickets/{ticket.pk}/commentaire/",
        f"/assistance/tickets/{ticket.pk}/etat/",
    ):
        assert client.get(url).status_code in (404, 405)
        assert client.post(url, {"body": "x", "status": "closed"}).status_code == 404
    client.force_login(people["alice"])
    page = client.get(f"/assistance/tickets/{ticket.pk}/").content.decode()
    assert "Écran noir" in page and "Carte graphique HS" not in page


def test_a_technician_resolves_and_sees_similar_resolved_tickets(client, people):
    old = services.open_ticket(
        requester=people["bob"],
        title="Copieur : impression en attente",
        description="Les documents restent en attente sur le copieur du 2e étage.",
    )
    services.change_status(
        old, Ticket.Status.RESOLVED, by=people["tech"], resolution="File d'impression purgée."
    )
    notes = Collection.objects.create(
        name="Résolutions", slug="res", direction=people["dsi"], visibility=Visibility.DIRECTION
    )
    source = ai_services.create_source(
        user=people["admin"],
        collection=notes,
        name="Tickets",
        kind=Source.Kind.APP,
        config={"provider": "helpdesk.technicians"},
    )
    ai_services.start_run(source, user=people["admin"], inline=True)
    sync_pending()

    new = services.open_ticket(
        requester=people["alice"],
        title="Impression bloquée",
        description="Mes documents restent en attente sur le copieur.",
    )
    client.force_login(people["tech"])
    page = client.get(f"/assistance/tickets/{new.pk}/").content.decode()
    assert "Tickets semblables déjà résolus" in page
    assert "Copieur : impression en attente" in page and "File d&#x27;impression purgée" in page
    queue = client.get("/assistance/tickets/").content.decode()
    assert "Impression bloquée" in queue and "Copieur : impression" not in queue  # resolved
    client.post(
        f"/assistance/tickets/{new.pk}/etat/",
        {"status": "resolved", "resolution": "File purgée également."},
    )
    new.refresh_from_db()
    assert new.status == "resolved" and new.resolved_at is not None
    # The requester never gets the similar-tickets panel.
    client.force_login(people["alice"])
    assert "Tickets semblables" not in client.get(f"/assistance/tickets/{new.pk}/").content.decode()


def test_solved_without_a_ticket_is_recorded_once_and_reported(client, people):
    from chat.models import Assistant, Conversation
    from helpdesk.models import Deflection

    assistant = Assistant.objects.create(
        name="Assistance",
        slug="assistance",
        kind=Assistant.Kind.HELPDESK,
        direction=people["dsi"],
    )
    conversation = Conversation.objects.create(
        assistant=assistant, user=people["alice"], title="Imprimante bloquée"
    )
    client.force_login(people["bob"])  # not his conversation
    assert (
        client.post(
            "/assistance/resolu-sans-ticket/", {"conversation": conversation.pk}
        ).status_code
        == 404
    )
    client.force_login(people["alice"])
    for _ in range(2):
        response = client.post("/assistance/resolu-sans-ticket/", {"conversation": conversation.pk})
    assert response.url == f"/assistants/assistance/c/{conversation.pk}/"
    assert Deflection.objects.get().question == "Imprimante bloquée"
    client.force_login(people["tech"])
    page = client.get("/assistance/tickets/").content.decode()
    assert "sans ticket (30 derniers jours) : <strong>1</strong>" in page


PRINTER = [
    "Imprimante bloquée", "Bourrage papier sur le copieur", "Le copieur n'imprime plus",
    "Impression en attente", "Toner vide sur l'imprimante", "Imprimante hors ligne",
    "Le scanner du copieur ne marche pas", "Feuilles coincées dans l'imprimante",
]  # fmt: skip
PASSWORD = [
    "Mot de passe expiré", "Compte verrouillé", "J'ai oublié mon mot de passe",
    "Impossible de me connecter à ma session", "Mot de passe refusé",
    "Changer mon mot de passe", "Session bloquée après trois essais", "Réinitialiser mon accès",
]  # fmt: skip


def test_the_category_is_learnt_from_past_tickets_and_suggested(client, people, q_sync):
    from helpdesk.models import Category

    hardware = Category.objects.create(name="Matériel")
    printers = Category.objects.create(name="Imprimantes", parent=hardware)
    passwords = Category.objects.create(name="Mots de passe")
    for titles, category in ((PRINTER, printers), (PASSWORD, passwords)):
        for title in titles:
            Ticket.objects.create(
                title=title, category=category, created_at="2026-01-05T10:00:00+01:00"
            )
    client.force_login(people["tech"])
    assert "pas encore apprise" in client.get("/assistance/tickets/").content.decode()
    client.post("/assistance/categories/apprendre/")  # the task runs inline (q_sync)
    page = client.get("/assistance/tickets/").content.decode()
    assert "sur 16 tickets" in page and "précision mesurée" in page

    client.force_login(people["alice"])
    form = client.get(
        "/assistance/tickets/nouveau/", {"titre": "Mon imprimante ne veut plus imprimer"}
    )
    text = form.content.decode()
    assert "Catégorie suggérée : <strong>Matériel &gt; Imprimantes" in text
    assert f'<option value="{printers.pk}" selected>' in text
    # Agents cannot start a training.
    assert client.post("/assistance/categories/apprendre/").status_code == 403

    # The technician gets the same suggestion on an unfiled ticket, and files it in one click.
    ticket = services.open_ticket(requester=people["alice"], title="Toner vide sur le copieur")
    client.force_login(people["tech"])
    page = client.get(f"/assistance/tickets/{ticket.pk}/").content.decode()
    assert "Catégorie suggérée d'après les tickets passés" in page
    client.post(f"/assistance/tickets/{ticket.pk}/categorie/", {"category": printers.pk})
    ticket.refresh_from_db()
    assert ticket.category == printers
    page = client.get(f"/assistance/tickets/{ticket.pk}/").content.decode()
    assert "Catégorie suggérée" not in page  # filed where the model would: nothing to add
    client.force_login(people["alice"])
    response = client.post(f"/assistance/tickets/{ticket.pk}/categorie/", {"category": ""})
    assert response.status_code == 403


def test_each_side_is_told_of_the_others_messages(
    client, people, django_capture_on_commit_callbacks
):
    from django.core import mail

    from core.models import Notification

    ticket = services.open_ticket(requester=people["alice"], title="Scanner muet")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket, Ticket.Status.ASSIGNED, by=people["tech"])
        services.add_comment(ticket, author=people["tech"], body="Câble changé ?", internal=True)
        services.add_comment(ticket, author=people["tech"], body="Pouvez-vous redémarrer ?")
        services.add_comment(ticket, author=people["alice"], body="C'est fait, toujours muet.")
        services.change_status(
            ticket, Ticket.Status.RESOLVED, by=people["tech"], resolution="Pilote réinstallé."
        )
    told = [(n.user, n.title) for n in Notification.objects.order_by("pk")]
    assert told == [
        (people["alice"], f"Ticket n° {ticket.pk} : réponse de la DSI"),
        (people["tech"], f"Ticket n° {ticket.pk} : nouveau message du demandeur"),
        (people["alice"], f"Ticket n° {ticket.pk} : résolu"),
    ]
    assert all("Câble" not in n.body for n in Notification.objects.all())  # internal note
    assert len(mail.outbox) == 3 and "Pilote réinstallé" in mail.outbox[-1].body
    client.force_login(people["alice"])
    assert f"/assistance/tickets/{ticket.pk}/" in client.get("/notifications/").content.decode()


def test_a_ticket_is_assigned_to_a_colleague_who_is_told(
    client, people, django_capture_on_commit_callbacks
):
    from core.models import Notification

    colleague = UserFactory(roles=["agent", "technicien DSI"], directions=[people["dsi"]])
    ticket = services.open_ticket(requester=people["alice"], title="Poste lent")
    client.force_login(people["tech"])
    page = client.get(f"/assistance/tickets/{ticket.pk}/").content.decode()
    assert colleague.get_full_name() in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/assistance/tickets/{ticket.pk}/etat/",
            {"status": "new", "assigned_to": colleague.pk, "resolution": ""},
        )
    ticket.refresh_from_db()
    assert (ticket.assigned_to, ticket.status) == (colleague, "assigned")
    assert Notification.objects.get().user == colleague
    # Only technicians can be given tickets.
    response = client.post(
        f"/assistance/tickets/{ticket.pk}/etat/",
        {"status": "assigned", "assigned_to": people["bob"].pk},
        follow=True,
    )
    ticket.refresh_from_db()
    assert ticket.assigned_to == colleague
    assert "technicien de la liste" in " ".join(str(m) for m in response.context["messages"])
