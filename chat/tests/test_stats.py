"""Usage and quality figures of an assistant, computed from Message and Feedback rows."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chat import stats
from chat.models import Assistant, Conversation, Feedback, Message
from core.tests.factories import DirectionFactory, UserFactory

pytestmark = pytest.mark.django_db

Outcome = Message.Outcome


def at(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    """A local date and time, `days_ago` days before today."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def exchange(
    conversation: Conversation, question: str, when: datetime, **answer
) -> tuple[Message, Message]:
    """A question and its answer, both dated `when` (created_at is set on creation)."""
    asked = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content=question
    )
    answer.setdefault("outcome", Outcome.ANSWERED)
    answer.setdefault("provider", "extractive")
    answered = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content="Réponse.", **answer
    )
    Message.objects.filter(pk__in=[asked.pk, answered.pk]).update(created_at=when)
    return asked, answered


def vote(message: Message, helpful: bool, when: datetime) -> Feedback:
    feedback = Feedback.objects.create(message=message, helpful=helpful)
    Feedback.objects.filter(pk=feedback.pk).update(created_at=when)
    return feedback


@pytest.fixture
def assistant():
    direction = DirectionFactory(code="DRH")
    return Assistant.objects.create(name="Assistant RH", slug="rh", direction=direction)


@pytest.fixture
def other():
    """Another assistant whose traffic must never leak into the first one's figures."""
    direction = DirectionFactory(code="FIN")
    other = Assistant.objects.create(name="Finances", slug="fin", direction=direction)
    conversation = Conversation.objects.create(assistant=other)
    for days_ago in (0, 1, 2):
        _, answer = exchange(
            conversation,
            "Question des finances",
            at(days_ago),
            outcome=Outcome.UNKNOWN,
            provider="openai",
            model="m",
            prompt_tokens=999,
            completion_tokens=999,
            latency_ms=99_999,
            cost_eur=Decimal("9"),
        )
        vote(answer, False, at(days_ago))
    return other


@pytest.fixture
def conversation(assistant):
    user = UserFactory()
    return Conversation.objects.create(assistant=assistant, user=user)


def test_questions_per_day_cover_every_day_of_the_period_in_local_time(conversation, other):
    assistant = conversation.assistant
    exchange(conversation, "Aujourd'hui 1", at(0, 9))
    exchange(conversation, "Aujourd'hui 2", at(0, 0, 30))
    exchange(conversation, "Avant-hier", at(2))
    # 23:30 in Paris is already the next day in UTC: it still counts for yesterday.
    exchange(conversation, "Hier soir", at(1, 23, 30))
    exchange(conversation, "Il y a dix jours", at(10))

    per_day = stats.questions_per_day(assistant, 7)
    assert len(per_day) == 7
    assert per_day[0]["date"] == timezone.localdate() - timedelta(days=6)
    assert per_day[-1]["date"] == timezone.localdate()
    assert [row["count"] for row in per_day] == [0, 0, 0, 0, 1, 1, 2]

    figures = stats.usage(assistant, 7)
    assert figures["questions"] == 4
    assert figures["answers"] == 4
    assert stats.usage(assistant, 30)["questions"] == 5
    assert len(stats.usage(assistant, 90)["per_day"]) == 90


def test_period_starts_at_local_midnight():
    start = stats.period_start(7)
    assert timezone.localtime(start).time() == time(0, 0)
    assert timezone.localdate(start) == timezone.localdate() - timedelta(days=6)


def test_feedback_ratio_counts_votes_of_the_period(conversation, other):
    answers = [exchange(conversation, f"Q{i}", at(1))[1] for i in range(5)]
    vote(answers[0], True, at(1))
    vote(answers[1], True, at(0))
    vote(answers[2], True, at(2))
    vote(answers[3], False, at(3))
    vote(answers[4], False, at(40))  # outside 30 days

    assert stats.feedback(conversation.assistant, 30) == {
        "up": 3,
        "down": 1,
        "total": 4,
        "up_pct": 75,
        "down_pct": 25,
    }
    assert stats.feedback(conversation.assistant, 90)["down"] == 2
    empty = Assistant.objects.create(name="Vide", slug="vide", direction=other.direction)
    assert stats.feedback(empty, 30) == {
        "up": 0,
        "down": 0,
        "total": 0,
        "up_pct": None,
        "down_pct": None,
    }


def test_unknown_questions_latest_first_with_the_question_asked(conversation, other):
    exchange(conversation, "Horaires de la piscine ?", at(3), outcome=Outcome.UNKNOWN)
    exchange(conversation, "Tarif de la cantine ?", at(1), outcome=Outcome.ANSWERED)
    exchange(conversation, "Qui ramasse les encombrants ?", at(0, 8), outcome=Outcome.UNKNOWN)
    exchange(conversation, "Très ancienne question", at(45), outcome=Outcome.UNKNOWN)
    second = Conversation.objects.create(assistant=conversation.assistant)
    exchange(second, "Où garer mon vélo ?", at(2), outcome=Outcome.UNKNOWN)

    rows = stats.unknown_questions(conversation.assistant, 30)
    assert [row["question"] for row in rows] == [
        "Qui ramasse les encombrants ?",
        "Où garer mon vélo ?",
        "Horaires de la piscine ?",
    ]
    assert rows[0]["date"] == at(0, 8)
    figures = stats.usage(conversation.assistant, 30)
    assert figures["unknown_count"] == 3
    assert [row["question"] for row in figures["unknown"]] == [row["question"] for row in rows]


def test_fallbacks_and_outcomes(conversation, other):
    exchange(conversation, "a", at(0), outcome=Outcome.FALLBACK)
    exchange(conversation, "b", at(1), outcome=Outcome.FALLBACK)
    exchange(conversation, "c", at(1), outcome=Outcome.ERROR)
    exchange(conversation, "d", at(1), outcome=Outcome.CLARIFY)
    exchange(conversation, "e", at(60), outcome=Outcome.FALLBACK)

    figures = stats.usage(conversation.assistant, 30)
    assert figures["fallbacks"] == 2
    assert figures["errors"] == 1
    assert figures["outcomes"] == {
        "answered": 0,
        "unknown": 0,
        "fallback": 2,
        "clarify": 1,
        "error": 1,
    }


def test_latency_percentiles(conversation, other):
    for ms in (1000, 100, 900, 200, 800, 300, 700, 400, 600, 500):
        exchange(conversation, "q", at(1), latency_ms=ms)
    exchange(conversation, "sans mesure", at(1))  # no latency: ignored
    exchange(conversation, "trop ancienne", at(40), latency_ms=50_000)

    assert stats.latency(conversation.assistant, 30) == {"count": 10, "p50": 500, "p95": 1000}
    empty = Assistant.objects.create(name="Vide", slug="vide", direction=other.direction)
    assert stats.latency(empty, 30) == {"count": 0, "p50": None, "p95": None}


def test_latency_of_a_single_answer(conversation):
    exchange(conversation, "q", at(0), latency_ms=1234)
    assert stats.latency(conversation.assistant, 7) == {"count": 1, "p50": 1234, "p95": 1234}


def test_tokens_and_cost_per_provider_and_model(conversation, other):
    exchange(
        conversation,
        "1",
        at(0),
        provider="openai",
        model="albert-large",
        prompt_tokens=1000,
        completion_tokens=100,
        cost_eur=Decimal("0.001500"),
    )
    exchange(
        conversation,
        "2",
        at(2),
        provider="openai",
        model="albert-large",
        prompt_tokens=3000,
        completion_tokens=300,
        cost_eur=Decimal("0.004500"),
    )
    exchange(
        conversation,
        "3",
        at(1),
        provider="mistral",
        model="mistral-small-latest",
        prompt_tokens=500,
        completion_tokens=50,
        cost_eur=Decimal("0.000250"),
    )
    exchange(conversation, "4", at(1))  # extractive: no tokens, no cost
    exchange(
        conversation,
        "ancienne",
        at(100),
        provider="openai",
        model="albert-large",
        prompt_tokens=10**6,
        completion_tokens=10**6,
        cost_eur=Decimal(100),
    )

    figures = stats.usage(conversation.assistant, 30)
    assert figures["models"] == [
        {
            "provider": "extractive",
            "model": "",
            "answers": 1,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost_eur": Decimal(0),
        },
        {
            "provider": "mistral",
            "model": "mistral-small-latest",
            "answers": 1,
            "prompt_tokens": 500,
            "completion_tokens": 50,
            "cost_eur": Decimal("0.00025"),
        },
        {
            "provider": "openai",
            "model": "albert-large",
            "answers": 2,
            "prompt_tokens": 4000,
            "completion_tokens": 400,
            "cost_eur": Decimal("0.006"),
        },
    ]
    assert figures["prompt_tokens"] == 4500
    assert figures["completion_tokens"] == 450
    assert figures["cost_eur"] == Decimal("0.00625")


def test_an_assistant_without_traffic_has_empty_figures(assistant, other):
    figures = stats.usage(assistant, 30)
    assert figures["questions"] == 0
    assert figures["per_day"] == [
        {"date": timezone.localdate() - timedelta(days=29 - i), "count": 0} for i in range(30)
    ]
    assert figures["unknown"] == []
    assert figures["models"] == []
    assert figures["cost_eur"] == Decimal(0)
    assert figures["latency"]["p50"] is None


def test_overview_of_the_console_list(conversation, other):
    assistant = conversation.assistant
    _, first = exchange(conversation, "a", at(0))
    _, second = exchange(conversation, "b", at(6))
    exchange(conversation, "c", at(8))  # outside the 7 days
    vote(first, True, at(0))
    vote(second, False, at(1))

    figures = stats.overview([assistant.pk, other.pk], days=7)
    assert figures[assistant.pk]["questions"] == 2
    assert figures[assistant.pk]["feedback"]["up_pct"] == 50
    assert figures[other.pk]["questions"] == 3
    assert figures[other.pk]["feedback"] == {
        "up": 0,
        "down": 3,
        "total": 3,
        "up_pct": 0,
        "down_pct": 100,
    }
    assert stats.overview([]) == {}
