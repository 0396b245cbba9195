"""Outbox state machine and retry decisions, without Odoo."""

from datetime import datetime, timedelta, timezone

import pytest

from core import outbox
from core.errors import PicoPermanentError, PicoRetryableError

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc).replace(tzinfo=None)
POLICY = outbox.Policy(max_attempts=3, base_delay=10, max_delay=60, jitter=0.25)


def mid(_=None):
    """A random source that gives no jitter (0.5 is the middle of [0, 1))."""
    return 0.5


def test_every_state_has_transitions_and_labels():
    values = [value for value, _label in outbox.STATES]
    assert set(values) == set(outbox.TRANSITIONS)
    for targets in outbox.TRANSITIONS.values():
        assert targets <= set(values)
    assert outbox.TRANSITIONS[outbox.DONE] == set()


def test_claim_counts_an_attempt():
    values = outbox.claim(outbox.PENDING, 0, NOW)
    assert values["state"] == outbox.SENDING
    assert values["attempts"] == 1
    assert values["sending_since"] == NOW
    assert outbox.claim(outbox.RETRY_WAIT, 2, NOW)["attempts"] == 3


@pytest.mark.parametrize("state", [outbox.DONE, outbox.FAILED, outbox.SENDING])
def test_claim_refuses_rows_not_due(state):
    with pytest.raises(outbox.InvalidTransition):
        outbox.claim(state, 1, NOW)


def test_success_clears_the_error():
    values = outbox.succeed(outbox.SENDING, NOW, response="created")
    assert values["state"] == outbox.DONE
    assert values["response"] == "created"
    assert values["error"] is None
    assert values["next_attempt_at"] is None
    with pytest.raises(outbox.InvalidTransition):
        outbox.succeed(outbox.PENDING, NOW)


def test_retryable_failure_waits_with_exponential_backoff():
    error = PicoRetryableError("unavailable", status=503, body="<html>")
    first = outbox.fail(outbox.SENDING, 1, error, NOW, POLICY, rand=mid)
    assert first["state"] == outbox.RETRY_WAIT
    assert first["next_attempt_at"] == NOW + timedelta(seconds=10)
    assert first["http_status"] == 503
    assert first["response"] == "<html>"
    assert "unavailable" in first["error"]
    assert first["error_class"] == "core.errors.PicoRetryableError"
    second = outbox.fail(outbox.SENDING, 2, error, NOW, POLICY, rand=mid)
    assert second["next_attempt_at"] == NOW + timedelta(seconds=20)


def test_backoff_has_jitter_and_a_cap():
    error = PicoRetryableError("timeout")
    policy = outbox.Policy(max_attempts=20, base_delay=10, max_delay=60, jitter=0.25)
    low = outbox.fail(outbox.SENDING, 1, error, NOW, policy, rand=lambda: 0.0)
    high = outbox.fail(outbox.SENDING, 1, error, NOW, policy, rand=lambda: 0.999)
    # 7.5 s, rounded up to the second Odoo stores.
    assert low["next_attempt_at"] == NOW + timedelta(seconds=8)
    assert NOW + timedelta(seconds=12) < high["next_attempt_at"]
    late = outbox.fail(outbox.SENDING, 15, error, NOW, policy, rand=lambda: 0.999)
    assert late["next_attempt_at"] <= NOW + timedelta(seconds=60)


def test_retryable_failure_is_dead_lettered_when_tries_are_spent():
    error = PicoRetryableError("unavailable", status=503)
    values = outbox.fail(outbox.SENDING, 3, error, NOW, POLICY, rand=mid)
    assert values["state"] == outbox.DEAD
    assert values["next_attempt_at"] is None


def test_permanent_failure_stops_at_once():
    error = PicoPermanentError("unknown operation", status=200, code="NOT_FOUND")
    values = outbox.fail(outbox.SENDING, 1, error, NOW, POLICY, rand=mid)
    assert values["state"] == outbox.FAILED
    assert values["error_code"] == "NOT_FOUND"
    assert values["error"] == "[HTTP 200 NOT_FOUND] unknown operation"


def test_unexpected_exception_is_permanent():
    values = outbox.fail(outbox.SENDING, 1, KeyError("input"), NOW, POLICY, rand=mid)
    assert values["state"] == outbox.FAILED
    assert values["error_class"] == "builtins.KeyError"
    assert values["error"]


def test_not_found_on_cancel_is_benign_only_for_cancel():
    missing = PicoPermanentError("no order", code="NOT_FOUND")
    started = PicoPermanentError("already started", code=outbox.ORDER_STARTED)
    assert outbox.is_benign(outbox.CANCEL, missing)
    assert not outbox.is_benign(outbox.SAVE, missing)
    assert not outbox.is_benign(outbox.CANCEL, started)
    assert not outbox.is_benign(outbox.CANCEL, RuntimeError("boom"))


def test_stuck_rows_are_swept_back_or_dead_lettered():
    old = NOW - timedelta(seconds=POLICY.stuck_after + 1)
    recent = NOW - timedelta(seconds=5)
    assert outbox.is_stuck(outbox.SENDING, old, NOW, POLICY)
    assert outbox.is_stuck(outbox.SENDING, None, NOW, POLICY)
    assert not outbox.is_stuck(outbox.SENDING, recent, NOW, POLICY)
    assert not outbox.is_stuck(outbox.PENDING, old, NOW, POLICY)
    back = outbox.sweep(outbox.SENDING, 1, NOW, POLICY)
    assert back["state"] == outbox.PENDING
    assert back["next_attempt_at"] == NOW
    # A row that keeps killing its worker must not loop for ever.
    assert outbox.sweep(outbox.SENDING, 3, NOW, POLICY)["state"] == outbox.DEAD


@pytest.mark.parametrize("state", [outbox.FAILED, outbox.DEAD, outbox.RETRY_WAIT])
def test_manual_retry_gives_a_fresh_budget(state):
    values = outbox.retry(state)
    assert values == {
        "state": outbox.PENDING,
        "attempts": 0,
        "next_attempt_at": None,
        "sending_since": None,
    }


@pytest.mark.parametrize("state", [outbox.DONE, outbox.SENDING, outbox.PENDING])
def test_manual_retry_refused_for_other_states(state):
    with pytest.raises(outbox.InvalidTransition):
        outbox.retry(state)


def test_a_full_life_with_two_retries():
    state, attempts = outbox.PENDING, 0
    error = PicoRetryableError("unavailable", status=503)
    for _ in range(2):
        values = outbox.claim(state, attempts, NOW)
        state, attempts = values["state"], values["attempts"]
        state = outbox.fail(state, attempts, error, NOW, POLICY, rand=mid)["state"]
        assert state == outbox.RETRY_WAIT
    values = outbox.claim(state, attempts, NOW)
    assert values["attempts"] == 3
    assert outbox.succeed(values["state"], NOW)["state"] == outbox.DONE
