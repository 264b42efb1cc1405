"""Spike (surge) detection on time series: daily counts first, any regular series too.

Pure functions on numbers, with no Django model behind them: callers (the helpdesk's ticket counts
per category today, other indicators later) aggregate their own data and pass a series in.

Method, shared by both public detectors (`_seasonal_baseline` + `_scores`):

1. **Seasonal baseline.** A point is compared with the points at the same phase of the previous
   cycles only (for daily counts: the same weekday over the last `n_weeks` weeks), never with the
   whole recent past: Monday is compared with Mondays, so the weekly rhythm (quiet weekends, busy
   Mondays) is not mistaken for a surge, and a Tuesday surge is not hidden by the weekend's lows.
   With no season, the previous `window` points are the baseline (a rolling median).
2. **Robust statistics.** The expected value is the median of that baseline and the spread is the
   MAD (scaled by 1.4826 to estimate a standard deviation). One past surge among eight Tuesdays
   moves neither, where it would inflate a mean and a standard deviation and mask the next one.
3. **Days that say nothing about the level are left out of the baseline**: public holidays
   (French ones by default, through the `holidays` package, plus any passed in) and "structural"
   zero days (a zero on a weekday that usually has several tickets is a closure or an outage of
   the ticketing tool, not a quiet day; under Poisson, P(0) < 1 % once the level is above 4.6).
   Holidays are not judged either. The first open day after holidays expects the volume the
   holidays did not get (`holiday_carryover`): the backlog of 15 August arrives on the 16th.
4. **A count-aware spread.** For counts, the spread is quasi-Poisson: the Poisson standard
   deviation sqrt(expected + 1) (the +1 keeps a floor when the expected value is 0) times a
   dispersion factor (>= 1) estimated robustly from the last weeks' residuals of every weekday,
   pooled, because eight same-weekday values give too noisy a MAD. A surge must also reach
   `min_count`: a category going from 0 to 2 tickets is noise, not an alert. For continuous
   series, the spread is the MAD, at least `relative_floor` times the expected value, so that a
   flat metric with a MAD of zero does not alert on its first decimal.
5. **Score and direction.** score = (value - expected) / spread, a robust z-score; an alert is
   raised when it reaches `sensitivity` in the watched direction (upward only by default for
   counts: a quiet day is no incident).

Why not a model (ARIMA, Prophet, STL): a few years of daily counts per category at most, many
categories with small counts, holidays and closures: a same-weekday median is as accurate there,
needs no fitting, explains itself to a manager ("usually 12 on a Tuesday, 41 today") and is
causal (a day is judged from its past only, as an alert job running every morning would).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np

Direction = Literal["up", "down", "both"]

# 1.4826 * MAD estimates the standard deviation of a normal distribution.
MAD_TO_SD = 1.4826
# Below this level a zero is a plausible quiet day (Poisson P(0) >= 1 %); above it, a closure.
STRUCTURAL_ZERO_LEVEL = 4.6


@dataclass
class Anomaly:
    """One abnormal day: its value, what its history predicted, and the robust z-score."""

    day: date
    value: float
    expected: float
    score: float
    direction: str = "up"


@dataclass
class PointAnomaly:
    """One abnormal point of a non-daily series (`detect_anomalies`)."""

    at: datetime
    value: float
    expected: float
    score: float
    direction: str = "up"


# --- shared robust core -----------------------------------------------------------------------


def _seasonal_baseline(
    values: np.ndarray,
    *,
    offsets: Sequence[int],
    excluded: np.ndarray | None = None,
    drop_structural_zeros: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point, median and scaled MAD of the past points at the given offsets (lags >= 1).

    Excluded points (holidays) never enter a baseline. Returns (expected, spread, n_samples);
    expected and spread are NaN where no past point is usable.
    """
    n = len(values)
    usable = values.astype(float)
    if excluded is not None:
        usable = np.where(excluded, np.nan, usable)
    samples = np.full((n, len(offsets)), np.nan)
    for col, lag in enumerate(offsets):
        if 0 < lag < n:
            samples[lag:, col] = usable[:-lag]
    with warnings.catch_warnings():
        # Rows without history are all-NaN: their NaN result is what we want.
        warnings.simplefilter("ignore", RuntimeWarning)
        if drop_structural_zeros:
            nonzero = np.where(samples == 0, np.nan, samples)
            level = np.nanmedian(nonzero, axis=1)
            busy = level >= STRUCTURAL_ZERO_LEVEL
            samples[busy] = nonzero[busy]
        expected = np.nanmedian(samples, axis=1)
        spread = MAD_TO_SD * np.nanmedian(np.abs(samples - expected[:, None]), axis=1)
    return expected, spread, np.sum(~np.isnan(samples), axis=1)


def _scores(
    values: np.ndarray,
    expected: np.ndarray,
    spread: np.ndarray,
    *,
    counts: bool,
    relative_floor: float = 0.0,
) -> np.ndarray:
    """Robust z-scores with a floor on the spread (Poisson for counts, relative otherwise)."""
    if counts:
        floor = np.sqrt(np.maximum(expected, 0.0) + 1.0)
    else:
        floor = np.maximum(relative_floor * np.abs(expected), 1e-9)
    sigma = np.maximum(np.nan_to_num(spread, nan=0.0), floor)
    with np.errstate(invalid="ignore"):
        return (values - expected) / sigma


def _flags(scores: np.ndarray, sensitivity: float, direction: Direction) -> np.ndarray:
    up = np.nan_to_num(scores, nan=0.0) >= sensitivity
    down = np.nan_to_num(scores, nan=0.0) <= -sensitivity
    if direction == "up":
        return up
    if direction == "down":
        return down
    if direction == "both":
        return up | down
    raise ValueError(f"direction must be 'up', 'down' or 'both', not {direction!r}")


# --- daily counts -----------------------------------------------------------------------------


def _daily_array(series: Mapping[date, float] | Any) -> tuple[date, np.ndarray]:
    """Dense daily array from a mapping or a pandas Series indexed by dates; gaps are zeros."""
    points: dict[date, float] = {}
    for key, value in series.items():
        day = key.date() if isinstance(key, datetime) else key  # pandas Timestamps too
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = 0.0
        points[day] = points.get(day, 0.0) + float(value)
    start, end = min(points), max(points)
    dense = np.zeros((end - start).days + 1)
    for day, value in points.items():
        dense[(day - start).days] = value
    return start, dense


def public_holidays(years: Iterable[int], country: str | None = "FR") -> set[date]:
    """Public holidays of a country (ISO code) for the given years; empty set for None."""
    if not country:
        return set()
    import holidays as holidays_lib

    return set(holidays_lib.country_holidays(country, years=sorted(set(years))))


def detect_spikes(
    series: Mapping[date, float] | Any,
    *,
    holidays: Iterable[date] | None = None,
    country: str | None = "FR",
    min_history_days: int = 21,
    sensitivity: float = 4.0,
    min_count: float = 5,
    n_weeks: int = 8,
    holiday_carryover: float = 1.0,
    direction: Direction = "up",
) -> list[Anomaly]:
    """Days whose count is abnormally high against the same weekday of the previous weeks.

    `series` maps dates to daily counts (a dict or a pandas Series indexed by dates); missing
    days are zeros. See the module docstring for the method. A day is judged once
    `min_history_days` days precede it and at least three same-weekday days of its last
    `n_weeks` weeks are usable (not holidays, not structural zeros). It is an alert when its
    robust z-score reaches `sensitivity` and, upward, when its count reaches `min_count`.
    `holidays` adds closure days to the `country`'s public holidays (None: no calendar).
    Returns the anomalies in date order.
    """
    if not len(series):
        return []
    start, values = _daily_array(series)
    days = [start + timedelta(days=i) for i in range(len(values))]
    closed = public_holidays({d.year for d in days}, country) | set(holidays or ())
    excluded = np.array([d in closed for d in days])

    expected, spread, n_samples = _seasonal_baseline(
        values,
        offsets=[7 * k for k in range(1, n_weeks + 1)],
        excluded=excluded,
        drop_structural_zeros=True,
    )
    expected = _with_carryover(expected, excluded, holiday_carryover)
    spread = _pooled_count_spread(values, expected, excluded, 7 * n_weeks)
    scores = _scores(values, expected, spread, counts=True)
    flags = _flags(scores, sensitivity, direction)
    judged = (np.arange(len(values)) >= min_history_days) & (n_samples >= 3) & ~excluded
    up_enough = (scores < 0) | (values >= min_count)
    return [
        Anomaly(
            day=days[i],
            value=float(values[i]),
            expected=round(float(expected[i]), 2),
            score=round(float(scores[i]), 2),
            direction="up" if scores[i] > 0 else "down",
        )
        for i in np.flatnonzero(flags & judged & up_enough)
    ]


def _pooled_count_spread(
    values: np.ndarray, expected: np.ndarray, excluded: np.ndarray, days: int
) -> np.ndarray:
    """Quasi-Poisson spread: sqrt(expected + 1) times a dispersion pooled over recent days.

    Eight same-weekday values give a very noisy MAD; the residuals of all the last `days` days,
    scaled by their Poisson deviation, share one dispersion factor (ticket counts vary more
    than Poisson: incidents, staff on leave), estimated robustly (MAD) from 7 times more points.
    """
    poisson = np.sqrt(np.maximum(expected, 0.0) + 1.0)
    residual = np.abs(values - expected) / poisson
    usable = (
        ~excluded & ~np.isnan(expected) & ~((values == 0) & (expected >= STRUCTURAL_ZERO_LEVEL))
    )
    spread = np.full(len(values), np.nan)
    history: list[float] = []
    for i in range(len(values)):
        if len(history) >= 14:
            dispersion = MAD_TO_SD * float(np.median(history[-days:]))
            spread[i] = poisson[i] * max(1.0, dispersion)
        if usable[i]:
            history.append(float(residual[i]))
    return spread


def _with_carryover(expected: np.ndarray, excluded: np.ndarray, carryover: float) -> np.ndarray:
    """Add what closed days would have received to the first open day after them.

    "Open" skips the weekend too: a day expecting less than half of the missed days' usual
    volume (a Saturday after a Friday holiday) is not where the backlog lands.
    """
    if carryover <= 0:
        return expected
    result = expected.copy()
    backlog: list[float] = []
    for i in range(len(expected)):
        if excluded[i]:
            if not np.isnan(expected[i]):
                backlog.append(float(expected[i]))
            continue
        if backlog and not np.isnan(expected[i]) and expected[i] >= 0.5 * max(backlog):
            result[i] += carryover * sum(backlog)
            backlog = []
    return result


# --- any regular series -----------------------------------------------------------------------


def detect_anomalies(
    values: Sequence[float],
    timestamps: Sequence[datetime],
    *,
    season: timedelta | None = timedelta(days=1),
    n_seasons: int = 7,
    window: timedelta = timedelta(hours=6),
    min_history: timedelta = timedelta(days=1),
    sensitivity: float = 5.0,
    relative_floor: float = 0.05,
    direction: Direction = "both",
    cooldown: timedelta | None = timedelta(days=1),
) -> list[PointAnomaly]:
    """Anomalous points of a regularly sampled series (sensors, server metrics, 5-minute data).

    Same robust core as `detect_spikes`, on a continuous value. Without `season`, each point is
    compared with the median and MAD of the `window` before it. With a `season` (e.g. one day),
    with the points within `window / 2` of the same phase in each of the previous `n_seasons`
    cycles. Points are judged after `min_history`; after an alert, no other one is raised within
    `cooldown` (see `suppress_repeats`). The sampling step is the median gap between
    timestamps; the series is assumed regular (gaps shift phases, which the MAD absorbs).
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2 or len(x) != len(timestamps):
        if len(x) != len(timestamps):
            raise ValueError("values and timestamps must have the same length")
        return []
    step = float(np.median(np.diff([t.timestamp() for t in timestamps]))) or 1.0
    width = max(1, round(window.total_seconds() / step))
    if season is None:
        offsets = list(range(1, width + 1))
    else:
        period = max(1, round(season.total_seconds() / step))
        half = width // 2
        offsets = sorted(
            {
                k * period + j
                for k in range(1, n_seasons + 1)
                for j in range(-half, half + 1)
                if k * period + j >= 1
            }
        )
    expected, spread, n_samples = _seasonal_baseline(x, offsets=offsets)
    scores = _scores(x, expected, spread, counts=False, relative_floor=relative_floor)
    flags = _flags(scores, sensitivity, direction)
    first = round(min_history.total_seconds() / step)
    judged = (np.arange(len(x)) >= first) & (n_samples >= 3)
    kept = suppress_repeats(timestamps, (flags & judged).tolist(), cooldown)
    return [
        PointAnomaly(
            at=timestamps[i],
            value=float(x[i]),
            expected=float(expected[i]),
            score=round(float(scores[i]), 2),
            direction="up" if scores[i] > 0 else "down",
        )
        for i in np.flatnonzero(kept)
    ]


def suppress_repeats(
    timestamps: Sequence[datetime], flags: Sequence[bool], cooldown: timedelta | None
) -> list[bool]:
    """Keep a flag only when no flag was kept within `cooldown` before it: one alert an episode.

    A noisy episode flickers above and below the threshold; without this, each flicker would
    notify again. None or a zero cooldown keeps every flag.
    """
    if not cooldown:
        return list(flags)
    kept = [False] * len(flags)
    last: datetime | None = None
    for i, flag in enumerate(flags):
        if flag and (last is None or timestamps[i] - last > cooldown):
            kept[i] = True
            last = timestamps[i]
    return kept


# --- the plain baseline the benchmark compares against ----------------------------------------


def rolling_zscore(
    values: Sequence[float], window: int, threshold: float, *, two_sided: bool = False
) -> list[bool]:
    """Plain rolling z-score: flag a point when (x - mean) / std of the previous `window` points
    exceeds `threshold` (or its absolute value does, with `two_sided`).

    The first `window` points are never flagged (no full history), nor is a point after a
    constant window (std 0: the z-score is undefined; flagging every rise there would only
    make this baseline look worse). Population std (ddof 0).
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    flags = [False] * n
    if window < 2 or n <= window:
        return flags
    centred = x - x[:window].mean()  # keeps the running sums well conditioned
    c1 = np.concatenate(([0.0], np.cumsum(centred)))
    c2 = np.concatenate(([0.0], np.cumsum(centred**2)))
    idx = np.arange(window, n)
    mean = (c1[idx] - c1[idx - window]) / window
    var = np.maximum((c2[idx] - c2[idx - window]) / window - mean**2, 0.0)
    std = np.sqrt(var)
    scale = np.maximum(np.abs(mean), 1.0)
    ok = std > 1e-9 * scale
    z = np.zeros_like(std)
    z[ok] = (centred[idx][ok] - mean[ok]) / std[ok]
    hit = np.abs(z) > threshold if two_sided else z > threshold
    for i in idx[hit]:
        flags[int(i)] = True
    return flags
