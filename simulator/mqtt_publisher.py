"""MQTT side of the simulator: shop-floor events published at QoS 1."""

import copy
import json
import threading
import uuid

import paho.mqtt.client as mqtt

from .store import iso, utcnow

EVENT_TYPES = ("completion", "scrap", "downtime", "quality", "consumption")


class MqttPublisher:
    """Publishes JSON events to <prefix>/<type> on one broker, QoS 1."""

    def __init__(self, host, port=1883, prefix="pico/sim", timeout=5.0):
        self.host = host
        self.port = port
        self.prefix = prefix.rstrip("/")
        self.timeout = timeout
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._log = []
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"pico-sim-{uuid.uuid4().hex[:12]}",
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connected.clear()

    def start(self):
        """Connect and wait for the broker's CONNACK."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(self.timeout):
            self.stop()
            raise ConnectionError(f"no CONNACK from {self.host}:{self.port}")

    def stop(self):
        """Disconnect from the broker."""
        self._client.disconnect()
        self._client.loop_stop()

    def messages(self):
        """Every publish so far, oldest first."""
        with self._lock:
            return copy.deepcopy(self._log)

    def publish(self, kind, payload):
        """Publish one event and wait for the broker's PUBACK; return a log entry."""
        topic = f"{self.prefix}/{kind}"
        entry = {"topic": topic, "payload": payload, "at": iso(utcnow())}
        try:
            info = self._client.publish(topic, json.dumps(payload), qos=1)
            info.wait_for_publish(self.timeout)
            entry.update(mid=info.mid, ok=info.is_published(), error=None)
        except (RuntimeError, ValueError, OSError) as exc:
            # paho raises RuntimeError when the client is not connected.
            entry.update(mid=None, ok=False, error=str(exc))
        with self._lock:
            self._log.append(entry)
        return copy.deepcopy(entry)
