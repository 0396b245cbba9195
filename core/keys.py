"""Idempotency keys: sha256 hex digests of canonical strings."""

import hashlib
import json

from .payloads import parse_time


def _digest(parts):
    # JSON array encoding keeps the parts unambiguous: no separator can be forged
    # by a value that happens to contain it.
    canonical = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical_time(value):
    # The same instant written as "Z", "+00:00" or with trailing zeros in the
    # fraction must give the same key, whichever door it came through.
    return parse_time(value).isoformat(timespec="microseconds")


def completion_key(backend_ref, external_order_id, order_index, operation_id, at):
    """Return the idempotency key of one completion event."""
    # A missing orderIndex means a single-unit order, which is unit 0.
    index = 0 if order_index is None else int(order_index)
    return _digest(
        [
            "completion",
            str(backend_ref),
            str(external_order_id),
            index,
            "" if operation_id is None else str(operation_id),
            _canonical_time(at),
        ]
    )


def operation_version_key(backend_ref, operation_id, updated_at):
    """Return the idempotency key of one production version (Operation event)."""
    # Pico has no version id; a deployment bumps updatedAt, so id + updatedAt
    # names one version whichever door (webhook, catalogue sync) brought it.
    return _digest(
        [
            "operation-version",
            str(backend_ref),
            str(operation_id),
            _canonical_time(updated_at),
        ]
    )


def message_key(topic, payload_bytes, event_id=None):
    """Return the idempotency key of an MQTT message: its event id, else its bytes."""
    if event_id:
        return _digest(["mqtt-event", str(topic), str(event_id)])
    if isinstance(payload_bytes, str):
        payload_bytes = payload_bytes.encode("utf-8")
    payload_hash = hashlib.sha256(bytes(payload_bytes)).hexdigest()
    return _digest(["mqtt-payload", str(topic), payload_hash])


def external_order_id(production_name, production_id):
    """Return the stable Pico externalOrderId of a manufacturing order."""
    # The name alone can be reused after a sequence reset or across companies;
    # the database id makes it unique and keeps it readable on the shop floor.
    return f"{production_name}#{int(production_id)}"
