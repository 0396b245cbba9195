"""Plant insight rules: percentiles, standard time, skew estimator, health status."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from core import insight


def test_percentile_interpolates_like_postgresql():
    """percentile_cont semantics: p50 of 1..4 is 2.5, p95 of 1..100 is 95.05."""
    assert insight.percentile([4, 1, 3, 2], 50) == 2.5
    assert insight.percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert insight.percentile([7], 95) == 7
    assert insight.percentile([], 50) is None
    with pytest.raises(ValueError):
        insight.percentile([1], 101)


def test_standard_minutes_per_unit_uses_capacity_and_efficiency():
    """10 min per cycle of 2 units at 50 % efficiency: 10 min per unit; + 3 min."""
    ops = [
        insight.Operation(time_cycle=10, efficiency=50, capacity=2),
        insight.Operation(time_cycle=3),
    ]
    assert insight.standard_minutes(ops) == pytest.approx(13.0)
    # Nonsense work-centre figures fall back to 100 % and one unit per cycle.
    assert insight.standard_minutes([insight.Operation(4, 0, 0)]) == 4.0


def test_actual_minutes_prefers_pico_cycle_time():
    start = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    assert insight.actual_minutes(12.5, start, start + timedelta(minutes=30)) == 12.5
    assert insight.actual_minutes(None, start, start + timedelta(minutes=30)) == 30.0
    assert insight.actual_minutes(None, None, start) is None


def test_variance_of_a_slow_unit():
    """15 min against a 10 min standard: +5 min, +50 %."""
    assert insight.variance(15.0, 10.0) == (5.0, 50.0)
    assert insight.variance(15.0, 0.0) == (15.0, None)
    assert insight.variance(None, 10.0) == (None, None)


def _events(skew_ms, delays_ms, start=1_700_000_100.0, spacing=20.0):
    """(event, received) pairs: Pico's clock is skew_ms ahead of Odoo's."""
    pairs = []
    for index, delay in enumerate(delays_ms):
        true_time = start + index * spacing
        pairs.append((true_time + skew_ms / 1000.0, true_time + delay / 1000.0))
    return pairs


def test_skew_separated_from_delay():
    """Pico 800 ms ahead, delays 30 ms to seconds: the estimate is 800 - 30 ms.

    The mean of received - event would say about -(800 - mean delay).
    """
    rnd = random.Random(14)
    delays = [30 + rnd.expovariate(1 / 400.0) for _ in range(300)]
    # Every bucket (5 min = 15 events) has its fast event.
    for index in range(0, 300, 15):
        delays[index] = 30.0
    estimate = insight.estimate_skew(_events(800, delays))
    assert estimate.skew_ms == pytest.approx(770.0, abs=1.0)
    assert estimate.samples == 300
    assert estimate.buckets == 20
    assert abs(estimate.drift_ms_per_hour) < 1.0
    naive = sum(r - e for e, r in _events(800, delays)) / len(delays) * 1000
    assert naive > -800 + 300  # what the envelope is for


def test_skew_behind_and_outage_delays():
    """Pico 1.2 s behind; an outage delays a burst by minutes: no effect."""
    delays = [20.0] * 60
    delays[10:25] = [180_000.0] * 15
    estimate = insight.estimate_skew(_events(-1200, delays))
    assert estimate.skew_ms == pytest.approx(-1220.0)


def test_one_wrong_station_clock_does_not_move_the_estimate():
    delays = [10.0] * 90
    pairs = _events(300, delays)
    event, received = pairs[40]
    pairs[40] = (event + 3600.0, received)  # a station one hour ahead
    estimate = insight.estimate_skew(pairs)
    assert estimate.skew_ms == pytest.approx(290.0)


def test_skew_drift_is_the_slope_of_bucket_minima():
    """A clock gaining 100 ms per hour over 3 hours."""
    pairs = []
    start = 1_700_000_100.0
    for minute in range(180):
        true_time = start + minute * 60
        skew = 100.0 * minute / 60.0
        pairs.append((true_time + skew / 1000.0, true_time + 0.005))
    estimate = insight.estimate_skew(pairs)
    assert estimate.drift_ms_per_hour == pytest.approx(100.0, rel=0.02)
    assert len(estimate.trend) == estimate.buckets == 36


def test_too_few_samples_is_no_estimate():
    estimate = insight.estimate_skew(_events(900, [5.0, 5.0]))
    assert estimate.skew_ms is None
    assert estimate.samples == 2


def test_skew_alert_hysteresis():
    """On beyond 500 ms, off below 400 ms, unchanged in between or unknown."""
    assert insight.skew_alert(False, 501, 500) is True
    assert insight.skew_alert(False, -600, 500) is True
    assert insight.skew_alert(True, 450, 500) is True
    assert insight.skew_alert(False, 450, 500) is False
    assert insight.skew_alert(True, 399, 500) is False
    assert insight.skew_alert(True, None, 500) is True
    assert insight.skew_alert(True, 900, 0) is False


def test_grade_and_health():
    assert insight.grade(None, 1, 2) == insight.GREEN
    assert insight.grade(5, 10, 100) == insight.GREEN
    assert insight.grade(10, 10, 100) == insight.AMBER
    assert insight.grade(100, 10, 100) == insight.RED
    assert insight.grade(1000, 0, None) == insight.GREEN
    status, checks = insight.health(
        {"backlog": 12, "dead": 1, "skew": 10},
        {"backlog": (10, 100), "dead": (None, 1), "skew": (500, 2000)},
    )
    assert status == insight.RED
    assert [(c.name, c.status) for c in checks] == [
        ("dead", insight.RED),
        ("backlog", insight.AMBER),
        ("skew", insight.GREEN),
    ]
    assert insight.health({}, {}) == (insight.GREEN, [])


def test_alert_transition_once():
    assert insight.alert_transition(False, True) == "raise"
    assert insight.alert_transition(True, True) is None
    assert insight.alert_transition(True, False) == "clear"
    assert insight.alert_transition(False, False) is None


def test_rate():
    assert insight.rate(1, 4) == 25.0
    assert insight.rate(0, 0) is None


def test_no_trend_from_a_few_minutes():
    """Three buckets within 15 minutes: an estimate, but no drift."""
    pairs = _events(300, [5.0] * 45, spacing=20.0)
    estimate = insight.estimate_skew(pairs)
    assert estimate.skew_ms == pytest.approx(295.0)
    assert estimate.drift_ms_per_hour is None
