"""The MQTT drain against a real Mosquitto: persistent session, ack after commit."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from broker_fixture import free_port, start_broker

from core.mqtt_drain import (
    DEFAULT_TOPIC_MAP,
    STOP_CONNECT_FAILED,
    STOP_CONNECTION_LOST,
    STOP_DEADLINE,
    STOP_HANDLER_ERROR,
    STOP_IDLE,
    STOP_MAX_MESSAGES,
    MqttSettings,
    default_client_id,
    default_topics,
    drain,
    route,
    topic_matches,
)

PREFIX = "pico/test"
REPO = Path(__file__).resolve().parent.parent
# Upper bound for anything that should happen "at once" on loopback; runs stop as
# soon as the expected count arrived, so this only matters when a test fails.
WAIT = 10.0
# Quiet period after which a run that expects nothing more may stop.
SETTLE = 1.0
PROTOCOLS = ["5", "3.1.1"]


class Store:
    """An idempotent inbox: one row per message key, like core.keys.message_key."""

    def __init__(self):
        self.rows = {}
        self.duplicates = 0
        self.batches = []

    @staticmethod
    def key(message):
        return hashlib.sha256(
            message.topic.encode() + b"\0" + message.payload
        ).hexdigest()

    def insert(self, messages):
        for message in messages:
            key = self.key(message)
            if key in self.rows:
                self.duplicates += 1
            else:
                self.rows[key] = (message.topic, message.payload)

    def handle(self, messages):
        # Stands for "create inbox rows, then cr.commit()".
        self.batches.append(list(messages))
        self.insert(messages)

    def payloads(self):
        return sorted(payload for _topic, payload in self.rows.values())


def settings_for(broker, client_id="odoo-test-1", protocol="5", **overrides):
    return MqttSettings(
        host=broker.host,
        port=broker.port,
        client_id=client_id,
        topic_prefix=PREFIX,
        protocol=protocol,
        **overrides,
    )


def publish(broker, topic, payloads, qos=1):
    """Publish and wait until the broker acknowledged every message."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=WAIT)
            assert info.is_published(), f"publish to {topic} not acknowledged"
    finally:
        client.disconnect()
        client.loop_stop()


def run(settings, handler, expect=None, **kwargs):
    """Drain until `expect` messages arrived, or until quiet when expect is None."""
    if expect is None:
        kwargs.setdefault("idle_seconds", SETTLE)
    return drain(
        settings,
        kwargs.pop("topics", None),
        handler,
        max_seconds=kwargs.pop("max_seconds", WAIT),
        max_messages=expect,
        **kwargs,
    )


def create_session(settings):
    """First run: creates the broker-side session and its subscription."""
    stats = run(settings, Store().handle)
    assert stats.ok, stats.last_error
    assert stats.received == 0
    return stats


def failing_handler(messages):
    raise RuntimeError("database is gone")


# --- pure helpers -----------------------------------------------------------------


def test_route_maps_known_topics_and_refuses_others():
    """route() maps suffixes under the prefix and returns None for anything else."""
    topic_map = {"completion": "completion", "station/+/scrap": "scrap", "tele/#": None}
    assert route("pico/test/completion", PREFIX, topic_map) == "completion"
    assert route("pico/test/station/7/scrap", "/pico/test/", topic_map) == "scrap"
    assert route("pico/test/tele/temp/1", PREFIX, topic_map) is None
    assert route("pico/test/telemetry", PREFIX, topic_map) is None
    assert route("pico/other/completion", PREFIX, topic_map) is None
    assert route("pico/testcompletion", PREFIX, topic_map) is None
    assert route("pico/test", PREFIX, topic_map) is None
    assert route("completion", "", topic_map) == "completion"


def test_topic_filters_and_client_id():
    """Filter matching follows MQTT rules; the client id is fixed and short."""
    assert topic_matches("a/+/c", "a/b/c")
    assert not topic_matches("a/+/c", "a/b/d")
    assert topic_matches("a/#", "a/b/c")
    assert topic_matches("a/#", "a")
    assert not topic_matches("a/b", "a/b/c")
    assert default_topics("/pico/test/") == ["pico/test/#"]
    assert default_topics("") == ["#"]
    client_id = default_client_id("a-very-long-production-database-name", 12)
    assert client_id == default_client_id("a-very-long-production-database-name", 12)
    assert client_id != default_client_id("another-database", 12)
    assert len(client_id) <= 23


def test_settings_refuse_what_would_lose_messages():
    """No client id, QoS other than 1 or a zero session expiry are refused."""
    with pytest.raises(ValueError, match="client id"):
        MqttSettings(host="localhost")
    with pytest.raises(ValueError, match="QoS 1"):
        MqttSettings(host="localhost", client_id="x", qos=2)
    with pytest.raises(ValueError, match="session_expiry"):
        MqttSettings(host="localhost", client_id="x", session_expiry=0)
    with pytest.raises(ValueError, match="protocol"):
        MqttSettings(host="localhost", client_id="x", protocol="3.1")
    assert "secret" not in repr(
        MqttSettings(host="h", client_id="x", password="secret")
    )


# --- against the broker ------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_messages_published_while_offline_arrive_on_next_run(mosquitto, protocol):
    """A persistent session queues QoS 1 messages between two runs."""
    settings = settings_for(mosquitto, protocol=protocol)
    first = create_session(settings)
    assert first.session_present is False

    payloads = [f'{{"eventId": "off-{i}"}}'.encode() for i in range(5)]
    publish(mosquitto, f"{PREFIX}/completion", payloads)

    store = Store()
    stats = run(settings, store.handle, expect=5)
    assert stats.ok, stats.last_error
    assert stats.session_present is True
    assert (stats.received, stats.stored, stats.acked) == (5, 5, 5)
    assert stats.acks_confirmed is True
    assert store.payloads() == sorted(payloads)
    assert all(m.topic == f"{PREFIX}/completion" for b in store.batches for m in b)

    # Acked means gone: a further run receives nothing.
    again = run(settings, store.handle)
    assert again.ok and again.received == 0
    assert store.duplicates == 0
    # The broker saw a non-clean connect with the fixed client id.
    version = "p5" if protocol == "5" else "p2"  # mosquitto calls 3.1.1 "p2"
    assert f"as {settings.client_id} ({version}, c0," in mosquitto.log_text()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_handler_failure_leaves_message_for_next_run(mosquitto, protocol):
    """A run that fails before its commit acks nothing; the next run stores it."""
    settings = settings_for(mosquitto, protocol=protocol)
    create_session(settings)
    publish(mosquitto, f"{PREFIX}/scrap", [b'{"eventId": "s-1"}'])

    failed = run(settings, failing_handler, expect=1)
    assert failed.stopped_reason == STOP_HANDLER_ERROR
    assert failed.errors == 1 and "database is gone" in failed.last_error
    assert "RuntimeError" in failed.last_traceback
    assert (failed.received, failed.stored, failed.acked) == (1, 0, 0)

    store = Store()
    stats = run(settings, store.handle, expect=1)
    assert stats.ok, stats.last_error
    assert (stats.received, stats.stored, stats.acked) == (1, 1, 1)
    # Mosquitto resends the in-flight message with the DUP flag.
    assert stats.redelivered == 1
    assert store.payloads() == [b'{"eventId": "s-1"}']

    assert run(settings, store.handle).received == 0


def test_handler_failure_stops_at_once_and_keeps_later_messages(mosquitto):
    """After a failed batch the run ends; queued messages behind it are not lost."""
    settings = settings_for(mosquitto)
    create_session(settings)
    payloads = [f"m-{i}".encode() for i in range(6)]
    publish(mosquitto, f"{PREFIX}/quality", payloads)

    started = time.monotonic()
    failed = run(settings, failing_handler, batch_size=2, max_seconds=WAIT)
    assert time.monotonic() - started < WAIT / 2
    assert failed.stopped_reason == STOP_HANDLER_ERROR
    assert failed.acked == 0 and failed.received <= 2

    store = Store()
    stats = run(settings, store.handle, expect=6)
    assert stats.ok, stats.last_error
    assert store.payloads() == sorted(payloads)
    assert run(settings, store.handle).received == 0


def test_max_messages_leaves_the_rest_for_next_run(mosquitto):
    """Messages received by the network thread but not handled are redelivered."""
    settings = settings_for(mosquitto)
    create_session(settings)
    payloads = [f"c-{i}".encode() for i in range(5)]
    publish(mosquitto, f"{PREFIX}/completion", payloads)

    store = Store()
    first = run(settings, store.handle, expect=2)
    assert first.stopped_reason == STOP_MAX_MESSAGES
    assert (first.received, first.stored, first.acked) == (2, 2, 2)
    second = run(settings, store.handle, expect=3)
    assert second.ok and second.stored == 3
    assert store.payloads() == sorted(payloads)
    assert store.duplicates == 0
    assert run(settings, store.handle).received == 0


CRASHING_RUN = textwrap.dedent(
    """
    import json, os, sys
    from core.mqtt_drain import MqttSettings, drain

    settings = MqttSettings(**json.loads(sys.argv[1]))
    commit_path, commit_first = sys.argv[2], sys.argv[3] == "1"

    def handle(messages):
        if commit_first:
            with open(commit_path, "w") as fh:
                json.dump([[m.topic, m.payload.decode()] for m in messages], fh)
        # The worker dies hard: no exception handling, no DISCONNECT, no PUBACK.
        os._exit(3)

    drain(settings, None, handle, max_seconds=10, max_messages=100, idle_seconds=2)
    sys.exit(0)
    """
)


def crash_run(settings, tmp_path, commit_first):
    """Run a drain in a child process that dies inside handle_batch."""
    commit_path = tmp_path / f"committed-{commit_first}.json"
    args = {
        "host": settings.host,
        "port": settings.port,
        "client_id": settings.client_id,
        "topic_prefix": settings.topic_prefix,
        "protocol": settings.protocol,
    }
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_RUN,
            json.dumps(args),
            str(commit_path),
            "1" if commit_first else "0",
        ],
        env=env,
        capture_output=True,
        timeout=WAIT * 2,
        check=False,
    )
    assert result.returncode == 3, result.stderr.decode()
    if not commit_first:
        return []
    return [(t, p.encode()) for t, p in json.loads(commit_path.read_text())]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nothing_lost_or_doubled_across_failures(mosquitto, tmp_path, protocol):
    """Offline queueing, handler errors and hard crashes: each message stored once."""
    settings = settings_for(mosquitto, protocol=protocol)
    store = Store()
    create_session(settings)
    published = []

    def send(name, count):
        payloads = [f'{{"eventId": "{name}-{i}"}}'.encode() for i in range(count)]
        publish(mosquitto, f"{PREFIX}/completion", payloads)
        published.extend(payloads)

    # 1. Published while no subscriber runs, then a good run.
    send("offline", 3)
    assert run(settings, store.handle, expect=3).stored == 3

    # 2. The handler fails before its commit.
    send("before-commit", 2)
    assert run(settings, failing_handler, expect=2).acked == 0

    # 3. The worker dies after a commit but before the ack.
    send("after-commit", 2)
    committed = crash_run(settings, tmp_path, commit_first=True)
    assert committed, "the crashing run committed nothing"
    for topic, payload in committed:
        key = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
        store.rows.setdefault(key, (topic, payload))

    # 4. The worker dies before committing anything.
    send("hard-crash", 2)
    assert crash_run(settings, tmp_path, commit_first=False) == []

    # Recovery: everything unacked comes back; the store absorbs the repeats.
    stats = run(settings, store.handle)
    assert stats.ok, stats.last_error
    assert stats.session_present is True
    assert stats.redelivered >= len(committed)
    assert store.payloads() == sorted(published)
    assert len(store.rows) == len(published) == 9
    # Only what the crashed run had committed was seen twice.
    assert store.duplicates == len(committed)
    assert run(settings, store.handle).received == 0


def test_unknown_topics_are_counted_and_dropped(mosquitto):
    """Telemetry and unknown topics never reach the handler and are not redelivered."""
    settings = settings_for(mosquitto)
    create_session(settings)
    publish(mosquitto, f"{PREFIX}/telemetry/temp", [b"21.5"] * 4)
    publish(mosquitto, f"{PREFIX}/completion", [b'{"eventId": "k-1"}'])
    publish(mosquitto, f"{PREFIX}/unknown", [b"?"])
    publish(mosquitto, f"{PREFIX}/scrap", [b'{"eventId": "k-2"}'])
    publish(mosquitto, "elsewhere/completion", [b"not subscribed"])

    store = Store()
    stats = run(settings, store.handle, expect=7, topic_map=DEFAULT_TOPIC_MAP)
    assert stats.ok, stats.last_error
    assert stats.received == 7
    assert stats.dropped_unknown == 5
    assert stats.dropped_topics == {
        f"{PREFIX}/telemetry/temp": 4,
        f"{PREFIX}/unknown": 1,
    }
    assert stats.stored == 2 and stats.acked == 7
    handled = [m for batch in store.batches for m in batch]
    assert sorted((m.topic, m.event_type) for m in handled) == [
        (f"{PREFIX}/completion", "completion"),
        (f"{PREFIX}/scrap", "scrap"),
    ]
    # Dropped messages were acked: nothing comes back.
    again = run(settings, store.handle, topic_map=DEFAULT_TOPIC_MAP)
    assert again.received == 0 and again.dropped_unknown == 0


def test_drain_stops_within_max_seconds(mosquitto):
    """A quiet run ends at its deadline, a busy one too."""
    settings = settings_for(mosquitto)
    started = time.monotonic()
    stats = drain(settings, None, Store().handle, max_seconds=1.0)
    elapsed = time.monotonic() - started
    assert stats.ok and stats.stopped_reason == STOP_DEADLINE
    assert 0.9 <= elapsed < 2.0

    # Busy: a slow handler cannot start a new batch after the deadline.
    publish(mosquitto, f"{PREFIX}/completion", [f"b-{i}".encode() for i in range(20)])

    def slow(messages):
        time.sleep(0.3)

    started = time.monotonic()
    stats = drain(settings, None, slow, max_seconds=1.0, batch_size=1)
    elapsed = time.monotonic() - started
    assert stats.stopped_reason == STOP_DEADLINE
    assert 1 <= stats.stored < 20
    assert elapsed < 2.0


def test_idle_seconds_ends_a_quiet_run_early(mosquitto):
    """With idle_seconds the run ends once nothing arrived for that long."""
    settings = settings_for(mosquitto)
    stats = drain(settings, None, Store().handle, max_seconds=WAIT, idle_seconds=0.3)
    assert stats.stopped_reason == STOP_IDLE
    assert stats.duration < 2.0


def test_unreachable_broker_is_reported_not_raised():
    """A refused connection ends the run quickly with the error in the stats."""
    settings = MqttSettings(host="127.0.0.1", port=free_port(), client_id="nobody")
    stats = drain(settings, None, Store().handle, max_seconds=5)
    assert stats.stopped_reason == STOP_CONNECT_FAILED
    assert stats.errors == 1 and "cannot connect" in stats.last_error
    assert stats.duration < 5


@pytest.fixture
def secure_broker(tmp_path):
    """A broker with a TLS listener and a password file."""
    openssl = shutil.which("openssl")
    passwd = shutil.which("mosquitto_passwd")
    if not openssl or not passwd:
        pytest.fail(
            "openssl and mosquitto_passwd are needed (apt-get install mosquitto)"
        )
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = certs / "server.crt", certs / "server.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    password_file = certs / "passwords"
    subprocess.run(
        [passwd, "-b", "-c", str(password_file), "odoo", "s3cret"],
        check=True,
        capture_output=True,
    )
    broker = start_broker(
        tmp_path / "secure",
        extra_config=[
            f"certfile {cert}",
            f"keyfile {key}",
            f"password_file {password_file}",
        ],
        allow_anonymous=False,
    )
    broker.ca_certs = str(cert)
    try:
        yield broker
    finally:
        broker.stop()


def test_tls_and_password(secure_broker):
    """TLS with a CA file and username/password connect; a wrong password is refused."""
    good = MqttSettings(
        host=secure_broker.host,
        port=secure_broker.port,
        client_id="odoo-tls-1",
        username="odoo",
        password="s3cret",
        tls=True,
        ca_certs=secure_broker.ca_certs,
        topic_prefix=PREFIX,
    )
    stats = drain(good, None, Store().handle, max_seconds=WAIT, idle_seconds=0.3)
    assert stats.ok, stats.last_error
    assert stats.connected_at is not None

    bad = replace(good, password="wrong")
    refused = drain(bad, None, Store().handle, max_seconds=WAIT)
    assert refused.stopped_reason == STOP_CONNECT_FAILED
    assert "refused" in refused.last_error

    plain = replace(good, tls=False)
    no_tls = drain(plain, None, Store().handle, max_seconds=3)
    assert no_tls.stopped_reason == STOP_CONNECT_FAILED

    # A self-signed broker certificate is refused unless its CA is given...
    untrusted = drain(replace(good, ca_certs=None), None, Store().handle, max_seconds=3)
    assert untrusted.stopped_reason == STOP_CONNECT_FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.last_error
    # ...or verification is switched off explicitly.
    insecure = replace(good, ca_certs=None, tls_insecure=True)
    assert drain(insecure, None, Store().handle, max_seconds=3, idle_seconds=0.3).ok


def test_broker_restart_keeps_the_session(mosquitto):
    """With broker persistence, queued messages survive a broker restart too."""
    settings = settings_for(mosquitto)
    create_session(settings)
    publish(mosquitto, f"{PREFIX}/downtime", [b"d-1", b"d-2"])
    mosquitto.restart()
    store = Store()
    stats = run(settings, store.handle, expect=2)
    assert stats.ok, stats.last_error
    assert stats.session_present is True
    assert store.payloads() == [b"d-1", b"d-2"]


def test_connection_lost_mid_run_loses_nothing(mosquitto):
    """The broker going away after a commit ends the run; the repeat is absorbed."""
    settings = settings_for(mosquitto)
    create_session(settings)
    publish(mosquitto, f"{PREFIX}/consumption", [b"x-1", b"x-2", b"x-3"])
    store = Store()

    def commit_then_lose_broker(messages):
        store.handle(messages)
        # Persistence keeps the session; our PUBACKs can no longer reach it.
        mosquitto.restart()

    lost = run(settings, commit_then_lose_broker, batch_size=3)
    assert lost.stopped_reason == STOP_CONNECTION_LOST
    assert lost.errors >= 1 and "connection lost" in lost.last_error
    assert lost.stored >= 1

    stats = run(settings, store.handle)
    assert stats.ok, stats.last_error
    assert store.payloads() == [b"x-1", b"x-2", b"x-3"]
    # Only what the lost run had committed is seen twice.
    assert store.duplicates == lost.stored
    assert stats.redelivered >= lost.stored
    assert run(settings, store.handle).received == 0
