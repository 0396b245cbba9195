"""MQTT drain: receive QoS 1 on a persistent session, ack after the caller commits."""

# One call of drain() is one cron run: connect with a fixed client id and a persistent
# session, hand the received messages to the caller in batches, and acknowledge a batch
# only after the caller's handle_batch returned (it stores and commits). Anything not
# acknowledged when the run ends - the handler raised, the process died, the connection
# dropped or the time ran out - stays in the broker's session and is delivered again on
# the next run: delivery is at least once and the inbox's idempotency key absorbs
# repeats.

from __future__ import annotations

import contextlib
import hashlib
import queue
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

PROTOCOL_V5 = "5"
PROTOCOL_V311 = "3.1.1"
PROTOCOLS = (PROTOCOL_V5, PROTOCOL_V311)

DEFAULT_SESSION_EXPIRY = 3600
DEFAULT_BATCH_SIZE = 100
# How long the drain thread waits on the queue at most, so it notices a lost connection
# or the deadline promptly even when no message arrives.
POLL_SECONDS = 0.25
# Bound on the clean DISCONNECT at the end of a run, so a dead broker cannot hold the
# cron past its interval.
DISCONNECT_TIMEOUT = 2.0
# Filter never subscribed: its UNSUBACK is the round trip proving that the broker has
# processed every PUBACK sent before it.
BARRIER_TOPIC = "pico-drain/barrier"
# Distinct dropped topics remembered in the stats; device ids in topics would make the
# set unbounded otherwise.
MAX_DROPPED_TOPICS = 50

DEFAULT_TOPIC_MAP = {
    "completion": "completion",
    "scrap": "scrap",
    "downtime": "downtime",
    "quality": "quality",
    "consumption": "consumption",
}

STOP_DEADLINE = "deadline"
STOP_MAX_MESSAGES = "max_messages"
STOP_IDLE = "idle"
STOP_HANDLER_ERROR = "handler_error"
STOP_ACK_ERROR = "ack_error"
STOP_CONNECTION_LOST = "connection_lost"
STOP_CONNECT_FAILED = "connect_failed"


@dataclass(frozen=True)
class MqttSettings:
    """Connection settings of one backend's subscriber."""

    host: str
    port: int = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    tls_insecure: bool = False
    topic_prefix: str = ""
    keepalive: int = 60
    session_expiry: int = DEFAULT_SESSION_EXPIRY
    qos: int = 1
    protocol: str = PROTOCOL_V5
    connect_timeout: float = 10.0

    def __post_init__(self):
        """Refuse settings that would silently lose messages."""
        if not self.host:
            raise ValueError("MQTT host is required")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"MQTT port out of range: {self.port}")
        if not self.client_id:
            # A random id would start a new session each run and lose what the broker
            # queued for the old one.
            raise ValueError(
                "a fixed MQTT client id is required for a persistent session"
            )
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"MQTT protocol must be one of {PROTOCOLS}: {self.protocol!r}"
            )
        if self.qos != 1:
            # QoS 0 is not queued for an offline session; with QoS 2 the broker forgets
            # the payload after PUBREC, and paho keeps no state on disk, so a crash
            # before the commit would lose the message.
            raise ValueError("MQTT drain supports QoS 1 only")
        if self.protocol == PROTOCOL_V5 and int(self.session_expiry) <= 0:
            # Expiry 0 ends the session at disconnect: nothing kept between runs.
            raise ValueError("session_expiry must be positive for a persistent session")
        if int(self.keepalive) < 5:
            raise ValueError("keepalive must be at least 5 seconds")

    @property
    def prefix(self):
        """Return the topic prefix without surrounding slashes."""
        return (self.topic_prefix or "").strip("/")


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as received, handed to `handle_batch`."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool = False
    dup: bool = False
    event_type: str | None = None
    received_at: datetime | None = None
    properties: dict = field(default_factory=dict)

    def text(self, errors="strict"):
        """Return the payload decoded as UTF-8."""
        return self.payload.decode("utf-8", errors)


@dataclass
class DrainStats:
    """What one drain run did; `acked` counts PUBACKs handed to the network thread."""

    received: int = 0
    stored: int = 0
    acked: int = 0
    dropped_unknown: int = 0
    redelivered: int = 0
    batches: int = 0
    errors: int = 0
    unprocessed: int = 0
    acks_confirmed: bool | None = None
    session_present: bool | None = None
    connected_at: datetime | None = None
    last_message_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float = 0.0
    stopped_reason: str | None = None
    last_error: str | None = None
    last_traceback: str | None = None
    dropped_topics: dict = field(default_factory=dict)

    @property
    def ok(self):
        """Return True when the run had no error."""
        return self.errors == 0

    def _error(self, message, with_traceback=False):
        self.errors += 1
        self.last_error = message
        if with_traceback:
            self.last_traceback = traceback.format_exc()

    def _drop(self, topic):
        self.dropped_unknown += 1
        if (
            topic in self.dropped_topics
            or len(self.dropped_topics) < MAX_DROPPED_TOPICS
        ):
            self.dropped_topics[topic] = self.dropped_topics.get(topic, 0) + 1


def default_client_id(dbname, backend_id, prefix="odoo-pico"):
    """Return a stable client id for one database and backend (23 chars or fewer)."""
    # MQTT 3.1.1 only promises client ids up to 23 characters; a hash keeps long
    # database names inside that while staying fixed across runs.
    digest = hashlib.sha256(str(dbname).encode("utf-8")).hexdigest()[:8]
    return f"{prefix}-{digest}-{backend_id}"


def default_topics(prefix):
    """Return the subscription filters for a prefix: everything under it."""
    prefix = (prefix or "").strip("/")
    return [f"{prefix}/#" if prefix else "#"]


def topic_matches(pattern, topic):
    """Return True when an MQTT topic filter (with + and #) matches a topic."""
    pattern_parts = pattern.split("/")
    topic_parts = topic.split("/")
    for index, part in enumerate(pattern_parts):
        if part == "#":
            return index == len(pattern_parts) - 1
        if index >= len(topic_parts):
            return False
        if part != "+" and part != topic_parts[index]:
            return False
    return len(pattern_parts) == len(topic_parts)


def route(topic, prefix, topic_map):
    """Return the event type of a topic under the prefix, or None when unknown."""
    prefix = (prefix or "").strip("/")
    if prefix:
        if not topic.startswith(prefix + "/"):
            return None
        rest = topic[len(prefix) + 1 :]
    else:
        rest = topic
    if not rest:
        return None
    if rest in topic_map:
        return topic_map[rest] or None
    for pattern, event_type in topic_map.items():
        if ("+" in pattern or "#" in pattern) and topic_matches(pattern, rest):
            return event_type or None
    return None


def _properties_dict(properties):
    if properties is None:
        return {}
    try:
        data = properties.json()
    except Exception:  # noqa: BLE001 - properties are informative only
        return {}
    return {key: value for key, value in data.items() if value not in (None, [], b"")}


def _make_client(mqtt, settings):
    if settings.protocol == PROTOCOL_V5:
        # clean_session must stay None for MQTT 5; the session is kept by passing
        # clean_start=False to connect() (paho's default is "clean on first connect").
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=True,
        )
    else:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
            manual_ack=True,
        )
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(
            ca_certs=settings.ca_certs or None,
            certfile=settings.certfile or None,
            keyfile=settings.keyfile or None,
            cert_reqs=ssl.CERT_NONE if settings.tls_insecure else ssl.CERT_REQUIRED,
        )
        if settings.tls_insecure:
            client.tls_insecure_set(True)
    return client


def _to_message(message):
    return ReceivedMessage(
        topic=message.topic,
        payload=bytes(message.payload),
        mid=message.mid,
        qos=message.qos,
        retain=bool(message.retain),
        dup=bool(message.dup),
        received_at=datetime.now(timezone.utc),
        properties=_properties_dict(getattr(message, "properties", None)),
    )


class _Session:
    """Callbacks of one connection; they run in paho's network thread."""

    def __init__(self, settings, topics, stats):
        self.settings = settings
        self.topics = list(topics)
        self.stats = stats
        self.messages = queue.SimpleQueue()
        self.settled = threading.Event()
        self.gone = threading.Event()
        self.connected = False
        self.connect_error = None
        self.closing = False
        self.barrier = threading.Event()
        self.disconnect_reason = None
        self.subscribe_errors = []
        self.lock = threading.Lock()

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.connect_error = (
                f"broker refused the connection: {reason_code.getName()}"
            )
        else:
            self.connected = True
            self.stats.session_present = bool(flags.session_present)
            self.stats.connected_at = datetime.now(timezone.utc)
            # Subscribing again on every run is harmless and picks up changed topics.
            client.subscribe(self._subscriptions(), properties=None)
        self.settled.set()

    def _subscriptions(self):
        if self.settings.protocol == PROTOCOL_V5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            # Retained messages only for a new subscription, not again on every run.
            options = SubscribeOptions(
                qos=self.settings.qos,
                retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB,
            )
            return [(topic, options) for topic in self.topics]
        return [(topic, self.settings.qos) for topic in self.topics]

    def on_subscribe(self, client, userdata, mid, reason_codes, properties):
        for topic, code in zip(self.topics, reason_codes, strict=False):
            if code.is_failure or code.value < self.settings.qos:
                with self.lock:
                    self.subscribe_errors.append(
                        f"subscription to {topic!r} refused or downgraded: "
                        f"{code.getName()}"
                    )

    def on_message(self, client, userdata, message):
        # Only queue here: the caller's handler (an Odoo cursor) must run in the
        # caller's thread, and the network thread must keep pinging meanwhile.
        self.messages.put(_to_message(message))

    def on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        # The only UNSUBSCRIBE this client sends is the closing barrier.
        self.barrier.set()

    def on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self.closing:
            self.disconnect_reason = reason_code.getName() if reason_code else "unknown"
        self.gone.set()
        self.settled.set()

    def take_subscribe_errors(self):
        with self.lock:
            errors, self.subscribe_errors = self.subscribe_errors, []
        return errors


def drain(
    settings: MqttSettings,
    topics: Sequence[str] | None,
    handle_batch: Callable[[list[ReceivedMessage]], object],
    max_seconds: float,
    max_messages: int | None = None,
    idle_seconds: float | None = None,
    *,
    topic_map: Mapping[str, str | None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DrainStats:
    """Receive for at most max_seconds; ack each batch once handle_batch returned."""
    from paho.mqtt import client as mqtt

    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    topics = list(topics) if topics else default_topics(settings.prefix)
    stats = DrainStats()
    started = time.monotonic()
    deadline = started + max_seconds
    session = _Session(settings, topics, stats)
    client = _make_client(mqtt, settings)
    client.on_connect = session.on_connect
    client.on_subscribe = session.on_subscribe
    client.on_message = session.on_message
    client.on_disconnect = session.on_disconnect
    client.on_unsubscribe = session.on_unsubscribe
    client.connect_timeout = max(0.1, min(settings.connect_timeout, max_seconds))
    loop_started = False
    try:
        try:
            _connect(client, settings)
        except (OSError, ValueError) as exc:
            # ssl.SSLError, socket.timeout and refused connections are all OSError.
            stats._error(f"cannot connect to {settings.host}:{settings.port}: {exc}")
            stats.stopped_reason = STOP_CONNECT_FAILED
            return stats
        client.loop_start()
        loop_started = True
        connect_deadline = min(deadline, started + settings.connect_timeout)
        session.settled.wait(max(0.0, connect_deadline - time.monotonic()))
        if not session.connected:
            if session.connect_error:
                reason = session.connect_error
            elif session.gone.is_set():
                reason = (
                    f"connection closed before CONNACK: {session.disconnect_reason}"
                )
            else:
                reason = "no CONNACK from the broker in time"
            stats._error(reason)
            stats.stopped_reason = STOP_CONNECT_FAILED
            return stats
        _run(
            session,
            client,
            handle_batch,
            deadline,
            max_messages,
            idle_seconds,
            topic_map,
            batch_size,
        )
        return stats
    finally:
        _close(client, session, loop_started)
        stats.unprocessed = session.messages.qsize()
        for message in session.take_subscribe_errors():
            stats._error(message)
        stats.finished_at = datetime.now(timezone.utc)
        stats.duration = time.monotonic() - started


def _connect(client, settings):
    """Connect the client (MQTT 5: a session kept for session_expiry seconds)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    if settings.protocol == PROTOCOL_V5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = int(settings.session_expiry)
        client.connect(
            settings.host,
            int(settings.port),
            int(settings.keepalive),
            clean_start=False,
            properties=properties,
        )
    else:
        client.connect(settings.host, int(settings.port), int(settings.keepalive))


def _run(
    session,
    client,
    handle_batch,
    deadline,
    max_messages,
    idle_seconds,
    topic_map,
    batch_size,
):
    stats = session.stats
    last_activity = time.monotonic()
    while True:
        if session.gone.is_set():
            stats._error(f"connection lost: {session.disconnect_reason}")
            stats.stopped_reason = STOP_CONNECTION_LOST
            return
        now = time.monotonic()
        if now >= deadline:
            stats.stopped_reason = STOP_DEADLINE
            return
        if max_messages is not None and stats.received >= max_messages:
            stats.stopped_reason = STOP_MAX_MESSAGES
            return
        wait = deadline - now
        if idle_seconds is not None:
            idle_left = last_activity + idle_seconds - now
            if idle_left <= 0:
                stats.stopped_reason = STOP_IDLE
                return
            wait = min(wait, idle_left)
        try:
            first = session.messages.get(timeout=min(wait, POLL_SECONDS))
        except queue.Empty:
            continue
        limit = batch_size
        if max_messages is not None:
            limit = min(limit, max_messages - stats.received)
        batch = [first]
        while len(batch) < limit:
            try:
                batch.append(session.messages.get_nowait())
            except queue.Empty:
                break
        if not _process(session, client, handle_batch, batch, topic_map):
            return
        last_activity = time.monotonic()


def _process(session, client, handle_batch, batch, topic_map):
    """Store a batch through the handler, then ack it; return False to stop the run."""
    from paho.mqtt.client import MQTT_ERR_SUCCESS

    stats = session.stats
    settings = session.settings
    accepted = []
    for message in batch:
        stats.received += 1
        if message.dup:
            stats.redelivered += 1
        if topic_map is None:
            accepted.append(message)
            continue
        event_type = route(message.topic, settings.prefix, topic_map)
        if event_type is None:
            # Unknown topics and telemetry are counted, never stored; they are still
            # acked below so the broker does not offer them again.
            stats._drop(message.topic)
        else:
            accepted.append(replace(message, event_type=event_type))
    stats.last_message_at = batch[-1].received_at
    if accepted:
        try:
            handle_batch(accepted)
        except Exception as exc:  # noqa: BLE001 - reported in the stats, run stops
            # Nothing of this batch is acked: the broker redelivers it next session.
            stats._error(f"handler failed: {type(exc).__name__}: {exc}", True)
            stats.stopped_reason = STOP_HANDLER_ERROR
            return False
        stats.stored += len(accepted)
        stats.batches += 1
    if session.gone.is_set():
        # The PUBACK would go nowhere; the broker redelivers and the store dedupes.
        stats._error(f"connection lost: {session.disconnect_reason}")
        stats.stopped_reason = STOP_CONNECTION_LOST
        return False
    # PUBACKs in arrival order, as MQTT requires for QoS 1.
    for message in batch:
        if message.qos == 0:
            continue
        rc = client.ack(message.mid, message.qos)
        if rc != MQTT_ERR_SUCCESS:
            stats._error(f"ack of message {message.mid} failed: rc={rc}")
            stats.stopped_reason = STOP_ACK_ERROR
            return False
        stats.acked += 1
    return True


def _close(client, session, loop_started):
    session.closing = True
    if session.connected and not session.gone.is_set():
        # paho closes the socket right after writing DISCONNECT; if the broker sent
        # anything meanwhile (a SUBACK, a new PUBLISH) the close turns into a TCP
        # reset and the broker may discard our last PUBACKs unread, redelivering
        # messages already stored. Waiting for an UNSUBACK first proves they were
        # processed.
        client.unsubscribe(BARRIER_TOPIC)
        session.stats.acks_confirmed = session.barrier.wait(DISCONNECT_TIMEOUT)
    if not session.gone.is_set():
        client.disconnect()
    if loop_started:
        if not session.gone.wait(DISCONNECT_TIMEOUT):
            # The DISCONNECT could not be written (dead peer): close the socket so the
            # network thread ends instead of blocking loop_stop().
            sock = client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        client.loop_stop()


def probe(settings, suffix):
    """Connect once and leave: return (DrainStats, the client id used).

    A client id of its own (the subscriber's plus `suffix`), so as not to take over
    the subscriber's session; a short expiry so that the broker forgets this one
    at once (MQTT 5).
    """
    probing = replace(
        settings, client_id=f"{settings.client_id}-t{suffix}", session_expiry=1
    )
    topic = "/".join(filter(None, [settings.prefix, "odoo-connection-test"]))
    stats = drain(
        probing,
        [topic],
        lambda messages: None,
        max_seconds=probing.connect_timeout + 1,
        idle_seconds=0.2,
    )
    return stats, probing.client_id
