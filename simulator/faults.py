"""Fault injection: what the control API can make the simulator do wrong."""

import dataclasses
import random
import threading

from .store import SimError


@dataclasses.dataclass
class Faults:
    """The active faults; every field can be set with POST /_control/faults."""

    error_rate: float = 0.0  # share of GraphQL requests answered error_status
    error_status: int = 503
    fail_next: int = 0  # the next N GraphQL requests get error_status
    latency_ms: int = 0  # added before every GraphQL answer
    timeout_next: int = 0  # the next N GraphQL requests get no answer at all
    timeout_seconds: float = 35.0  # how long such a request is held before closing
    duplicate_webhooks: bool = False  # every delivery is sent twice
    out_of_order: bool = False  # deliveries are swapped pairwise
    webhook_fail_next: int = 0  # the next N delivery attempts fail unsent


FIELDS = {field.name: field.type for field in dataclasses.fields(Faults)}


def _coerce(name, value):
    kind = FIELDS[name]
    if kind is bool:
        if not isinstance(value, bool):
            raise SimError("BAD_USER_INPUT", f"{name} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimError("BAD_USER_INPUT", f"{name} must be a number")
    if value < 0 or (name == "error_rate" and value > 1):
        raise SimError("BAD_USER_INPUT", f"{name} is out of range")
    return kind(value)


class FaultBox:
    """Thread-safe holder of the faults; taking a counted fault is atomic."""

    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self._faults = Faults()
        self._random = random.Random(seed)

    def snapshot(self):
        """The active faults as a dict."""
        with self._lock:
            return dataclasses.asdict(self._faults)

    def update(self, changes, clear=False):
        """Set some faults (all others kept unless clear); return the result."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise SimError("BAD_USER_INPUT", f"unknown faults: {', '.join(unknown)}")
        values = {name: _coerce(name, value) for name, value in changes.items()}
        with self._lock:
            base = Faults() if clear else self._faults
            self._faults = dataclasses.replace(base, **values)
            return dataclasses.asdict(self._faults)

    def plan_request(self):
        """Decide the fate of one GraphQL request: (latency s, action, arg)."""
        with self._lock:
            faults = self._faults
            latency = faults.latency_ms / 1000
            if faults.timeout_next:
                faults.timeout_next -= 1
                return latency, "timeout", faults.timeout_seconds
            if faults.fail_next:
                faults.fail_next -= 1
                return latency, "error", faults.error_status
            if faults.error_rate and self._random.random() < faults.error_rate:
                return latency, "error", faults.error_status
            return latency, None, None

    def take_webhook_failure(self):
        """Whether this delivery attempt must fail (consumes webhook_fail_next)."""
        with self._lock:
            if self._faults.webhook_fail_next:
                self._faults.webhook_fail_next -= 1
                return True
            return False

    @property
    def duplicate_webhooks(self):
        with self._lock:
            return self._faults.duplicate_webhooks

    @property
    def out_of_order(self):
        with self._lock:
            return self._faults.out_of_order
