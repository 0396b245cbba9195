"""Inbox rules shared by every door (webhook, MQTT, polling): intake and states.

A door turns what it received into an `Intake` (validated object, idempotency key,
the order it refers to, the MES timestamp) and stores it; processors later apply it.
The state machine of a stored event lives here too, so the Odoo model only loads a
row, asks for the values of an outcome and writes them.

    received ──applied──► done
       │ ├─ order not known yet, tries left ──► held ──(due again)──► done | held
       │ ├─ order not known yet, tries spent ─► dead
       │ ├─ lost a race with another worker ──► (same state, shortly again)
       │ └─ refused by its handler ────────────► failed
       └──── Retry / Replay (failed, dead, held) ◄──
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import keys, schemas
from .backoff import due_at, retry_delay
from .clock import parse_odoo_datetime
from .errors import PayloadError
from .payloads import unwrap

RECEIVED = "received"
HELD = "held"
DONE = "done"
FAILED = "failed"
DEAD = "dead"
STATES = [
    (RECEIVED, "Received"),
    (HELD, "Held"),
    (DONE, "Done"),
    (FAILED, "Failed"),
    (DEAD, "Dead letter"),
]
# Largest orderIndex (an integer column) and externalOrderId (an indexed one).
MAX_INDEX = 2**31 - 1
MAX_REFERENCE = 255
# States a user may send back to processing (Retry / Replay).
REPLAYABLE = (FAILED, DEAD, HELD)
# Rows the processor may pick when their next_attempt_at has come.
DUE_STATES = (RECEIVED, HELD)
ERROR_STATES = (FAILED, DEAD)

TRANSITIONS = {
    RECEIVED: {DONE, HELD, DEAD, FAILED, RECEIVED},
    HELD: {DONE, HELD, DEAD, FAILED, RECEIVED},
    FAILED: {RECEIVED},
    DEAD: {RECEIVED},
    DONE: set(),
}
# A race lost this many times the backend's tries is given up (dead letter).
RACE_TRIES_FACTOR = 3
# Longest wait before an event that lost a race is tried again (seconds).
RACE_MAX_DELAY = 60

COMPLETION = "completion"
PRODUCTION_VERSION = "production_version"
SCRAP = "scrap"
DOWNTIME = "downtime"
QUALITY = "quality"
CONSUMPTION = "consumption"
NOTE = "note"
EVENT_TYPES = [
    (COMPLETION, "Work order completion"),
    (PRODUCTION_VERSION, "Production version"),
    (SCRAP, "Scrap"),
    (DOWNTIME, "Downtime"),
    (QUALITY, "Quality result"),
    (CONSUMPTION, "Component consumption"),
    (NOTE, "Operator note"),
]
# Which JSON Schema (core/schemas/<name>.json) checks each event type.
SCHEMA_OF = {
    COMPLETION: "completion",
    PRODUCTION_VERSION: "operation",
    SCRAP: "scrap",
    DOWNTIME: "downtime",
    QUALITY: "quality",
    CONSUMPTION: "consumption",
    NOTE: "note",
}
# Webhook bodies wrap the event in data.<subscription field> (pico-api.md §3.3).
STREAM_FIELD_OF = {
    COMPLETION: "operationOrderCompletesStream",
    PRODUCTION_VERSION: "operationsStream",
    NOTE: "noteEventsStream",
}
# The timestamp field that tells when the event happened on the shop floor.
MES_TIME_FIELD = {
    COMPLETION: "at",
    PRODUCTION_VERSION: "updatedAt",
    SCRAP: "at",
    DOWNTIME: "start",
    QUALITY: "timestamp",
    CONSUMPTION: "at",
}


class InvalidTransition(ValueError):
    """A state change the inbox does not allow."""


def check_transition(old, new):
    """Raise InvalidTransition unless the inbox allows old -> new."""
    if new not in TRANSITIONS.get(old, ()):
        raise InvalidTransition(f"an event cannot go from {old!r} to {new!r}")


class EventHeld(Exception):
    """The event refers to something Odoo does not know yet: try it again later."""


@dataclass(frozen=True)
class Intake:
    """What a door stores for one accepted event."""

    event_type: str
    key: str
    data: dict
    mes_time: datetime | None
    external_order_id: str | None
    order_index: int | None


def _mes_time(event_type, data):
    field = MES_TIME_FIELD.get(event_type)
    value = data.get(field) if field else None
    if value is None:
        return None
    # Stored naive UTC, as Odoo stores datetimes.
    return parse_odoo_datetime(value, field)


def intake(event_type, body, backend_ref, topic=None, raw=None):
    """Validate one received body and return its Intake, or raise PayloadError.

    `body` is the parsed JSON (or raw bytes/str). Webhook bodies may be wrapped in
    `{"data": {<stream field>: {...}}}` or bare; MQTT bodies are bare. `raw` is the
    bytes as received, used for the key of MQTT events without an eventId.
    """
    if event_type not in SCHEMA_OF:
        raise PayloadError("event_type", f"unknown event type {event_type!r}")
    stream_field = STREAM_FIELD_OF.get(event_type)
    if stream_field:
        data = unwrap(body, stream_field)
    else:
        data = unwrap(body, "")
    schemas.validate(SCHEMA_OF[event_type], data)
    external_order_id = data.get("externalOrderId")
    order_index = data.get("orderIndex")
    # What the event table indexes must fit its columns (and a btree entry).
    if isinstance(order_index, int) and not 0 <= order_index <= MAX_INDEX:
        raise PayloadError("orderIndex", f"out of range 0..{MAX_INDEX}")
    if isinstance(external_order_id, str) and len(external_order_id) > MAX_REFERENCE:
        raise PayloadError("externalOrderId", f"longer than {MAX_REFERENCE} characters")
    if event_type == COMPLETION:
        key = keys.completion_key(
            backend_ref,
            external_order_id,
            order_index,
            (data.get("operation") or {}).get("id"),
            data["at"],
        )
    elif event_type == PRODUCTION_VERSION:
        key = keys.operation_version_key(backend_ref, data["id"], data["updatedAt"])
    elif event_type == NOTE and data.get("id") is not None:
        # A note edited later comes again under its id: a new event per version.
        key = keys.message_key(
            f"{backend_ref}:{NOTE}",
            repr(sorted(data.items())),
            f"{data['id']}@{data.get('updatedAt') or data.get('createdAt') or ''}",
        )
    else:
        key = keys.message_key(
            f"{backend_ref}:{topic or event_type}",
            raw if raw is not None else repr(sorted(data.items())),
            data.get("eventId"),
        )
    return Intake(
        event_type=event_type,
        key=key,
        data=data,
        mes_time=_mes_time(event_type, data),
        external_order_id=external_order_id,
        order_index=order_index if isinstance(order_index, int) else None,
    )


def after_hold(attempts, max_attempts, now, base=10, cap=3600, rand=None):
    """Return (state, next_attempt_at) for an event held for the `attempts`-th time."""
    if attempts >= max_attempts:
        return DEAD, None
    kwargs = {"base": base, "cap": cap}
    if rand is not None:
        kwargs["rand"] = rand
    return HELD, due_at(now, retry_delay(attempts, **kwargs))


def succeed(state, now, result=None):
    """Values written when the handler applied the event."""
    check_transition(state, DONE)
    return {
        "state": DONE,
        "next_attempt_at": None,
        "processed_at": now,
        "result": result if isinstance(result, str) else None,
        "error": None,
        "error_class": None,
        "traceback": None,
    }


def hold(state, attempts, max_attempts, now, message, base=10, cap=3600, rand=None):
    """Values written when the event's order is not known yet (attempt `attempts`)."""
    new_state, next_at = after_hold(attempts, max_attempts, now, base, cap, rand)
    check_transition(state, new_state)
    return {
        "state": new_state,
        "next_attempt_at": next_at,
        "error": message,
        "error_class": "held",
    }


def lost_race(state, attempts, max_attempts, now, message, error_class):
    """Values written when another worker changed the same records meanwhile.

    Nothing was applied (the handler ran in a savepoint), so the event is simply
    tried again shortly, in the state it had; a race lost again and again ends as
    a dead letter.
    """
    new_state = DEAD if attempts >= max_attempts * RACE_TRIES_FACTOR else state
    check_transition(state, new_state)
    return {
        "state": new_state,
        "next_attempt_at": now + timedelta(seconds=min(2**attempts, RACE_MAX_DELAY)),
        "error": message,
        "error_class": error_class,
    }


def fail(state, message, error_class, traceback=None):
    """Values written when the handler refused the event: a person must look."""
    check_transition(state, FAILED)
    return {
        "state": FAILED,
        "next_attempt_at": None,
        "error": message,
        "error_class": error_class,
        "traceback": traceback,
    }


def retry(state):
    """Values written when a user sends the event back to processing (Replay)."""
    if state not in REPLAYABLE:
        raise InvalidTransition(f"an event in state {state!r} cannot be replayed")
    check_transition(state, RECEIVED)
    return {"state": RECEIVED, "attempts": 0, "next_attempt_at": None}
