"""Idempotency keys are stable, canonical and collision-resistant."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import PayloadError
from core.keys import (
    completion_key,
    external_order_id,
    message_key,
    operation_version_key,
)

AT = "2025-01-15T10:42:07Z"


def _key(**overrides):
    args = {
        "backend_ref": 1,
        "external_order_id": "WH/MO/00042#17",
        "order_index": 0,
        "operation_id": "op-drone",
        "at": AT,
    }
    args.update(overrides)
    return completion_key(**args)


def test_completion_key_is_sha256_hex_and_stable():
    """Same inputs, same 64-hex-digit key."""
    key = _key()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == _key()


@pytest.mark.parametrize(
    "at",
    [
        "2025-01-15T10:42:07+00:00",
        "2025-01-15T10:42:07.000Z",
        "2025-01-15T11:42:07+01:00",
        datetime(2025, 1, 15, 10, 42, 7, tzinfo=timezone.utc),
        datetime(2025, 1, 15, 5, 42, 7, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_completion_key_ignores_timestamp_spelling(at):
    """One instant written differently by two doors gives one key."""
    assert _key(at=at) == _key()


@pytest.mark.parametrize(
    "change",
    [
        {"backend_ref": 2},
        {"external_order_id": "WH/MO/00043#18"},
        {"order_index": 1},
        {"operation_id": "op-frame"},
        {"at": "2025-01-15T10:42:07.001Z"},
    ],
)
def test_completion_key_changes_with_each_part(change):
    """Every part of the identity matters."""
    assert _key(**change) != _key()


def test_missing_order_index_is_unit_zero():
    """A single-unit order without orderIndex is the same unit as index 0."""
    assert _key(order_index=None) == _key(order_index=0)


def test_completion_key_has_no_separator_collisions():
    """Moving text between parts cannot produce the same key."""
    assert _key(backend_ref="a|b", external_order_id="c") != _key(
        backend_ref="a", external_order_id="b|c"
    )


def test_completion_key_rejects_naive_time():
    """A time without zone cannot be keyed reliably."""
    with pytest.raises(PayloadError):
        _key(at="2025-01-15T10:42:07")


def test_message_key_uses_event_id_over_payload():
    """A republished event with a new payload encoding is still the same event."""
    first = message_key("pico/sim/scrap", b'{"a": 1}', event_id="evt-1")
    again = message_key("pico/sim/scrap", b'{"a":1}', event_id="evt-1")
    other = message_key("pico/sim/scrap", b'{"a": 1}', event_id="evt-2")
    assert first == again
    assert first != other


def test_message_key_hashes_topic_and_payload_without_event_id():
    """Without an event id, topic and exact bytes identify the message."""
    key = message_key("pico/sim/scrap", b'{"a": 1}')
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == message_key("pico/sim/scrap", '{"a": 1}')
    assert key != message_key("pico/sim/scrap", b'{"a": 2}')
    assert key != message_key("pico/sim/quality", b'{"a": 1}')
    assert key != message_key("pico/sim/scrap", b"", event_id='{"a": 1}')


def test_external_order_id_is_readable_and_unique():
    """The MO name stays readable; the id disambiguates reused names."""
    assert external_order_id("WH/MO/00042", 17) == "WH/MO/00042#17"
    assert external_order_id("WH/MO/00042", 18) != external_order_id("WH/MO/00042", 17)


def test_operation_version_key():
    """One deployment of one operation is one key, whatever the time spelling."""
    key = operation_version_key(1, "op-drone", "2025-02-01T08:00:00Z")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == operation_version_key(1, "op-drone", "2025-02-01T09:00:00+01:00")
    assert key != operation_version_key(1, "op-drone", "2025-02-01T08:00:01Z")
    assert key != operation_version_key(1, "op-frame", "2025-02-01T08:00:00Z")
    assert key != operation_version_key(2, "op-drone", "2025-02-01T08:00:00Z")
    assert key != _key(external_order_id="op-drone", at="2025-02-01T08:00:00Z")
