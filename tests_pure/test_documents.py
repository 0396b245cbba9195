"""Every GraphQL document the addon sends validates against the simulator's schema."""

from pathlib import Path

import pytest
from graphql import build_schema, execute, parse, validate
from graphql.language import FieldNode, FragmentDefinitionNode, InlineFragmentNode

from core import documents, payloads, schemas

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "simulator" / "schema.graphql"


@pytest.fixture(scope="module")
def schema():
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


def _errors(schema, source):
    return [error.message for error in validate(schema, parse(source))]


def _paths(selection_set, prefix=""):
    """Return the dotted field paths a selection set asks for."""
    found = set()
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            found |= _paths(selection.selection_set, prefix)
            continue
        assert isinstance(selection, FieldNode)
        path = f"{prefix}{selection.name.value}"
        found.add(path)
        if selection.selection_set:
            found |= _paths(selection.selection_set, f"{path}.")
    return found


def _fragment_paths(fragment):
    (definition,) = parse(fragment).definitions
    assert isinstance(definition, FragmentDefinitionNode)
    return _paths(definition.selection_set)


@pytest.mark.parametrize("name", sorted(documents.ALL_DOCUMENTS))
def test_document_validates(schema, name):
    """Each document in ALL_DOCUMENTS is valid against schema.graphql."""
    assert _errors(schema, documents.ALL_DOCUMENTS[name]) == []


def test_all_documents_lists_every_module_constant():
    """No document constant is left out of ALL_DOCUMENTS (and so untested)."""
    constants = {
        value
        for name, value in vars(documents).items()
        if name.endswith(("_QUERY", "_MUTATION"))
    }
    assert constants == set(documents.ALL_DOCUMENTS.values())


@pytest.mark.parametrize(
    ("fragment", "stream"),
    [
        (documents.COMPLETION_FRAGMENT, "operationOrderCompletesStream"),
        (documents.OPERATION_FRAGMENT, "operationsStream"),
    ],
    ids=["completion", "operation"],
)
def test_fragment_validates_in_its_stream(schema, fragment, stream):
    """Webhook fragments validate when wrapped in their subscription."""
    document = documents.stream_subscription(fragment)
    assert document.startswith(f"subscription {{ {stream} {{ ...")
    assert _errors(schema, document) == []


def test_unknown_field_fails_validation(schema):
    """The validation used above does reject a document Pico would refuse."""
    bad = documents.SAVE_ORDER_MUTATION.replace("{ message }", "{ message orderId }")
    errors = _errors(schema, bad)
    assert len(errors) == 1
    assert "orderId" in errors[0]


def test_fragment_on_wrong_type_fails_validation(schema):
    """A fragment that selects a field its type lacks is rejected."""
    bad = documents.OPERATION_FRAGMENT.replace("archivedAt", "archivedAt wip")
    assert any(
        "wip" in error for error in _errors(schema, documents.stream_subscription(bad))
    )


def test_completion_fragment_asks_for_every_field_we_use():
    """Pico only sends what the fragment selects, so nothing we read may be missing."""
    expected = {
        "externalOrderId",
        "orderIndex",
        "at",
        "reservedSerialNumber",
        "secondaryExternalOrderId",
        "wip",
        "operation.id",
        "operation.externalId",
        "operation.externalRevision",
        "operation.name",
        "operationSummary.startedAt",
        "operationSummary.cycleTime",
        "operationSummary.consumedSerials.id",
        "operationSummary.consumedSerials.externalId",
        "operationSummary.consumedSerials.value",
        "operationSummary.consumedSerials.label",
        "endState.producedSerial",
        "endState.at",
        "endState.station.name",
        "endState.operator.name",
    }
    assert expected <= _fragment_paths(documents.COMPLETION_FRAGMENT)


def test_operation_fragment_asks_for_every_field_we_use():
    """The production-version fragment carries the mapping keys and serial slots."""
    expected = {
        "id",
        "externalId",
        "externalRevision",
        "externalCodes",
        "name",
        "templateID",
        "variantName",
        "consumedSerials.id",
        "consumedSerials.externalId",
        "consumedSerials.label",
        "updatedAt",
        "archivedAt",
    }
    assert expected <= _fragment_paths(documents.OPERATION_FRAGMENT)


@pytest.mark.parametrize("name", ["save_order", "cancel_order"])
def test_order_mutations_select_only_message(name):
    """Only `message` is documented on the order mutations."""
    (operation,) = parse(documents.ALL_DOCUMENTS[name]).definitions
    (root_field,) = operation.selection_set.selections
    assert _paths(root_field.selection_set) == {"message"}
    assert [v.variable.name.value for v in operation.variable_definitions] == ["input"]


def test_fragment_head_and_stream_field():
    """The type condition of a fragment picks the stream it follows."""
    assert documents.fragment_head(documents.COMPLETION_FRAGMENT) == (
        "PicoCompletion",
        "OperationOrderComplete",
    )
    assert documents.stream_field(documents.OPERATION_FRAGMENT) == "operationsStream"
    with pytest.raises(ValueError, match="Station"):
        documents.stream_field("fragment S on Station { name }")
    with pytest.raises(ValueError, match="not a GraphQL fragment"):
        documents.fragment_head("query { operations { id } }")


def _fragment_result(schema, fragment, event):
    """Run a fragment as the simulator does: a stream subscription over one event."""
    stream = documents.stream_field(fragment)
    result = execute(
        schema, parse(documents.stream_subscription(fragment)), {stream: event}
    )
    assert result.errors is None
    return {"data": result.data}


def test_completion_fragment_result_passes_schema_and_parser(schema):
    """What Pico sends for our fragment unwraps, validates and parses."""
    event = {
        "externalOrderId": "WH/MO/00042#17",
        "orderIndex": 1,
        "at": "2025-01-15T10:42:07Z",
        "operation": {"id": "op-drone", "externalId": "DRONE-100", "name": "Drone"},
        "operationSummary": {
            "startedAt": "2025-01-15T10:31:55Z",
            "cycleTime": 612000,
            "consumedSerials": [
                {"id": "attr-motor", "externalId": "MOTOR-220", "value": "M-1"}
            ],
        },
        "endState": {
            "producedSerial": "D-1",
            "station": {"name": "St 3"},
            "operator": {"name": "Dana"},
        },
        "internalField": "not selected, so not sent",
    }
    body = _fragment_result(schema, documents.COMPLETION_FRAGMENT, event)
    completion = payloads.unwrap(body, documents.COMPLETION_STREAM)
    assert "internalField" not in completion
    schemas.validate("completion", completion)
    parsed = payloads.parse_completion(completion)
    assert (parsed.external_order_id, parsed.order_index) == ("WH/MO/00042#17", 1)
    assert parsed.consumed_serials[0].value == "M-1"
    assert (parsed.produced_serial, parsed.operator) == ("D-1", "Dana")


def test_operation_fragment_result_passes_schema_and_parser(schema):
    """An Operation event selected by our fragment validates and parses."""
    event = {
        "id": "op-widget",
        "externalId": "WIDGET-1",
        "externalRevision": "A",
        "name": "Widget",
        "consumedSerials": [],
        "updatedAt": "2025-02-01T08:00:00Z",
    }
    body = _fragment_result(schema, documents.OPERATION_FRAGMENT, event)
    operation = payloads.unwrap(body, documents.OPERATION_STREAM)
    schemas.validate("operation", operation)
    info = payloads.parse_operation(operation)
    assert (info.id, info.external_revision, info.archived) == ("op-widget", "A", False)
