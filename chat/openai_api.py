"""An OpenAI-compatible API over the city's assistants, for Open WebUI, the `openai` client...

`GET /v1/models` lists the assistants the token's owner may use (a model id is an assistant's
slug); `POST /v1/chat/completions` asks one of them. Same audience and document access rules
as the intranet: the question goes through `chat.services.ask` as the token's owner.

The last user message is the question. Earlier messages are not replayed: each call is a new
conversation, stored like any other. Sources are appended to the answer as a short markdown
list (tools without a sources panel still show them) and returned in a non-standard `sources`
field. Errors use OpenAI's shape, `{"error": {"message", "type", "code"}}`, in French.

These are plain Django views: they take only `Authorization: Bearer <key>` (a DRF token made by
`manage.py api_token`), never the session cookie, so they need no CSRF protection.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed

from chat import selectors, services
from chat.api import STREAM_ERROR, BearerTokenAuthentication
from chat.models import Assistant, Message

logger = logging.getLogger(__name__)

MISSING_KEY = (
    "Jeton d'API manquant : envoyez l'en-tête « Authorization: Bearer <jeton> » "
    "(jeton fourni par le service informatique)."
)
INVALID_KEY = "Jeton d'API invalide ou révoqué."
MODEL_NOT_FOUND = "L'assistant « {model} » n'existe pas ou ne vous est pas ouvert."


def openai_error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> JsonResponse:
    response = JsonResponse(
        {"error": {"message": message, "type": type_, "param": None, "code": code}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _model_not_found(model: str) -> JsonResponse:
    return openai_error(404, MODEL_NOT_FOUND.format(model=model), code="model_not_found")


def token_view(methods: list[str]) -> Callable:
    """A view of this API: Bearer token only, OpenAI-shaped refusals, the owner as `user`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                found = BearerTokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                return openai_error(401, INVALID_KEY, code="invalid_api_key")
            if found is None:
                return openai_error(401, MISSING_KEY, code="invalid_api_key")
            # The audit log reads the actor from the request, as for a logged-in agent.
            request.user = found[0]
            if request.method not in methods:
                response = openai_error(
                    405, f"Méthode {request.method} non autorisée.", code="method_not_allowed"
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, found[0], *args, **kwargs)

        # Authenticated by token inside the view, not by the login middleware's session.
        return login_not_required(csrf_exempt(wrapper))

    return decorator


# --- Models --------------------------------------------------------------------------------------


def _model_entry(assistant: Assistant) -> dict:
    return {
        "id": assistant.slug,
        "object": "model",
        "created": int(assistant.created_at.timestamp()),
        "owned_by": assistant.direction.code,
        # Not in OpenAI's schema; Open WebUI shows `name` when present.
        "name": assistant.name,
        "description": assistant.description,
    }


@token_view(["GET"])
def models(request: HttpRequest, user) -> HttpResponse:
    """The assistants the token's owner may use, as OpenAI models."""
    assistants = selectors.usable_assistants(user).order_by("name", "pk")
    return JsonResponse({"object": "list", "data": [_model_entry(a) for a in assistants]})


@token_view(["GET"])
def model_detail(request: HttpRequest, user, model: str) -> HttpResponse:
    try:
        assistant = selectors.get_usable_assistant(user, model)
    except Http404:
        return _model_not_found(model)
    return JsonResponse(_model_entry(assistant))


# --- Chat completions ----------------------------------------------------------------------------


class BadRequest(ValueError):
    """A request this API cannot serve; the message is for the user."""


def _text(content) -> str:
    """A message's text: a string, or OpenAI's list of parts (only text parts are kept)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _parse(request: HttpRequest) -> tuple[str, str, bool, bool]:
    """(model, question, stream, include_usage) from the request body."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Le corps de la requête doit être un objet JSON.") from exc
    if not isinstance(body, dict):
        raise BadRequest("Le corps de la requête doit être un objet JSON.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("Indiquez l'assistant dans « model ».")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("« messages » doit être une liste non vide.")
    questions = [
        _text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"
    ]
    if not questions:
        raise BadRequest("Aucun message de rôle « user » : posez une question.")
    stream = bool(body.get("stream"))
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    return model, questions[-1], stream, include_usage


def _shown_sources(sources: list[dict]) -> list[dict]:
    """The sources to list under the answer: those it cites, else all of them."""
    cited = [s for s in sources if s.get("cited")]
    return cited or sources


def sources_block(sources: list[dict]) -> str:
    """« Sources : [1] titre, page n » as a markdown list, to append to the answer."""
    shown = _shown_sources(sources)
    if not shown:
        return ""
    lines = [f"- [{s.get('n', i)}] {s.get('label') or s.get('title') or 'Document'}"
             for i, s in enumerate(shown, 1)]  # fmt: skip
    return "\n\nSources :\n" + "\n".join(lines)


def _public_sources(request: HttpRequest, sources: list[dict]) -> list[dict]:
    """Sources as returned in the `sources` field: links made absolute for outside tools."""
    out = []
    for source in sources:
        entry = {k: v for k, v in source.items() if k != "chunk_id"}
        url = entry.get("url")
        if isinstance(url, str) and url.startswith("/"):
            entry["url"] = request.build_absolute_uri(url)
        out.append(entry)
    return out


def _notice_text(notice: str) -> str:
    return f"_{notice}_\n\n" if notice else ""


def _usage(message: Message) -> dict:
    prompt = message.prompt_tokens or 0
    completion = message.completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@token_view(["POST"])
def chat_completions(request: HttpRequest, user) -> HttpResponse:
    """Ask an assistant (`model`) the last user message; a chat.completion or its stream."""
    try:
        model, question, stream, include_usage = _parse(request)
    except BadRequest as exc:
        return openai_error(400, str(exc), code="invalid_request")
    try:
        assistant = selectors.get_usable_assistant(user, model)
    except Http404:
        return _model_not_found(model)
    conversation = services.start_conversation(assistant, user)
    events = services.ask(conversation, question, user=user, request=request)
    try:
        first = next(events)  # raises QuestionError before anything is sent
    except services.QuestionError as exc:
        services.delete_conversation(conversation)
        return openai_error(400, str(exc), code="invalid_question")
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if stream:
        chunks = _stream(
            request,
            _chain(first, events),
            base={
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": assistant.slug,
                "system_fingerprint": None,
            },
            include_usage=include_usage,
        )
        response = StreamingHttpResponse(chunks, content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    done = {}
    for event in _chain(first, events):
        if event.type == "done":
            done = event.data
    message = Message.objects.get(pk=done["message_id"])
    content = _notice_text(message.notice) + message.content + sources_block(message.sources)
    return JsonResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": assistant.slug,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(message),
            "sources": _public_sources(request, message.sources),
        },
        json_dumps_params={"ensure_ascii": False},
    )


def _chain(first, rest):
    yield first
    yield from rest


def _data(payload: dict | str) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n"


def _stream(
    request: HttpRequest, events: Iterator[services.Event], *, base: dict, include_usage: bool
) -> Iterator[str]:
    """`services.ask`'s events as OpenAI chat.completion.chunk events, then `[DONE]`."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            data["usage"] = None  # as OpenAI: only the last chunk carries it
        data.update(extra)
        return _data(data)

    yield chunk({"role": "assistant", "content": ""})
    written = False
    try:
        done: dict = {}
        for event in events:
            if event.type == "delta" and event.data.get("text"):
                written = True
                yield chunk({"content": event.data["text"]})
            elif event.type == "notice":
                # What was written cannot be taken back: a rule, then the extractive answer.
                rule = "\n\n---\n\n" if written and event.data.get("reset") else ""
                yield chunk({"content": rule + _notice_text(event.data.get("text", ""))})
            elif event.type == "done":
                done = event.data
        message = Message.objects.get(pk=done["message_id"])
        block = sources_block(message.sources)
        if block:
            yield chunk({"content": block})
        yield chunk({}, "stop", sources=_public_sources(request, message.sources))
        if include_usage:
            yield _data({**base, "choices": [], "usage": _usage(message)})
    except Exception:
        # Headers are sent: OpenAI's clients raise on an `error` object in the stream.
        logger.exception("Réponse de l'API compatible OpenAI interrompue par une erreur")
        yield _data({"error": {"message": STREAM_ERROR, "type": "server_error", "code": None}})
    yield _data("[DONE]")
