"""Retry schedule: exponential backoff with a cap and jitter."""

import random
from datetime import timedelta


def retry_delay(attempt, base=10, factor=2, cap=3600, jitter=0.25, rand=random.random):
    """Return the seconds to wait before retry number `attempt` (1 = first retry)."""
    if rand is None:
        rand = random.random
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt!r}")
    try:
        delay = float(base) * float(factor) ** (attempt - 1)
    except OverflowError:
        delay = float(cap)
    delay = min(delay, float(cap))
    # Spread retries by +/- jitter so rows that failed together do not all come back
    # in the same second; the cap still bounds the wait.
    delay *= 1.0 + jitter * (2.0 * rand() - 1.0)
    return max(0.0, min(delay, float(cap)))


def due_at(now, delay):
    """When a retry `delay` seconds after `now` comes due, rounded up to the whole
    second: Odoo stores datetimes to the second, and a delay cut down to nothing
    would make the row due again at once."""
    target = now + timedelta(seconds=delay)
    if target.microsecond:
        target = target.replace(microsecond=0) + timedelta(seconds=1)
    return target
