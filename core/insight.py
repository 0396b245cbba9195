"""Plant insight without Odoo: standard times, variance, clock skew and health.

Everything here takes and returns plain values, so the Odoo side only reads its
records, asks, and writes the answer; tests_pure/test_insight.py tests it alone.

Clock skew
----------
Every event keeps two timestamps: when it happened by Pico's (or the station's)
clock, and when Odoo received it by Odoo's clock. For one event

    received - event = delay - skew        (skew = Pico's clock - Odoo's clock)

where `delay` (network, broker, queues) is never negative and usually small, but
sometimes large (an outage, a broker backlog). An average of `received - event`
mixes both; the *lower envelope* does not: the smallest `received - event` over a
stretch of time is the event that travelled fastest, whose delay is the minimum
delay `d_min` (milliseconds on a LAN). So

    skew ~ -(min of received - event)      with an error of -d_min.

`estimate_skew` splits the window into buckets (5 minutes by default), takes the
minimum of each bucket, and returns minus the median of those minima: a single
event from a station whose own clock is wrong moves one bucket, not the estimate.
The slope of the bucket minima (least squares) is the drift, in ms per hour.
"""

import math
from dataclasses import dataclass, field

GREEN = "green"
AMBER = "amber"
RED = "red"
STATUSES = [(GREEN, "Healthy"), (AMBER, "Warning"), (RED, "Critical")]
_RANK = {GREEN: 0, AMBER: 1, RED: 2}

# Clear the skew alert only once it is back below this share of the threshold,
# so that a skew hovering around the threshold does not raise and clear in turn.
SKEW_CLEAR_RATIO = 0.8


# --- Percentiles -----------------------------------------------------------------
def percentile(values, q):
    """The q-th percentile (0-100) with linear interpolation; None when empty.

    The same definition as PostgreSQL's percentile_cont and numpy's default.
    """
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    rank = (len(data) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(data[low])
    return data[low] + (data[high] - data[low]) * (rank - low)


# --- Actual vs standard ------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """One BOM operation, with Odoo's own figures.

    `time_cycle` is the operation's duration (minutes) for one cycle of its work
    centre, i.e. for `capacity` units (Odoo's default capacity is the BOM's
    quantity); `efficiency` is the work centre's time efficiency in %.
    """

    time_cycle: float
    efficiency: float = 100.0
    capacity: float = 1.0


def standard_minutes(operations):
    """Standard time of one unit: the sum of its operations' time per unit.

    Setup and cleanup times are per batch, not per unit, so they are left out:
    a unit is compared with what the routing says one more unit costs.
    """
    total = 0.0
    for op in operations:
        capacity = op.capacity if op.capacity and op.capacity > 0 else 1.0
        efficiency = op.efficiency if op.efficiency and op.efficiency > 0 else 100.0
        total += (op.time_cycle or 0.0) * 100.0 / efficiency / capacity
    return total


def actual_minutes(cycle_time=None, started_at=None, completed_at=None):
    """Minutes a unit took: Pico's cycle time, else started -> completed."""
    if cycle_time:
        return float(cycle_time)
    if started_at and completed_at and completed_at >= started_at:
        return (completed_at - started_at).total_seconds() / 60.0
    return None


def variance(actual, standard):
    """(actual - standard in minutes, in % of standard); None where unknown."""
    if actual is None or not standard:
        return (None if actual is None else actual - (standard or 0.0)), None
    diff = actual - standard
    return diff, diff * 100.0 / standard


# --- Clock skew -----------------------------------------------------------------------
@dataclass(frozen=True)
class SkewEstimate:
    """Skew of Pico's clock against Odoo's (positive: Pico is ahead), in ms."""

    skew_ms: float | None
    samples: int
    buckets: int
    drift_ms_per_hour: float | None = None
    # (bucket start in seconds, -(bucket's minimum of received - event)) for a chart.
    trend: tuple = field(default=())


def estimate_skew(samples, bucket_seconds=300, min_samples=3):
    """Estimate the skew from (event time, received time) pairs in epoch seconds.

    Returns a SkewEstimate whose skew_ms is None when there are fewer than
    `min_samples` samples: too little to tell skew from delay.
    """
    pairs = [(event, received) for event, received in samples if event and received]
    if len(pairs) < max(min_samples, 1):
        return SkewEstimate(None, len(pairs), 0)
    minima = {}
    for event, received in pairs:
        bucket = math.floor(received / bucket_seconds) * bucket_seconds
        delta_ms = (received - event) * 1000.0
        if bucket not in minima or delta_ms < minima[bucket]:
            minima[bucket] = delta_ms
    ordered = sorted(minima.items())
    envelope = percentile([value for _bucket, value in ordered], 50)
    trend = tuple((bucket, -value) for bucket, value in ordered)
    return SkewEstimate(
        skew_ms=-envelope,
        samples=len(pairs),
        buckets=len(ordered),
        drift_ms_per_hour=_slope_per_hour(trend),
        trend=trend,
    )


# A trend needs this much time between the first and the last bucket.
MIN_TREND_SECONDS = 3600


def _slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour.

    None when undefined or over less than an hour: a few minutes of events say
    nothing about a drift, and their slope would read as thousands of ms/h.
    """
    if len(points) < 2 or points[-1][0] - points[0][0] < MIN_TREND_SECONDS:
        return None
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    var_x = sum((x - mean_x) ** 2 for x, _y in points)
    if not var_x:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var_x * 3600.0


def skew_alert(alerting, skew_ms, threshold_ms, clear_ratio=SKEW_CLEAR_RATIO):
    """Whether the skew alert should be on, given whether it is on now.

    It goes on beyond the threshold and off only below clear_ratio x threshold.
    Without an estimate (too few events) the alert stays as it is.
    """
    if skew_ms is None or not threshold_ms or threshold_ms <= 0:
        return alerting if skew_ms is None else False
    if abs(skew_ms) > threshold_ms:
        return True
    if abs(skew_ms) <= threshold_ms * clear_ratio:
        return False
    return alerting


# --- Health status --------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One figure checked against its amber and red thresholds."""

    name: str
    value: float | None
    status: str


def grade(value, warn=None, crit=None):
    """GREEN, AMBER or RED for a figure where higher is worse.

    A threshold of None or <= 0 is off; a figure of None (unknown) is GREEN.
    """
    if value is None:
        return GREEN
    if crit is not None and crit > 0 and value >= crit:
        return RED
    if warn is not None and warn > 0 and value >= warn:
        return AMBER
    return GREEN


def worst(statuses):
    """The worst of several statuses (GREEN when there are none)."""
    return max(statuses, key=_RANK.__getitem__, default=GREEN)


def health(figures, thresholds):
    """(overall status, [Check]) of figures {name: value} against thresholds.

    `thresholds` maps a figure's name to (warn, crit); figures without thresholds
    are not checked. Checks are returned worst first, then by name.
    """
    checks = []
    for name, (warn, crit) in sorted(thresholds.items()):
        value = figures.get(name)
        checks.append(Check(name, value, grade(value, warn, crit)))
    checks.sort(key=lambda check: (-_RANK[check.status], check.name))
    return worst(check.status for check in checks), checks


def alert_transition(was_alerting, now_alerting):
    """'raise', 'clear' or None: what to do with the responsible's activity."""
    if now_alerting and not was_alerting:
        return "raise"
    if was_alerting and not now_alerting:
        return "clear"
    return None


def rate(part, whole):
    """part / whole in %, or None when nothing happened."""
    return part * 100.0 / whole if whole else None
