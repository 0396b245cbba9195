"""JSON Schema validation of incoming event payloads."""

import functools
import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from .errors import PayloadError
from .payloads import parse_time

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
KINDS = (
    "completion",
    "operation",
    "scrap",
    "downtime",
    "quality",
    "consumption",
    "note",
)

# Our own date-time check, so validation does not depend on the optional package
# jsonschema needs for "date-time" and matches exactly what payloads.parse_time reads.
FORMAT_CHECKER = FormatChecker(formats=())
_MILLISECONDS = re.compile(r"[Tt ]\d{2}:\d{2}:\d{2}\.\d{3}")


@FORMAT_CHECKER.checks("date-time", raises=PayloadError)
def _is_date_time(value):
    if not isinstance(value, str):
        return True
    parse_time(value)
    return True


@FORMAT_CHECKER.checks("date-time-ms", raises=PayloadError)
def _is_date_time_ms(value):
    # Quality results are ordered by their timestamp; seconds are too coarse for
    # inspections that run several times a second.
    if not isinstance(value, str):
        return True
    parse_time(value)
    if not _MILLISECONDS.search(value):
        raise PayloadError("", "timestamp needs at least millisecond precision")
    return True


def load_schema(kind):
    """Return the parsed JSON Schema for an event kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown payload kind {kind!r}; expected one of {KINDS}")
    with (SCHEMA_DIR / f"{kind}.json").open(encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def validator(kind):
    """Return a (cached) Draft 2020-12 validator for an event kind."""
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _missing_alternatives(error):
    """Return the names an anyOf of `required` branches asks for, or None."""
    if error.validator != "anyOf" or not error.context:
        return None
    if any(sub.validator != "required" for sub in error.context):
        return None
    names = []
    for sub in error.context:
        names.extend(key for key in sub.validator_value if key not in names)
    return names


def _field(error):
    path = [str(part) for part in error.absolute_path]
    alternatives = _missing_alternatives(error)
    if alternatives:
        # "externalOrderId or productionRef": point at the first, the message
        # names them all.
        return ".".join([*path, alternatives[0]])
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing property itself, not the object that lacks it.
        missing = [key for key in error.validator_value if key not in error.instance]
        if missing:
            path.append(str(missing[0]))
    return ".".join(path)


def _message(error):
    alternatives = _missing_alternatives(error)
    if alternatives:
        return f"one of {', '.join(alternatives)} is required"
    if error.validator == "required":
        return "is required"
    if error.validator == "format" and isinstance(error.cause, PayloadError):
        return error.cause.message
    return error.message


def validate(kind, payload):
    """Raise PayloadError naming the dotted path of the best error, if any."""
    error = best_match(validator(kind).iter_errors(payload))
    if error is not None:
        raise PayloadError(_field(error), _message(error))


# --- A fast check of catalogue rows -------------------------------------------
# jsonschema takes about 0.1 ms per operation row (seconds for a 50,000-row
# catalogue, more than writing it). `operation_row_valid` checks what
# schemas/operation.json asks for in plain Python; it may only say True for a
# row the schema accepts (tests_pure/test_schemas.py checks this on generated
# rows), and anything it does not accept goes through `validate`.
_OPERATION_NULLABLE_STRINGS = (
    "externalId",
    "externalRevision",
    "templateID",
    "variantName",
)
_SERIAL_NULLABLE_STRINGS = ("id", "externalId", "value")


def _is_time(value):
    if not isinstance(value, str):
        return False
    try:
        parse_time(value)
    except PayloadError:
        return False
    return True


def _nullable_strings(item, names):
    for name in names:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            return False
    return True


def operation_row_valid(row):
    """True only if `row` passes the operation schema; False: ask `validate`."""
    if not isinstance(row, dict):
        return False
    pico_id, name = row.get("id"), row.get("name")
    if not isinstance(pico_id, str) or not pico_id or not isinstance(name, str):
        return False
    if not _is_time(row.get("updatedAt")):
        return False
    archived = row.get("archivedAt")
    if archived is not None and not _is_time(archived):
        return False
    if not _nullable_strings(row, _OPERATION_NULLABLE_STRINGS):
        return False
    codes = row.get("externalCodes")
    if codes is not None:
        if not isinstance(codes, list):
            return False
        if any(code is not None and not isinstance(code, str) for code in codes):
            return False
    serials = row.get("consumedSerials")
    if not isinstance(serials, list):
        return False
    for serial in serials:
        if not isinstance(serial, dict):
            return False
        if not _nullable_strings(serial, _SERIAL_NULLABLE_STRINGS):
            return False
    if "eventId" in row:
        event_id = row["eventId"]
        if not isinstance(event_id, str) or not event_id:
            return False
    return True
