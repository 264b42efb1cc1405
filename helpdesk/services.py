"""Writes of the helpdesk: tickets, their status history, comments, articles."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core import access
from helpdesk.models import (
    Article,
    Attachment,
    Category,
    Comment,
    Deflection,
    StatusChange,
    Ticket,
)
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
    device: str = "",
    error_message: str = "",
    since: str = "",
    conversation_id: int | None = None,
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
        device=(device or "").strip()[:200],
        error_message=(error_message or "").strip(),
        since=(since or "").strip()[:120],
        conversation_id=conversation_id,
        created_at=timezone.now(),
    )
    StatusChange.objects.create(
        ticket=ticket, from_status="", to_status=ticket.status, by=requester
    )
    return ticket


def _tell(ticket: Ticket, person, title: str, body: str = "") -> None:
    """Notify one person about a ticket (portal and e-mail), once the change is saved; never
    the one who made it."""
    from django.urls import reverse

    from core.notifications import notify

    if person is None:
        return
    url = reverse("helpdesk:ticket", args=[ticket.pk])
    transaction.on_commit(
        lambda: notify([person], title=f"Ticket n° {ticket.pk} : {title}", body=body, url=url)
    )


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
        if status == Ticket.Status.RESOLVED:
            # Technicians find this resolution among the similar tickets from now on, not at
            # the next scheduled run (runs already under way absorb it).
            from ai import services as ai_services

            transaction.on_commit(
                lambda: ai_services.refresh_app_sources("helpdesk.technicians", user=by)
            )
        if ticket.requester_id and ticket.requester_id != by.pk:
            if status == Ticket.Status.RESOLVED:
                _tell(ticket, ticket.requester, "résolu", f"{ticket.title}\n\n{ticket.resolution}")
            elif status == Ticket.Status.WAITING:
                _tell(
                    ticket,
                    ticket.requester,
                    "la DSI attend votre réponse",
                    f"{ticket.title} : répondez sur la page du ticket.",
                )
    return ticket


@transaction.atomic
def assign(ticket: Ticket, technician, *, by) -> Ticket:
    """Give the ticket to a technician (or to nobody); a new ticket becomes « pris en
    charge ». The technician is told when someone else assigns it to them."""
    from helpdesk.selectors import technicians

    if not is_technician(by):
        raise PermissionDenied("Seuls les techniciens attribuent les tickets.")
    if technician is not None and not technicians().filter(pk=technician.pk).exists():
        raise TicketError("Cette personne ne traite pas les tickets.")
    if ticket.assigned_to_id == (technician.pk if technician else None):
        return ticket
    ticket.assigned_to = technician
    ticket.save(update_fields=["assigned_to", "updated_at"])
    if technician is not None and ticket.status == Ticket.Status.NEW:
        change_status(ticket, Ticket.Status.ASSIGNED, by=by)
    if technician is not None and technician.pk != by.pk:
        _tell(ticket, technician, "vous est attribué", ticket.title)
    return ticket


def add_attachment(ticket: Ticket, upload, *, by) -> Attachment:
    """Join a file (a screenshot, a log, a PDF) to a ticket the user may follow.

    The file is read for what it really is: an empty one, one over the size limit, one whose
    content is not what its name says (a program renamed .png) or that nothing here can open
    is refused with a French message, and the ticket is left as it was."""
    from django.conf import settings

    from ai.converters.base import ConversionError
    from ai.converters.detect import LABELS, TEXT_FORMATS, detect_format, extension_format

    if not (is_technician(by) or ticket.requester_id == by.pk):
        raise PermissionDenied("Seuls le demandeur et les techniciens joignent des fichiers.")
    name = (getattr(upload, "name", "") or "fichier").rsplit("/", 1)[-1][:200]
    limit = settings.HELPDESK_ATTACHMENT_MAX_BYTES
    if ticket.attachments.count() >= settings.HELPDESK_ATTACHMENTS_PER_TICKET:
        raise TicketError(
            f"« {name} » : ce ticket a déjà {settings.HELPDESK_ATTACHMENTS_PER_TICKET} pièces "
            "jointes, le maximum."
        )
    if not upload.size:
        raise TicketError(f"« {name} » est vide.")
    if upload.size > limit:
        raise TicketError(
            f"« {name} » dépasse la taille maximale d'une pièce jointe "
            f"({limit // (1024 * 1024)} Mo)."
        )
    upload.seek(0)
    data = upload.read()  # whole: an Office file's table of contents is at its end
    upload.seek(0)
    try:
        found = detect_format(data, name)
    except ConversionError as exc:
        raise TicketError(f"« {name} » : {exc}") from exc
    claimed = extension_format(name)
    if claimed and claimed != found and not {claimed, found} <= TEXT_FORMATS:
        raise TicketError(
            f"« {name} » se présente comme un fichier {LABELS[claimed]} mais contient un "
            f"fichier {LABELS[found]} : renommez-le avec la bonne extension."
        )
    return Attachment.objects.create(ticket=ticket, file=upload, name=name, uploaded_by=by)


def add_comment(ticket: Ticket, *, author, body: str, internal: bool = False) -> Comment:
    body = (body or "").strip()
    if not body:
        raise TicketError("Le commentaire est vide.")
    if internal and not is_technician(author):
        raise PermissionDenied("Seuls les techniciens écrivent des notes internes.")
    with transaction.atomic():
        comment = Comment.objects.create(ticket=ticket, author=author, body=body, internal=internal)
        # The other side hears of it; an internal note stays between technicians.
        if not internal:
            if author.pk == ticket.requester_id:
                if ticket.assigned_to_id and ticket.assigned_to_id != author.pk:
                    _tell(ticket, ticket.assigned_to, "nouveau message du demandeur", body)
            elif ticket.requester_id:
                _tell(ticket, ticket.requester, "réponse de la DSI", body)
    return comment


@transaction.atomic
def draft_article_from_ticket(ticket: Ticket, *, by) -> Article:
    """Turn a good resolution into a knowledge-base article draft (technicians)."""
    if not is_technician(by):
        raise PermissionDenied("Seuls les techniciens rédigent des articles.")
    if not ticket.resolution.strip():
        raise TicketError("Ce ticket n'a pas encore de résolution.")
    problem, solution = ticket.description.strip(), ticket.resolution.strip()
    body = f"### Problème\n\n{problem}\n\n### Solution\n\n{solution}"
    return Article.objects.create(
        title=ticket.title,
        body=body,
        category=ticket.category,
        audience=Article.Audience.AGENTS,
        status=Article.Status.DRAFT,
        source_ticket=ticket,
        author=by,
    )


def set_category(ticket: Ticket, category: Category | None, *, by) -> Ticket:
    """A technician files the ticket (often the suggested category, in one click)."""
    if not is_technician(by):
        raise PermissionDenied("Seuls les techniciens classent les tickets.")
    ticket.category = category
    ticket.save(update_fields=["category", "updated_at"])
    return ticket


HELPDESK_PROVIDERS = ("helpdesk.articles", "helpdesk.technicians")


@transaction.atomic
def save_article(
    article: Article,
    *,
    by,
    title: str,
    body: str,
    category: Category | None,
    audience: str,
    status: str,
) -> Article:
    """Edit an article; once published (or unpublished), the assistants' knowledge bases are
    refreshed in the background rather than at their next scheduled run."""
    if not by.has_perm("helpdesk.change_article"):
        raise PermissionDenied("Seuls les techniciens modifient les articles.")
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise TicketError("Un article a besoin d'un titre et d'un contenu.")
    if audience not in Article.Audience.values or status not in Article.Status.values:
        raise TicketError("Public ou état inconnu.")
    was_published = article.status == Article.Status.PUBLISHED
    article.title, article.body, article.category = title[:250], body, category
    article.audience, article.status = audience, status
    if article.author_id is None:
        article.author = by
    article.save()
    if was_published or status == Article.Status.PUBLISHED:
        from ai import services as ai_services

        transaction.on_commit(lambda: ai_services.refresh_app_sources(*HELPDESK_PROVIDERS, user=by))
    return article


def record_deflection(*, user, conversation_id: int | None, question: str) -> Deflection:
    """The agent's problem was solved by the assistant: no ticket (counted once per
    conversation)."""
    deflection, _ = Deflection.objects.get_or_create(
        user=user, conversation_id=conversation_id, defaults={"question": question[:500]}
    )
    return deflection


# --- Category suggestion -------------------------------------------------------------------

_model_cache: dict = {}


def category_model_path():
    from pathlib import Path

    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / "helpdesk" / "category-model.joblib"


def train_category_model():
    """Learn the category suggestion from the tickets that have a category (their title and
    description), store it, and return it with its measured accuracy. French ValueError when
    the history is too thin."""
    from helpdesk import classifier

    rows = list(
        Ticket.objects.filter(category__isnull=False)
        .select_related("category__parent")
        .order_by("pk")[:20_000]
    )
    model = classifier.train(
        [f"{t.title}\n{t.description}" for t in rows], [t.category.path for t in rows]
    )
    path = category_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    classifier.save(model, path)
    _model_cache.clear()
    return model


def current_category_model():
    """The stored model (reloaded when the file changes), or None before the first training."""
    from helpdesk import classifier

    path = category_model_path()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    if _model_cache.get("stamp") != stamp:
        _model_cache.update(stamp=stamp, model=classifier.load(path))
    return _model_cache["model"]


def suggest_category(title: str, description: str = "") -> Category | None:
    """The category the model finds most likely for this problem, if it is confident enough."""
    model = current_category_model()
    text = f"{title}\n{description}".strip()
    if model is None or not text:
        return None
    suggestion = model.predict([text])[0]
    if suggestion.probability < 0.35:  # a weak guess is worse than « Je ne sais pas »
        return None
    by_path = {c.path: c for c in Category.objects.filter(is_active=True).select_related("parent")}
    return by_path.get(suggestion.label)


def ensure_schedules() -> None:
    """The nightly retraining of the category suggestion and the hourly spike check
    (idempotent; after migrations)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="helpdesk.retrain_category_model",
        defaults={"func": "helpdesk.tasks.retrain_category_model", "schedule_type": Schedule.DAILY},
    )
    Schedule.objects.update_or_create(
        name="helpdesk.check_spikes",
        defaults={"func": "helpdesk.tasks.check_spikes", "schedule_type": Schedule.HOURLY},
    )
