"""Webhook delivery: one background thread, retries with backoff, a delivery log."""

import copy
import dataclasses
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

from .store import iso, utcnow

# How long out_of_order holds a lone delivery waiting for one to swap with.
OUT_OF_ORDER_HOLD = 1.0


def sign(secret, timestamp, body):
    """HMAC-SHA256 hex of "<t>." + body, as core/signature.py checks it."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclasses.dataclass
class Delivery:
    """One event for one subscription, possibly tried several times."""

    subscription_id: str
    stream: str
    url: str
    headers: dict
    body: bytes
    delivery_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    duplicate: bool = False
    attempt: int = 0
    generation: int = 0


class WebhookDispatcher:
    """Delivers webhook POSTs from one background thread, retrying with backoff."""

    def __init__(self, faults, max_tries=5, backoff_base=0.2, timeout=5.0):
        self.faults = faults
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_factor = 2.0
        self.timeout = timeout
        self.hmac_secret = None
        self._cond = threading.Condition()
        self._heap = []  # (due monotonic time, sequence, Delivery)
        self._sequence = itertools.count()
        self._held = []  # deliveries kept back by the out_of_order fault
        self._held_until = 0.0
        self._busy = False
        self._generation = 0
        self._log = []
        self._stopping = False
        self._thread = None

    def start(self):
        """Start the delivery thread."""
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="pico-sim-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self):
        """Stop the delivery thread; pending deliveries are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=self.timeout + 1)

    def clear(self):
        """Forget pending deliveries and the log (used by reset)."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._held.clear()
            self._log.clear()

    def deliveries(self):
        """Every attempt so far, oldest first."""
        with self._cond:
            return copy.deepcopy(self._log)

    def idle(self):
        """Whether nothing is queued, held back or being sent."""
        with self._cond:
            return not (self._heap or self._held or self._busy)

    def submit(self, subscription_id, stream, url, headers, body):
        """Queue one event for delivery."""
        delivery = Delivery(subscription_id, stream, url, dict(headers), body)
        batch = [delivery]
        if self.faults.duplicate_webhooks:
            batch.append(dataclasses.replace(delivery, duplicate=True))
        now = time.monotonic()
        with self._cond:
            for item in batch:
                item.generation = self._generation
            if not self.faults.out_of_order:
                self._push_all(batch, now)
            elif self._held:
                # The newer event goes first, the held one right after it.
                self._push_all(batch, now)
                self._push_all(self._held, now)
                self._held = []
            else:
                self._held = batch
                self._held_until = now + OUT_OF_ORDER_HOLD
            self._cond.notify_all()

    def _push_all(self, batch, due):
        for item in batch:
            heapq.heappush(self._heap, (due, next(self._sequence), item))

    def _next(self):
        """Block until a delivery is due; None when stopping."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._held and now >= self._held_until:
                    self._push_all(self._held, now)
                    self._held = []
                if self._heap and self._heap[0][0] <= now:
                    self._busy = True
                    return heapq.heappop(self._heap)[2]
                wake = [self._heap[0][0]] if self._heap else []
                wake += [self._held_until] if self._held else []
                self._cond.wait(min(wake) - now if wake else None)
            return None

    def _run(self):
        while (delivery := self._next()) is not None:
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _attempt(self, delivery):
        delivery.attempt += 1
        headers = {**delivery.headers, "Content-Type": "application/json"}
        if self.hmac_secret:
            stamp = int(time.time())
            digest = sign(self.hmac_secret, stamp, delivery.body)
            headers["X-Pico-Signature"] = f"t={stamp},v1={digest}"
        status, error = None, None
        if self.faults.take_webhook_failure():
            error = "simulated failure (webhook_fail_next)"
        else:
            status, error = self._post(delivery.url, headers, delivery.body)
        ok = status is not None and 200 <= status < 300
        retry = not ok and delivery.attempt < self.max_tries
        entry = {
            "deliveryId": delivery.delivery_id,
            "subscriptionId": delivery.subscription_id,
            "stream": delivery.stream,
            "url": delivery.url,
            "attempt": delivery.attempt,
            "status": status,
            "ok": ok,
            "error": error,
            "duplicate": delivery.duplicate,
            "gaveUp": not ok and not retry,
            "at": iso(utcnow()),
            "headers": headers,
            "body": json.loads(delivery.body),
        }
        with self._cond:
            if delivery.generation != self._generation:
                return  # a reset happened while this attempt was on the wire
            self._log.append(entry)
            if retry:
                delay = self.backoff_base * self.backoff_factor ** (
                    delivery.attempt - 1
                )
                due = time.monotonic() + delay
                heapq.heappush(self._heap, (due, next(self._sequence), delivery))

    def _post(self, url, headers, body):
        """POST once; return (status or None, error text or None)."""
        # http.client, not urllib: it keeps header names as given and ignores
        # proxy variables, so receivers see exactly the subscribed headers.
        parts = urlsplit(url)
        kind = (
            http.client.HTTPSConnection
            if parts.scheme == "https"
            else http.client.HTTPConnection
        )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return response.status, None
        return response.status, f"HTTP {response.status}"
