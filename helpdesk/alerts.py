"""Spike alerts on the helpdesk: new tickets per category per day, judged by the predictive
module's detector against each category's own recent history (same weekday of the last weeks,
holidays and closure days left out), raised once per category and day, and sent to the IT
manager (permission `helpdesk.receive_alerts`) by e-mail and in-app notification.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from core.notifications import notify
from helpdesk import selectors
from helpdesk.models import Category, Ticket
from predictive.services import Series, record_spikes

logger = logging.getLogger(__name__)

KIND = "helpdesk.category"
NO_CATEGORY = "none"
# The detector compares a day with the same weekday of the last 8 weeks, after 3 weeks of
# history: 20 weeks of counts cover that with room for holidays.
HISTORY_DAYS = 140


def daily_counts(start: date, end: date) -> dict[str, dict[date, int]]:
    """New tickets per category key (`Category.pk` as text, or "none") per local day."""
    rows = (
        Ticket.objects.filter(created_at__date__gte=start, created_at__date__lte=end)
        .annotate(day=TruncDate("created_at"))
        .values("category_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, dict[date, int]] = {}
    for row in rows:
        key = str(row["category_id"]) if row["category_id"] else NO_CATEGORY
        counts.setdefault(key, {})[row["day"]] = row["n"]
    return counts


def category_labels() -> dict[str, str]:
    labels = {str(c.pk): c.path for c in Category.objects.select_related("parent")}
    labels[NO_CATEGORY] = "Sans catégorie"
    return labels


def _message(series: Series, anomaly) -> str:
    return (
        f"{series.label} : {int(anomaly.value)} nouveaux tickets le {anomaly.day:%d/%m/%Y}, "
        f"pour {anomaly.expected:.0f} attendus d'habitude ce jour-là."
    )


def recipients():
    return selectors.people_with("helpdesk.receive_alerts")


def check_spikes(today: date | None = None) -> list:
    """Judge yesterday and today (so far) for every category; alert on what is new."""
    today = today or timezone.localdate()
    start = today - timedelta(days=HISTORY_DAYS)
    labels = category_labels()
    series = [
        Series(key, labels.get(key, f"Catégorie {key}"), counts)
        for key, counts in sorted(daily_counts(start, today).items())
    ]
    alerts = record_spikes(
        KIND,
        series,
        since=today - timedelta(days=1),
        until=today,
        start=start,
        message=_message,
        url=reverse("helpdesk:dashboard"),
    )
    if alerts:
        people = list(recipients())
        if len(alerts) == 1:
            title = f"Hausse inhabituelle des tickets : {alerts[0].subject_label}"
        else:
            title = f"Hausse inhabituelle des tickets dans {len(alerts)} catégories"
        notify(
            people,
            title=title,
            body="\n".join(a.message for a in alerts),
            url=reverse("helpdesk:dashboard"),
        )
        logger.warning(
            "Alertes helpdesk : %s (envoyées à %d personne(s))",
            "; ".join(a.message for a in alerts),
            len(people),
        )
    return alerts
