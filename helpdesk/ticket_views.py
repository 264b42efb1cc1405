"""Ticket pages: an agent's own tickets, the technicians' queue, a ticket and its follow-up."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from helpdesk import selectors, services
from helpdesk.models import Ticket
from helpdesk.ticket_forms import CommentForm, StatusForm, TicketForm


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
        },
    )


def ticket_new(request: HttpRequest) -> HttpResponse:
    title, description = request.GET.get("titre", ""), request.GET.get("description", "")
    initial = {"title": title, "description": description}
    # Pre-filled from the helpdesk assistant: the learnt category is proposed, not imposed.
    suggested = services.suggest_category(title, description) if title else None
    if suggested is not None:
        initial["category"] = suggested.pk
    form = TicketForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ticket = services.open_ticket(
                requester=request.user,
                title=d["title"],
                description=d["description"],
                category=d["category"],
                priority=d["priority"],
            )
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Ticket n° {ticket.pk} ouvert : la DSI vous répondra ici.")
            return redirect("helpdesk:ticket", pk=ticket.pk)
    return render(request, "helpdesk/ticket_new.html", {"form": form, "suggested": suggested})


def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    technician = selectors.is_technician(request.user)
    return render(
        request,
        "helpdesk/ticket_detail.html",
        {
            "ticket": ticket,
            "technician": technician,
            "comments": selectors.ticket_comments(request.user, ticket),
            "history": ticket.history.select_related("by"),
            "comment_form": CommentForm(),
            "status_form": StatusForm(initial={"status": ticket.status}) if technician else None,
            "similar": selectors.similar_resolved(request.user, ticket) if technician else [],
        },
    )


@require_POST
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.add_comment(
                ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                internal=form.cleaned_data["internal"],
            )
        except services.TicketError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Le message est vide.")
    return redirect("helpdesk:ticket", pk=ticket.pk)


@require_POST
def ticket_status(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket(request.user, pk)
    if not selectors.is_technician(request.user):
        raise PermissionDenied("Seuls les techniciens changent l'état d'un ticket.")
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.change_status(
                ticket,
                form.cleaned_data["status"],
                by=request.user,
                resolution=form.cleaned_data["resolution"],
            )
            messages.success(request, "Ticket mis à jour.")
        except services.TicketError as exc:
            messages.error(request, str(exc))
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
