"""Contract: every document the addon can send validates against every schema
profile, for the features the addon detects on that profile.

For each profile (documented, legacy, full) and introspection on and off, the
features are detected against a running simulator, as the backend does; then every
document and input the addon can build from those features (and from any subset of
them) is checked with graphql-core's `validate` and input coercion against that
profile's schema. The last test drives the client through every call against each
simulator and checks the simulator (which validates too) accepted all of them.
"""

import fragments
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    build_schema,
    graphql_sync,
    parse,
    print_schema,
    validate,
)

from core import documents, features
from core.client import PicoClient
from simulator import PicoSimulator, profiles

# What detection finds per profile (introspection on).
EXPECTED = {
    "documented": {
        features.RESERVED_SERIAL,
        features.SECONDARY_ORDER_ID,
        features.EXTERNAL_CODES,
    },
    "legacy": {
        features.RESERVED_SERIAL,
        features.SECONDARY_ORDER_ID,
        features.EXTERNAL_CODES,
        features.WIP,
        features.CYCLE_TIME,
        features.END_AT,
        features.STATION,
        features.OPERATOR,
    },
    # The simulator spells the webhook input SubscribeRequest_Input in every
    # profile; the other spelling is tested on its own below.
    "full": set(features.ALL) - {features.SUBSCRIBE_INPUT_SPELLING},
}
CASES = [
    (profile, introspection)
    for profile in profiles.PROFILES
    for introspection in (True, False)
]


def _id(case):
    profile, introspection = case
    return f"{profile}-{'introspection' if introspection else 'no-introspection'}"


@pytest.fixture(scope="module", params=CASES, ids=_id)
def detected(request):
    """(schema, detection, case) with the features detected over HTTP."""
    profile, introspection = request.param
    with (
        PicoSimulator(schema_profile=profile, introspection=introspection) as sim,
        PicoClient(sim.url, sim.token) as client,
    ):
        detection = client.detect_features()
    return profiles.build_profile_schema(profile), detection, request.param


def test_detection_per_profile(detected):
    """Introspection finds the profile's optional fields; refused, the minimum."""
    _schema, detection, (profile, introspection) = detected
    if introspection:
        assert detection.state == features.DETECTED
        assert detection.features == EXPECTED[profile]
    else:
        assert detection.state == features.REFUSED
        assert detection.features == features.MINIMUM
        assert "introspection" in detection.message


def _feature_sets(found):
    """The detected features, none, each one alone and all but each one (the
    fragments select each feature's fields independently of the others)."""
    found = frozenset(found)
    yield found
    yield features.MINIMUM
    for key in sorted(found):
        yield frozenset({key})
        yield found - {key}


def _documents(feature_set):
    """Every document the addon can send with this feature set."""
    yield "operations", features.operations_query(feature_set)
    yield "completions", features.completions_query(feature_set)
    yield (
        "completion webhook",
        fragments.stream_subscription(features.completion_fragment(feature_set)),
    )
    yield (
        "operation webhook",
        fragments.stream_subscription(features.operation_fragment(feature_set)),
    )
    yield "subscribe", features.subscribe_mutation(feature_set)
    for name, document in documents.ALL_DOCUMENTS.items():
        if name != "introspection":
            yield name, document


def test_every_document_validates(detected):
    """No document built from detected features (or fewer) fails validation."""
    schema, detection, (_profile, introspection) = detected
    checked = 0
    for feature_set in _feature_sets(detection.features):
        for name, document in _documents(feature_set):
            errors = validate(schema, parse(document))
            assert errors == [], (name, sorted(feature_set), errors)
            checked += 1
    if introspection:
        assert validate(schema, parse(features.INTROSPECTION_QUERY)) == []
    assert checked >= len(documents.ALL_DOCUMENTS)


def _input_type(schema, name):
    return schema.get_type(name)


def input_errors(value, type_, path="input"):
    """What a GraphQL server says of a variable value (unknown or missing fields),
    without graphql-core's coercion API, which differs between 3.2 and 3.3."""
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            return [f"{path}: required"]
        type_ = type_.of_type
    if value is None:
        return []
    if isinstance(type_, GraphQLList):
        return [
            error
            for index, item in enumerate(value)
            for error in input_errors(item, type_.of_type, f"{path}.{index}")
        ]
    if not isinstance(type_, GraphQLInputObjectType):
        return []
    errors = [
        f"{path}.{name}: not defined by type {type_.name!r}"
        for name in value
        if name not in type_.fields
    ]
    for name, field in type_.fields.items():
        errors += input_errors(value.get(name), field.type, f"{path}.{name}")
    return errors


def coerce_input_value(value, type_):
    """Raise ValueError as a server would refuse the variable."""
    errors = input_errors(value, type_)
    if errors:
        raise ValueError("; ".join(errors))


def test_every_input_coerces(detected):
    """The inputs the client builds coerce to the profile's input types."""
    schema, detection, _case = detected
    save_type = _input_type(schema, "OperationOrderSaveInput")
    everything = {
        "reserved_serial": "D-0001",
        "optional_operation_ids": ["op-frame"],
        "secondary_external_order_id": "SO-7",
    }
    for feature_set in _feature_sets(detection.features):
        if features.RESERVED_SERIAL_INPUT in feature_set:
            order = features.save_input(
                feature_set, "op-drone", "MO/1", 0, **everything
            )
            assert order["reservedSerialNumber"] == "D-0001"
        else:
            with pytest.raises(features.FeatureMissing):
                features.save_input(feature_set, "op-drone", "MO/1", 0, **everything)
            order = features.save_input(
                feature_set,
                "op-drone",
                "MO/1",
                0,
                **{**everything, "reserved_serial": None},
            )
        coerce_input_value(order, save_type)  # raises on an unknown field
    cancel_type = _input_type(schema, "OperationOrderCancelInput")
    for order in (
        {"operationId": "op", "externalOrderId": "MO/1", "orderIndex": 0},
        {"operationId": "op", "externalOrderId": "MO/1", "cancelAll": True},
    ):
        coerce_input_value(order, cancel_type)
    subscribe_type = _input_type(schema, "SubscribeRequest_Input")
    coerce_input_value(
        {
            "subscriptionID": "odoo-1-completion",
            "responseFragment": features.completion_fragment(detection.features),
            "webhookUrl": "http://127.0.0.1:8069/pico_mes/webhook/k/completion",
            "webhookHeaders": {"X-Pico-Webhook-Secret": "s"},
        },
        subscribe_type,
    )


def test_documents_beyond_the_detected_features_fail():
    """The check above can fail: the full feature set does not validate against
    the documented schema (so detection is what keeps the documents valid)."""
    schema = profiles.build_profile_schema("documented")
    for document in (
        features.completions_query(features.ALL),
        fragments.stream_subscription(features.completion_fragment(features.ALL)),
    ):
        messages = [error.message for error in validate(schema, parse(document))]
        assert any("cycleTime" in message for message in messages)
    save_type = schema.get_type("OperationOrderSaveInput")
    with pytest.raises(ValueError, match="reservedSerialNumber"):
        coerce_input_value(
            features.save_input(
                features.ALL, "op-drone", "MO/1", 0, reserved_serial="D-1"
            ),
            save_type,
        )


def test_other_spelling_of_the_webhook_input_is_detected():
    """One snapshot of Pico's docs spells the input SubscribeRequestInput: a schema
    that does is recognised, and the registration uses its spelling."""
    sdl = print_schema(profiles.build_profile_schema("documented"))
    other = build_schema(sdl.replace("SubscribeRequest_Input", "SubscribeRequestInput"))
    for schema, expected in (
        (profiles.build_profile_schema("documented"), False),
        (other, True),
    ):
        result = graphql_sync(schema, features.INTROSPECTION_QUERY)
        assert result.errors is None
        found = features.features_from_introspection(result.data)
        assert (features.SUBSCRIBE_INPUT_SPELLING in found) is expected
        assert validate(schema, parse(features.subscribe_mutation(found))) == []
        wrong = features.subscribe_mutation(found ^ {features.SUBSCRIBE_INPUT_SPELLING})
        assert validate(schema, parse(wrong)) != []


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_client_calls_are_all_accepted(case):
    """Every call the client makes, with the detected features, is answered 200."""
    profile, introspection = case
    with PicoSimulator(schema_profile=profile, introspection=introspection) as sim:
        with PicoClient(sim.url, sim.token) as client:
            detection = client.detect_features()
            client.operations()
            client.sub_operations()
            serial = (
                "D-1" if features.RESERVED_SERIAL_INPUT in detection.features else None
            )
            client.save_order(
                "op-drone",
                "MO/1",
                0,
                reserved_serial=serial,
                optional_operation_ids=["op-frame"],
                secondary_external_order_id="SO-1",
            )
            client.save_order("op-widget", "MO/2", 0)
            sim.complete_order("MO/1", 0)
            assert client.operation_order_completes()
            client.cancel_order("op-widget", "MO/2", cancel_all=True)
            for stream in (documents.COMPLETION_STREAM, documents.OPERATION_STREAM):
                client.subscribe_webhook(
                    f"sub-{stream}",
                    client.fragment(stream),
                    "http://127.0.0.1:9/hook",
                    {"X-Key": "k"},
                )
            assert len(client.webhook_subscriptions()) == 2
            assert client.unsubscribe_webhook(f"sub-{documents.COMPLETION_STREAM}")
        statuses = [entry["status"] for entry in sim.requests()]
    # Only a refused introspection is answered 400 (and the client falls back).
    expected_refusals = 0 if introspection else 1
    assert statuses.count(400) == expected_refusals
    assert statuses.count(200) == len(statuses) - expected_refusals
