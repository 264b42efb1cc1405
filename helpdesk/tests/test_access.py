"""A requester never sees another agent's ticket; internal notes stay with technicians."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from core.tests.factories import DirectionFactory, UserFactory
from helpdesk import selectors, services
from helpdesk.models import Article, StatusChange, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    rh = DirectionFactory(code="DRH")
    dsi = DirectionFactory(code="DSI")
    return {
        "alice": UserFactory(roles=["agent"], directions=[rh]),
        "bob": UserFactory(roles=["agent"], directions=[rh]),
        "tech": UserFactory(roles=["agent", "technicien DSI"], directions=[dsi]),
        "dsi_manager": UserFactory(roles=["agent", "manager"], directions=[dsi]),
        "rh": rh,
    }


def test_requesters_see_only_their_own_tickets(people):
    mine = services.open_ticket(requester=people["alice"], title="Imprimante en panne")
    theirs = services.open_ticket(requester=people["bob"], title="Écran noir")
    assert mine.direction == people["rh"]
    assert list(selectors.visible_tickets(people["alice"])) == [mine]
    with pytest.raises(Http404):
        selectors.get_ticket(people["alice"], theirs.pk)
    assert set(selectors.visible_tickets(people["tech"])) == {mine, theirs}
    # Being in the IT department is not enough: the technician permission is.
    assert list(selectors.visible_tickets(people["dsi_manager"])) == []


def test_status_history_and_resolution_rules(people):
    ticket = services.open_ticket(requester=people["alice"], title="Pas de réseau")
    with pytest.raises(PermissionDenied):
        services.change_status(ticket, Ticket.Status.CLOSED, by=people["alice"])
    services.change_status(ticket, Ticket.Status.ASSIGNED, by=people["tech"])
    assert ticket.assigned_to == people["tech"]
    with pytest.raises(services.TicketError, match="résolution"):
        services.change_status(ticket, Ticket.Status.RESOLVED, by=people["tech"])
    services.change_status(
        ticket, Ticket.Status.RESOLVED, by=people["tech"], resolution="Câble remplacé."
    )
    assert ticket.resolved_at is not None
    steps = list(StatusChange.objects.filter(ticket=ticket).values_list("to_status", flat=True))
    assert steps == ["new", "assigned", "resolved"]


def test_internal_notes_never_reach_the_requester(people):
    ticket = services.open_ticket(requester=people["alice"], title="Mot de passe expiré")
    services.add_comment(ticket, author=people["alice"], body="Depuis ce matin.")
    services.add_comment(
        ticket, author=people["tech"], body="Compte verrouillé par l'AD.", internal=True
    )
    with pytest.raises(PermissionDenied):
        services.add_comment(ticket, author=people["alice"], body="note", internal=True)
    seen = [c.body for c in selectors.ticket_comments(people["alice"], ticket)]
    assert seen == ["Depuis ce matin."]
    assert len(selectors.ticket_comments(people["tech"], ticket)) == 2


def test_articles_for_agents_and_technician_notes(people):
    public = Article.objects.create(
        title="Changer le toner", body="…", status=Article.Status.PUBLISHED
    )
    Article.objects.create(title="Brouillon", body="…")
    note = Article.objects.create(
        title="Réinitialiser le contrôleur RAID",
        body="…",
        audience=Article.Audience.TECHNICIANS,
        status=Article.Status.PUBLISHED,
    )
    assert list(selectors.visible_articles(people["alice"])) == [public]
    with pytest.raises(Http404):
        selectors.get_article(people["alice"], note.pk)
    assert note in selectors.visible_articles(people["tech"])


def test_a_resolution_becomes_an_article_draft(people):
    ticket = services.open_ticket(
        requester=people["alice"], title="Imprimante bloquée", description="Bourrage papier."
    )
    with pytest.raises(services.TicketError):
        services.draft_article_from_ticket(ticket, by=people["tech"])
    services.change_status(
        ticket, Ticket.Status.RESOLVED, by=people["tech"], resolution="Ouvrir le capot B."
    )
    with pytest.raises(PermissionDenied):
        services.draft_article_from_ticket(ticket, by=people["alice"])
    article = services.draft_article_from_ticket(ticket, by=people["tech"])
    assert article.status == Article.Status.DRAFT and "Ouvrir le capot B." in article.body
    assert article not in selectors.visible_articles(people["alice"])
