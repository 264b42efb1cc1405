"""The spike detectors on real computations: seeded Poisson series, no mocks."""

from datetime import date, datetime, timedelta

import numpy as np

from predictive.detectors import Anomaly, detect_anomalies, detect_spikes, rolling_zscore

START = date(2023, 1, 2)  # a Monday
WEEKLY = [14.0, 12.0, 12.0, 12.0, 11.0, 1.0, 0.5]  # Monday .. Sunday


def weekly_series(days=400, seed=1, weekly=WEEKLY, holidays_at_zero=True):
    from predictive.detectors import public_holidays

    rng = np.random.default_rng(seed)
    dates = [START + timedelta(days=i) for i in range(days)]
    closed = public_holidays({d.year for d in dates}) if holidays_at_zero else set()
    return {d: 0.0 if d in closed else float(rng.poisson(weekly[d.weekday()])) for d in dates}


def test_flat_weekly_seasonal_series_has_almost_no_alert():
    for seed in range(5):
        assert len(detect_spikes(weekly_series(seed=seed))) <= 1


def test_surge_on_a_tuesday_is_found_on_that_day():
    series = weekly_series()
    tuesday = date(2023, 9, 12)
    assert tuesday.weekday() == 1
    series[tuesday] = 45.0
    found = detect_spikes(series)
    assert tuesday in [a.day for a in found]
    hit = next(a for a in found if a.day == tuesday)
    assert isinstance(hit, Anomaly)
    assert hit.direction == "up"
    assert hit.value == 45.0
    assert 8 <= hit.expected <= 16
    assert hit.score >= 4


def test_a_normal_monday_after_a_quiet_weekend_is_no_alert():
    found = {a.day for a in detect_spikes(weekly_series(seed=3))}
    mondays = {d for d in weekly_series(seed=3) if d.weekday() == 0}
    assert not found & mondays


def test_holidays_at_zero_and_the_next_day_raise_no_alert():
    series = weekly_series(days=730, seed=4)
    # The next open day gets part of the holiday's backlog, as in real helpdesks.
    for holiday in (date(2023, 7, 14), date(2023, 12, 25), date(2024, 7, 14), date(2024, 12, 25)):
        assert series[holiday] == 0
        following = holiday + timedelta(days=1)
        while following.weekday() >= 5:
            following += timedelta(days=1)
        series[following] += 10.0
    found = {a.day for a in detect_spikes(series)}
    for holiday in (date(2023, 7, 14), date(2023, 12, 25), date(2024, 12, 25)):
        assert holiday not in found
        assert holiday + timedelta(days=1) not in found


def test_extra_closure_days_are_left_out():
    series = weekly_series(seed=5)
    closure = date(2023, 6, 6)  # a Tuesday the city closed: zero, and not a reference
    series[closure] = 0.0
    assert closure not in {a.day for a in detect_spikes(series, holidays=[closure])}


def test_a_rare_category_going_from_zero_to_one_or_two_is_no_alert():
    dates = [START + timedelta(days=i) for i in range(120)]
    series = dict.fromkeys(dates, 0.0)
    series[dates[60]] = 1.0
    series[dates[80]] = 2.0
    series[dates[100]] = 2.0
    assert detect_spikes(series) == []


def test_a_new_problem_in_a_silent_category_is_an_alert():
    dates = [START + timedelta(days=i) for i in range(120)]
    series = dict.fromkeys(dates, 0.0)
    series[dates[100]] = 12.0
    assert [a.day for a in detect_spikes(series)] == [dates[100]]


def test_too_little_history_gives_no_alert_and_no_crash():
    series = {START + timedelta(days=i): 10.0 for i in range(15)}
    series[START + timedelta(days=14)] = 100.0
    assert detect_spikes(series) == []
    assert detect_spikes({START: 3.0}) == []


def test_empty_input():
    assert detect_spikes({}) == []
    assert detect_anomalies([], []) == []


def test_missing_days_are_zeros():
    series = {d: v for d, v in weekly_series(seed=6).items() if v}  # zeros dropped
    assert detect_spikes(series) == detect_spikes(weekly_series(seed=6))


def test_datetime_keyed_mapping_input():
    # What a pandas Series with a DatetimeIndex gives: datetimes (not dates) from .items().
    series = weekly_series(seed=7)
    as_datetimes = {datetime.combine(day, datetime.min.time()): v for day, v in series.items()}
    assert detect_spikes(as_datetimes) == detect_spikes(series)


def test_detect_anomalies_finds_a_level_shift_in_five_minute_data():
    rng = np.random.default_rng(8)
    times = [datetime(2024, 3, 1) + timedelta(minutes=5 * i) for i in range(288 * 10)]
    phase = np.arange(len(times)) % 288
    values = 50 + 10 * np.sin(2 * np.pi * phase / 288) + rng.normal(0, 1, len(times))
    values[288 * 8 + 100 : 288 * 8 + 130] += 30
    found = detect_anomalies(values.tolist(), times)
    assert [a.at for a in found] == [times[288 * 8 + 100]]
    assert found[0].direction == "up"


def test_rolling_zscore_baseline():
    values = [10.0, 12.0] * 15 + [30.0, 11.0, 5.0]
    flags = rolling_zscore(values, window=30, threshold=3)
    assert flags == [False] * 30 + [True, False, False]
    # Mean 11, std 1 over the window: a drop to 2 is z = -9, flagged only when two-sided.
    drop = [10.0, 12.0] * 15 + [2.0]
    assert rolling_zscore(drop, 30, 3)[-1] is False
    assert rolling_zscore(drop, 30, 3, two_sided=True)[-1] is True
    # A constant window flags nothing (std 0, z undefined).
    assert not any(rolling_zscore([5.0] * 40 + [9.0], window=30, threshold=3))
    # Too short for one window: nothing flagged, right length.
    assert rolling_zscore([1.0, 50.0], window=30, threshold=3) == [False, False]
