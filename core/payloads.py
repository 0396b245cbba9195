"""Unwrap and normalise Pico payloads into plain dataclasses."""

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import PayloadError

# RFC 3339: a zone is mandatory, since a naive timestamp from another system cannot be
# placed in time reliably.
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(value, field="at"):
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PayloadError(field, "timestamp has no time zone")
        return value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise PayloadError(field, f"expected a timestamp string, got {value!r}")
    match = _RFC3339.match(value.strip())
    if not match:
        raise PayloadError(field, f"not an RFC 3339 timestamp with zone: {value!r}")
    date_part, time_part, fraction, zone = match.groups()
    # datetime takes at most microseconds and Python 3.10's fromisoformat wants
    # exactly 3 or 6 digits and no "Z"; Pico-side clocks may send nanoseconds.
    fraction = f".{(fraction or '')[:6]:0<6}"
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{date_part}T{time_part}{fraction}{zone}")
        # Year 1 east of UTC, or 9999 west of it, has no UTC datetime.
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(field, f"invalid timestamp {value!r}: {exc}") from exc


def _optional_time(value, field):
    return None if value is None else parse_time(value, field)


# A delivery larger than this is refused by every door (webhook, MQTT).
MAX_BODY_BYTES = 1024 * 1024
# Pico's events are a few levels deep; anything deeper is not one of them.
MAX_DEPTH = 32


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def unstorable(value):
    """Why a parsed body cannot be stored as it is (PostgreSQL text, jsonb), or None."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            todo.extend((key, depth) for key in item)
            todo.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            todo.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate (not UTF-8)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number is out of range"
    return None


def loads(body):
    """Parse JSON bytes or text into what the database can hold, or raise."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError("", f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # RecursionError: thousands of nested brackets, before MAX_DEPTH is checked.
        message = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        raise PayloadError("", f"body is not JSON: {message}") from None
    problem = unstorable(parsed)
    if problem:
        raise PayloadError("", f"body refused: {problem}")
    return parsed


def unwrap(body, stream_field):
    """Return the event object of a webhook body, wrapped in `data` or bare."""
    if isinstance(body, bytes | bytearray | str):
        body = loads(body)
    else:
        problem = unstorable(body)
        if problem:
            raise PayloadError("", f"body refused: {problem}")
    if not isinstance(body, dict):
        raise PayloadError("", "body is not a JSON object")
    if "data" not in body and "errors" in body:
        raise PayloadError("errors", "body carries GraphQL errors and no data")
    if "data" not in body:
        return body
    data = body["data"]
    if not isinstance(data, dict):
        raise PayloadError("data", "expected an object")
    event = data.get(stream_field)
    if not isinstance(event, dict):
        found = ", ".join(sorted(data)) or "nothing"
        raise PayloadError(f"data.{stream_field}", f"missing; body has {found}")
    return event


@dataclass(frozen=True)
class ConsumedSerial:
    """A serialized component: part number and, in a completion, the serial used."""

    external_id: str | None
    value: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Completion:
    """One completed operation order unit, flattened from OperationOrderComplete."""

    external_order_id: str
    order_index: int | None
    at: datetime
    operation_id: str | None = None
    operation_external_id: str | None = None
    operation_revision: str | None = None
    operation_name: str | None = None
    started_at: datetime | None = None
    cycle_time_ms: int | None = None
    consumed_serials: tuple[ConsumedSerial, ...] = ()
    produced_serial: str | None = None
    end_at: datetime | None = None
    station: str | None = None
    operator: str | None = None
    reserved_serial: str | None = None
    secondary_external_order_id: str | None = None
    wip: bool = False


@dataclass(frozen=True)
class OperationInfo:
    """One Pico Operation (a deployed product or process version)."""

    id: str
    name: str
    updated_at: datetime
    external_id: str | None = None
    external_revision: str | None = None
    external_codes: tuple[str, ...] = ()
    template_id: str | None = None
    variant_name: str | None = None
    consumed_serials: tuple[ConsumedSerial, ...] = ()
    archived_at: datetime | None = None

    @property
    def archived(self):
        """Return True when Pico archived this operation."""
        return self.archived_at is not None


def _object(value, field):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(field, "expected an object")
    return value


def _name(value, field):
    return _object(value, field).get("name")


def _serials(value, field):
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PayloadError(field, "expected an array")
    serials = []
    for index, item in enumerate(value):
        item = _object(item, f"{field}.{index}")
        serials.append(
            ConsumedSerial(
                external_id=item.get("externalId"),
                value=item.get("value"),
                id=item.get("id"),
            )
        )
    return tuple(serials)


def _optional_int(value, field):
    if value is None:
        return None
    # JSON has one number type: accept 3.0 but not 3.5, and never a boolean.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(field, f"expected an integer >= 0, got {value!r}")
    return value


def _required(payload, key, field=None):
    value = payload.get(key)
    if value is None or value == "":
        raise PayloadError(field or key, "is required")
    return value


def parse_completion(payload):
    """Normalise an unwrapped OperationOrderComplete into a Completion."""
    payload = _object(payload, "")
    operation = _object(payload.get("operation"), "operation")
    summary = _object(payload.get("operationSummary"), "operationSummary")
    # The older snapshot nests endState inside operationSummary; prefer the top level.
    end_state = payload.get("endState")
    end_field = "endState"
    if end_state is None:
        end_state = summary.get("endState")
        end_field = "operationSummary.endState"
    end_state = _object(end_state, end_field)
    return Completion(
        external_order_id=str(_required(payload, "externalOrderId")),
        order_index=_optional_int(payload.get("orderIndex"), "orderIndex"),
        at=parse_time(_required(payload, "at"), "at"),
        operation_id=operation.get("id"),
        operation_external_id=operation.get("externalId"),
        operation_revision=operation.get("externalRevision"),
        operation_name=operation.get("name"),
        started_at=_optional_time(
            summary.get("startedAt"), "operationSummary.startedAt"
        ),
        cycle_time_ms=_optional_int(
            summary.get("cycleTime"), "operationSummary.cycleTime"
        ),
        consumed_serials=_serials(
            summary.get("consumedSerials"), "operationSummary.consumedSerials"
        ),
        produced_serial=end_state.get("producedSerial"),
        end_at=_optional_time(end_state.get("at"), f"{end_field}.at"),
        station=_name(end_state.get("station"), f"{end_field}.station"),
        operator=_name(end_state.get("operator"), f"{end_field}.operator"),
        reserved_serial=payload.get("reservedSerialNumber"),
        secondary_external_order_id=payload.get("secondaryExternalOrderId"),
        wip=bool(payload.get("wip")),
    )


def parse_operation(payload):
    """Normalise an Operation object into an OperationInfo."""
    payload = _object(payload, "")
    codes = payload.get("externalCodes") or ()
    if not isinstance(codes, list | tuple):
        raise PayloadError("externalCodes", "expected an array")
    return OperationInfo(
        id=str(_required(payload, "id")),
        name=str(_required(payload, "name")),
        updated_at=parse_time(_required(payload, "updatedAt"), "updatedAt"),
        external_id=payload.get("externalId"),
        external_revision=payload.get("externalRevision"),
        external_codes=tuple(code for code in codes if code),
        template_id=payload.get("templateID"),
        variant_name=payload.get("variantName"),
        consumed_serials=_serials(payload.get("consumedSerials"), "consumedSerials"),
        archived_at=_optional_time(payload.get("archivedAt"), "archivedAt"),
    )
