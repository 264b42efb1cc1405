"""What the helpdesk gives the shared AI layer (sources of kind `app`).

- `helpdesk.articles`: published knowledge-base articles for agents; meant for a collection
  every agent reads (the self-service assistant).
- `helpdesk.technicians`: resolved tickets with their resolution, and the internal technician
  notes; meant for a collection of the IT department only (the technician assistant).

Both come with `readable(user, uris)`, the helpdesk's own rule applied by the AI layer on
every hit: a collection is readable by a whole direction, but a resolved ticket stays its
requester's and the technicians', and an internal note the technicians' only.

Each object becomes a small Markdown document; its content hash decides whether it is
embedded again, so an unchanged article costs nothing on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator

from ai.sources.base import FetchedItem
from helpdesk.models import Article, Ticket


def _article_item(article: Article) -> FetchedItem:
    category = f"Catégorie : {article.category.path}\n\n" if article.category_id else ""
    text = f"# {article.title}\n\n{category}{article.body.strip()}\n"
    return FetchedItem(
        uri=f"helpdesk:article:{article.pk}",
        title=article.title,
        filename=f"article-{article.pk}.md",
        data=text.encode("utf-8"),
        modified=article.updated_at,
    )


def agent_articles() -> Iterator[FetchedItem]:
    qs = Article.objects.filter(
        status=Article.Status.PUBLISHED, audience=Article.Audience.AGENTS
    ).select_related("category__parent")
    for article in qs.order_by("pk").iterator():
        yield _article_item(article)


def technician_knowledge() -> Iterator[FetchedItem]:
    notes = Article.objects.filter(
        status=Article.Status.PUBLISHED, audience=Article.Audience.TECHNICIANS
    ).select_related("category__parent")
    for article in notes.order_by("pk").iterator():
        yield _article_item(article)
    resolved = (
        Ticket.objects.filter(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
        .exclude(resolution="")
        .select_related("category__parent")
    )
    for ticket in resolved.order_by("pk").iterator():
        category = f"Catégorie : {ticket.category.path}\n\n" if ticket.category_id else ""
        text = (
            f"# {ticket.title}\n\n{category}## Problème\n\n{ticket.description.strip()}\n\n"
            f"## Résolution\n\n{ticket.resolution.strip()}\n"
        )
        yield FetchedItem(
            uri=f"helpdesk:ticket:{ticket.pk}",
            title=f"Ticket {ticket.pk} : {ticket.title}",
            filename=f"ticket-{ticket.pk}.md",
            data=text.encode("utf-8"),
            modified=ticket.resolved_at or ticket.updated_at,
        )


def readable(user, uris: list[str]) -> set[str]:
    """Which of these helpdesk URIs the user may read, by the helpdesk's selectors."""
    from helpdesk import selectors

    wanted: dict[str, dict[int, str]] = {"ticket": {}, "article": {}}
    for uri in uris:
        kind, _, pk = uri.removeprefix("helpdesk:").partition(":")
        if kind in wanted and pk.isdigit():
            wanted[kind][int(pk)] = uri
    tickets = selectors.visible_tickets(user).filter(pk__in=wanted["ticket"])
    articles = selectors.visible_articles(user).filter(pk__in=wanted["article"])
    return {wanted["ticket"][pk] for pk in tickets.values_list("pk", flat=True)} | {
        wanted["article"][pk] for pk in articles.values_list("pk", flat=True)
    }
