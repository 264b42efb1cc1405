"""Before the ticket: what the agent's words already say (device, exact message, since when,
how urgent), what is still asked for, and the conversation with the assistant carried over."""

from __future__ import annotations

import pytest

from chat.models import Assistant, Conversation, Message
from core.tests.factories import UserFactory
from helpdesk import intake
from helpdesk.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "device", "error", "since"),
    [
        (
            "Le copieur du 2e étage affiche « Erreur C2557 » depuis ce matin",
            "copieur du 2e étage",
            "Erreur C2557",
            "depuis ce matin",
        ),
        ("Mon PC-MAIRIE-042 ne démarre plus, code 0x0000007B", "PC-MAIRIE-042", "0x0000007B", ""),
        ("Outlook me dit : mot de passe incorrect. Depuis hier soir.", "", "mot de passe", "hier"),
        ("Mon imprimante n'imprime plus", "imprimante", "", ""),
    ],
)
def test_the_description_is_read_for_what_a_technician_asks_first(text, device, error, since):
    reading = intake.read(text)
    assert device in reading.device if device else reading.device == ""
    assert error in reading.error_message if error else reading.error_message == ""
    assert since.lower() in reading.since.lower() if since else reading.since == ""
    asked = {"device": device, "error_message": error, "since": since}
    assert reading.missing == [name for name, found in asked.items() if not found]


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("Tout le service est bloqué, plus personne n'imprime", Ticket.Priority.URGENT),
        ("Plusieurs collègues n'ont plus le Wi-Fi", Ticket.Priority.HIGH),
        ("Mon poste ne démarre plus", Ticket.Priority.HIGH),
        ("Serait-il possible d'installer Firefox ? Pas urgent.", Ticket.Priority.LOW),
        ("L'écran clignote un peu", Ticket.Priority.NORMAL),
    ],
)
def test_a_priority_is_suggested_with_its_reason(text, priority):
    suggested, reason = intake.suggest_priority(text)
    assert suggested == priority
    assert bool(reason) == (priority != Ticket.Priority.NORMAL)


def _helpdesk_conversation(user, dsi):
    assistant = Assistant.objects.create(
        name="Assistance informatique", slug="aide", kind="helpdesk", direction=dsi
    )
    conversation = Conversation.objects.create(
        assistant=assistant, user=user, title="Mon imprimante n'imprime plus"
    )
    Message.objects.create(
        conversation=conversation, role="user", content="Mon imprimante n'imprime plus"
    )
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Ouvrez le capot avant [1].",
        sources=[
            {"n": 1, "title": "Imprimante : bourrage papier", "cited": True},
            {"n": 2, "title": "Se connecter au VPN", "cited": False},
        ],
    )
    Message.objects.create(
        conversation=conversation,
        role="user",
        content="Toujours rien, le copieur affiche « E-203 » depuis ce matin",
    )
    return conversation


def test_the_problem_persists_the_conversation_becomes_a_ticket(client, agent, dsi):
    conversation = _helpdesk_conversation(agent, dsi)
    client.force_login(agent)
    page = client.get(f"/assistance/tickets/nouveau/?conversation={conversation.pk}")
    form = page.context["form"]
    assert form.initial["title"] == "Mon imprimante n'imprime plus"
    description = form.initial["description"]
    assert "Toujours rien" in description and "Imprimante : bourrage papier" in description
    assert "VPN" not in description  # shown but not proposed: not « tried without success »
    assert form.initial["error_message"] == "E-203"
    assert form.initial["since"] == "depuis ce matin"
    assert page.context["questions"] == []  # everything a technician asks first is there

    response = client.post(
        "/assistance/tickets/nouveau/",
        {
            **{k: form.initial[k] for k in ("title", "description", "error_message", "since")},
            "device": "Copieur 2e étage",
            "priority": "2",
            "conversation": conversation.pk,
        },
    )
    ticket = Ticket.objects.get()
    assert response.url == f"/assistance/tickets/{ticket.pk}/"
    assert (ticket.device, ticket.error_message, ticket.conversation_id) == (
        "Copieur 2e étage",
        "E-203",
        conversation.pk,
    )
    assert "E-203" in client.get(response.url).content.decode()


def test_what_is_missing_is_asked_for(client, agent):
    client.force_login(agent)
    page = client.get("/assistance/tickets/nouveau/?titre=Le+logiciel+plante")
    html = page.content.decode()
    assert page.context["questions"] == [intake.QUESTIONS[n] for n in intake.QUESTIONS]
    assert "Quel matériel est concerné" in html and "field--asked" in html


def test_another_agents_conversation_is_not_carried_over(client, agent, dsi):
    conversation = _helpdesk_conversation(UserFactory(roles=["agent"]), dsi)
    client.force_login(agent)
    assert (
        client.get(f"/assistance/tickets/nouveau/?conversation={conversation.pk}").status_code
        == 404
    )
    client.post(
        "/assistance/tickets/nouveau/",
        {"title": "Test", "priority": "2", "conversation": conversation.pk},
    )
    assert Ticket.objects.get().conversation_id is None


def test_a_garbled_conversation_number_is_a_404(client, agent):
    client.force_login(agent)
    assert client.get("/assistance/tickets/nouveau/?conversation=abc").status_code == 404


def test_garbled_numbers_on_the_other_helpdesk_forms_are_handled(client, agent, technician):
    from helpdesk import services

    client.force_login(agent)
    assert (
        client.post("/assistance/resolu-sans-ticket/", {"conversation": "abc"}).status_code == 404
    )
    ticket = services.open_ticket(requester=agent, title="Souris")
    client.force_login(technician)
    client.post(f"/assistance/tickets/{ticket.pk}/categorie/", {"category": "abc"})
    ticket.refresh_from_db()
    assert ticket.category is None
