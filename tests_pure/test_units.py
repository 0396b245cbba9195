"""Unit states: what an exchange's outcome and Pico's reports do to one unit."""

import pytest

from core import outbox, units


def after(state, kind, exchange_state, code=None, cancel_requested=False):
    return units.after_exchange(
        state, cancel_requested, kind, exchange_state, code, "the error"
    )


def test_every_state_has_a_label():
    values = {value for value, _label in units.STATES}
    for group in (units.LIVE_STATES, units.UNSTARTED_STATES, units.BUILDING_STATES):
        assert set(group) <= values


@pytest.mark.parametrize("state", [units.QUEUED, units.ERROR])
def test_accepted_save_sends_the_unit(state):
    assert after(state, outbox.SAVE, outbox.DONE) == {
        "last_error": False,
        "state": units.SENT,
    }


def test_accepted_save_keeps_a_started_unit():
    assert after(units.PROGRESS, outbox.SAVE, outbox.DONE) == {"last_error": False}


def test_waiting_save_only_shows_the_error():
    assert after(units.QUEUED, outbox.SAVE, outbox.RETRY_WAIT) == {
        "last_error": "the error"
    }


@pytest.mark.parametrize("exchange_state", outbox.ERROR_STATES)
def test_refused_save_is_an_error(exchange_state):
    vals = after(units.SENT, outbox.SAVE, exchange_state, "NOT_FOUND")
    assert vals == {"last_error": "the error", "state": units.ERROR}


def test_save_outcome_ignored_once_cancelled_or_done():
    assert after(units.SENT, outbox.SAVE, outbox.FAILED, cancel_requested=True) == {}
    assert after(units.DONE, outbox.SAVE, outbox.FAILED) == {}
    assert after(units.CANCELLED, outbox.SAVE, outbox.DONE) == {}


def test_accepted_cancel_cancels():
    assert after(units.SENT, outbox.CANCEL, outbox.DONE) == {
        "last_error": False,
        "state": units.CANCELLED,
    }


def test_cancel_refused_because_started_goes_on_in_pico():
    vals = after(units.SENT, outbox.CANCEL, outbox.FAILED, outbox.ORDER_STARTED)
    assert vals == {
        "last_error": "the error",
        "state": units.PROGRESS,
        "cancel_requested": False,
    }
    done = after(units.DONE, outbox.CANCEL, outbox.FAILED, outbox.ORDER_STARTED)
    assert done["state"] == units.DONE


def test_cancel_refused_otherwise_is_an_error_unless_done():
    assert after(units.QUEUED, outbox.CANCEL, outbox.DEAD)["state"] == units.ERROR
    assert after(units.DONE, outbox.CANCEL, outbox.DEAD)["state"] == units.DONE


def test_open_exchange_changes_nothing():
    assert after(units.QUEUED, outbox.SAVE, outbox.SENDING) == {}
    assert after(units.QUEUED, outbox.CANCEL, outbox.PENDING) == {}


def test_start_and_resend_rules():
    assert units.may_start(units.SENT)
    assert not units.may_start(units.DONE)
    assert units.may_resend(units.ERROR, False)
    assert not units.may_resend(units.ERROR, True)
    assert not units.may_resend(units.PROGRESS, False)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], False),
        ([units.DONE, units.ERROR], units.ERROR),
        ([units.CANCELLED], units.CANCELLED),
        ([units.DONE, units.CANCELLED], units.DONE),
        ([units.DONE, units.SENT], units.PROGRESS),
        ([units.SENT, units.QUEUED], units.QUEUED),
        ([units.SENT], units.SENT),
    ],
)
def test_order_summary(states, expected):
    assert units.summary(states) == expected


def test_hand_over_keeps_built_and_started_units_on_the_original():
    found = [
        (1, units.SENT, 0),
        (2, units.DONE, 1),
        (3, units.QUEUED, 2),
        (4, units.PROGRESS, 3),
        (5, units.SENT, 4),
    ]
    # The original keeps 2 (the done and the started one); one backorder wants 3.
    assert units.hand_over(found, 2, [3]) == [[1, 3, 5]]


def test_hand_over_shares_the_spare_units_among_backorders_in_order():
    found = [(key, units.SENT, key) for key in range(1, 6)]
    assert units.hand_over(found, 1, [2, 1, 4]) == [[2, 3], [4], [5]]


def test_hand_over_never_moves_a_done_unit():
    found = [(1, units.DONE, 0), (2, units.DONE, 1), (3, units.SENT, 2)]
    # An order closed for all it holds (keep 0): only the unbuilt unit moves.
    assert units.hand_over(found, 0, [3]) == [[3]]
