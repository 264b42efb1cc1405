"""Turning detections into alerts: the reusable step between a module's series and its people.

A module aggregates its own data into daily series, calls `record_spikes`, and gets back the
alerts that are new (one per series and day, so running the check every hour raises each
surge once); it then decides whom to tell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction

from predictive.detectors import Anomaly, detect_spikes
from predictive.models import Alert


@dataclass
class Series:
    key: str
    label: str
    counts: Mapping[date, float]  # day -> count; missing days are zeros


def record_spikes(
    kind: str,
    series: list[Series],
    *,
    since: date,
    until: date,
    message: Callable[[Series, Anomaly], str],
    url: str = "",
    start: date | None = None,
    **detector_options,
) -> list[Alert]:
    """Run the spike detector on each series and store the alerts of days in [since, until]
    not already raised. Each series is passed with zeros from `start` (the beginning of the
    window looked at) up to `until`: a kind of request that did not exist a month ago and
    floods in today is judged against those zeros, not left unjudged for want of history."""
    new: list[Alert] = []
    for s in series:
        counts = dict(s.counts)
        counts.setdefault(until, 0)
        if start is not None:
            counts.setdefault(start, 0)
        for anomaly in detect_spikes(counts, **detector_options):
            if not since <= anomaly.day <= until:
                continue
            try:
                with transaction.atomic():
                    alert, created = Alert.objects.get_or_create(
                        kind=kind,
                        subject_key=s.key,
                        day=anomaly.day,
                        defaults={
                            "subject_label": s.label[:250],
                            "value": anomaly.value,
                            "expected": anomaly.expected,
                            "score": anomaly.score,
                            "message": message(s, anomaly)[:500],
                            "url": url,
                        },
                    )
            except IntegrityError:  # the same check running twice at once
                continue
            if created:
                new.append(alert)
    return new


def recent_alerts(kind: str, since: date):
    return Alert.objects.filter(kind=kind, day__gte=since)
