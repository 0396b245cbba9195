"""The documents of the documented minimum, and what the fragments select.

tests_pure/test_contract.py validates every document against every schema profile.
"""

import fragments
import pytest
from graphql import execute, parse, validate
from graphql.language import FieldNode, FragmentDefinitionNode, InlineFragmentNode

from core import documents, features, payloads, schemas
from simulator import profiles


@pytest.fixture(scope="module")
def schema():
    """The simulator's default schema: what Pico documents."""
    return profiles.build_profile_schema("documented")


@pytest.fixture(scope="module")
def full_schema():
    return profiles.build_profile_schema("full")


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
    document = fragments.stream_subscription(fragment)
    assert document.startswith(f"subscription {{ {stream} {{ ...")
    assert _errors(schema, document) == []


def test_unknown_field_fails_validation(schema):
    """The validation used above does reject a document Pico would refuse."""
    bad = documents.SAVE_ORDER_MUTATION.replace("{ message }", "{ message orderId }")
    errors = _errors(schema, bad)
    assert len(errors) == 1
    assert "orderId" in errors[0]


def test_fragment_on_wrong_type_fails_validation(full_schema):
    """A fragment that selects a field its type lacks is rejected."""
    bad = documents.OPERATION_FRAGMENT.replace("archivedAt", "archivedAt wip")
    assert any(
        "wip" in error
        for error in _errors(full_schema, fragments.stream_subscription(bad))
    )


def test_label_on_attribute_fails_validation(full_schema):
    """The field this issue removed is not in any profile."""
    bad = documents.OPERATION_FRAGMENT.replace("id externalId", "id externalId label")
    assert any(
        "label" in error
        for error in _errors(full_schema, fragments.stream_subscription(bad))
    )


COMPLETION_MINIMUM = {
    "externalOrderId",
    "orderIndex",
    "at",
    "operation",
    "operation.id",
    "operation.externalId",
    "operation.externalRevision",
    "operation.name",
    "operationSummary",
    "operationSummary.startedAt",
    "operationSummary.consumedSerials",
    "operationSummary.consumedSerials.id",
    "operationSummary.consumedSerials.externalId",
    "operationSummary.consumedSerials.value",
    "endState",
    "endState.producedSerial",
}
COMPLETION_OPTIONAL = {
    "reservedSerialNumber",
    "secondaryExternalOrderId",
    "wip",
    "operationSummary.cycleTime",
    "endState.at",
    "endState.station",
    "endState.station.name",
    "endState.operator",
    "endState.operator.name",
}
OPERATION_MINIMUM = {
    "id",
    "externalId",
    "externalRevision",
    "name",
    "templateID",
    "variantName",
    "consumedSerials",
    "consumedSerials.id",
    "consumedSerials.externalId",
    "updatedAt",
    "archivedAt",
}


def test_completion_fragment_minimum_and_with_every_feature():
    """Pico only sends what the fragment selects: the minimum is the documented
    fields we read; each optional field comes with its feature, and nothing else."""
    assert _fragment_paths(documents.COMPLETION_FRAGMENT) == COMPLETION_MINIMUM
    assert (
        _fragment_paths(features.completion_fragment(features.ALL))
        == COMPLETION_MINIMUM | COMPLETION_OPTIONAL
    )
    cycle = features.completion_fragment({features.CYCLE_TIME})
    assert _fragment_paths(cycle) == COMPLETION_MINIMUM | {"operationSummary.cycleTime"}


def test_operation_fragment_minimum_and_with_every_feature():
    """The production-version fragment carries the mapping keys and serial slots;
    no label (Pico documents none on Attribute)."""
    assert _fragment_paths(documents.OPERATION_FRAGMENT) == OPERATION_MINIMUM
    assert _fragment_paths(features.operation_fragment(features.ALL)) == (
        OPERATION_MINIMUM | {"externalCodes"}
    )


@pytest.mark.parametrize("name", ["save_order", "cancel_order"])
def test_order_mutations_select_only_message(name):
    """Only `message` is documented on the order mutations."""
    (operation,) = parse(documents.ALL_DOCUMENTS[name]).definitions
    (root_field,) = operation.selection_set.selections
    assert _paths(root_field.selection_set) == {"message"}
    assert [v.variable.name.value for v in operation.variable_definitions] == ["input"]


def _fragment_result(schema, fragment, event):
    """Run a fragment as the simulator does: a stream subscription over one event."""
    stream = fragments.stream_field(fragment)
    result = execute(
        schema, parse(fragments.stream_subscription(fragment)), {stream: event}
    )
    assert result.errors is None
    return {"data": result.data}


@pytest.mark.parametrize("profile", ["documented", "full"])
def test_completion_fragment_result_passes_schema_and_parser(
    profile, schema, full_schema
):
    """What Pico sends for our fragment unwraps, validates and parses; operator
    and cycle time only when the fragment asked for them."""
    with_features = profile == "full"
    schema = full_schema if with_features else schema
    fragment = features.completion_fragment(features.ALL if with_features else ())
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
    body = _fragment_result(schema, fragment, event)
    completion = payloads.unwrap(body, documents.COMPLETION_STREAM)
    assert "internalField" not in completion
    schemas.validate("completion", completion)
    parsed = payloads.parse_completion(completion)
    assert (parsed.external_order_id, parsed.order_index) == ("WH/MO/00042#17", 1)
    assert parsed.consumed_serials[0].value == "M-1"
    if with_features:
        assert (parsed.produced_serial, parsed.operator) == ("D-1", "Dana")
        assert (parsed.station, parsed.cycle_time_ms) == ("St 3", 612000)
    else:
        assert (parsed.produced_serial, parsed.operator) == ("D-1", None)
        assert (parsed.station, parsed.cycle_time_ms) == (None, None)


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
