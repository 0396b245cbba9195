"""Outbox rules: the state machine of an exchange sent to Pico and its retry decision.

An exchange is one request (save or cancel of one operation order unit) written in
the same transaction as the change that needs it, then delivered by a sender. The
functions here take and return plain values, so the Odoo model only loads a row,
asks for the next values and writes them in one go.

    pending ──claim──► sending ──ok──► done
       ▲                  │
       │                  ├─ retryable, tries left ──► retry_wait ──claim──► sending
       │                  ├─ retryable, tries spent ─► dead
       │                  ├─ permanent ─────────────► failed
       │                  └─ not confirmed in a batch ► pending (core.order_batch)
       └──── manual retry (failed, dead, retry_wait); sweep of a stuck `sending`
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from .backoff import due_at, retry_delay
from .errors import PicoError

PENDING = "pending"
SENDING = "sending"
DONE = "done"
RETRY_WAIT = "retry_wait"
FAILED = "failed"
DEAD = "dead"
STATES = [
    (PENDING, "Pending"),
    (SENDING, "Sending"),
    (DONE, "Done"),
    (RETRY_WAIT, "Waiting to retry"),
    (FAILED, "Failed"),
    (DEAD, "Dead letter"),
]
# Rows the sender may pick when their next_attempt_at has come.
DUE_STATES = (PENDING, RETRY_WAIT)
# Rows not finished yet: a later exchange of the same unit waits for them.
OPEN_STATES = (PENDING, SENDING, RETRY_WAIT)
ERROR_STATES = (FAILED, DEAD)
# States a user may send back to the queue with Retry, and the state it gives.
RETRY_FROM = {FAILED: PENDING, DEAD: PENDING, RETRY_WAIT: PENDING}

TRANSITIONS = {
    PENDING: {SENDING},
    RETRY_WAIT: {SENDING, PENDING},
    SENDING: {DONE, RETRY_WAIT, FAILED, DEAD, PENDING},
    FAILED: {PENDING},
    DEAD: {PENDING},
    DONE: set(),
}

SAVE = "save"
CANCEL = "cancel"
KINDS = [(SAVE, "Create / update order"), (CANCEL, "Cancel order")]

# Pico error codes that mean the wanted end state already holds: cancelling an
# order Pico does not have leaves Pico without that order, which is the goal.
BENIGN_CODES = {CANCEL: frozenset({"NOT_FOUND"})}
# Pico's refusal to cancel a unit an operator has already started.
ORDER_STARTED = "ORDER_STARTED"


class InvalidTransition(ValueError):
    """A state change the outbox does not allow."""


@dataclass(frozen=True)
class Policy:
    """Retry settings of one backend."""

    max_attempts: int = 8
    base_delay: float = 10.0
    max_delay: float = 3600.0
    factor: float = 2.0
    jitter: float = 0.25
    # A row claimed longer ago than this was left by a worker that died mid-send.
    stuck_after: float = 600.0


def check_transition(old, new):
    """Raise InvalidTransition unless the outbox allows old -> new."""
    if new not in TRANSITIONS.get(old, ()):
        raise InvalidTransition(f"an exchange cannot go from {old!r} to {new!r}")


def claim(state, attempts, now):
    """Values written when a sender takes a due row: one more attempt begins."""
    check_transition(state, SENDING)
    return {
        "state": SENDING,
        "attempts": attempts + 1,
        "sending_since": now,
        "last_attempt_at": now,
    }


def succeed(state, now, response=None):
    """Values written when Pico accepted the request."""
    check_transition(state, DONE)
    return {
        "state": DONE,
        "done_at": now,
        "next_attempt_at": None,
        "sending_since": None,
        "response": response,
        "error": None,
        "error_class": None,
        "error_code": None,
        "http_status": None,
    }


def is_benign(kind, error):
    """Whether a Pico error for this kind of request means the goal is reached."""
    code = getattr(error, "code", None)
    return bool(code) and code in BENIGN_CODES.get(kind, ())


def error_class(error):
    """Dotted name of an exception's class, for grouping failures."""
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_retryable(error):
    """Whether sending again later may succeed.

    PicoError says so itself (network, timeout, 408, 429, 5xx). Any other exception
    is a fault of ours that a retry would repeat, so it stops at once.
    """
    return isinstance(error, PicoError) and bool(error.retryable)


def fail(state, attempts, error, now, policy, rand=random.random):
    """Values written when the attempt number `attempts` failed with `error`."""
    if is_retryable(error) and attempts < policy.max_attempts:
        new_state = RETRY_WAIT
        delay = retry_delay(
            attempts,
            base=policy.base_delay,
            factor=policy.factor,
            cap=policy.max_delay,
            jitter=policy.jitter,
            rand=rand,
        )
        next_attempt_at = due_at(now, delay)
    else:
        new_state = DEAD if is_retryable(error) else FAILED
        next_attempt_at = None
    check_transition(state, new_state)
    return {
        "state": new_state,
        "next_attempt_at": next_attempt_at,
        "sending_since": None,
        "error": str(error) or error_class(error),
        "error_class": error_class(error),
        "error_code": getattr(error, "code", None),
        "http_status": getattr(error, "status", None),
        "response": getattr(error, "body", None),
    }


def is_stuck(state, sending_since, now, policy):
    """Whether a `sending` row was abandoned by a worker that stopped mid-send."""
    if state != SENDING:
        return False
    if sending_since is None:
        return True
    return sending_since <= now - timedelta(seconds=policy.stuck_after)


def sweep(state, attempts, now, policy):
    """Values written to a stuck row: back to the queue, or dead if tries are spent.

    Sending again is safe because a save is idempotent on (externalOrderId,
    operationId, orderIndex) and a cancel of a cancelled unit changes nothing.
    """
    message = "the sender stopped while this request was in flight"
    if attempts >= policy.max_attempts:
        check_transition(state, DEAD)
        return {
            "state": DEAD,
            "sending_since": None,
            "next_attempt_at": None,
            "error": message,
            "error_class": "StuckSending",
        }
    check_transition(state, PENDING)
    return {
        "state": PENDING,
        "sending_since": None,
        "next_attempt_at": now,
        "error": message,
        "error_class": "StuckSending",
    }


def requeue(state, attempts, now, reason):
    """Values written to a row of a batch whose save may not have run (its batch
    was refused as a whole, or a sibling's refusal withheld its answer): back to
    the queue at once, this attempt not counted. Sending it again is safe: a save
    is idempotent on (externalOrderId, operationId, orderIndex)."""
    check_transition(state, PENDING)
    return {
        "state": PENDING,
        "attempts": max(attempts - 1, 0),
        "sending_since": None,
        "next_attempt_at": now,
        "error": reason,
        "error_class": "BatchResend",
    }


def retry(state):
    """Values written when a user sends the row again: a fresh budget of tries."""
    if state not in RETRY_FROM:
        raise InvalidTransition(f"an exchange in state {state!r} cannot be retried")
    new_state = RETRY_FROM[state]
    check_transition(state, new_state)
    return {
        "state": new_state,
        "attempts": 0,
        "next_attempt_at": None,
        "sending_since": None,
    }
