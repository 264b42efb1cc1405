"""Writes of the helpdesk: tickets, their status history, comments, articles."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core import access
from helpdesk.models import Article, Category, Comment, Deflection, StatusChange, Ticket
from helpdesk.selectors import is_technician


class TicketError(ValueError):
    """A request that cannot be applied; the message is for the user, in French."""


@transaction.atomic
def open_ticket(
    *,
    requester,
    title: str,
    description: str = "",
    category: Category | None = None,
    priority: int = Ticket.Priority.NORMAL,
) -> Ticket:
    """A ticket opened by an agent from the portal, in the name of their first direction."""
    title = (title or "").strip()
    if not title:
        raise TicketError("Donnez un titre au ticket.")
    if priority not in Ticket.Priority.values:
        raise TicketError("Priorité inconnue.")
    direction_ids = sorted(access.member_direction_ids(requester))
    ticket = Ticket.objects.create(
        requester=requester,
        direction_id=direction_ids[0] if direction_ids else None,
        title=title[:250],
        description=(description or "").strip(),
        category=category,
        priority=priority,
        created_at=timezone.now(),
    )
    StatusChange.objects.create(
        ticket=ticket, from_status="", to_status=ticket.status, by=requester
    )
    return ticket


@transaction.atomic
def change_status(ticket: Ticket, status: str, *, by, resolution: str = "") -> Ticket:
    """Technicians move a ticket along; each change is kept in its history."""
    if not is_technician(by):
        raise PermissionDenied("Seuls les techniciens changent l'état d'un ticket.")
    if status not in Ticket.Status.values:
        raise TicketError("État inconnu.")
    if status == Ticket.Status.RESOLVED and not (resolution or ticket.resolution).strip():
        raise TicketError("Décrivez la résolution avant de résoudre le ticket.")
    previous = ticket.status
    if previous == status and not resolution:
        return ticket
    ticket.status = status
    if resolution:
        ticket.resolution = resolution.strip()
    if status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED) and ticket.resolved_at is None:
        ticket.resolved_at = timezone.now()
    if status == Ticket.Status.ASSIGNED and ticket.assigned_to_id is None:
        ticket.assigned_to = by
    ticket.save()
    if previous != status:
        StatusChange.objects.create(ticket=ticket, from_status=previous, to_status=status, by=by)
    return ticket


def add_comment(ticket: Ticket, *, author, body: str, internal: bool = False) -> Comment:
    body = (body or "").strip()
    if not body:
        raise TicketError("Le commentaire est vide.")
    if internal and not is_technician(author):
        raise PermissionDenied("Seuls les techniciens écrivent des notes internes.")
    return Comment.objects.create(ticket=ticket, author=author, body=body, internal=internal)


@transaction.atomic
def draft_article_from_ticket(ticket: Ticket, *, by) -> Article:
    """Turn a good resolution into a knowledge-base article draft (technicians)."""
    if not is_technician(by):
        raise PermissionDenied("Seuls les techniciens rédigent des articles.")
    if not ticket.resolution.strip():
        raise TicketError("Ce ticket n'a pas encore de résolution.")
    problem, solution = ticket.description.strip(), ticket.resolution.strip()
    body = f"## Problème\n\n{problem}\n\n## Solution\n\n{solution}"
    return Article.objects.create(
        title=ticket.title,
        body=body,
        category=ticket.category,
        audience=Article.Audience.AGENTS,
        status=Article.Status.DRAFT,
        source_ticket=ticket,
        author=by,
    )


def record_deflection(*, user, conversation_id: int | None, question: str) -> Deflection:
    """The agent's problem was solved by the assistant: no ticket (counted once per
    conversation)."""
    deflection, _ = Deflection.objects.get_or_create(
        user=user, conversation_id=conversation_id, defaults={"question": question[:500]}
    )
    return deflection
