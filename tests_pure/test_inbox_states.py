"""Inbox state machine: the values of each outcome of one event, without Odoo."""

from datetime import datetime, timedelta, timezone

import pytest

from core import inbox

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc).replace(tzinfo=None)


def mid(_=None):
    """A random source that gives no jitter."""
    return 0.5


def test_every_state_has_transitions_and_labels():
    values = [value for value, _label in inbox.STATES]
    assert set(values) == set(inbox.TRANSITIONS)
    for targets in inbox.TRANSITIONS.values():
        assert targets <= set(values)
    assert inbox.TRANSITIONS[inbox.DONE] == set()
    assert set(inbox.DUE_STATES) | set(inbox.ERROR_STATES) | {inbox.DONE} == set(values)


def test_applied_event_is_done_and_clean():
    vals = inbox.succeed(inbox.HELD, NOW, "Unit 1 built")
    assert vals["state"] == inbox.DONE
    assert vals["processed_at"] == NOW
    assert vals["result"] == "Unit 1 built"
    assert vals["next_attempt_at"] is None
    assert vals["error"] is None and vals["traceback"] is None
    assert inbox.succeed(inbox.RECEIVED, NOW, {"not": "text"})["result"] is None


def test_hold_backs_off_then_dead_letters():
    vals = inbox.hold(inbox.RECEIVED, 1, 3, NOW, "order unknown", base=10, rand=mid)
    assert vals["state"] == inbox.HELD
    assert vals["next_attempt_at"] == NOW + timedelta(seconds=10)
    assert vals["error_class"] == "held"
    second = inbox.hold(inbox.HELD, 2, 3, NOW, "order unknown", base=10, rand=mid)
    assert second["next_attempt_at"] == NOW + timedelta(seconds=20)
    last = inbox.hold(inbox.HELD, 3, 3, NOW, "order unknown", base=10, rand=mid)
    assert last["state"] == inbox.DEAD
    assert last["next_attempt_at"] is None


def test_lost_race_keeps_the_state_and_retries_soon():
    vals = inbox.lost_race(inbox.HELD, 2, 8, NOW, "concurrent", "SerializationFailure")
    assert vals["state"] == inbox.HELD
    assert vals["next_attempt_at"] == NOW + timedelta(seconds=4)
    capped = inbox.lost_race(inbox.RECEIVED, 7, 8, NOW, "c", "DeadlockDetected")
    assert capped["next_attempt_at"] == NOW + timedelta(seconds=inbox.RACE_MAX_DELAY)
    dead = inbox.lost_race(inbox.RECEIVED, 24, 8, NOW, "c", "LockNotAvailable")
    assert dead["state"] == inbox.DEAD


def test_refused_event_fails_at_once():
    vals = inbox.fail(inbox.RECEIVED, "unknown serial", "UserError")
    assert vals["state"] == inbox.FAILED
    assert vals["next_attempt_at"] is None
    assert vals["traceback"] is None
    crashed = inbox.fail(inbox.HELD, "boom", "KeyError", traceback="Traceback ...")
    assert crashed["traceback"] == "Traceback ..."


@pytest.mark.parametrize("state", inbox.REPLAYABLE)
def test_replay_gives_a_fresh_budget(state):
    assert inbox.retry(state) == {
        "state": inbox.RECEIVED,
        "attempts": 0,
        "next_attempt_at": None,
    }


@pytest.mark.parametrize("state", [inbox.RECEIVED, inbox.DONE])
def test_replay_refused_for_open_or_done_events(state):
    with pytest.raises(inbox.InvalidTransition):
        inbox.retry(state)


def test_a_done_event_cannot_change():
    for outcome in (
        lambda: inbox.succeed(inbox.DONE, NOW),
        lambda: inbox.fail(inbox.DONE, "x", "UserError"),
        lambda: inbox.hold(inbox.DONE, 1, 3, NOW, "x"),
    ):
        with pytest.raises(inbox.InvalidTransition):
            outcome()
