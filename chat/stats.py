"""Usage and quality figures of the assistants, for their administration console.

Each function takes an assistant (or assistant ids) and a period in days, counted in whole local
days ending today: 7 days are today and the 6 days before. Nothing here checks access: callers
pass an assistant they got from `chat.selectors.get_managed_assistant`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.models import Assistant, Feedback, Message

PERIODS: tuple[int, ...] = (7, 30, 90)
DEFAULT_PERIOD = 30
# The "je ne sais pas" list is for reading, not for export: the latest ones are enough.
UNKNOWN_LIMIT = 200


def period_start(days: int, *, now: datetime | None = None) -> datetime:
    """Local midnight `days - 1` days before today: the first instant of the period."""
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, datetime.min.time()))


def _messages(assistant: Assistant, since: datetime) -> QuerySet[Message]:
    return Message.objects.filter(conversation__assistant=assistant, created_at__gte=since)


def _ratio(up: int, down: int) -> dict:
    total = up + down
    return {
        "up": up,
        "down": down,
        "total": total,
        "up_pct": round(100 * up / total) if total else None,
        "down_pct": round(100 * down / total) if total else None,
    }


def questions_per_day(assistant: Assistant, days: int) -> list[dict]:
    """One row per local day of the period, oldest first: `{"date", "count"}`, zeros included."""
    since = period_start(days)
    counts = dict(
        _messages(assistant, since)
        .filter(role=Message.Role.USER)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    first: date = timezone.localdate(since)
    return [
        {"date": first + timedelta(days=i), "count": counts.get(first + timedelta(days=i), 0)}
        for i in range(days)
    ]


def feedback(assistant: Assistant, days: int) -> dict:
    """Feedback given during the period: 👍 and 👎 counts and shares (None without feedback)."""
    votes = Feedback.objects.filter(
        message__conversation__assistant=assistant, created_at__gte=period_start(days)
    ).aggregate(up=Count("pk", filter=Q(helpful=True)), down=Count("pk", filter=Q(helpful=False)))
    return _ratio(votes["up"], votes["down"])


def unknown_questions(assistant: Assistant, days: int, limit: int = UNKNOWN_LIMIT) -> list[dict]:
    """Questions answered « je ne sais pas », latest first: `{"question", "date", ...}`.

    The question is the user's message just before the answer in its conversation (an answer
    given again keeps the question it answers)."""
    question = (
        Message.objects.filter(
            conversation=OuterRef("conversation"), role=Message.Role.USER, pk__lt=OuterRef("pk")
        )
        .order_by("-pk")
        .values("content")[:1]
    )
    rows = (
        _messages(assistant, period_start(days))
        .filter(role=Message.Role.ASSISTANT, outcome=Message.Outcome.UNKNOWN)
        .annotate(question=Subquery(question))
        .order_by("-created_at", "-pk")
        .values("pk", "question", "created_at", "search_query")[:limit]
    )
    return [
        {
            "message_id": row["pk"],
            "question": row["question"] or "",
            "date": row["created_at"],
            "search_query": row["search_query"],
        }
        for row in rows
    ]


def _percentile(values: QuerySet, n: int, p: float) -> int | None:
    """Nearest-rank percentile computed by the database (no list of every latency in memory)."""
    if not n:
        return None
    index = max(0, math.ceil(p / 100 * n) - 1)
    return values.order_by("latency_ms").values_list("latency_ms", flat=True)[index]


def latency(assistant: Assistant, days: int) -> dict:
    """Answer latency in milliseconds: `{"count", "p50", "p95"}` (None without answers)."""
    qs = _messages(assistant, period_start(days)).filter(
        role=Message.Role.ASSISTANT, latency_ms__isnull=False
    )
    n = qs.count()
    return {"count": n, "p50": _percentile(qs, n, 50), "p95": _percentile(qs, n, 95)}


def models_usage(assistant: Assistant, days: int) -> list[dict]:
    """Per provider and model: answers, tokens in and out, estimated cost in euros."""
    rows = (
        _messages(assistant, period_start(days))
        .filter(role=Message.Role.ASSISTANT)
        .values("provider", "model")
        .annotate(
            answers=Count("pk"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost_eur=Sum("cost_eur"),
        )
        .order_by("provider", "model")
    )
    return [
        {
            "provider": row["provider"] or "extractive",
            "model": row["model"],
            "answers": row["answers"],
            "prompt_tokens": row["prompt_tokens"] or 0,
            "completion_tokens": row["completion_tokens"] or 0,
            "cost_eur": row["cost_eur"] or Decimal(0),
        }
        for row in rows
    ]


def outcomes(assistant: Assistant, days: int) -> dict[str, int]:
    """Answers of the period by outcome (every outcome present, zeros included)."""
    counts = dict(
        _messages(assistant, period_start(days))
        .filter(role=Message.Role.ASSISTANT)
        .values("outcome")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("outcome", "n")
    )
    return {value: counts.get(value, 0) for value in Message.Outcome.values}


def usage(assistant: Assistant, days: int = DEFAULT_PERIOD) -> dict:
    """Every figure of the statistics page for `assistant` over the last `days` days."""
    per_day = questions_per_day(assistant, days)
    by_model = models_usage(assistant, days)
    by_outcome = outcomes(assistant, days)
    unknown = unknown_questions(assistant, days)
    return {
        "days": days,
        "since": period_start(days),
        "per_day": per_day,
        "questions": sum(row["count"] for row in per_day),
        "answers": sum(by_outcome.values()),
        "outcomes": by_outcome,
        "unknown_count": by_outcome[Message.Outcome.UNKNOWN],
        "unknown": unknown,
        "fallbacks": by_outcome[Message.Outcome.FALLBACK],
        "errors": by_outcome[Message.Outcome.ERROR],
        "feedback": feedback(assistant, days),
        "latency": latency(assistant, days),
        "models": by_model,
        "prompt_tokens": sum(row["prompt_tokens"] for row in by_model),
        "completion_tokens": sum(row["completion_tokens"] for row in by_model),
        "cost_eur": sum((row["cost_eur"] for row in by_model), Decimal(0)),
    }


def overview(assistant_ids: Iterable[int], days: int = 7) -> dict[int, dict]:
    """For the console's list: per assistant id, questions and feedback over the last `days`.

    Two grouped queries for the whole list, whatever its length."""
    ids = list(assistant_ids)
    since = period_start(days)
    questions = dict(
        Message.objects.filter(
            conversation__assistant_id__in=ids, role=Message.Role.USER, created_at__gte=since
        )
        .values("conversation__assistant_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("conversation__assistant_id", "n")
    )
    votes = {
        row["message__conversation__assistant_id"]: row
        for row in Feedback.objects.filter(
            message__conversation__assistant_id__in=ids, created_at__gte=since
        )
        .values("message__conversation__assistant_id")
        .annotate(up=Count("pk", filter=Q(helpful=True)), down=Count("pk", filter=Q(helpful=False)))
        .order_by()
    }
    result = {}
    for pk in ids:
        vote = votes.get(pk, {"up": 0, "down": 0})
        result[pk] = {
            "questions": questions.get(pk, 0),
            "feedback": _ratio(vote["up"], vote["down"]),
        }
    return result
