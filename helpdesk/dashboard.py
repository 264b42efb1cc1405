"""Figures of the helpdesk dashboard: daily tickets per category with the spike alerts, and
the problems the assistant solved without a ticket, week by week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.charts import Line, line_chart
from helpdesk import alerts
from helpdesk.models import Deflection, Ticket
from predictive.services import recent_alerts


@dataclass
class CategoryChart:
    svg: str
    days: list[date]
    lines: list[Line]
    keys: list[str]


def category_chart(days: int = 56, top: int = 5, today: date | None = None) -> CategoryChart:
    """The last `days` days of new tickets for the busiest categories, plus every category
    with an alert in that window; alert days are ringed."""
    today = today or timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = alerts.daily_counts(start, today)
    labels = alerts.category_labels()
    window_alerts = list(recent_alerts(alerts.KIND, start))
    alerted = [a.subject_key for a in window_alerts]
    busiest = sorted(counts, key=lambda k: -sum(counts[k].values()))
    keys = list(dict.fromkeys(alerted + busiest))[: max(top, len(set(alerted)))]
    span = [start + timedelta(days=i) for i in range(days)]
    lines = [
        Line(labels.get(k, k), [float(counts.get(k, {}).get(d, 0)) for d in span]) for k in keys
    ]
    marks = {}
    for a in window_alerts:
        if a.subject_key in keys:
            marks[(keys.index(a.subject_key), (a.day - start).days)] = a.message
    svg = line_chart(
        span,
        lines,
        title=f"Nouveaux tickets par jour, du {start:%d/%m/%Y} au {today:%d/%m/%Y}",
        description=(
            f"{len(lines)} catégories, une courbe chacune ; {len(marks)} hausse(s) inhabituelle(s) "
            "entourée(s). Le tableau qui suit donne les mêmes chiffres."
        ),
        marks=marks,
    )
    return CategoryChart(svg, span, lines, keys)


@dataclass
class Week:
    start: date
    tickets: int
    deflections: int

    @property
    def rate(self) -> float | None:
        total = self.tickets + self.deflections
        return self.deflections / total if total else None


def deflection_report(weeks: int = 12, today: date | None = None) -> list[Week]:
    """Per week (Monday first): tickets opened from the portal, and problems solved by the
    assistant without one (« résolu sans ticket »). Imported history is not counted."""
    today = today or timezone.localdate()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)

    def per_day(qs, field):
        rows = (
            qs.filter(**{f"{field}__date__gte": first})
            .annotate(day=TruncDate(field))
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
        )
        return {r["day"]: r["n"] for r in rows}

    tickets = per_day(Ticket.objects.filter(origin=Ticket.Origin.PORTAL), "created_at")
    solved = per_day(Deflection.objects.all(), "created_at")
    report = []
    for w in range(weeks):
        start = first + timedelta(weeks=w)
        span = [start + timedelta(days=i) for i in range(7)]
        report.append(
            Week(start, sum(tickets.get(d, 0) for d in span), sum(solved.get(d, 0) for d in span))
        )
    return report
