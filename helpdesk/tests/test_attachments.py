"""Files joined to a ticket: what they really are is checked, a refused file never loses the
ticket, and only those who see the ticket download them."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.tests.factories import UserFactory
from helpdesk.models import Attachment, Ticket

pytestmark = pytest.mark.django_db


def _png(name="ecran.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "navy").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_a_screenshot_joins_the_new_ticket(client, agent, technician):
    client.force_login(agent)
    response = client.post(
        "/assistance/tickets/nouveau/",
        {"title": "Erreur au démarrage", "priority": "2", "attachments": [_png()]},
    )
    ticket = Ticket.objects.get()
    attachment = ticket.attachments.get()
    assert response.url == f"/assistance/tickets/{ticket.pk}/"
    assert (attachment.name, attachment.uploaded_by) == ("ecran.png", agent)
    page = client.get(response.url).content.decode()
    url = f"/assistance/tickets/{ticket.pk}/pieces-jointes/{attachment.pk}/"
    assert url in page
    download = client.get(url)
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")
    client.force_login(technician)
    assert client.get(url).status_code == 200
    client.force_login(UserFactory(roles=["agent"]))
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("vide.txt", b""), "« vide.txt » est vide"),
        (SimpleUploadedFile("photo.png", b"%PDF-1.7\n%fake pdf\n"), "se présente comme un fichier"),
        (SimpleUploadedFile("journal.txt", bytes(range(256)) * 40), "pas de texte lisible"),
    ],
)
def test_a_refused_file_is_said_in_french_and_the_ticket_is_kept(client, agent, upload, message):
    client.force_login(agent)
    response = client.post(
        "/assistance/tickets/nouveau/",
        {"title": "Imprimante", "priority": "2", "attachments": [upload, _png()]},
        follow=True,
    )
    ticket = Ticket.objects.get()  # the ticket is there, with the good file
    assert [a.name for a in ticket.attachments.all()] == ["ecran.png"]
    assert message in _messages(response)
    assert "Ticket n°" in _messages(response)


def test_size_and_count_limits(client, settings, agent):
    settings.HELPDESK_ATTACHMENT_MAX_BYTES = 1024
    settings.HELPDESK_ATTACHMENTS_PER_TICKET = 1
    client.force_login(agent)
    big = SimpleUploadedFile("log.txt", b"erreur disque\n" * 200)
    response = client.post(
        "/assistance/tickets/nouveau/",
        {"title": "Disque", "priority": "2", "attachments": [big]},
        follow=True,
    )
    assert "dépasse la taille maximale" in _messages(response)
    ticket = Ticket.objects.get()
    client.post(
        f"/assistance/tickets/{ticket.pk}/commentaire/",
        {"body": "", "attachments": [SimpleUploadedFile("a.txt", b"premier journal")]},
    )
    response = client.post(
        f"/assistance/tickets/{ticket.pk}/commentaire/",
        {"body": "", "attachments": [SimpleUploadedFile("b.txt", b"second journal")]},
        follow=True,
    )
    assert "le maximum" in _messages(response)
    assert list(Attachment.objects.values_list("name", flat=True)) == ["a.txt"]


def test_nobody_joins_a_file_to_another_agents_ticket(client, agent):
    from helpdesk import services

    ticket = services.open_ticket(requester=agent, title="Écran noir")
    client.force_login(UserFactory(roles=["agent"]))
    response = client.post(
        f"/assistance/tickets/{ticket.pk}/commentaire/", {"attachments": [_png()]}
    )
    assert response.status_code == 404 and not Attachment.objects.exists()
