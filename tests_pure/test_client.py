"""PicoClient over real HTTP: against the simulator, and a stub for odd answers."""

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from core import documents, features, payloads, schemas
from core.client import PicoClient
from core.errors import BODY_LIMIT, PicoPermanentError, PicoRetryableError

ORDER = "WH/MO/00042#17"


@pytest.fixture
def client(pico_sim):
    with PicoClient(pico_sim.url, pico_sim.token, read_timeout=10.0) as pico:
        yield pico


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _order(pico_sim, external_order_id=ORDER, index=0):
    return next(
        order
        for order in pico_sim.orders()
        if order["externalOrderId"] == external_order_id
        and order["orderIndex"] == index
    )


class TestClientAgainstSimulator:
    """Every client call and error class, over HTTP against the Pico simulator."""

    def test_operations(self, client):
        """The catalogue comes back with the fields our fragment selects."""
        operations = {operation["id"]: operation for operation in client.operations()}
        drone = operations["op-drone"]
        assert drone["externalId"] == "DRONE-100"
        assert drone["externalRevision"] == "A"
        assert [s["externalId"] for s in drone["consumedSerials"]] == [
            "MOTOR-220",
            "FC-330",
        ]
        assert operations["op-old"]["archivedAt"]
        for operation in operations.values():
            schemas.validate("operation", operation)
            payloads.parse_operation(operation)

    def test_streamed_answers_match_whole_ones(self, client):
        """The catalogue read one item at a time is the catalogue read whole."""
        with client.operations_answer() as operations:
            assert len(operations) == len(client.operations())
            assert list(operations) == client.operations()
            # Each iteration is a new pass over the kept body.
            assert [row["id"] for row in operations] == [
                row["id"] for row in client.operations()
            ]
        with client.sub_operations_answer() as links:
            assert list(links) == client.sub_operations()

    def test_sub_operations(self, client):
        """The drone's routing links come back in order."""
        links = [
            link["subId"]
            for link in client.sub_operations()
            if link["parentId"] == "op-drone"
        ]
        assert links == ["op-frame", "op-flight"]

    def test_save_created_then_updated(self, client, pico_sim):
        """A new unit is created; saving it again is a harmless update."""
        assert client.save_order("op-widget", ORDER, 0) == "created"
        assert client.save_order("op-widget", ORDER, 0) == "updated"
        assert client.save_order("op-widget", ORDER, 1) == "created"
        order = _order(pico_sim)
        assert (order["state"], order["saveCount"]) == ("created", 2)

    def test_save_sends_optional_fields(self, client, pico_sim):
        """With the features detected, reserved serial and secondary id reach Pico."""
        pico_sim.configure(schema_profile="full")
        detection = client.detect_features()
        assert features.RESERVED_SERIAL_INPUT in detection.features
        client.save_order(
            "op-drone",
            ORDER,
            0,
            reserved_serial="D-0001",
            optional_operation_ids=["op-frame"],
            secondary_external_order_id="SO-7",
        )
        order = _order(pico_sim)
        assert order["reservedSerialNumber"] == "D-0001"
        assert order["secondaryExternalOrderId"] == "SO-7"
        assert order["selectOptionalOperationIds"] == ["op-frame"]
        request = pico_sim.requests()[-1]
        assert request["query"] == documents.SAVE_ORDER_MUTATION
        assert request["variables"]["input"]["orderIndex"] == 0

    def test_save_without_the_input_features(self, client, pico_sim):
        """Against the documented schema a reserved serial is refused before sending;
        a secondary order id is left out."""
        assert client.features == features.MINIMUM
        with pytest.raises(features.FeatureMissing, match="reservedSerialNumber"):
            client.save_order("op-drone", ORDER, 0, reserved_serial="D-0001")
        assert pico_sim.requests() == []
        client.save_order(
            "op-drone",
            ORDER,
            0,
            optional_operation_ids=["op-frame"],
            secondary_external_order_id="SO-7",
        )
        order = _order(pico_sim)
        assert order["secondaryExternalOrderId"] is None
        assert order["selectOptionalOperationIds"] == ["op-frame"]
        (request,) = pico_sim.requests()
        assert request["status"] == 200

    def test_cancel_one_index_and_all(self, client, pico_sim):
        """Cancel by index, then every remaining index with cancelAll."""
        for index in range(3):
            client.save_order("op-widget", ORDER, index)
        assert client.cancel_order("op-widget", ORDER, order_index=1) == "canceled"
        assert _order(pico_sim, index=1)["state"] == "canceled"
        assert _order(pico_sim, index=0)["state"] == "created"
        assert client.cancel_order("op-widget", ORDER, cancel_all=True) == "canceled"
        states = {order["state"] for order in pico_sim.orders()}
        assert states == {"canceled"}

    def test_cancel_started_order_keeps_server_message(self, client, pico_sim):
        """A started unit cannot be canceled; the reason is Pico's own."""
        client.save_order("op-widget", ORDER, 0)
        pico_sim.start_order(ORDER, 0)
        with pytest.raises(PicoPermanentError) as info:
            client.cancel_order("op-widget", ORDER, order_index=0)
        error = info.value
        assert error.code == "ORDER_STARTED"
        assert error.status == 200
        assert "already started at index 0" in error.message
        assert error.retryable is False

    def test_unknown_operation_is_permanent_with_message(self, client):
        """A GraphQL error in a 200 answer is permanent and keeps the message."""
        with pytest.raises(PicoPermanentError) as info:
            client.save_order("op-nope", ORDER, 0)
        error = info.value
        assert error.message == "unknown operation 'op-nope'"
        assert error.code == "NOT_FOUND"
        assert "op-nope" in error.body

    def test_invalid_document_is_permanent(self, client):
        """A 400 validation error is permanent and names the bad field."""
        with pytest.raises(PicoPermanentError) as info:
            client.execute("query { operations { id colour } }")
        assert info.value.status == 400
        assert "colour" in info.value.message

    def test_bad_token_is_permanent_401(self, pico_sim, caplog):
        """A wrong token is a 401 that retrying cannot fix; the token is not shown."""
        secret = "wrong-token-do-not-print"
        caplog.set_level(logging.DEBUG)
        with (
            PicoClient(pico_sim.url, secret) as pico,
            pytest.raises(PicoPermanentError) as info,
        ):
            pico.operations()
        error = info.value
        assert error.status == 401
        assert error.code == "UNAUTHENTICATED"
        assert error.message == "missing or invalid API token"
        assert secret not in f"{error} {error!r} {error.body} {pico!r}"
        assert secret not in caplog.text
        assert pico_sim.requests()[-1]["status"] == 401

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
    def test_server_faults_are_retryable(self, client, pico_sim, status):
        """5xx, 408 and 429 are retryable, and the next call succeeds."""
        pico_sim.set_faults(fail_next=1, error_status=status)
        with pytest.raises(PicoRetryableError) as info:
            client.operations()
        assert info.value.status == status
        assert info.value.message == f"simulated HTTP {status}"
        assert client.operations()

    @pytest.mark.parametrize("status", [400, 403, 404, 422])
    def test_other_client_errors_are_permanent(self, client, pico_sim, status):
        """Any other 4xx will repeat unchanged."""
        pico_sim.set_faults(fail_next=1, error_status=status)
        with pytest.raises(PicoPermanentError) as info:
            client.operations()
        assert info.value.status == status

    def test_read_timeout_is_retryable(self, pico_sim):
        """A slow Pico beyond the read timeout is retryable, and we give up in time."""
        pico_sim.set_faults(latency_ms=2000)
        with PicoClient(pico_sim.url, pico_sim.token, read_timeout=0.3) as pico:
            started = time.monotonic()
            with pytest.raises(PicoRetryableError) as info:
                pico.operations()
            elapsed = time.monotonic() - started
        assert isinstance(info.value.__cause__, requests.Timeout)
        assert info.value.status is None
        assert elapsed < 1.5

    def test_unanswered_request_is_retryable(self, pico_sim):
        """A request Pico never answers times out as retryable."""
        pico_sim.set_faults(timeout_next=1, timeout_seconds=3)
        with PicoClient(pico_sim.url, pico_sim.token, read_timeout=0.3) as pico:
            with pytest.raises(PicoRetryableError):
                pico.operations()
            pico_sim.set_faults(clear=True)
            assert pico.operations()

    def test_completions_round_trip(self, client, pico_sim):
        """A completion recorded by Pico comes back and parses; the operator only
        when Pico's schema has it."""
        pico_sim.configure(schema_profile="full")
        client.detect_features()
        client.save_order("op-drone", ORDER, 1)
        pico_sim.complete_order(
            ORDER,
            1,
            producedSerial="D-42",
            consumedSerials=[
                {"externalId": "MOTOR-220", "value": "M-1"},
                {"externalId": "FC-330", "value": "FC-1"},
            ],
            operator="Dana",
        )
        (completion,) = client.operation_order_completes()
        assert "eventId" not in completion  # not selected by our fragment
        schemas.validate("completion", completion)
        parsed = payloads.parse_completion(completion)
        assert (parsed.external_order_id, parsed.order_index) == (ORDER, 1)
        assert parsed.operation_id == "op-drone"
        assert parsed.produced_serial == "D-42"
        assert [s.value for s in parsed.consumed_serials] == ["M-1", "FC-1"]
        assert parsed.operator == "Dana"

    def test_completions_round_trip_documented_minimum(self, client, pico_sim):
        """Against the documented schema the completion parses without operator."""
        assert client.detect_features().features == {
            features.RESERVED_SERIAL,
            features.SECONDARY_ORDER_ID,
            features.EXTERNAL_CODES,
        }
        client.save_order("op-drone", ORDER, 1)
        pico_sim.complete_order(ORDER, 1, producedSerial="D-42", operator="Dana")
        (completion,) = client.operation_order_completes()
        schemas.validate("completion", completion)
        parsed = payloads.parse_completion(completion)
        assert parsed.produced_serial == "D-42"
        assert (parsed.operator, parsed.station, parsed.cycle_time_ms) == (
            None,
            None,
            None,
        )

    def test_webhook_subscribe_list_unsubscribe(self, client, pico_sim):
        """A webhook registration is stored, listed, replaced and removed."""
        url = "http://127.0.0.1:9/pico/webhook"
        handle = client.subscribe_webhook(
            "odoo-completions", documents.COMPLETION_FRAGMENT, url, {"X-Api-Key": "k"}
        )
        assert handle["subscriptionId"] == "odoo-completions"
        assert handle["webhookUrl"] == url
        assert handle["createdAt"]
        again = client.subscribe_webhook(
            "odoo-completions", documents.COMPLETION_FRAGMENT, url + "2", None
        )
        assert again["webhookUrl"] == url + "2"
        (listed,) = client.webhook_subscriptions()
        assert listed["responseFragment"] == documents.COMPLETION_FRAGMENT
        assert pico_sim.subscriptions()[0]["stream"] == documents.COMPLETION_STREAM
        assert client.unsubscribe_webhook("odoo-completions") is True
        assert client.unsubscribe_webhook("odoo-completions") is False
        assert client.webhook_subscriptions() == []

    def test_bad_fragment_is_refused(self, client):
        """Pico refuses a fragment on a type no stream delivers."""
        with pytest.raises(PicoPermanentError) as info:
            client.subscribe_webhook(
                "x", "fragment S on Station { name }", "http://127.0.0.1:9/", None
            )
        assert "Station" in info.value.message

    def test_legacy_path_and_operation_name(self, pico_sim):
        """The /graphql path works too, and operationName is sent when given."""
        with PicoClient(pico_sim.base_url + "/graphql", pico_sim.token) as pico:
            data = pico.execute(documents.OPERATIONS_QUERY, operation_name="Operations")
        assert data["operations"]
        assert pico_sim.requests()[-1]["operationName"] == "Operations"


def test_connection_refused_is_retryable():
    """Nothing listening on the port: retry later."""
    url = f"http://127.0.0.1:{_free_port()}/graph/v2"
    pico = PicoClient(url, "sim-token", connect_timeout=1.0)
    with pytest.raises(PicoRetryableError) as info:
        pico.operations()
    assert info.value.status is None
    assert isinstance(info.value.__cause__, requests.ConnectionError)


class _Stub:
    """A one-answer HTTP server, for answers the simulator never gives."""

    def __init__(self):
        self.status, self.body, self.headers = 200, b"{}", {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(stub.status)
                for key, value in stub.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/graph/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status, body, **headers):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers


@pytest.fixture
def stub():
    server = _Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_non_json_success_is_permanent(stub):
    """A 200 that is not JSON (a proxy page) is permanent and keeps the text."""
    stub.answer(200, b"<html>login</html>")
    with pytest.raises(PicoPermanentError) as info:
        PicoClient(stub.url, "t").operations()
    assert info.value.body == "<html>login</html>"


def test_success_without_data_is_permanent(stub):
    """A 200 without a data object is not an answer we can use."""
    stub.answer(200, {"data": None})
    with pytest.raises(PicoPermanentError, match="without a data object"):
        PicoClient(stub.url, "t").operations()


def test_html_gateway_error_is_retryable_with_text(stub):
    """A 502 page from a proxy is retryable; its text is the message, bounded."""
    page = b"<h1>Bad Gateway</h1>" + b"x" * 10_000
    stub.answer(502, page)
    with pytest.raises(PicoRetryableError) as info:
        PicoClient(stub.url, "t").operations()
    assert info.value.message.startswith("<h1>Bad Gateway</h1>")
    assert len(info.value.message) <= 500
    assert len(info.value.body) == BODY_LIMIT


def test_redirect_is_not_followed(stub):
    """A redirect means a wrong endpoint: permanent, and no GET is sent."""
    stub.answer(302, b"", Location="http://127.0.0.1:9/elsewhere")
    with pytest.raises(PicoPermanentError) as info:
        PicoClient(stub.url, "t").operations()
    assert info.value.status == 302


def test_missing_field_in_data_is_permanent(stub):
    """An answer without the asked root field is refused clearly."""
    stub.answer(200, {"data": {}})
    with pytest.raises(PicoPermanentError, match="operationOrderSave"):
        PicoClient(stub.url, "t").save_order("op", ORDER, 0)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"data": None}, "without a data object"),
        ({"data": {}}, "no 'operations' field"),
        ({"data": {"operations": None}}, "no 'operations' field"),
        ({"data": {"operations": {"id": "x"}}}, "not a list"),
        (b'{"data": {"operations": [{"id": "a"}, {"id": ', "not JSON"),
        (
            {"data": {"operations": [{"id": "a"}]}, "errors": [{"message": "nope"}]},
            "nope",
        ),
        ({"errors": [{"message": "denied", "extensions": {"code": "X"}}]}, "denied"),
    ],
    ids=[
        "null data",
        "no field",
        "null field",
        "object",
        "truncated",
        "errors",
        "only errors",
    ],
)
def test_streamed_answer_refused_as_whole_one(stub, body, match):
    """A streamed answer is checked whole before use: the same refusals."""
    stub.answer(200, body)
    with pytest.raises(PicoPermanentError, match=match):
        PicoClient(stub.url, "t").operations_answer()


def test_streamed_answer_counts_and_http_errors(stub):
    """Items are counted in the check pass; a 5xx stays retryable."""
    rows = [{"id": f"op-{n}", "n": 1.5} for n in range(1000)]
    stub.answer(200, {"data": {"operations": rows}, "extensions": {"cost": 3}})
    with PicoClient(stub.url, "t").operations_answer() as answer:
        assert len(answer) == 1000
        assert list(answer) == rows
    stub.answer(200, {"data": {"operations": []}})
    with PicoClient(stub.url, "t").operations_answer() as answer:
        assert (len(answer), list(answer)) == (0, [])
    stub.answer(503, b"busy")
    with pytest.raises(PicoRetryableError):
        PicoClient(stub.url, "t").operations_answer()


def test_invalid_url_is_permanent():
    """A malformed endpoint will not fix itself."""
    with pytest.raises(PicoPermanentError):
        PicoClient("not a url", "t").operations()


@pytest.mark.parametrize(
    "kwargs", [{}, {"order_index": 0, "cancel_all": True}], ids=["neither", "both"]
)
def test_cancel_needs_index_or_all(kwargs):
    """Cancel refuses ambiguous arguments before sending anything."""
    with pytest.raises(ValueError, match="order_index or cancel_all"):
        PicoClient("http://127.0.0.1:9/", "t").cancel_order("op", ORDER, **kwargs)


def test_repr_hides_token():
    """The token never appears in the client's repr."""
    assert "s3cret" not in repr(PicoClient("http://127.0.0.1:9/", "s3cret"))
