"""The setup assistant's signed ping through the public URL (core.reachability)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import reachability

SECRET = "door-secret"


class _Door(BaseHTTPRequestHandler):
    """A stand-in for Odoo's door: answers pings as controllers/setup_ping.py does."""

    secret = SECRET
    status_override = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.status_override:
            status, answer = self.status_override, b"<html>not here</html>"
        else:
            status, payload = reachability.answer_ping(
                self.headers, body, self.secret, time.time()
            )
            answer = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def door():
    handler = type("Door", (_Door,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/pico_mes/webhook/k/ping"
    server.shutdown()
    server.server_close()


def test_same_secret_answers_with_proof(door):
    _handler, url = door
    result = reachability.ping(url, SECRET, time.time())
    assert result.ok, result
    assert set(result.warnings) == {"not_https", "private"}


def test_another_database_is_told_apart(door):
    handler, url = door
    handler.secret = "another database"
    result = reachability.ping(url, SECRET, time.time())
    assert result.status == reachability.OTHER_DATABASE


def test_a_page_that_is_not_the_door(door):
    handler, url = door
    handler.status_override = 404
    result = reachability.ping(url, SECRET, time.time())
    assert result.status == reachability.NOT_THIS_ADDON


def test_nobody_listening():
    result = reachability.ping("http://127.0.0.1:9/pico_mes/webhook/k/ping", SECRET, 0)
    assert result.status == reachability.UNREACHABLE


def test_not_a_web_address():
    assert reachability.ping("erp.example.com/x", SECRET, 0).status == (
        reachability.INVALID_URL
    )


def test_door_refuses_stale_or_unsigned_pings():
    body, headers, _nonce = reachability.make_ping(SECRET, 1000)
    assert reachability.answer_ping(headers, body, SECRET, 1000 + 301)[0] == 401
    assert reachability.answer_ping({}, body, SECRET, 1000)[0] == 401
    status, answer = reachability.answer_ping(headers, body, SECRET, 1000)
    assert status == 200
    assert answer["proof"] == reachability.proof(SECRET, json.loads(body)["ping"])


def test_public_https_address_has_no_warning():
    assert reachability.warnings_for("https://erp.example.com/x") == []
    assert reachability.warnings_for("https://10.0.0.5/x") == ["private"]
