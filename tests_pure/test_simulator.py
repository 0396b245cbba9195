"""The Pico simulator over real HTTP: GraphQL, control API, webhooks, faults, MQTT."""

import hashlib
import hmac
import json
import pathlib
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests
from sim_fixture import running_simulator

REPO = Path(__file__).resolve().parent.parent
WAIT = 10.0  # upper bound for anything asynchronous; tests poll, never sleep it out

SAVE = """mutation Save($input: OperationOrderSaveInput!) {
  operationOrderSave(input: $input) { message }
}"""
CANCEL = """mutation Cancel($input: OperationOrderCancelInput!) {
  operationOrderCancel(input: $input) { message }
}"""
SUBSCRIBE = """mutation Sub($input: SubscribeRequest_Input!) {
  webhookSubscribe(input: $input) {
    ... on SubscriptionHandle { subscriptionId webhookUrl createdAt }
  }
}"""
COMPLETION_FRAGMENT = """fragment Done on OperationOrderComplete {
  externalOrderId orderIndex operation { id } endState { producedSerial }
}"""
OPERATION_FRAGMENT = (
    "fragment Op on Operation { id externalId externalRevision updatedAt }"
)


# -- helpers -----------------------------------------------------------------


def gql(sim, query, variables=None, token=None, path="/graph/v2"):
    """POST a GraphQL document; return the requests response."""
    return requests.post(
        sim.base_url + path,
        json={"query": query, "variables": variables or {}},
        headers={"x-pico-api-org": sim.token if token is None else token},
        timeout=WAIT,
    )


def save(sim, external_id, index=0, operation_id="op-widget", **extra):
    """Save one order; return the JSON answer."""
    data = {"operationId": operation_id, "externalOrderId": external_id, **extra}
    if index is not None:
        data["orderIndex"] = index
    return gql(sim, SAVE, {"input": data}).json()


def cancel(sim, external_id, operation_id="op-widget", **extra):
    """Cancel orders; return the JSON answer."""
    data = {"operationId": operation_id, "externalOrderId": external_id, **extra}
    return gql(sim, CANCEL, {"input": data}).json()


def control(sim, name, body=None):
    """Call the control API (POST with a body, GET without); return the JSON."""
    url = sim.control_url + name
    if body is None:
        response = requests.get(url, timeout=WAIT)
    else:
        response = requests.post(url, json=body, timeout=WAIT)
    assert response.status_code == 200, response.text
    return response.json()


def subscribe(sim, url, fragment=COMPLETION_FRAGMENT, sub_id="sub-1", headers=None):
    """Register a webhook; return the JSON answer."""
    data = {
        "subscriptionID": sub_id,
        "responseFragment": fragment,
        "webhookUrl": url,
        "webhookHeaders": headers or {},
    }
    return gql(sim, SUBSCRIBE, {"input": data}).json()


def wait_until(predicate, timeout=WAIT):
    """Poll predicate until it is truthy or the timeout passes; return it."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


class Receiver:
    """A webhook receiver on a free port recording every POST."""

    def __init__(self):
        self.statuses = []  # answered in turn; 200 once used up
        self.calls = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.calls.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def wait_for(self, count, timeout=WAIT):
        """Wait for at least `count` calls; return all calls so far."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)

    def bodies(self):
        with self._cond:
            return [json.loads(call["body"]) for call in self.calls]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A local webhook receiver, closed after the test."""
    hook = Receiver()
    yield hook
    hook.close()


# -- GraphQL endpoint ---------------------------------------------------------


def test_unknown_field_is_a_400_validation_error(pico_sim):
    """A document asking for a field the schema lacks is refused by validation."""
    response = gql(pico_sim, "{ operations { id bogusField } }")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "bogusField" in errors[0]["message"]
    assert "data" not in response.json()


def test_syntax_error_and_unparsable_body_are_400(pico_sim):
    """Broken GraphQL and broken JSON are both request errors."""
    assert gql(pico_sim, "{ operations { id ").status_code == 400
    response = requests.post(
        pico_sim.url,
        data=b"{not json",
        headers={"x-pico-api-org": pico_sim.token},
        timeout=WAIT,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_missing_or_bad_token_is_401(pico_sim, token):
    """Without the right x-pico-api-org header nothing is executed."""
    response = gql(pico_sim, "{ operations { id } }", token=token)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert pico_sim.orders() == []


def test_both_paths_serve_graphql(pico_sim):
    """/graph/v2 and /graphql answer the same."""
    query = "{ operations { id } }"
    first = gql(pico_sim, query, path="/graph/v2")
    second = gql(pico_sim, query, path="/graphql")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


def test_subscription_over_http_is_refused(pico_sim):
    """Subscriptions are delivered by webhook; a POSTed one is a 400."""
    response = gql(pico_sim, "subscription { operationsStream { id } }")
    assert response.status_code == 400


def test_operations_and_sub_operations_from_fixture(pico_sim):
    """The default fixture's catalogue, archived operation included."""
    query = """{
      operations { id name externalId externalRevision archivedAt updatedAt
                   consumedSerials { id externalId value } }
      subOperations { parentId subId subGroup }
    }"""
    data = gql(pico_sim, query).json()["data"]
    operations = {op["id"]: op for op in data["operations"]}
    assert set(operations) == {
        "op-drone",
        "op-frame",
        "op-flight",
        "op-widget",
        "op-old",
    }
    drone = operations["op-drone"]
    assert (drone["name"], drone["externalId"], drone["externalRevision"]) == (
        "Pico Demo Drone",
        "DRONE-100",
        "A",
    )
    assert [attr["externalId"] for attr in drone["consumedSerials"]] == [
        "MOTOR-220",
        "FC-330",
    ]
    assert drone["consumedSerials"][0] == {
        "id": "attr-motor",
        "externalId": "MOTOR-220",
        "value": None,
    }
    assert operations["op-frame"]["consumedSerials"][0]["id"] == "attr-motor"
    assert operations["op-flight"]["consumedSerials"][0]["id"] == "attr-fc"
    assert operations["op-widget"]["consumedSerials"] == []
    assert operations["op-old"]["archivedAt"]
    assert operations["op-widget"]["archivedAt"] is None
    assert data["subOperations"] == [
        {"parentId": "op-drone", "subId": "op-frame", "subGroup": None},
        {"parentId": "op-drone", "subId": "op-flight", "subGroup": None},
    ]


def test_save_is_created_then_updated(pico_sim):
    """Saving the same key twice creates one order."""
    assert save(pico_sim, "MO/1", 0) == {
        "data": {"operationOrderSave": {"message": "created"}}
    }
    assert save(pico_sim, "MO/1", 0)["data"]["operationOrderSave"] == {
        "message": "updated"
    }
    assert save(pico_sim, "MO/1", 1)["data"]["operationOrderSave"]["message"] == (
        "created"
    )
    orders = pico_sim.orders()
    assert [(o["orderIndex"], o["state"], o["saveCount"]) for o in orders] == [
        (0, "created", 2),
        (1, "created", 1),
    ]


def test_save_without_index_is_index_zero(pico_sim):
    """An order saved without orderIndex is the same order as index 0."""
    save(pico_sim, "MO/2", index=None)
    assert save(pico_sim, "MO/2", 0)["data"]["operationOrderSave"]["message"] == (
        "updated"
    )


def test_save_rejects_unknown_and_archived_operations(pico_sim):
    """Unknown -> NOT_FOUND, archived -> BAD_USER_INPUT, both in a 200 answer."""
    unknown = save(pico_sim, "MO/3", operation_id="op-nope")
    assert unknown["data"] is None
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    archived = save(pico_sim, "MO/3", operation_id="op-old")
    assert archived["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert pico_sim.orders() == []


def test_save_keeps_reserved_serial_for_the_completion(pico_sim):
    """reservedSerialNumber given at save (full profile) comes back on the
    completion."""
    pico_sim.configure(schema_profile="full")
    save(pico_sim, "MO/4", 0, reservedSerialNumber="RSV-1")
    completion = pico_sim.complete_order("MO/4", 0)
    assert completion["reservedSerialNumber"] == "RSV-1"
    assert completion["endState"]["producedSerial"] == "RSV-1"


# -- cancel -------------------------------------------------------------------


def test_cancel_unstarted_order(pico_sim):
    """An unstarted order is canceled; saving it again creates it anew."""
    save(pico_sim, "MO/10", 0)
    answer = cancel(pico_sim, "MO/10", orderIndex=0)
    assert answer == {"data": {"operationOrderCancel": {"message": "canceled"}}}
    assert pico_sim.orders()[0]["state"] == "canceled"
    assert save(pico_sim, "MO/10", 0)["data"]["operationOrderSave"]["message"] == (
        "created"
    )


def test_cancel_started_order_is_order_started(pico_sim):
    """A started index is not canceled and is named in the error."""
    save(pico_sim, "MO/11", 0)
    control(pico_sim, "start", {"externalOrderId": "MO/11", "orderIndex": 0})
    answer = cancel(pico_sim, "MO/11", orderIndex=0)
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "ORDER_STARTED"
    assert error["extensions"]["orderIndexes"] == [0]
    assert pico_sim.orders()[0]["state"] == "started"


def test_cancel_all_cancels_unstarted_and_names_started(pico_sim):
    """cancelAll cancels every unstarted index even when one has started."""
    for index in range(3):
        save(pico_sim, "MO/12", index)
    pico_sim.start_order("MO/12", 1)
    answer = cancel(pico_sim, "MO/12", cancelAll=True)
    error = answer["errors"][0]
    assert error["extensions"] == {"code": "ORDER_STARTED", "orderIndexes": [1]}
    assert "1" in error["message"]
    states = {o["orderIndex"]: o["state"] for o in pico_sim.orders()}
    assert states == {0: "canceled", 1: "started", 2: "canceled"}


def test_cancel_all_of_unstarted_orders(pico_sim):
    """cancelAll with nothing started answers canceled."""
    save(pico_sim, "MO/13", 0)
    save(pico_sim, "MO/13", 1)
    answer = cancel(pico_sim, "MO/13", cancelAll=True)
    assert answer["data"]["operationOrderCancel"]["message"] == "canceled"
    assert {o["state"] for o in pico_sim.orders()} == {"canceled"}


def test_cancel_nothing_matched_is_not_found(pico_sim):
    """No order for that key -> NOT_FOUND, for one index and for cancelAll."""
    save(pico_sim, "MO/14", 0)
    for extra in ({"orderIndex": 5}, {"cancelAll": True}):
        answer = cancel(pico_sim, "MO/unknown", **extra)
        assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    answer = cancel(pico_sim, "MO/14", orderIndex=5)
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert pico_sim.orders()[0]["state"] == "created"


# -- completions and the control API -------------------------------------------


def test_completions_query_returns_oldest_first(pico_sim):
    """operationOrderCompletes lists every completion in order (legacy fields)."""
    pico_sim.configure(schema_profile="legacy")
    save(pico_sim, "MO/20", 0)
    save(pico_sim, "MO/20", 1, operation_id="op-drone")
    control(
        pico_sim,
        "complete",
        {"externalOrderId": "MO/20", "orderIndex": 0, "producedSerial": "W-1"},
    )
    control(
        pico_sim,
        "complete",
        {
            "externalOrderId": "MO/20",
            "orderIndex": 1,
            "consumedSerials": [{"externalId": "MOTOR-220", "value": "M-9"}],
            "operator": "Dana",
            "station": "St 3",
            "cycleTime": 1234,
        },
    )
    query = """{ operationOrderCompletes {
      externalOrderId orderIndex at operation { id }
      operationSummary { cycleTime consumedSerials { id externalId value } }
      endState { producedSerial operator { name } station { name } }
    } }"""
    completes = gql(pico_sim, query).json()["data"]["operationOrderCompletes"]
    assert [(c["orderIndex"], c["operation"]["id"]) for c in completes] == [
        (0, "op-widget"),
        (1, "op-drone"),
    ]
    assert completes[0]["endState"]["producedSerial"] == "W-1"
    second = completes[1]
    assert second["operationSummary"]["cycleTime"] == 1234
    assert second["operationSummary"]["consumedSerials"] == [
        {"id": "attr-motor", "externalId": "MOTOR-220", "value": "M-9"}
    ]
    assert second["endState"]["operator"] == {"name": "Dana"}
    assert second["endState"]["station"] == {"name": "St 3"}
    states = {o["orderIndex"]: o["state"] for o in control(pico_sim, "orders")}
    assert states == {0: "completed", 1: "completed"}


def test_control_errors_have_statuses(pico_sim):
    """Unknown orders, endpoints and faults are 4xx on the control API."""
    url = pico_sim.control_url
    response = requests.post(
        url + "complete", json={"externalOrderId": "X"}, timeout=WAIT
    )
    assert response.status_code == 404
    assert requests.get(url + "nothing", timeout=WAIT).status_code == 404
    response = requests.post(url + "faults", json={"no_such_fault": 1}, timeout=WAIT)
    assert response.status_code == 400
    response = requests.post(
        url + "publish", json={"type": "scrap", "payload": {}}, timeout=WAIT
    )
    assert response.status_code == 409  # no broker configured


def test_requests_log_and_reset(pico_sim):
    """Every GraphQL request is logged; reset empties state and faults."""
    save(pico_sim, "MO/30", 0)
    gql(pico_sim, "{ operations { id } }", token="bad")
    log = control(pico_sim, "requests")
    assert [entry["status"] for entry in log] == [200, 401]
    assert log[0]["variables"]["input"]["externalOrderId"] == "MO/30"
    control(pico_sim, "faults", {"latency_ms": 5})
    assert control(pico_sim, "reset", {}) == {"reset": True}
    assert control(pico_sim, "orders") == []
    assert control(pico_sim, "requests") == []
    assert control(pico_sim, "faults")["latency_ms"] == 0


def test_reset_with_a_fixture(pico_sim):
    """A fixture given to reset replaces the catalogue."""
    fixture = {"operations": [{"id": "op-x", "name": "X", "consumedSerials": []}]}
    control(pico_sim, "reset", {"fixture": fixture})
    assert [op["id"] for op in control(pico_sim, "operations")] == ["op-x"]
    assert save(pico_sim, "MO/31", operation_id="op-x")["data"] is not None


# -- webhooks -----------------------------------------------------------------


def test_webhook_subscribe_list_replace_unsubscribe(pico_sim, receiver):
    """Same id replaces; unsubscribe removes; no delivery afterwards."""
    answer = subscribe(pico_sim, receiver.url)
    handle = answer["data"]["webhookSubscribe"]
    assert handle["subscriptionId"] == "sub-1"
    assert handle["webhookUrl"] == receiver.url
    subscribe(pico_sim, receiver.url + "?v=2")
    query = "{ webhookSubscriptions { subscriptionId webhookUrl responseFragment } }"
    listed = gql(pico_sim, query).json()["data"]["webhookSubscriptions"]
    assert listed == [
        {
            "subscriptionId": "sub-1",
            "webhookUrl": receiver.url + "?v=2",
            "responseFragment": COMPLETION_FRAGMENT,
        }
    ]
    unsubscribe = 'mutation { webhookUnsubscribe(subscriptionID: "sub-1") }'
    assert gql(pico_sim, unsubscribe).json()["data"]["webhookUnsubscribe"] is True
    assert gql(pico_sim, unsubscribe).json()["data"]["webhookUnsubscribe"] is False
    pico_sim.complete_order("MO/40", 0, operation_id="op-widget")
    assert pico_sim.wait_idle()
    assert receiver.calls == []


@pytest.mark.parametrize(
    ("fragment", "needle"),
    [
        ("fragment F on OperationOrderComplete { nope }", "nope"),
        ("fragment F on Station { name }", "Station"),
        ("query { operations { id } }", "fragment"),
        ("fragment F on Operation {", "responseFragment"),
    ],
)
def test_webhook_subscribe_rejects_bad_fragments(pico_sim, receiver, fragment, needle):
    """The fragment is validated against the schema at subscribe time."""
    answer = subscribe(pico_sim, receiver.url, fragment=fragment)
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert needle in error["message"]
    assert pico_sim.subscriptions() == []


def test_webhook_delivers_completion_fragment_fields(pico_sim, receiver):
    """Only the fragment's fields, wrapped in data.<stream>, with our headers."""
    subscribe(pico_sim, receiver.url, headers={"X-API-Key": "k-123"})
    save(pico_sim, "MO/50", 0)
    pico_sim.complete_order("MO/50", 0, producedSerial="P-50")
    calls = receiver.wait_for(1)
    assert len(calls) == 1
    call = calls[0]
    assert call["path"] == "/hook"
    assert call["headers"]["X-API-Key"] == "k-123"
    assert call["headers"]["Content-Type"] == "application/json"
    assert json.loads(call["body"]) == {
        "data": {
            "operationOrderCompletesStream": {
                "externalOrderId": "MO/50",
                "orderIndex": 0,
                "operation": {"id": "op-widget"},
                "endState": {"producedSerial": "P-50"},
            }
        }
    }
    entry = pico_sim.wait_for_deliveries(1)[0]
    assert (entry["ok"], entry["status"], entry["attempt"]) == (True, 200, 1)
    handles = gql(pico_sim, "{ webhookSubscriptions { lastEventAt } }").json()
    assert handles["data"]["webhookSubscriptions"][0]["lastEventAt"]


def test_webhook_bare_body_style(receiver):
    """body_style="bare" sends the fragment result without the envelope."""
    with running_simulator(body_style="bare") as sim:
        subscribe(sim, receiver.url)
        sim.complete_order("MO/51", 2, operation_id="op-widget")
        body = json.loads(receiver.wait_for(1)[0]["body"])
    assert body["externalOrderId"] == "MO/51"
    assert body["orderIndex"] == 2
    assert "data" not in body


def test_webhook_hmac_signature(pico_sim, receiver):
    """In HMAC mode each delivery carries X-Pico-Signature t=..,v1=.."""
    control(pico_sim, "config", {"hmac_secret": "s3cret"})
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/52", 0, operation_id="op-widget")
    call = receiver.wait_for(1)[0]
    match = re.fullmatch(
        r"t=(\d+),v1=([0-9a-f]{64})", call["headers"]["X-Pico-Signature"]
    )
    assert match
    expected = hmac.new(
        b"s3cret", f"{match[1]}.".encode() + call["body"], hashlib.sha256
    ).hexdigest()
    assert match[2] == expected


def test_webhook_retries_a_failing_receiver(pico_sim, receiver):
    """Non-2xx answers are retried with backoff until one succeeds."""
    control(pico_sim, "config", {"webhook_backoff_base": 0.05})
    receiver.statuses = [500, 503]
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/60", 0, operation_id="op-widget")
    calls = receiver.wait_for(3)
    assert len(calls) == 3
    assert calls[0]["body"] == calls[2]["body"]
    log = pico_sim.wait_for_deliveries(3)
    assert [(e["attempt"], e["status"], e["ok"]) for e in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert len({entry["deliveryId"] for entry in log}) == 1


def test_webhook_gives_up_after_max_tries(pico_sim, receiver):
    """After webhook_max_tries failures the last attempt is marked gaveUp."""
    pico_sim.configure(webhook_max_tries=2, webhook_backoff_base=0.05)
    receiver.statuses = [500, 500, 500]
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/61", 0, operation_id="op-widget")
    log = pico_sim.wait_for_deliveries(1, gaveUp=True)
    assert pico_sim.wait_idle()
    assert len(receiver.calls) == 2
    assert [e["gaveUp"] for e in pico_sim.deliveries()] == [False, True]
    assert log[0]["attempt"] == 2


def test_webhook_unreachable_receiver_is_logged(pico_sim, receiver):
    """A connection error is an attempt with no status and an error text."""
    pico_sim.configure(webhook_max_tries=1)
    url = receiver.url
    receiver.close()
    subscribe(pico_sim, url)
    pico_sim.complete_order("MO/62", 0, operation_id="op-widget")
    entry = pico_sim.wait_for_deliveries(1)[0]
    assert entry["status"] is None
    assert entry["error"]
    assert entry["gaveUp"] is True


def test_duplicate_webhooks_fault(pico_sim, receiver):
    """duplicate_webhooks sends each event twice, same body."""
    control(pico_sim, "faults", {"duplicate_webhooks": True})
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/70", 0, operation_id="op-widget")
    calls = receiver.wait_for(2)
    assert pico_sim.wait_idle()
    assert len(receiver.calls) == 2
    assert calls[0]["body"] == calls[1]["body"]
    assert [e["duplicate"] for e in pico_sim.deliveries()] == [False, True]


def test_out_of_order_fault(pico_sim, receiver):
    """out_of_order delivers the later of two events first."""
    control(pico_sim, "faults", {"out_of_order": True})
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/71", 0, operation_id="op-widget")
    pico_sim.complete_order("MO/72", 0, operation_id="op-widget")
    receiver.wait_for(2)
    stream = "operationOrderCompletesStream"
    ids = [body["data"][stream]["externalOrderId"] for body in receiver.bodies()]
    assert ids == ["MO/72", "MO/71"]


def test_out_of_order_releases_a_lone_event(pico_sim, receiver):
    """A single held event is still delivered after the hold time."""
    control(pico_sim, "faults", {"out_of_order": True})
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/73", 0, operation_id="op-widget")
    assert len(receiver.wait_for(1)) == 1


def test_webhook_fail_next_fault(pico_sim, receiver):
    """webhook_fail_next fails attempts without sending them; retries follow."""
    pico_sim.configure(webhook_backoff_base=0.05)
    control(pico_sim, "faults", {"webhook_fail_next": 2})
    subscribe(pico_sim, receiver.url)
    pico_sim.complete_order("MO/74", 0, operation_id="op-widget")
    log = pico_sim.wait_for_deliveries(1, ok=True)
    assert log[0]["attempt"] == 3
    assert len(receiver.calls) == 1
    failed = [e for e in pico_sim.deliveries() if not e["ok"]]
    assert [e["error"] for e in failed] == ["simulated failure (webhook_fail_next)"] * 2


def test_new_operation_version_fires_operations_stream(pico_sim, receiver):
    """Deploying an operation version sends its fragment to Operation webhooks."""
    subscribe(pico_sim, receiver.url, fragment=OPERATION_FRAGMENT, sub_id="ops")
    subscribe(pico_sim, receiver.url + "-completions", sub_id="completions")
    before = control(pico_sim, "operations")
    old = next(op for op in before if op["id"] == "op-widget")["updatedAt"]
    control(
        pico_sim,
        "operations",
        {"id": "op-widget", "name": "Widget", "externalRevision": "B"},
    )
    calls = receiver.wait_for(1)
    assert pico_sim.wait_idle()
    assert len(receiver.calls) == 1
    event = json.loads(calls[0]["body"])["data"]["operationsStream"]
    assert set(event) == {"id", "externalId", "externalRevision", "updatedAt"}
    assert (event["id"], event["externalId"], event["externalRevision"]) == (
        "op-widget",
        "WIDGET-1",
        "B",
    )
    assert event["updatedAt"] > old
    query = "{ operations { id externalRevision } }"
    operations = gql(pico_sim, query).json()["data"]["operations"]
    assert {"id": "op-widget", "externalRevision": "B"} in operations


def test_new_sub_operation_fires_sub_operations_stream(pico_sim, receiver):
    """Linking a child operation sends a SubOperation webhook."""
    fragment = "fragment Link on SubOperation { parentId subId }"
    subscribe(pico_sim, receiver.url, fragment=fragment)
    control(pico_sim, "suboperations", {"parentId": "op-drone", "subId": "op-widget"})
    body = json.loads(receiver.wait_for(1)[0]["body"])
    assert body == {
        "data": {"subOperationsStream": {"parentId": "op-drone", "subId": "op-widget"}}
    }


# -- GraphQL faults -----------------------------------------------------------


def test_fail_next_and_error_rate_faults(pico_sim):
    """fail_next answers N requests with error_status; error_rate 1 all of them."""
    control(pico_sim, "faults", {"fail_next": 2, "error_status": 502})
    statuses = [gql(pico_sim, "{ operations { id } }").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    control(pico_sim, "faults", {"error_rate": 1.0, "error_status": 503})
    response = gql(pico_sim, "{ operations { id } }")
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SIMULATED_FAULT"
    control(pico_sim, "faults", {"clear": True})
    assert gql(pico_sim, "{ operations { id } }").status_code == 200
    faults = [entry["fault"] for entry in control(pico_sim, "requests")]
    assert faults == ["error", "error", None, "error", None]


def test_failed_request_changes_nothing(pico_sim):
    """A save answered with a simulated 5xx did not happen."""
    pico_sim.set_faults(fail_next=1)
    response = gql(
        pico_sim,
        SAVE,
        {"input": {"operationId": "op-widget", "externalOrderId": "MO/80"}},
    )
    assert response.status_code == 503
    assert pico_sim.orders() == []


def test_latency_fault(pico_sim):
    """latency_ms delays every answer."""
    pico_sim.set_faults(latency_ms=300)
    started = time.monotonic()
    assert gql(pico_sim, "{ operations { id } }").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_timeout_fault(pico_sim):
    """timeout_next leaves a request unanswered; the next one is served."""
    pico_sim.set_faults(timeout_next=1, timeout_seconds=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            pico_sim.url,
            json={"query": "{ operations { id } }"},
            headers={"x-pico-api-org": pico_sim.token},
            timeout=(2, 0.3),
        )
    assert gql(pico_sim, "{ operations { id } }").status_code == 200
    assert [entry["fault"] for entry in pico_sim.requests()] == ["timeout", None]


# -- MQTT ---------------------------------------------------------------------


class Subscriber:
    """A paho subscriber collecting messages under a topic filter."""

    def __init__(self, host, port, topic):
        self.messages = queue.Queue()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(WAIT), "no SUBACK from the broker"

    def get(self):
        return self.messages.get(timeout=WAIT)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_publish_on_completion_and_control_publish(mosquitto):
    """A completion goes to <prefix>/completion; control publish to <prefix>/<type>."""
    subscriber = Subscriber(mosquitto.host, mosquitto.port, "pico/test/#")
    try:
        with running_simulator(
            mqtt_host=mosquitto.host, mqtt_port=mosquitto.port, mqtt_prefix="pico/test"
        ) as sim:
            save(sim, "MO/90", 0, operation_id="op-drone")
            completion = control(sim, "complete", {"externalOrderId": "MO/90"})
            message = subscriber.get()
            assert message.topic == "pico/test/completion"
            assert message.qos == 1
            payload = json.loads(message.payload)
            assert payload["eventId"] == completion["eventId"]
            assert payload["externalOrderId"] == "MO/90"
            assert payload["operation"]["id"] == "op-drone"
            serials = payload["operationSummary"]["consumedSerials"]
            assert [s["externalId"] for s in serials] == ["MOTOR-220", "FC-330"]

            scrap = {"externalOrderId": "MO/90", "quantity": 1, "reason": "bent"}
            entry = control(sim, "publish", {"type": "scrap", "payload": scrap})
            assert entry["ok"] is True
            message = subscriber.get()
            assert message.topic == "pico/test/scrap"
            payload = json.loads(message.payload)
            assert payload["reason"] == "bent"
            assert payload["eventId"]
            topics = [m["topic"] for m in control(sim, "mqtt")]
            assert topics == ["pico/test/completion", "pico/test/scrap"]
    finally:
        subscriber.close()


# -- command line -------------------------------------------------------------


def test_python_m_simulator_prints_url_and_serves():
    """python -m simulator prints one line with the URL and answers on it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--token", "cli-token"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = queue.Queue()
    threading.Thread(
        target=lambda: lines.put(process.stdout.readline()), daemon=True
    ).start()
    try:
        line = lines.get(timeout=WAIT)
        match = re.search(r"http://127\.0\.0\.1:\d+/graph/v2", line)
        assert match, line
        response = requests.post(
            match[0],
            json={"query": "{ operations { id } }"},
            headers={"x-pico-api-org": "cli-token"},
            timeout=WAIT,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=WAIT) == 0


def test_command_line_binds_the_requested_host():
    """`python -m simulator --host` binds that address and serves GraphQL there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "simulator", "--host", "127.0.0.2"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=str(pathlib.Path(__file__).resolve().parent.parent),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"127.0.0.2:{port}/graph/v2" in proc.stdout.readline()
        answer = requests.post(
            f"http://127.0.0.2:{port}/graph/v2",
            json={"query": "{ operations { id } }"},
            headers={"x-pico-api-org": "sim-token"},
            timeout=5,
        )
        assert answer.status_code == 200
        assert answer.json()["data"]["operations"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
