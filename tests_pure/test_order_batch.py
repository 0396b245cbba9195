"""Orders out in batches: the document, the reading of each unit's answer, and
the client against the simulator (GraphQL's own execution, graphql-core)."""

import pytest
from graphql import parse, validate

from core import order_batch
from core.client import PicoClient
from core.errors import PicoPermanentError, PicoRetryableError
from simulator import graph

ORDER = "WH/MO/00042#17"


def _input(index, operation="op-widget"):
    return {"operationId": operation, "externalOrderId": ORDER, "orderIndex": index}


def test_document_is_valid_against_the_documented_schema():
    """N aliased saves, one variable each, valid against Pico's documented schema."""
    document = order_batch.save_document(3)
    schema = graph.load_schema("documented")
    assert validate(schema, parse(document)) == []
    assert "u2: operationOrderSave(input: $o2) { message }" in document
    assert order_batch.save_variables([_input(0), _input(1)]) == {
        "o0": _input(0),
        "o1": _input(1),
    }
    with pytest.raises(ValueError):
        order_batch.save_document(0)


def test_answer_with_data_maps_each_alias():
    answer = {"data": {"u0": {"message": "created"}, "u1": {"message": "updated"}}}
    outcomes = order_batch.read_answer(answer, 2)
    assert [o.message for o in outcomes] == ["created", "updated"]
    assert not any(o.error or o.again for o in outcomes)


def test_nullable_server_refuses_one_alias_only():
    """A server whose save is nullable keeps the siblings' answers."""
    answer = {
        "data": {
            "u0": {"message": "created"},
            "u1": None,
            "u2": {"message": "created"},
        },
        "errors": [
            {
                "message": "unknown operation",
                "path": ["u1"],
                "extensions": {"code": "NOT_FOUND"},
            }
        ],
    }
    first, refused, last = order_batch.read_answer(answer, 3)
    assert first.message == last.message == "created"
    assert isinstance(refused.error, PicoPermanentError)
    assert refused.error.code == "NOT_FOUND"
    assert "unknown operation" in refused.error.message


def test_nulled_data_before_done_after_again():
    """One refusal nulls the whole data (non-null save): the aliases before it
    ran (serial execution), the ones after it are sent again."""
    answer = {
        "data": None,
        "errors": [
            {
                "message": "archived",
                "path": ["u2"],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }
    outcomes = order_batch.read_answer(answer, 4)
    assert [bool(o.message) for o in outcomes] == [True, True, False, False]
    assert "withheld" in outcomes[0].message
    assert outcomes[2].error.code == "BAD_USER_INPUT"
    assert outcomes[3].again and not outcomes[3].error


def test_variable_error_refuses_its_unit_only():
    answer = {
        "errors": [
            {"message": "Variable '$o1' got invalid value -1; Int cannot represent it."}
        ]
    }
    kept, refused, other = order_batch.read_answer(answer, 3, status=400)
    assert refused.error.status == 400 and "$o1" in refused.error.message
    assert kept.again and other.again


@pytest.mark.parametrize(
    "answer",
    [
        {"errors": [{"message": "too many root fields", "extensions": {"code": "X"}}]},
        {"data": None},
        ["not", "an", "answer"],
        None,
    ],
)
def test_document_refusal(answer):
    with pytest.raises(order_batch.BatchRefused):
        order_batch.read_answer(answer, 2, status=400)


def test_aliases_left_unanswered_refuse_the_batch():
    """A server that runs only the first field does not batch."""
    with pytest.raises(order_batch.BatchRefused, match="1 of 3 saves"):
        order_batch.read_answer({"data": {"u0": {"message": "created"}}}, 3)
    (outcome,) = order_batch.read_answer({"data": {"u0": {}}}, 1)
    assert "no message" in outcome.error.message


class TestBatchAgainstSimulator:
    """The client's batch over HTTP, executed by graphql-core as Pico would."""

    def test_batch_creates_every_unit_in_one_request(self, pico_sim):
        with PicoClient(pico_sim.url, pico_sim.token) as client:
            outcomes = client.save_orders([_input(i) for i in range(5)])
            again = client.save_orders([_input(i) for i in range(5)])
        assert [o.message for o in outcomes] == ["created"] * 5
        assert [o.message for o in again] == ["updated"] * 5
        orders = [o for o in pico_sim.orders() if o["externalOrderId"] == ORDER]
        assert sorted(o["orderIndex"] for o in orders) == list(range(5))
        assert len(pico_sim.requests()) == 2

    def test_one_refused_unit_in_the_middle(self, pico_sim):
        with PicoClient(pico_sim.url, pico_sim.token) as client:
            outcomes = client.save_orders([_input(0), _input(1, "op-nope"), _input(2)])
        assert outcomes[0].message
        assert outcomes[1].error.code == "NOT_FOUND"
        assert outcomes[2].again
        # What Pico holds agrees: unit 0 ran, unit 2 did not (graphql-core stops).
        created = {o["orderIndex"] for o in pico_sim.orders()}
        assert created == {0}

    def test_server_limiting_mutation_fields_refuses_the_document(self, pico_sim):
        pico_sim.configure(max_mutation_fields=1)
        with PicoClient(pico_sim.url, pico_sim.token) as client:
            with pytest.raises(order_batch.BatchRefused) as info:
                client.save_orders([_input(0), _input(1)])
            # One save per request still works there.
            assert client.save_order("op-widget", ORDER, 0) == "created"
        assert info.value.status == 400
        assert "per mutation" in info.value.message
        assert [o["orderIndex"] for o in pico_sim.orders()] == [0]

    def test_whole_request_failure_is_the_callers(self, pico_sim):
        pico_sim.set_faults(fail_next=1, error_status=503)
        with (
            PicoClient(pico_sim.url, pico_sim.token) as client,
            pytest.raises(PicoRetryableError),
        ):
            client.save_orders([_input(0), _input(1)])
        assert pico_sim.orders() == []
