"""Reads of the helpdesk; every selector takes the requesting user.

A requester sees their own tickets and nobody else's; technicians of the IT department
(`helpdesk.view_all_tickets`) see every ticket. Articles for agents are readable by every agent
once published; internal technician notes only by technicians.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from helpdesk.models import Article, Comment, Ticket

TECHNICIAN_PERM = "helpdesk.view_all_tickets"


def is_technician(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm(TECHNICIAN_PERM)


def people_with(perm: str):
    """Active people who hold `perm` through their roles (superusers are not counted: being
    an administrator does not make someone a technician or the IT manager)."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.with_perm(
            perm, include_superusers=False, backend="django.contrib.auth.backends.ModelBackend"
        )
        .filter(is_active=True)
        .order_by("last_name", "first_name", "email")
    )


def technicians():
    """People who handle tickets."""
    return people_with(TECHNICIAN_PERM)


def visible_tickets(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("category", "requester", "assigned_to", "direction")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if is_technician(user):
        return qs
    return qs.filter(requester=user)


def get_ticket(user, pk) -> Ticket:
    ticket = visible_tickets(user).filter(pk=pk).first()
    if ticket is None:
        raise Http404("Aucun ticket ne correspond à la demande.")
    return ticket


def ticket_comments(user, ticket: Ticket) -> QuerySet[Comment]:
    """A ticket's comments; internal notes only for technicians."""
    qs = ticket.comments.select_related("author")
    return qs if is_technician(user) else qs.filter(internal=False)


def visible_articles(user) -> QuerySet[Article]:
    qs = Article.objects.select_related("category")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if is_technician(user):
        return qs
    return qs.filter(status=Article.Status.PUBLISHED, audience=Article.Audience.AGENTS)


def get_article(user, pk) -> Article:
    article = visible_articles(user).filter(pk=pk).first()
    if article is None:
        raise Http404("Aucun article ne correspond à la demande.")
    return article


def similar_resolved(user, ticket: Ticket, limit: int = 5) -> list[tuple[Ticket, float]]:
    """Resolved tickets most like this one, as the AI layer finds them among the resolutions
    indexed for the IT department (sources `helpdesk.technicians`); technicians only, and
    every hit goes back through `visible_tickets`."""
    if not is_technician(user):
        return []
    from ai.models import Source
    from ai.retrieval import AccessRefused, SearchFilters, search

    collection_ids = list(
        Source.objects.filter(
            kind=Source.Kind.APP, config__provider="helpdesk.technicians"
        ).values_list("collection_id", flat=True)
    )
    if not collection_ids:
        return []
    query = f"{ticket.title}\n{ticket.description}"[:2000]
    try:
        results = search(
            user,
            query,
            filters=SearchFilters(collection_ids=collection_ids),
            limit=limit + 1,
            per_document=True,
        )
    except AccessRefused:
        return []
    scores: dict[int, float] = {}
    for result in results:
        if not result.relevant:  # the top k always comes back, related or not
            continue
        kind, _, pk = result.document.uri.removeprefix("helpdesk:").partition(":")
        if kind == "ticket" and pk.isdigit() and int(pk) != ticket.pk:
            scores.setdefault(int(pk), result.score)
    found = visible_tickets(user).filter(pk__in=scores)
    return sorted(((t, scores[t.pk]) for t in found), key=lambda pair: -pair[1])[:limit]


def deflection_count(days: int = 30) -> int:
    """Problems solved by the assistant without a ticket over the last `days` days."""
    from datetime import timedelta

    from django.utils import timezone

    from helpdesk.models import Deflection

    return Deflection.objects.filter(created_at__gte=timezone.now() - timedelta(days=days)).count()
