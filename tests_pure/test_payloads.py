"""Unwrapping and normalising Pico payloads."""

import json
from datetime import datetime, timezone

import pytest

from core.errors import PayloadError
from core.payloads import (
    Completion,
    ConsumedSerial,
    parse_completion,
    parse_operation,
    parse_time,
    unwrap,
)

STREAM = "operationOrderCompletesStream"


def _completion():
    return {
        "externalOrderId": "WH/MO/00042#17",
        "orderIndex": 2,
        "at": "2025-01-15T10:42:07Z",
        "operation": {
            "id": "op-drone",
            "externalId": "DRONE-100",
            "externalRevision": "A",
            "name": "Pico Demo Drone",
        },
        "operationSummary": {
            "startedAt": "2025-01-15T10:31:55.250Z",
            "cycleTime": 612000,
            "consumedSerials": [
                {
                    "id": "attr-motor",
                    "externalId": "MOTOR-220",
                    "value": "M-981",
                },
                {"id": "attr-fc", "externalId": "FC-330", "value": "FC-12"},
            ],
        },
        "endState": {
            "producedSerial": "D-4512",
            "at": "2025-01-15T10:42:06Z",
            "station": {"name": "Line 1 / St 3"},
            "operator": {"name": "Dana Ruiz"},
        },
        "reservedSerialNumber": "R-1",
        "secondaryExternalOrderId": "SO-9",
        "wip": False,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-15T10:42:07Z", datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc)),
        ("2025-01-15t10:42:07z", datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc)),
        (
            "2025-01-15T12:42:07+02:00",
            datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc),
        ),
        (
            "2025-01-15T10:42:07.043Z",
            datetime(2025, 1, 15, 10, 42, 7, 43000, tzinfo=timezone.utc),
        ),
        (
            "2025-01-15T10:42:07.123456789Z",
            datetime(2025, 1, 15, 10, 42, 7, 123456, tzinfo=timezone.utc),
        ),
    ],
)
def test_parse_time_returns_aware_utc(text, expected):
    """Zones are applied, fractions kept to the microsecond."""
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "text",
    ["2025-01-15T10:42:07", "2025-01-15", "yesterday", "2025-02-30T10:00:00Z", 17],
)
def test_parse_time_rejects_naive_and_invalid(text):
    """No zone, no date or an impossible date is an error naming the field."""
    with pytest.raises(PayloadError) as info:
        parse_time(text, "operationSummary.startedAt")
    assert info.value.field == "operationSummary.startedAt"


def test_parse_time_accepts_aware_datetime_only():
    """A datetime passes through as UTC; a naive one is refused."""
    aware = datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc)
    assert parse_time(aware) is not None
    with pytest.raises(PayloadError):
        parse_time(datetime(2025, 1, 15, 10, 42, 7))  # noqa: DTZ001 - the point


def test_unwrap_wrapped_and_bare_agree():
    """Pico's two possible body styles give the same event."""
    event = _completion()
    assert unwrap({"data": {STREAM: event}}, STREAM) == event
    assert unwrap(event, STREAM) == event


def test_unwrap_parses_bytes_and_text():
    """A raw request body is accepted as bytes or str."""
    event = _completion()
    raw = json.dumps({"data": {STREAM: event}})
    assert unwrap(raw.encode(), STREAM) == event
    assert unwrap(raw, STREAM) == event


def test_unwrap_wrong_stream_names_the_field():
    """An Operation event sent to the completion door is refused with a path."""
    with pytest.raises(PayloadError) as info:
        unwrap({"data": {"operationsStream": {"id": "x"}}}, STREAM)
    assert info.value.field == f"data.{STREAM}"
    assert "operationsStream" in info.value.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", ""),
        (b"[1, 2]", ""),
        ({"errors": [{"message": "boom"}]}, "errors"),
        ({"data": None}, "data"),
        ({"data": {STREAM: None}}, f"data.{STREAM}"),
    ],
)
def test_unwrap_rejects_bad_bodies(body, field):
    """Bodies that carry no event are refused."""
    with pytest.raises(PayloadError) as info:
        unwrap(body, STREAM)
    assert info.value.field == field


def test_parse_completion_flattens_everything():
    """Every field the processor uses lands in the dataclass."""
    completion = parse_completion(_completion())
    assert completion == Completion(
        external_order_id="WH/MO/00042#17",
        order_index=2,
        at=datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc),
        operation_id="op-drone",
        operation_external_id="DRONE-100",
        operation_revision="A",
        operation_name="Pico Demo Drone",
        started_at=datetime(2025, 1, 15, 10, 31, 55, 250000, tzinfo=timezone.utc),
        cycle_time_ms=612000,
        consumed_serials=(
            ConsumedSerial("MOTOR-220", "M-981", "attr-motor"),
            ConsumedSerial("FC-330", "FC-12", "attr-fc"),
        ),
        produced_serial="D-4512",
        end_at=datetime(2025, 1, 15, 10, 42, 6, tzinfo=timezone.utc),
        station="Line 1 / St 3",
        operator="Dana Ruiz",
        reserved_serial="R-1",
        secondary_external_order_id="SO-9",
        wip=False,
    )


def test_parse_completion_minimal():
    """Only externalOrderId, at and operationSummary are needed."""
    completion = parse_completion(
        {"externalOrderId": "X#1", "at": "2025-01-15T10:42:07Z", "operationSummary": {}}
    )
    assert completion.order_index is None
    assert completion.consumed_serials == ()
    assert completion.operation_id is None
    assert completion.produced_serial is None
    assert completion.wip is False


def test_parse_completion_reads_older_nested_end_state():
    """The older snapshot nests endState in operationSummary."""
    payload = _completion()
    end_state = payload.pop("endState")
    payload["operationSummary"]["endState"] = end_state
    payload["wip"] = True
    completion = parse_completion(payload)
    assert completion.produced_serial == "D-4512"
    assert completion.operator == "Dana Ruiz"
    assert completion.wip is True


def test_parse_completion_accepts_integral_float_index():
    """JSON producers may write 2.0 for 2."""
    payload = _completion()
    payload["orderIndex"] = 2.0
    assert parse_completion(payload).order_index == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"externalOrderId": ""}, "externalOrderId"),
        ({"externalOrderId": None}, "externalOrderId"),
        ({"at": None}, "at"),
        ({"at": "2025-01-15 10:42"}, "at"),
        ({"orderIndex": "2"}, "orderIndex"),
        ({"orderIndex": True}, "orderIndex"),
        ({"orderIndex": -1}, "orderIndex"),
        ({"orderIndex": 1.5}, "orderIndex"),
        ({"operation": "op-drone"}, "operation"),
        ({"operationSummary": []}, "operationSummary"),
    ],
)
def test_parse_completion_errors_name_the_field(change, field):
    """Bad values raise PayloadError with the dotted path."""
    payload = _completion()
    payload.update(change)
    with pytest.raises(PayloadError) as info:
        parse_completion(payload)
    assert info.value.field == field


def test_parse_completion_nested_error_paths():
    """Errors deep in the summary carry the full path."""
    payload = _completion()
    payload["operationSummary"]["startedAt"] = "soon"
    with pytest.raises(PayloadError) as info:
        parse_completion(payload)
    assert info.value.field == "operationSummary.startedAt"
    payload = _completion()
    payload["operationSummary"]["consumedSerials"][1] = "FC-12"
    with pytest.raises(PayloadError) as info:
        parse_completion(payload)
    assert info.value.field == "operationSummary.consumedSerials.1"


def test_parse_operation():
    """An Operation becomes an OperationInfo with parsed times."""
    info = parse_operation(
        {
            "id": "op-old",
            "externalId": "OLD-1",
            "externalRevision": None,
            "externalCodes": ["OLD-1", None, "OLD-1B"],
            "name": "Old bracket",
            "templateID": "tpl-1",
            "variantName": "v2",
            "consumedSerials": [{"id": "attr-x", "externalId": "X-1"}],
            "updatedAt": "2025-02-01T08:00:00Z",
            "archivedAt": "2025-03-01T08:00:00+01:00",
        }
    )
    assert info.id == "op-old"
    assert info.external_codes == ("OLD-1", "OLD-1B")
    assert info.consumed_serials == (ConsumedSerial("X-1", None, "attr-x"),)
    assert info.updated_at == datetime(2025, 2, 1, 8, tzinfo=timezone.utc)
    assert info.archived_at == datetime(2025, 3, 1, 7, tzinfo=timezone.utc)
    assert info.archived is True
    assert (info.template_id, info.variant_name) == ("tpl-1", "v2")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "updatedAt": "2025-02-01T08:00:00Z"}, "id"),
        ({"id": "a", "updatedAt": "2025-02-01T08:00:00Z"}, "name"),
        ({"id": "a", "name": "A"}, "updatedAt"),
        ({"id": "a", "name": "A", "updatedAt": "x"}, "updatedAt"),
        (
            {
                "id": "a",
                "name": "A",
                "updatedAt": "2025-02-01T08:00:00Z",
                "archivedAt": 1,
            },
            "archivedAt",
        ),
    ],
)
def test_parse_operation_errors(payload, field):
    """Missing identity or bad times are refused with the field."""
    with pytest.raises(PayloadError) as info:
        parse_operation(payload)
    assert info.value.field == field
