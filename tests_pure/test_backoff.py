"""Retry schedule: exponential growth, cap and jitter."""

import random

import pytest

from core.backoff import retry_delay


def _middle():
    return 0.5


def test_doubles_from_base_without_jitter():
    """rand=0.5 is the centre of the jitter band, so the raw schedule shows."""
    delays = [retry_delay(attempt, rand=_middle) for attempt in range(1, 6)]
    assert delays == [10.0, 20.0, 40.0, 80.0, 160.0]


def test_custom_base_and_factor():
    """Base and factor shape the schedule."""
    delays = [retry_delay(a, base=2, factor=3, rand=_middle) for a in (1, 2, 3)]
    assert delays == [2.0, 6.0, 18.0]


def test_capped():
    """Late attempts wait the cap, not more."""
    assert retry_delay(9, rand=_middle) == 2560.0
    assert retry_delay(10, rand=_middle) == 3600.0
    assert retry_delay(50, rand=_middle) == 3600.0


def test_huge_attempt_does_not_overflow():
    """A row retried for years still gets the cap."""
    assert retry_delay(100_000, rand=_middle) == 3600.0


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 30.0), (1.0, 50.0)])
def test_jitter_band_edges(rand, expected):
    """Jitter 0.25 spreads a 40 s delay over 30..50 s."""
    assert retry_delay(3, rand=lambda: rand) == pytest.approx(expected)


def test_jitter_never_exceeds_cap():
    """Upward jitter at the cap is clipped to the cap."""
    assert retry_delay(20, rand=lambda: 1.0) == 3600.0
    assert retry_delay(20, rand=lambda: 0.0) == pytest.approx(2700.0)


def test_no_jitter_is_exact():
    """jitter=0 ignores the random source."""
    assert retry_delay(4, jitter=0, rand=lambda: 0.99) == 80.0


def test_default_random_stays_in_band():
    """With the real random source every delay stays within the band."""
    rng = random.Random(42)
    delays = [retry_delay(2, rand=rng.random) for _ in range(200)]
    assert all(15.0 <= delay <= 25.0 for delay in delays)
    assert len(set(delays)) > 100


def test_rand_none_uses_the_random_module():
    """Callers may pass rand=None for the default source."""
    assert 7.5 <= retry_delay(1, rand=None) <= 12.5


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_must_be_positive(attempt):
    """Attempt numbers start at 1; 0 is a caller bug."""
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(attempt)


def test_due_at_rounds_up_to_the_stored_second():
    """Odoo keeps datetimes to the second: a retry is never due before its delay."""
    from datetime import datetime, timedelta

    from core.backoff import due_at

    now = datetime.fromisoformat("2026-01-01 12:00:00")  # naive UTC, as in Odoo
    assert due_at(now, 0.75) == now + timedelta(seconds=1)
    assert due_at(now, 2) == now + timedelta(seconds=2)
    assert due_at(now.replace(microsecond=500_000), 0.75) == now + timedelta(seconds=2)
    assert due_at(now, 0) == now
