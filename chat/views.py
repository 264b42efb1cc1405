"""Chat pages: the agents' assistants, the citizen portal and its embeddable widget.

A question is posted as a form. With JavaScript the page asks for `text/event-stream` and
shows the answer as it is written; without it, the answer is computed and the page reloads.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import selectors, services
from chat.models import Assistant, Conversation, Message
from chat.rendering import render_answer
from core import audit

logger = logging.getLogger(__name__)

STREAM_ERROR = "La réponse n'a pas pu être produite. Réessayez dans un instant."


def _wants_stream(request: HttpRequest) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def message_context(message: Message) -> dict:
    anchor = f"m{message.pk}"
    return {
        "message": message,
        "anchor": anchor,
        "html": render_answer(message.content, message.sources, anchor=anchor)
        if message.role == Message.Role.ASSISTANT
        else None,
        "cited_sources": [s for s in message.sources if s.get("cited")],
        "other_sources": [s for s in message.sources if not s.get("cited")],
    }


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(events: Iterator[services.Event], *, public: bool = False, extra: dict | None = None):
    """Server-sent events of an answer; the final event carries the message as HTML."""
    try:
        for event in events:
            data = dict(event.data)
            if event.type == "done":
                message = Message.objects.get(pk=data["message_id"])
                template = "chat/_public_message.html" if public else "chat/_message.html"
                data["html"] = render_to_string(template, message_context(message))
                data["text"] = message.content
                data.update(extra or {})
            yield _sse(event.type, data)
    except Exception:
        logger.exception("Réponse interrompue par une erreur")
        yield _sse("error", {"text": STREAM_ERROR})


def _event_stream(generator) -> StreamingHttpResponse:
    response = StreamingHttpResponse(generator, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx must not hold the stream back
    return response


# --- Agents ----------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    assistants = selectors.usable_assistants(request.user).exclude(
        audience=Assistant.Audience.PUBLIC, kind=Assistant.Kind.WEBSITE
    )
    return render(request, "chat/home.html", {"assistants": assistants})


def assistant_chat(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    assistant = selectors.get_usable_assistant(request.user, slug)
    conversation = selectors.get_conversation(request.user, pk) if pk is not None else None
    if conversation is not None and conversation.assistant_id != assistant.pk:
        raise Http404("Aucune conversation ne correspond à la demande.")
    history = []
    if conversation is not None:
        history = [
            message_context(m)
            for m in conversation.messages.select_related("feedback").order_by("created_at", "pk")
        ]
    return render(
        request,
        "chat/chat.html",
        {
            "assistant": assistant,
            "conversation": conversation,
            "conversations": selectors.user_conversations(request.user, assistant)[:50],
            "history": history,
        },
    )


@require_POST
def ask(request: HttpRequest, slug: str) -> HttpResponse:
    assistant = selectors.get_usable_assistant(request.user, slug)
    question = request.POST.get("question", "")
    conversation_id = request.POST.get("conversation")
    if conversation_id:
        conversation = selectors.get_conversation(request.user, conversation_id)
        if conversation.assistant_id != assistant.pk:
            raise Http404("Aucune conversation ne correspond à la demande.")
    else:
        conversation = None
    if not question.strip():
        if _wants_stream(request):
            return JsonResponse({"error": "Écrivez une question."}, status=400)
        messages.error(request, "Écrivez une question.")
        return redirect(_chat_url(assistant, conversation))
    if conversation is None:
        conversation = services.start_conversation(assistant, request.user)
    try:
        events = services.ask(conversation, question, user=request.user, request=request)
        if _wants_stream(request):
            first = next(events)  # raises QuestionError before the stream starts
            url = _chat_url(assistant, conversation)
            return _event_stream(_stream(_chain(first, events), extra={"conversation_url": url}))
        for _event in events:
            pass
    except services.QuestionError as exc:
        if _wants_stream(request):
            return JsonResponse({"error": str(exc)}, status=400)
        messages.error(request, str(exc))
    return redirect(_chat_url(assistant, conversation))


def _chain(first, rest):
    yield first
    yield from rest


def _chat_url(assistant: Assistant, conversation: Conversation | None) -> str:
    if conversation is None:
        return reverse("chat:assistant", args=[assistant.slug])
    return reverse("chat:conversation", args=[assistant.slug, conversation.pk])


@require_POST
def regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.get_message(request.user, pk)
    conversation = message.conversation
    try:
        events = services.regenerate(message, user=request.user, request=request)
        if _wants_stream(request):
            return _event_stream(_stream(events))
        for _event in events:
            pass
    except services.QuestionError as exc:
        messages.error(request, str(exc))
    return redirect(_chat_url(conversation.assistant, conversation))


@require_POST
def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.get_message(request.user, pk)
    helpful = request.POST.get("helpful") == "1"
    try:
        services.give_feedback(
            message, user=request.user, helpful=helpful, comment=request.POST.get("comment", "")
        )
    except services.QuestionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True, "helpful": helpful})
    messages.success(request, "Merci pour votre avis.")
    return redirect(_chat_url(message.conversation.assistant, message.conversation))


@require_POST
def delete_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    assistant = conversation.assistant
    services.delete_conversation(conversation)
    messages.success(request, "Conversation supprimée.")
    return redirect(_chat_url(assistant, None))


# --- Citizens: public page, widget -------------------------------------------------------------


def _public_assistant(slug: str) -> Assistant:
    # Anonymous even when an agent is logged in: the public page never uses their rights.
    return selectors.get_usable_assistant(AnonymousUser(), slug)


@login_not_required
def public_chat(request: HttpRequest, slug: str) -> HttpResponse:
    assistant = _public_assistant(slug)
    return render(request, "chat/public.html", {"assistant": assistant, "embedded": False})


@login_not_required
@xframe_options_exempt
def widget(request: HttpRequest, slug: str) -> HttpResponse:
    assistant = _public_assistant(slug)
    response = render(request, "chat/public.html", {"assistant": assistant, "embedded": True})
    ancestors = " ".join(settings.CHAT_WIDGET_ORIGINS) or "*"
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    return response


@login_not_required
def widget_script(request: HttpRequest) -> HttpResponse:
    script = render_to_string(
        "chat/widget.js", {"base_url": request.build_absolute_uri("/").rstrip("/")}
    )
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _rate_limited(request: HttpRequest) -> bool:
    """At most CHAT_PUBLIC_RATE questions per minute per client address."""
    ip = audit.client_ip(request) or "inconnu"
    key = f"chat:public:{ip}"
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        count = 1
    return count > settings.CHAT_PUBLIC_RATE


@login_not_required
@csrf_exempt  # no cookie authority here: anonymous, the conversation is named by a secret token
@require_POST
def public_ask(request: HttpRequest, slug: str) -> HttpResponse:
    assistant = _public_assistant(slug)
    if _rate_limited(request):
        logger.warning(
            "Assistant public %s : limite de débit atteinte (%s)", slug, audit.client_ip(request)
        )
        return JsonResponse(
            {"error": "Trop de questions en peu de temps : patientez une minute."}, status=429
        )
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = request.POST
    if not hasattr(body, "get"):  # valid JSON, but not an object
        body = {}
    question = str(body.get("question", ""))[: services.MAX_QUESTION_CHARS + 1]
    token = str(body.get("token", ""))[:64]
    user = AnonymousUser()
    conversation = None
    if token:
        conversation = selectors.session_conversations(token, assistant).first()
    if conversation is None:
        token = secrets.token_urlsafe(32)
        conversation = services.start_conversation(assistant, user, session_key=token)
    try:
        events = services.ask(conversation, question, user=user, request=request)
        first = next(events)
    except services.QuestionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return _event_stream(_stream(_chain(first, events), public=True, extra={"token": token}))
