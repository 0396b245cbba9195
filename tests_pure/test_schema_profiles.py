"""The simulator's schema is a contract taken from pico-api.md, not a mirror of the
addon: its default profile serves exactly what Pico documents."""

import requests

from simulator import PicoSimulator, profiles
from simulator.__main__ import parse_args

# pico-api.md, field for field (section 2 and 3): the newer snapshot of each page,
# plus what a call cannot work without. A field added to the default profile must
# be added here too, with the line of pico-api.md that documents it.
DOCUMENTED_FIELDS = {
    # 2.6 Attribute: id, externalId, value (no label)
    "Attribute.id",
    "Attribute.externalId",
    "Attribute.value",
    # 2.2 Operation, newer snapshot
    "Operation.id",
    "Operation.externalId",
    "Operation.externalRevision",
    "Operation.externalCodes",
    "Operation.name",
    "Operation.templateID",
    "Operation.variantName",
    "Operation.consumedSerials",
    "Operation.updatedAt",
    "Operation.archivedAt",
    # 2.6 SubOperation (fields seen on subOperationsStream)
    "SubOperation.parentId",
    "SubOperation.subId",
    "SubOperation.subGroup",
    "SubOperation.updatedAt",
    # 2.6 State and OperationSummary: fields both guide snapshots show
    "State.producedSerial",
    "OperationSummary.startedAt",
    "OperationSummary.consumedSerials",
    # 2.5 OperationOrderComplete, newer snapshot
    "OperationOrderComplete.externalOrderId",
    "OperationOrderComplete.operation",
    "OperationOrderComplete.orderIndex",
    "OperationOrderComplete.at",
    "OperationOrderComplete.operationSummary",
    "OperationOrderComplete.endState",
    "OperationOrderComplete.reservedSerialNumber",
    "OperationOrderComplete.secondaryExternalOrderId",
    # 3.2 SubscriptionHandle
    "SubscriptionHandle.subscriptionId",
    "SubscriptionHandle.responseFragment",
    "SubscriptionHandle.webhookUrl",
    "SubscriptionHandle.createdAt",
    "SubscriptionHandle.lastEventAt",
    # 2.1 / FAQ: the order mutations answer an object with `message`
    "OperationOrderSaveResponse.message",
    "OperationOrderCancelResponse.message",
    # 2.3 OperationOrderSaveInput, newer snapshot (no reservedSerialNumber)
    "OperationOrderSaveInput.externalOrderId",
    "OperationOrderSaveInput.operationId",
    "OperationOrderSaveInput.orderIndex",
    "OperationOrderSaveInput.selectOptionalOperationIds",
    # 2.4 OperationOrderCancelInput
    "OperationOrderCancelInput.externalOrderId",
    "OperationOrderCancelInput.operationId",
    "OperationOrderCancelInput.orderIndex",
    "OperationOrderCancelInput.cancelAll",
    # 3.1 SubscribeRequest_Input
    "SubscribeRequest_Input.subscriptionID",
    "SubscribeRequest_Input.responseFragment",
    "SubscribeRequest_Input.webhookUrl",
    "SubscribeRequest_Input.webhookHeaders",
    # 2.1 root fields
    "Query.operations",
    "Query.subOperations",
    "Query.operationOrderCompletes",
    "Query.webhookSubscriptions",
    "Mutation.operationOrderSave",
    "Mutation.operationOrderCancel",
    "Mutation.webhookSubscribe",
    # 3.3 [INF] placeholder: registration cannot be undone without one
    "Mutation.webhookUnsubscribe",
    "Subscription.operationsStream",
    "Subscription.subOperationsStream",
    "Subscription.operationOrderCompletesStream",
}
# Only the older snapshot of a page shows these.
LEGACY_FIELDS = {
    "OperationOrderComplete.wip",
    "OperationSummary.cycleTime",
    "OperationSummary.endState",
    "State.at",
    "State.station",
    "State.operator",
    "Station.name",
    "Operator.name",
    "OperationOrderSaveInput.operationIndex",
    "OperationOrderSaveInput.selectGroupOperations",
}
# pico-api.md only infers these inputs (2.3); the note stream is documented (2.1)
# but its type is not, so its NoteEvent is the simulator's guess (a decision).
FULL_FIELDS = {
    "OperationOrderSaveInput.reservedSerialNumber",
    "OperationOrderSaveInput.secondaryExternalOrderId",
    "Subscription.noteEventsStream",
    *(
        f"NoteEvent.{name}"
        for name in (
            "id",
            "kind",
            "text",
            "externalOrderId",
            "orderIndex",
            "serial",
            "operator",
            "station",
            "createdAt",
        )
    ),
}

INTROSPECT_ALL = (
    """{ __schema { types { name fields { name } inputFields { name } } } }"""
)


def test_every_schema_element_has_one_source():
    """Each type, field and argument is annotated documented, inferred or decision."""
    found = profiles.annotations()
    assert found
    unannotated = [item.path for item in found if item.source is None]
    assert unannotated == []
    assert {item.profile for item in found} <= set(profiles.PROFILES)


def test_default_profile_serves_only_documented_or_inferred_fields():
    """The default profile serves no field (or argument) whose source is a decision
    or that belongs to another profile."""
    served = profiles.served_fields(profiles.build_profile_schema())
    by_path = {item.path: item for item in profiles.annotations()}
    for path in served:
        item = by_path[path]
        assert item.source in ("documented", "inferred"), path
        assert item.profile == "documented", path
    arguments = [
        item
        for item in by_path.values()
        if "(" in item.path and item.path.split("(")[0] in served
    ]
    assert arguments
    assert all(item.source in ("documented", "inferred") for item in arguments)


def test_profiles_field_for_field():
    """documented = pico-api.md's list; legacy and full add exactly their fields."""
    served = {
        name: profiles.served_fields(profiles.build_profile_schema(name))
        for name in profiles.PROFILES
    }
    assert profiles.DEFAULT_PROFILE == "documented"
    assert served["documented"] == DOCUMENTED_FIELDS
    assert served["legacy"] == DOCUMENTED_FIELDS | LEGACY_FIELDS
    assert served["full"] == DOCUMENTED_FIELDS | LEGACY_FIELDS | FULL_FIELDS
    assert not any(path.endswith(".label") for path in served["full"])


def _served_over_http(sim):
    response = requests.post(
        sim.url,
        json={"query": INTROSPECT_ALL},
        headers={"x-pico-api-org": sim.token},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    paths = set()
    for type_ in response.json()["data"]["__schema"]["types"]:
        if type_["name"].startswith("__"):
            continue
        for field in (type_["fields"] or []) + (type_["inputFields"] or []):
            paths.add(f"{type_['name']}.{field['name']}")
    return paths


def test_running_simulator_serves_its_profile(pico_sim):
    """What the default simulator serves over HTTP is the documented list; the
    profile can be switched at run time."""
    assert pico_sim.config()["schema_profile"] == "documented"
    assert _served_over_http(pico_sim) == DOCUMENTED_FIELDS
    pico_sim.configure(schema_profile="full")
    assert _served_over_http(pico_sim) == (
        DOCUMENTED_FIELDS | LEGACY_FIELDS | FULL_FIELDS
    )
    pico_sim.reset()
    assert pico_sim.config()["schema_profile"] == "documented"


def test_introspection_can_be_refused():
    """With introspection off, __type and __schema fail validation; the rest works."""
    with PicoSimulator(introspection=False) as sim:
        headers = {"x-pico-api-org": sim.token}
        refused = requests.post(
            sim.url,
            json={"query": '{ __type(name: "State") { name } }'},
            headers=headers,
            timeout=10,
        )
        assert refused.status_code == 400
        (error,) = refused.json()["errors"]
        assert "introspection" in error["message"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        answer = requests.post(
            sim.url,
            json={"query": "{ operations { __typename id } }"},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.json()["data"]["operations"]


def test_unknown_field_is_a_validation_error(pico_sim):
    """The issue's symptom, as the documented schema answers it."""
    response = requests.post(
        pico_sim.url,
        json={"query": "{ operations { consumedSerials { id label } } }"},
        headers={"x-pico-api-org": pico_sim.token},
        timeout=10,
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == "Cannot query field 'label' on type 'Attribute'."
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_command_line_options():
    """--schema-profile and --no-introspection reach the simulator."""
    args = parse_args([])
    assert (args.schema_profile, args.introspection) == ("documented", True)
    args = parse_args(["--schema-profile", "legacy", "--no-introspection"])
    assert (args.schema_profile, args.introspection) == ("legacy", False)
