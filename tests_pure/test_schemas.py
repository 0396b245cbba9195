"""JSON Schemas of incoming events and the PayloadError paths they produce."""

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from core import schemas
from core.errors import PayloadError

VALID = {
    "completion": {
        "externalOrderId": "WH/MO/00042#17",
        "orderIndex": 0,
        "at": "2025-01-15T10:42:07Z",
        "operation": {"id": "op-drone", "externalId": "DRONE-100", "name": "Drone"},
        "operationSummary": {
            "startedAt": "2025-01-15T10:31:55Z",
            "cycleTime": 612000,
            "consumedSerials": [
                {"id": "attr-motor", "externalId": "MOTOR-220", "value": "M-981"}
            ],
        },
        "endState": {
            "producedSerial": "D-4512",
            "at": "2025-01-15T10:42:07Z",
            "station": {"name": "St 3"},
            "operator": {"name": "Dana"},
        },
    },
    "operation": {
        "id": "op-drone",
        "name": "Pico Demo Drone",
        "externalId": "DRONE-100",
        "externalRevision": "A",
        "externalCodes": ["DRONE-100"],
        "consumedSerials": [{"id": "attr-fc", "externalId": "FC-330"}],
        "updatedAt": "2025-02-01T08:00:00Z",
        "archivedAt": None,
    },
    "scrap": {
        "externalOrderId": "WH/MO/00042#17",
        "partNumber": "DRONE-100",
        "quantity": 1,
        "reasonCode": "CRACKED",
        "at": "2025-01-15T10:42:07Z",
    },
    "downtime": {
        "workcenterCode": "WC-ASSY",
        "reasonCode": "NO-MATERIAL",
        "start": "2025-01-15T10:00:00Z",
        "end": "2025-01-15T10:20:00Z",
    },
    "quality": {
        "serial": "D-4512",
        "timestamp": "2025-01-15T10:42:07.123Z",
        "result": "fail",
        "defectClass": "scratch",
        "defectLocation": "arm-2",
        "confidence": 0.93,
    },
    "consumption": {
        "externalOrderId": "WH/MO/00042#17",
        "partNumber": "SCREW-M3",
        "quantity": 12.5,
        "lot": "LOT-7",
    },
    # Pico does not document a note's fields: any non-empty object is stored.
    "note": {"text": "Torque checked twice", "serial": "DR-1"},
}
MQTT_KINDS = ("scrap", "downtime", "quality", "consumption")


def _error(kind, payload):
    with pytest.raises(PayloadError) as info:
        schemas.validate(kind, payload)
    return info.value


def _changed(kind, **changes):
    payload = copy.deepcopy(VALID[kind])
    for key, value in changes.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_schema_files_are_valid_draft_2020_12(kind):
    """Each schema file is itself a valid Draft 2020-12 schema."""
    schema = json.loads((schemas.SCHEMA_DIR / f"{kind}.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_valid_examples_pass(kind):
    """A well-formed payload of each kind validates."""
    schemas.validate(kind, VALID[kind])


def test_unknown_kind_is_a_programming_error():
    """Only the seven known kinds exist."""
    with pytest.raises(ValueError, match="unknown payload kind"):
        schemas.validate("memo", {})


def test_completion_minimal_and_extra_fields_pass():
    """Pico may omit optional parts and add fields we do not know yet."""
    schemas.validate(
        "completion",
        {
            "externalOrderId": "X#1",
            "at": "2025-01-15T10:42:07+02:00",
            "orderIndex": None,
            "operationSummary": {"startedAt": None, "consumedSerials": None},
            "endState": None,
            "brandNewField": {"anything": True},
        },
    )


@pytest.mark.parametrize(
    ("kind", "missing", "field"),
    [
        ("completion", "externalOrderId", "externalOrderId"),
        ("completion", "at", "at"),
        ("completion", "operationSummary", "operationSummary"),
        ("operation", "updatedAt", "updatedAt"),
        ("operation", "consumedSerials", "consumedSerials"),
        ("scrap", "reasonCode", "reasonCode"),
        ("downtime", "start", "start"),
        ("quality", "result", "result"),
        ("consumption", "partNumber", "partNumber"),
    ],
)
def test_missing_required_names_the_property(kind, missing, field):
    """A missing property is reported at its own path, not its parent's."""
    error = _error(kind, _changed(kind, **{missing: ...}))
    assert error.field == field
    assert error.message == "is required"


@pytest.mark.parametrize("missing", ["externalId", "value"])
def test_missing_nested_required_has_dotted_path(missing):
    """Deep required errors carry the full dotted path with the array index."""
    payload = copy.deepcopy(VALID["completion"])
    payload["operationSummary"]["consumedSerials"].append({"externalId": "FC-330"})
    payload["operationSummary"]["consumedSerials"][1] = {
        "externalId": "FC-330",
        "value": "FC-1",
    }
    del payload["operationSummary"]["consumedSerials"][1][missing]
    error = _error("completion", payload)
    assert error.field == f"operationSummary.consumedSerials.1.{missing}"
    assert str(error) == f"operationSummary.consumedSerials.1.{missing}: is required"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"externalOrderId": ""}, "externalOrderId"),
        ({"externalOrderId": 42}, "externalOrderId"),
        ({"orderIndex": -1}, "orderIndex"),
        ({"orderIndex": "0"}, "orderIndex"),
        ({"at": "2025-01-15T10:42:07"}, "at"),
        ({"at": "2025-13-01T10:42:07Z"}, "at"),
        ({"operationSummary": None}, "operationSummary"),
        ({"operation": []}, "operation"),
        ({"eventId": 7}, "eventId"),
    ],
)
def test_completion_bad_values(changes, field):
    """Wrong types and bad timestamps are refused at their path."""
    assert _error("completion", _changed("completion", **changes)).field == field


def test_completion_timestamp_message_is_readable():
    """A date-time error says what is wrong with the value."""
    error = _error("completion", _changed("completion", at="2025-01-15 10:42"))
    assert "RFC 3339" in error.message


def test_completion_nested_bad_values():
    """Nested timestamps and serial values are checked too."""
    payload = copy.deepcopy(VALID["completion"])
    payload["endState"]["at"] = "later"
    assert _error("completion", payload).field == "endState.at"
    payload = copy.deepcopy(VALID["completion"])
    payload["operationSummary"]["consumedSerials"][0]["value"] = ""
    assert (
        _error("completion", payload).field
        == "operationSummary.consumedSerials.0.value"
    )
    payload = copy.deepcopy(VALID["completion"])
    payload["operationSummary"]["cycleTime"] = -5
    assert _error("completion", payload).field == "operationSummary.cycleTime"


def test_operation_bad_values():
    """A production version needs an id, a real time and an array of serials."""
    assert _error("operation", _changed("operation", id="")).field == "id"
    assert (
        _error("operation", _changed("operation", archivedAt="x")).field == "archivedAt"
    )
    error = _error("operation", _changed("operation", consumedSerials=None))
    assert error.field == "consumedSerials"


def test_scrap_accepts_production_ref_instead_of_order_id():
    """Scrap can reference the MO by name when Pico's order id is unknown."""
    schemas.validate(
        "scrap", _changed("scrap", externalOrderId=..., productionRef="WH/MO/00042")
    )


def test_scrap_without_any_order_reference():
    """Neither reference: the error names both alternatives."""
    error = _error("scrap", _changed("scrap", externalOrderId=...))
    assert error.field == "externalOrderId"
    assert "productionRef" in error.message


@pytest.mark.parametrize("quantity", [0, -1, "1"])
def test_scrap_quantity_must_be_positive_number(quantity):
    """Zero, negative or text quantities are refused."""
    assert _error("scrap", _changed("scrap", quantity=quantity)).field == "quantity"


def test_downtime_open_and_bad_end():
    """A stop still running has no end; a bad end is refused."""
    schemas.validate("downtime", _changed("downtime", end=...))
    schemas.validate("downtime", _changed("downtime", end=None))
    assert _error("downtime", _changed("downtime", end="soon")).field == "end"


def test_quality_pass_needs_no_defect():
    """A passed inspection of a batch carries no defect."""
    payload = {"batchId": "B-1", "timestamp": "2025-01-15T10:42:07.500Z"}
    schemas.validate("quality", {**payload, "result": "pass"})


@pytest.mark.parametrize("result", ["fail", "review"])
def test_quality_fail_or_review_needs_defect_class(result):
    """A failed or doubtful inspection must say what was found."""
    error = _error("quality", _changed("quality", result=result, defectClass=...))
    assert error.field == "defectClass"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"result": "maybe"}, "result"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": -0.1}, "confidence"),
        ({"timestamp": "2025-01-15T10:42:07Z"}, "timestamp"),
        ({"timestamp": "2025-01-15T10:42:07.12Z"}, "timestamp"),
        ({"serial": ...}, "serial"),
    ],
)
def test_quality_bad_values(changes, field):
    """Result, confidence, millisecond timestamp and an identity are enforced."""
    assert _error("quality", _changed("quality", **changes)).field == field


def test_quality_timestamp_message_mentions_milliseconds():
    """The millisecond rule explains itself."""
    error = _error("quality", _changed("quality", timestamp="2025-01-15T10:42:07Z"))
    assert "millisecond" in error.message


@pytest.mark.parametrize("kind", MQTT_KINDS)
def test_mqtt_kinds_accept_optional_event_id(kind):
    """Every MQTT event may carry its own eventId string."""
    schemas.validate(kind, _changed(kind, eventId="evt-0001"))
    assert _error(kind, _changed(kind, eventId=17)).field == "eventId"
    assert _error(kind, _changed(kind, eventId="")).field == "eventId"


def test_consumption_bad_values():
    """Consumption needs a positive quantity and a part number."""
    assert (
        _error("consumption", _changed("consumption", quantity=0)).field == "quantity"
    )
    error = _error("consumption", _changed("consumption", partNumber=""))
    assert error.field == "partNumber"


@pytest.mark.parametrize("payload", [None, [], "text", 3])
def test_non_object_payload(payload):
    """A payload that is not an object is refused at the root."""
    error = _error("completion", payload)
    assert error.field == ""


# --- The fast check of catalogue rows -------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "2025-01-01T00:00:00Z", "2025-13-01T00:00:00Z"]),
    st.lists(st.none(), max_size=1),
    st.dictionaries(st.just("id"), st.none(), max_size=1),
)
_TIME = st.one_of(
    st.sampled_from(
        [
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00.123456789+02:00",
            "2025-01-01 00:00:00z",
            "2025-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    ),
    _ANY,
)


_BAD_TIME = st.one_of(
    st.sampled_from(
        [
            "2025-01-01 00:00:00z",
            "2025-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    ),
    _ANY,
)
_GOOD_TIME = st.sampled_from(
    ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00.123456789+02:00"]
)
_TEXT = st.one_of(st.none(), st.text(max_size=3))
_SERIAL = st.fixed_dictionaries(
    {}, optional={"id": _TEXT, "externalId": _TEXT, "value": _TEXT, "other": _ANY}
)
# Rows the schema accepts...
_VALID_ROW = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=3),
        "name": st.text(max_size=3),
        "updatedAt": _GOOD_TIME,
        "consumedSerials": st.lists(_SERIAL, max_size=3),
    },
    optional={
        "archivedAt": st.one_of(st.none(), _GOOD_TIME),
        "externalId": _TEXT,
        "externalRevision": _TEXT,
        "externalCodes": st.one_of(st.none(), st.lists(_TEXT, max_size=3)),
        "templateID": _TEXT,
        "variantName": _TEXT,
        "eventId": st.text(min_size=1, max_size=3),
        "extra": _ANY,
    },
)
_FIELDS = (
    "id",
    "name",
    "updatedAt",
    "archivedAt",
    "externalId",
    "externalRevision",
    "externalCodes",
    "templateID",
    "variantName",
    "consumedSerials",
    "eventId",
)


@st.composite
def _rows(draw):
    """...and the same with up to two fields spoilt, dropped or oddly filled."""
    row = draw(_VALID_ROW)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(_FIELDS))
        how = draw(st.sampled_from(["drop", "any", "time", "serial", "code"]))
        if how == "drop":
            row.pop(name, None)
        elif how == "any":
            row[name] = draw(_ANY)
        elif how == "time":
            row[name] = draw(_BAD_TIME)
        elif how == "serial":
            serials = row.get("consumedSerials")
            if isinstance(serials, list) and serials and isinstance(serials[0], dict):
                key = draw(st.sampled_from(["id", "externalId", "value"]))
                serials[0][key] = draw(_ANY)
        elif how == "code":
            row["externalCodes"] = [draw(_ANY)]
    return row


def _schema_accepts(row):
    try:
        schemas.validate("operation", row)
    except PayloadError:
        return False
    return True


@hypothesis.settings(max_examples=800, deadline=None)
@hypothesis.given(st.one_of(_rows(), _ANY))
def test_fast_operation_check_never_accepts_what_the_schema_refuses(row):
    """operation_row_valid says True only for rows the JSON Schema accepts."""
    fast = schemas.operation_row_valid(row)
    if fast:
        assert _schema_accepts(row), row
    hypothesis.target(float(fast))


def test_fast_operation_check_accepts_catalogue_rows():
    """The rows Pico sends (the simulator's catalogue) take the fast path."""
    fixture = json.loads(
        (
            __import__("pathlib").Path(__file__).resolve().parents[1]
            / "simulator"
            / "fixtures"
            / "default.json"
        ).read_text()
    )
    for row in fixture["operations"]:
        assert _schema_accepts(row)
        assert schemas.operation_row_valid(row), row
    row = copy.deepcopy(fixture["operations"][0])
    row["consumedSerials"].append({"id": 3})
    assert not schemas.operation_row_valid(row)
    assert not _schema_accepts(row)
