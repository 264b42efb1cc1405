"""Ticket pages: an agent's own tickets, the technicians' queue, a ticket and its follow-up."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from helpdesk import intake, replies, selectors, services
from helpdesk.models import Category, Ticket
from helpdesk.ticket_forms import CommentForm, StatusForm, TicketForm

logger = logging.getLogger(__name__)


def ticket_list(request: HttpRequest) -> HttpResponse:
    technician = selectors.is_technician(request.user)
    tickets = selectors.visible_tickets(request.user)
    status = request.GET.get("etat", "")
    if status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    elif technician:
        # The queue: what is still to be done, not years of imported history.
        tickets = tickets.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
    return render(
        request,
        "helpdesk/ticket_list.html",
        {
            "tickets": tickets[:200],
            "technician": technician,
            "status": status,
            "statuses": Ticket.Status.choices,
            "deflections": selectors.deflection_count(30) if technician else None,
            "category_model": services.current_category_model() if technician else None,
            "assistant": _self_service_assistant(request.user),
        },
    )


def _self_service_assistant(user):
    """The helpdesk assistant this agent may use (the one for every agent first): where
    « Décrire mon problème » leads."""
    from chat import selectors as chat_selectors
    from chat.models import Assistant

    usable = chat_selectors.usable_assistants(user).filter(kind=Assistant.Kind.HELPDESK)
    return usable.filter(audience=Assistant.Audience.AGENTS).first() or usable.first()


def _prefill(request: HttpRequest) -> dict:
    """What the agent already said: from their helpdesk conversation (« Le problème
    persiste ») or from ?titre=&description=."""
    conversation_id = request.GET.get("conversation", "")
    if conversation_id:
        from chat import selectors as chat_selectors

        conversation, said, proposed = chat_selectors.conversation_digest(
            request.user, conversation_id
        )
        description = "\n\n".join(said)
        if proposed:
            tried = "\n".join(f"- {title}" for title in proposed)
            description += f"\n\nSolutions proposées par l'assistant, sans succès :\n{tried}"
        return {
            "title": (conversation.title or (said[0] if said else ""))[:250],
            "description": description,
            "conversation": conversation.pk,
            # Only the agent's own words are read (not the titles the assistant proposed).
            "words": "\n".join(said),
        }
    title, description = request.GET.get("titre", ""), request.GET.get("description", "")
    return {"title": title, "description": description, "words": f"{title}\n{description}"}


def ticket_new(request: HttpRequest) -> HttpResponse:
    initial = _prefill(request) if request.method == "GET" else {}
    reading = intake.read(initial.pop("words", ""))
    suggested = None
    if initial.get("title"):
        # Pre-filled from the helpdesk assistant: what the words say is proposed, not imposed;
        # what they do not say is asked for.
        suggested = services.suggest_category(initial["title"], initial["description"])
        initial.update(
            device=reading.device,
            error_message=reading.error_message,
            since=reading.since,
            priority=reading.priority,
        )
        if suggested is not None:
            initial["category"] = suggested.pk
    missing = {name: intake.QUESTIONS[name] for name in reading.missing} if initial else {}
    form = TicketForm(request.POST or None, request.FILES or None, initial=initial, missing=missing)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ticket = services.open_ticket(
                requester=request.user,
                title=d["title"],
                description=d["description"],
                category=d["category"],
                priority=d["priority"],
                device=d["device"],
                error_message=d["error_message"],
                since=d["since"],
                conversation_id=_own_conversation(request.user, d["conversation"]),
            )
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        else:
            # The ticket is kept even if a file is refused: the agent adds it again from there.
            _attach(request, ticket, d["attachments"])
            messages.success(request, f"Ticket n° {ticket.pk} ouvert : la DSI vous répondra ici.")
            return redirect("helpdesk:ticket", pk=ticket.pk)
    return render(
        request,
        "helpdesk/ticket_new.html",
        {
            "form": form,
            "suggested": suggested,
            "reading": reading if initial.get("title") else None,
            "questions": list(missing.values()),
        },
    )


def _own_conversation(user, pk: int | None) -> int | None:
    """The conversation id posted back, kept only if it is the user's own."""
    if not pk:
        return None
    from chat import selectors as chat_selectors

    try:
        return chat_selectors.get_conversation(user, pk).pk
    except Http404:
        return None


def _detail(request: HttpRequest, ticket: Ticket, **extra) -> HttpResponse:
    technician = selectors.is_technician(request.user)
    similar = extra.pop("similar", None)
    if similar is None:
        similar = selectors.similar_resolved(request.user, ticket) if technician else []
    suggested = None
    if technician:
        suggested = services.suggest_category(ticket.title, ticket.description)
        if suggested is not None and suggested.pk == ticket.category_id:
            suggested = None  # already filed there: nothing to suggest
    context = {
        "ticket": ticket,
        "technician": technician,
        "comments": selectors.ticket_comments(request.user, ticket),
        "history": ticket.history.select_related("by"),
        "comment_form": CommentForm(),
        "status_form": StatusForm(
            initial={"status": ticket.status, "assigned_to": ticket.assigned_to_id}
        )
        if technician
        else None,
        "similar": similar,
        "suggested_category": suggested,
        "articles": ticket.articles.all() if technician else [],
        **extra,
    }
    return render(request, "helpdesk/ticket_detail.html", context)


def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.get_ticket(request.user, pk))


@require_POST
def ticket_reply_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """« Proposer une réponse » (technicians): the reply box filled with a draft written from
    the similar resolutions, to read and edit before sending."""
    ticket = selectors.get_ticket(request.user, pk)
    if not selectors.is_technician(request.user):
        raise PermissionDenied("Réservé aux techniciens.")
    similar = selectors.similar_resolved(request.user, ticket)
    draft = replies.draft_reply(ticket, [t for t, _ in similar], user=request.user, request=request)
    form = CommentForm(initial={"body": draft.text})
    # The technician reads and edits it next: focus there, and room to read it whole.
    form.fields["body"].widget.attrs.update(autofocus=True, rows=12)
    return _detail(request, ticket, comment_form=form, draft=draft, similar=similar)


@require_POST
def ticket_category(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    raw = request.POST.get("category", "")
    category = Category.objects.filter(pk=raw).first() if raw.isdigit() else None
    services.set_category(ticket, category, by=request.user)
    messages.success(request, f"Ticket classé dans « {category.path if category else '—'} ».")
    return redirect("helpdesk:ticket", pk=ticket.pk)


@require_POST
def ticket_article(request: HttpRequest, pk: int) -> HttpResponse:
    """« Créer un article » from a good resolution: a draft to edit, then publish."""
    ticket = selectors.get_ticket(request.user, pk)
    try:
        article = services.draft_article_from_ticket(ticket, by=request.user)
    except services.TicketError as exc:
        messages.error(request, str(exc))
        return redirect("helpdesk:ticket", pk=ticket.pk)
    messages.success(request, "Brouillon d'article créé : relisez-le puis publiez-le.")
    return redirect("helpdesk:article_edit", pk=article.pk)


def _attach(request: HttpRequest, ticket: Ticket, files) -> int:
    """Join each file; a refused one is said in French and does not stop the others."""
    joined = 0
    for upload in files:
        try:
            services.add_attachment(ticket, upload, by=request.user)
            joined += 1
        except services.TicketError as exc:
            logger.info("Pièce jointe refusée sur le ticket %s : %s", ticket.pk, exc)
            messages.error(request, f"Pièce jointe non ajoutée : {exc}")
    return joined


@require_POST
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Le message n'a pas pu être lu ; réessayez.")
        return redirect("helpdesk:ticket", pk=ticket.pk)
    body, files = form.cleaned_data["body"], form.cleaned_data["attachments"]
    if not body.strip() and not files:
        messages.error(request, "Le message est vide.")
        return redirect("helpdesk:ticket", pk=ticket.pk)
    if body.strip():
        try:
            services.add_comment(
                ticket, author=request.user, body=body, internal=form.cleaned_data["internal"]
            )
        except services.TicketError as exc:
            messages.error(request, str(exc))
    _attach(request, ticket, files)
    return redirect("helpdesk:ticket", pk=ticket.pk)


def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    """A ticket's file, for whoever may see the ticket; always downloaded, never rendered
    in the portal's origin (an HTML file would run its scripts there)."""
    ticket = selectors.get_ticket(request.user, pk)
    attachment = ticket.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("Aucune pièce jointe ne correspond à la demande.")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        logger.error("Pièce jointe %s absente du disque : %s", attachment.pk, attachment.file.name)
        raise Http404("Ce fichier n'est plus disponible.") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def ticket_status(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    if not selectors.is_technician(request.user):
        raise PermissionDenied("Seuls les techniciens changent l'état d'un ticket.")
    form = StatusForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        before = ticket.status
        try:
            services.assign(ticket, d["assigned_to"], by=request.user)
            # The state shown was left as it was: assigning a new ticket already took it on.
            if d["status"] != before or d["resolution"]:
                services.change_status(
                    ticket, d["status"], by=request.user, resolution=d["resolution"]
                )
            messages.success(request, "Ticket mis à jour.")
        except services.TicketError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Choisissez un état et un technicien de la liste.")
    return redirect("helpdesk:ticket", pk=ticket.pk)


@require_POST
def deflection(request: HttpRequest) -> HttpResponse:
    """« Mon problème est résolu » under a helpdesk assistant's answer."""
    from chat import selectors as chat_selectors

    conversation = chat_selectors.get_conversation(request.user, request.POST.get("conversation"))
    services.record_deflection(
        user=request.user, conversation_id=conversation.pk, question=conversation.title
    )
    messages.success(request, "Merci ! Votre problème est noté comme résolu, sans ticket.")
    return redirect("chat:conversation", conversation.assistant.slug, conversation.pk)


@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    """« Réentraîner la suggestion de catégorie » (technicians); runs in the background."""
    if not selectors.is_technician(request.user):
        raise PermissionDenied("Réservé aux techniciens.")
    from django_q.tasks import async_task

    async_task("helpdesk.tasks.retrain_category_model")
    messages.success(request, "Apprentissage lancé : la précision s'affichera ici une fois fini.")
    return redirect("helpdesk:tickets")
