"""Spike detector benchmark: `predictive.detectors` against a plain rolling z-score.

    python bench/spikes.py [--grid]

Two labelled sets:

- **NAB**: the real series of `CORPUS_DIR/f_timeseries_signalements/nab` with the anomaly
  windows of `labels/combined_windows.json`, run through `detect_anomalies` (both directions:
  NAB's anomalies are failures, drops as often as rises).
- **Synthetic tickets**: about two years of daily ticket counts for four categories of a city
  helpdesk (fixed seed): weekly seasonality (quiet weekends), French public holidays at zero with
  half of their volume arriving the next open day, ~1 % of zero days (tool outages), a slow
  trend, Poisson noise with a mild day-level overdispersion, and 15 injected surges per category
  (x1.6 to x4, one to five days). Run through `detect_spikes` (upward). Labels: the surge days.

Scoring, the NAB convention simplified: consecutive flagged points make one alert, dated by its
first point (an alerting job notifies once per episode; both detectors are scored the same way).
An alert inside a labelled window is a true positive for that window, one per window at most
(later alerts in the same window are neither TP nor FP); an alert outside every window is a false
positive; a window without any alert is a false negative. NAB's weighted, time-decayed scoring
and its probationary period are not reproduced.

Baseline, chosen once (not tuned): `rolling_zscore` with threshold 3 and a window of 30 days
(daily) or 7 days of points (NAB: 2016 points at 5 minutes), capped at the first 15 % of the
series (NAB's probationary period) so that it can judge the shorter series at all; upward on
the tickets, two-sided on NAB, like the detector.

The detector's settings are the module's defaults. `--grid` prints the small grid they were
picked from (sensitivity 3 / 3.5 / 4 / 5 for the daily detector; season none / one day,
sensitivity 4 / 5 / 6 and cooldown 6 h / 1 day for NAB) so that the choice can be checked.
`detect_anomalies` raises one alert per episode (its `cooldown`); the plain z-score has none,
so `baseline_cooldown_*` also scores the baseline with the detector's cooldown, to show what
the cooldown alone is worth.

Prints one `name=value` line per figure; target: f1 > baseline_f1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from predictive.detectors import (  # noqa: E402
    detect_anomalies,
    detect_spikes,
    public_holidays,
    rolling_zscore,
    suppress_repeats,
)

NAB_SUBDIR = "f_timeseries_signalements/nab"
# detect_anomalies' default cooldown, applied to the baseline for the `baseline_cooldown_*` lines.
COOLDOWN = timedelta(days=1)
SEED = 20240611
# name, weekday level at the start of the period
CATEGORIES = [
    ("poste_de_travail", 30.0),
    ("messagerie", 12.0),
    ("logiciels_metier", 5.0),
    ("telephonie", 2.0),
]


def _corpus_dir() -> Path:
    """The `CORPUS_DIR` setting without starting Django: same variable, same default."""
    return Path(os.environ.get("CORPUS_DIR", str(ROOT.parent / "shared" / "corpus")))


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def f1(self) -> tuple[float, float, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


def score(times: list, flags: list[bool], windows: list[tuple]) -> Tally:
    """Alerts (onsets of flagged runs) against labelled windows, as described above."""
    alerts = [t for i, t in enumerate(times) if flags[i] and (i == 0 or not flags[i - 1])]
    hit = [False] * len(windows)
    tally = Tally()
    for at in alerts:
        inside = [k for k, (lo, hi) in enumerate(windows) if lo <= at <= hi]
        if not inside:
            tally.fp += 1
        elif not hit[inside[0]]:
            hit[inside[0]] = True
            tally.tp += 1
    tally.fn = hit.count(False)
    return tally


# --- NAB ----------------------------------------------------------------------------------------


def load_nab(corpus: Path) -> list[tuple[str, list[datetime], list[float], list[tuple]]]:
    base = corpus / NAB_SUBDIR
    if not base.is_dir():
        raise SystemExit(f"NAB corpus missing: {base}")
    labels = json.loads((base / "labels" / "combined_windows.json").read_text())
    series = []
    for name in sorted(labels):
        path = base / name
        if not path.is_file():
            continue  # the corpus holds 18 of NAB's 58 series
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        times = [datetime.fromisoformat(r["timestamp"]) for r in rows]
        values = [float(r["value"]) for r in rows]
        windows = [
            (datetime.fromisoformat(lo[:19]), datetime.fromisoformat(hi[:19]))
            for lo, hi in labels[name]
        ]
        series.append((name, times, values, windows))
    return series


def nab_detector_flags(times, values, **kwargs) -> list[bool]:
    found = {a.at for a in detect_anomalies(values, times, **kwargs)}
    return [t in found for t in times]


def nab_baseline_flags(times, values, cooldown: timedelta | None = None) -> list[bool]:
    step = float(np.median(np.diff([t.timestamp() for t in times])))
    window = min(round(7 * 86400 / step), int(0.15 * len(values)))
    return suppress_repeats(times, rolling_zscore(values, window, 3.0, two_sided=True), cooldown)


# --- synthetic tickets --------------------------------------------------------------------------


def synthetic_tickets(seed: int = SEED):
    """[(category, days, counts, surge windows)], ~2 years of daily counts each."""
    rng = np.random.default_rng(seed)
    start = date(2023, 1, 2)
    days = [start + timedelta(days=i) for i in range(730)]
    closed = public_holidays({d.year for d in days}, "FR")
    weekday_factor = np.array([1.25, 1.05, 1.0, 1.0, 0.9, 0.12, 0.06])  # Monday .. Sunday
    out = []
    for category, level in CATEGORIES:
        trend = level * (1 + 0.25 * np.arange(len(days)) / len(days))
        rate = trend * weekday_factor[[d.weekday() for d in days]]
        rate *= rng.gamma(25.0, 1 / 25.0, len(days))  # day-to-day overdispersion (cv 20 %)
        surges = _surges(rng, days, closed, 15)
        for lo, hi, factor in surges:
            rate[lo : hi + 1] *= factor
        counts = rng.poisson(rate).astype(float)
        backlog = 0.0
        for i, d in enumerate(days):
            if d in closed:
                backlog += rate[i]
                counts[i] = 0
            elif backlog and d.weekday() < 5:
                counts[i] += rng.poisson(0.5 * backlog)
                backlog = 0.0
        outages = rng.choice(len(days), size=len(days) // 100, replace=False)
        counts[outages] = 0
        windows = [(days[lo], days[hi]) for lo, hi, _ in surges]
        out.append((category, days, counts.tolist(), windows))
    return out


def _surges(rng, days, closed, n):
    """n non-overlapping surges (start index, end index, factor) after a 10-week warm-up."""
    taken: set[int] = set()
    surges = []
    while len(surges) < n:
        lo = int(rng.integers(70, len(days) - 10))
        length = int(rng.integers(1, 6))
        span = set(range(lo - 7, lo + length + 7))
        if span & taken or days[lo] in closed or days[lo].weekday() >= 5:
            continue
        taken |= span
        surges.append((lo, lo + length - 1, float(rng.uniform(1.6, 4.0))))
    return sorted(surges)


def synthetic_detector_flags(days, counts, **kwargs) -> list[bool]:
    found = {a.day for a in detect_spikes(dict(zip(days, counts, strict=True)), **kwargs)}
    return [d in found for d in days]


def synthetic_baseline_flags(counts) -> list[bool]:
    return rolling_zscore(counts, 30, 3.0)


# --- main ---------------------------------------------------------------------------------------


def run(nab, synthetic, nab_kwargs=None, daily_kwargs=None) -> dict[str, Tally]:
    keys = ("nab", "synthetic", "nab_baseline", "synthetic_baseline", "nab_baseline_cooldown")
    tallies = {k: Tally() for k in keys}
    for _name, times, values, windows in nab:
        flags = nab_detector_flags(times, values, **(nab_kwargs or {}))
        tallies["nab"].add(score(times, flags, windows))
        if nab_kwargs is None:
            tallies["nab_baseline"].add(score(times, nab_baseline_flags(times, values), windows))
            cooled = nab_baseline_flags(times, values, COOLDOWN)
            tallies["nab_baseline_cooldown"].add(score(times, cooled, windows))
    for _category, days, counts, windows in synthetic:
        flags = synthetic_detector_flags(days, counts, **(daily_kwargs or {}))
        tallies["synthetic"].add(score(days, flags, windows))
        if daily_kwargs is None:
            baseline = synthetic_baseline_flags(counts)
            tallies["synthetic_baseline"].add(score(days, baseline, windows))
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", action="store_true", help="print the settings grid too")
    args = parser.parse_args()

    nab = load_nab(_corpus_dir())
    synthetic = synthetic_tickets()
    tallies = run(nab, synthetic)
    both, baseline = Tally(), Tally()
    both.add(tallies["nab"])
    both.add(tallies["synthetic"])
    baseline.add(tallies["nab_baseline"])
    baseline.add(tallies["synthetic_baseline"])

    print(f"nab_series={len(nab)}")
    print(f"nab_windows={sum(len(s[3]) for s in nab)}")
    print(f"synthetic_categories={len(synthetic)}")
    print(f"synthetic_surges={sum(len(s[3]) for s in synthetic)}")
    for key in ("nab", "synthetic", "nab_baseline", "synthetic_baseline"):
        t = tallies[key]
        print(f"{key}_tp={t.tp}")
        print(f"{key}_fp={t.fp}")
        print(f"{key}_fn={t.fn}")
        print(f"{key}_f1={t.f1()[2]:.3f}")
    precision, recall, f1 = both.f1()
    print(f"precision={precision:.3f}")
    print(f"recall={recall:.3f}")
    print(f"f1={f1:.3f}")
    b_precision, b_recall, b_f1 = baseline.f1()
    print(f"baseline_precision={b_precision:.3f}")
    print(f"baseline_recall={b_recall:.3f}")
    print(f"baseline_f1={b_f1:.3f}")
    cooled = Tally()
    cooled.add(tallies["nab_baseline_cooldown"])
    cooled.add(tallies["synthetic_baseline"])  # one alert per run of days already
    print(f"nab_baseline_cooldown_f1={tallies['nab_baseline_cooldown'].f1()[2]:.3f}")
    print(f"baseline_cooldown_f1={cooled.f1()[2]:.3f}")

    if args.grid:
        for sensitivity in (3.0, 3.5, 4.0, 5.0):
            t = run([], synthetic, daily_kwargs={"sensitivity": sensitivity})["synthetic"]
            print(f"grid_synthetic_sensitivity_{sensitivity:g}_f1={t.f1()[2]:.3f}")
        for season in (None, timedelta(days=1)):
            for sensitivity in (4.0, 5.0, 6.0):
                for hours in (6, 24):
                    kwargs = {
                        "season": season,
                        "sensitivity": sensitivity,
                        "cooldown": timedelta(hours=hours),
                    }
                    t = run(nab, [], nab_kwargs=kwargs)["nab"]
                    label = f"{'daily' if season else 'none'}_{sensitivity:g}_{hours}h"
                    print(f"grid_nab_{label}_f1={t.f1()[2]:.3f}")


if __name__ == "__main__":
    main()
