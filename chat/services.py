"""Writes of the chat app: conversations, answers (streamed), feedback, assistants.

`ask` is the one way a question gets answered, for the chat page, the API and the
OpenAI-compatible endpoint alike: it stores the question, runs the answering pipeline with the
user's access rules, streams the answer, falls back to an extractive answer when the model
fails, stores the answer with its sources and figures, and audits the model call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.urls import reverse

from ai.llm import LLMMessage, LLMResult, ProviderError, get_provider
from ai.pipelines.answer import (
    UNKNOWN_ANSWER,
    UNKNOWN_WITH_CLOSEST,
    Prepared,
    cited_numbers,
    extractive_answer,
    prepare,
    source_label,
    strip_unknown_markers,
)
from ai.retrieval import SearchResult
from chat.models import Assistant, Conversation, Feedback, Message
from core import audit

logger = logging.getLogger(__name__)

FALLBACK_NOTICE = "Réponse extractive : {reason} Voici les passages les plus pertinents."
MAX_QUESTION_CHARS = 4000


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message is for the user."""


@dataclass
class Event:
    """One step of a streamed answer: `sources`, `delta`, `notice`, `done`."""

    type: str
    data: dict = field(default_factory=dict)


def start_conversation(
    assistant: Assistant, user, *, session_key: str = "", title: str = ""
) -> Conversation:
    owner = user if getattr(user, "is_authenticated", False) else None
    return Conversation.objects.create(
        assistant=assistant,
        user=owner,
        session_key="" if owner else session_key,
        title=title[:200],
    )


def _history(conversation: Conversation, before: Message) -> list[LLMMessage]:
    previous = list(
        conversation.messages.filter(pk__lt=before.pk)
        .exclude(outcome=Message.Outcome.ERROR)
        .order_by("-pk")[:6]
    )
    return [LLMMessage(m.role, m.content) for m in reversed(previous)]


def source_entries(results: list[SearchResult], cited: list[int]) -> list[dict]:
    """What a message keeps of its sources: enough to show and link them later."""
    entries = []
    for n, result in enumerate(results, 1):
        doc = result.document
        url = reverse("ai:document", args=[doc.pk])
        if result.page:
            url += f"?page={result.page}#page-{result.page}"
        entries.append(
            {
                "n": n,
                "chunk_id": str(result.chunk.pk),
                "document_id": doc.pk,
                "title": doc.title or doc.filename or "Document",
                "label": source_label(result),
                "page": result.page,
                "url": url,
                "passage": result.chunk.text[:1200],
                "cited": n in cited,
            }
        )
    return entries


def _audit_call(
    *,
    request,
    user,
    assistant: Assistant,
    provider_name: str,
    model: str,
    result: LLMResult | None,
    sources: list[dict],
    outcome: str,
    error: str = "",
    purpose: str = "answer",
    pseudonymized: dict | None = None,
) -> None:
    audit.record(
        audit.MODEL_CALL,
        request=request,
        actor=user if getattr(user, "is_authenticated", False) else None,
        actor_label="" if getattr(user, "is_authenticated", False) else "visiteur anonyme",
        target=assistant,
        direction_id=assistant.direction_id,
        details={
            "assistant": assistant.slug,
            "purpose": purpose,
            "provider": provider_name,
            "model": model,
            "prompt_tokens": result.prompt_tokens if result else None,
            "completion_tokens": result.completion_tokens if result else None,
            "latency_ms": result.latency_ms if result else None,
            "documents": sorted({s["document_id"] for s in sources}),
            "outcome": outcome,
            "error": error[:300],
            "pseudonymized": pseudonymized or {},
        },
    )


def ask(
    conversation: Conversation,
    question: str,
    *,
    user,
    request=None,
    regenerate_of: Message | None = None,
) -> Iterator[Event]:
    """Answer `question` in `conversation` as `user` (their access rules apply), streaming.

    Yields `sources` (the passages found), `delta` (text as it is written), `notice` (the model
    failed: what follows is extractive), then `done` with the stored message's id. The caller
    must consume the iterator to the end for the answer to be stored.
    """
    question = (question or "").strip()
    if not question:
        raise QuestionError("Écrivez une question.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"La question est trop longue ({len(question)} caractères, "
            f"{MAX_QUESTION_CHARS} au plus)."
        )
    assistant = conversation.assistant
    if regenerate_of is None:
        asked = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=question
        )
        if not conversation.title:
            conversation.title = question[:200]
            conversation.save(update_fields=["title", "updated_at"])
    else:
        asked = regenerate_of
    started = time.perf_counter()
    notice = ""
    try:
        provider = get_provider(assistant.language_model)
    except ProviderError as exc:
        logger.error("Assistant %s : modèle mal configuré (%s)", assistant.slug, exc)
        provider = None
        notice = FALLBACK_NOTICE.format(reason=exc.user_message)
    history = _history(conversation, asked)

    if assistant.use_procedures:
        from chat import guidance

        guided = guidance.guide(assistant, question, history)
        if guided is not None:
            yield from _finish_guided(conversation, asked, guided, started)
            return

    pseudo = None
    if assistant.pseudonymize and provider is not None and not provider.is_extractive:
        from ai.pseudonymize import Pseudonymizer

        # One per question: the rewriting call and the answer share the placeholders.
        pseudo = Pseudonymizer()
    prepared: Prepared = prepare(
        question,
        user=user,
        provider=provider,
        history=history,
        collection_ids=list(assistant.collections.values_list("pk", flat=True)),
        system_prompt=assistant.prompt(),
        top_k=assistant.top_k,
        pseudonymizer=pseudo,
    )
    if prepared.rewrite_result is not None or prepared.rewrite_error:
        _audit_call(
            request=request,
            user=user,
            assistant=assistant,
            provider_name=provider.name,
            model=provider.model,
            result=prepared.rewrite_result,
            sources=[],
            outcome="error" if prepared.rewrite_error else "rewritten",
            error=prepared.rewrite_error,
            purpose="rewrite",
            pseudonymized=pseudo.counts if pseudo else None,
        )
    shown = prepared.sources or prepared.closest
    yield Event("sources", {"sources": source_entries(shown, [])})

    result: LLMResult | None = None
    provider_name = provider.name if provider else "extractive"
    model_name = provider.model if provider else ""
    pseudo_counts: dict = {}
    if not prepared.sources:
        outcome = Message.Outcome.UNKNOWN
        text = UNKNOWN_ANSWER + (UNKNOWN_WITH_CLOSEST if prepared.closest else "")
        provider_name, model_name = "extractive", ""
        yield Event("delta", {"text": text})
    elif provider is None or provider.is_extractive:
        outcome = Message.Outcome.FALLBACK if notice else Message.Outcome.ANSWERED
        if notice:
            yield Event("notice", {"text": notice})
        text = extractive_answer(question, prepared.sources)
        provider_name, model_name = "extractive", ""
        yield Event("delta", {"text": text})
    else:
        text, result, error, pseudo_counts = yield from _generate(provider, prepared, pseudo)
        if error:
            notice = FALLBACK_NOTICE.format(reason=error)
            outcome = Message.Outcome.FALLBACK
            yield Event("notice", {"text": notice, "reset": True})
            text = extractive_answer(question, prepared.sources)
            yield Event("delta", {"text": text})
            _audit_call(
                request=request,
                user=user,
                assistant=assistant,
                provider_name=provider.name,
                model=provider.model,
                result=None,
                sources=source_entries(prepared.sources, []),
                outcome="error",
                error=error,
                pseudonymized=pseudo_counts,
            )
            provider_name, model_name, result = "extractive", "", None
        else:
            outcome = Message.Outcome.ANSWERED
            text = strip_unknown_markers(text, len(prepared.sources))

    cited = cited_numbers(text, len(shown)) if prepared.sources else []
    sources = source_entries(shown, cited)
    latency = int((time.perf_counter() - started) * 1000)
    cost = None
    if result is not None and assistant.language_model is not None:
        cost = assistant.language_model.estimate_cost(
            result.prompt_tokens, result.completion_tokens
        )
    with transaction.atomic():
        answer = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=text,
            sources=sources,
            outcome=outcome,
            notice=notice[:300],
            search_query=prepared.query if prepared.query != question else "",
            provider=provider_name,
            model=(result.model if result else model_name)[:120],
            prompt_tokens=result.prompt_tokens if result else None,
            completion_tokens=result.completion_tokens if result else None,
            latency_ms=latency,
            cost_eur=cost if cost is None else Decimal(cost),
        )
        conversation.save(update_fields=["updated_at"])
    if provider_name != "extractive" or outcome != Message.Outcome.UNKNOWN:
        _audit_call(
            request=request,
            user=user,
            assistant=assistant,
            provider_name=provider_name,
            model=answer.model,
            result=result,
            sources=sources,
            outcome=outcome,
            pseudonymized=pseudo_counts,
        )
    yield Event("done", {"message_id": answer.pk, "outcome": outcome, "sources": sources})


def _generate(provider, prepared: Prepared, pseudo):
    """Stream the model's answer; returns (text, result, error message, pseudonymised counts).

    With a pseudonymizer, personal data in the question, history and passages is replaced
    before the call and restored in what the user sees, as it streams."""
    messages = prepared.messages
    if pseudo is not None:
        messages = [LLMMessage(m.role, pseudo.pseudonymize(m.content)) for m in messages]
    restorer = pseudo.restorer() if pseudo else None
    pieces: list[str] = []
    result: LLMResult | None = None
    try:
        for item in provider.stream(messages):
            if isinstance(item, LLMResult):
                result = item
                continue
            shown = restorer.feed(item) if restorer else item
            if shown:
                pieces.append(shown)
                yield Event("delta", {"text": shown})
        if restorer:
            tail = restorer.flush()
            if tail:
                pieces.append(tail)
                yield Event("delta", {"text": tail})
    except ProviderError as exc:
        logger.warning("Échec du modèle %s (%s)", provider, exc)
        return "", None, exc.user_message, pseudo.counts if pseudo else {}
    text = "".join(pieces)
    if result is not None and pseudo is not None:
        result.text = pseudo.restore(result.text)
    return text, result, "", pseudo.counts if pseudo else {}


def _finish_guided(conversation, asked, guided, started) -> Iterator[Event]:
    """Store and stream an answer of the procedures guide (no passage search)."""
    yield Event("sources", {"sources": guided.sources})
    yield Event("delta", {"text": guided.text})
    answer = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content=guided.text,
        sources=guided.sources,
        outcome=guided.outcome,
        provider="extractive",
        latency_ms=int((time.perf_counter() - started) * 1000),
    )
    conversation.save(update_fields=["updated_at"])
    yield Event(
        "done",
        {
            "message_id": answer.pk,
            "outcome": guided.outcome,
            "sources": guided.sources,
            "choices": guided.choices,
        },
    )


def answer_now(conversation: Conversation, question: str, *, user, request=None) -> Message:
    """`ask` consumed at once (forms without JavaScript, the non-streaming API)."""
    message_id = None
    for event in ask(conversation, question, user=user, request=request):
        if event.type == "done":
            message_id = event.data["message_id"]
    return Message.objects.get(pk=message_id)


def regenerate(message: Message, *, user, request=None) -> Iterator[Event]:
    """Answer again the question that `message` answered (the old answer is kept)."""
    question = (
        message.conversation.messages.filter(pk__lt=message.pk, role=Message.Role.USER)
        .order_by("-pk")
        .first()
    )
    if question is None:
        raise QuestionError("Aucune question à laquelle répondre de nouveau.")
    return ask(
        message.conversation, question.content, user=user, request=request, regenerate_of=question
    )


def give_feedback(message: Message, *, user, helpful: bool, comment: str = "") -> Feedback:
    if message.role != Message.Role.ASSISTANT:
        raise QuestionError("Seules les réponses peuvent recevoir un avis.")
    feedback, _ = Feedback.objects.update_or_create(
        message=message,
        defaults={
            "user": user if getattr(user, "is_authenticated", False) else None,
            "helpful": helpful,
            "comment": (comment or "").strip()[:2000],
        },
    )
    return feedback


def delete_conversation(conversation: Conversation) -> None:
    conversation.delete()


def purge_public_conversations(now=None) -> int:
    """Erase what citizens wrote once their visit is over (CHAT_PUBLIC_RETENTION_HOURS after
    the last message): the text of questions and answers and the conversation's token go; the
    figures (outcome, latency, tokens) stay for the usage statistics. Returns how many
    conversations were erased."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    cutoff = (now or timezone.now()) - timedelta(hours=settings.CHAT_PUBLIC_RETENTION_HOURS)
    stale = Conversation.objects.filter(user=None, updated_at__lt=cutoff).exclude(session_key="")
    ids = list(stale.values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        Message.objects.filter(conversation_id__in=ids).update(
            content="", sources=[], search_query=""
        )
        Feedback.objects.filter(message__conversation_id__in=ids).update(comment="")
        Conversation.objects.filter(pk__in=ids).update(session_key="", title="")
    logger.info("%s conversations publiques effacées", len(ids))
    return len(ids)


def ensure_schedules() -> None:
    """The hourly purge of citizens' conversations (idempotent; called after migrations)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="chat.purge_public_conversations",
        defaults={
            "func": "chat.tasks.purge_public_conversations",
            "schedule_type": Schedule.HOURLY,
        },
    )
