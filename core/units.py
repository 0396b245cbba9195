"""Unit rules: the states of one Pico work order unit and what moves them.

A unit is one single-quantity operation order in Pico (`pico.work.order`). Odoo
learns its state from the exchanges it sends (save, cancel) and from the
completions Pico reports. The model loads a unit, asks here for the values to
write, and writes them.

    queued ──save accepted──► sent ──child completed──► progress ──completed──► done
      │  └─save refused──► error ──save accepted──► sent
      └─(any live state) ──cancel accepted──► cancelled
      cancel refused because started ──► progress (the unit goes on in Pico)
"""

from . import outbox

QUEUED = "queued"
SENT = "sent"
PROGRESS = "progress"
DONE = "done"
CANCELLED = "cancelled"
ERROR = "error"
STATES = [
    (QUEUED, "Queued"),
    (SENT, "Sent"),
    (PROGRESS, "In progress"),
    (DONE, "Done"),
    (CANCELLED, "Cancelled"),
    (ERROR, "Error"),
]
# Units that still stand for work in Pico (or may, after an error).
LIVE_STATES = (QUEUED, SENT, PROGRESS, ERROR)
# Units Pico has not started as far as Odoo knows: the first ones to withdraw, the
# ones a save may be sent again for, the ones a child completion puts in progress.
UNSTARTED_STATES = (QUEUED, SENT, ERROR)
# Units Pico may be building: a planner's close waits for them ("wait" policy).
BUILDING_STATES = (QUEUED, SENT, PROGRESS)
# Manufacturing order states in which Pico may hold units for the order.
RELEASABLE_MO_STATES = ("confirmed", "progress", "to_close")

# What an exchange's recorded outcome means for its unit.
ACCEPTED = "accepted"
WAITING = "waiting"
STARTED = "started"
REFUSED = "refused"
ANY = "*"
# (request kind, outcome) -> ({unit state: new state, ANY: otherwise}, whether the
# cancel request is withdrawn). A state missing from the map is kept.
AFTER_EXCHANGE = {
    (outbox.SAVE, ACCEPTED): ({QUEUED: SENT, ERROR: SENT}, False),
    (outbox.SAVE, WAITING): ({}, False),
    (outbox.SAVE, REFUSED): ({ANY: ERROR}, False),
    (outbox.CANCEL, ACCEPTED): ({ANY: CANCELLED}, False),
    (outbox.CANCEL, WAITING): ({}, False),
    # Pico refused: an operator has the unit. It goes on in Pico.
    (outbox.CANCEL, STARTED): ({DONE: DONE, ANY: PROGRESS}, True),
    (outbox.CANCEL, REFUSED): ({DONE: DONE, ANY: ERROR}, True),
}


def exchange_outcome(kind, exchange_state, error_code=None):
    """ACCEPTED, WAITING, STARTED or REFUSED; None while the exchange is open."""
    if exchange_state == outbox.DONE:
        return ACCEPTED
    if exchange_state == outbox.RETRY_WAIT:
        return WAITING
    if kind == outbox.CANCEL and error_code == outbox.ORDER_STARTED:
        return STARTED
    if exchange_state in outbox.ERROR_STATES:
        return REFUSED
    return None


def after_exchange(state, cancel_requested, kind, exchange_state, error_code, error):
    """Values a unit takes once the sender recorded an exchange's outcome ({}: none)."""
    outcome = exchange_outcome(kind, exchange_state, error_code)
    if outcome is None:
        return {}
    if kind == outbox.SAVE and (cancel_requested or state in (DONE, CANCELLED)):
        # A cancel asked since, or Pico's own report, rules the unit now.
        return {}
    moves, withdraws_cancel = AFTER_EXCHANGE[kind, outcome]
    vals = {"last_error": False if outcome == ACCEPTED else error}
    new_state = moves.get(state, moves.get(ANY))
    if new_state:
        vals["state"] = new_state
    if withdraws_cancel:
        vals["cancel_requested"] = False
    return vals


def may_start(state):
    """Whether a completion of a child process puts the unit in progress."""
    return state in UNSTARTED_STATES


def may_resend(state, cancel_requested):
    """Whether a save of the unit may be queued again (Resend)."""
    return state in UNSTARTED_STATES and not cancel_requested


def summary(states):
    """The one state that sums up an order's units (False when it has none)."""
    states = set(states)
    active = states - {CANCELLED}
    if not states:
        return False
    if ERROR in states:
        return ERROR
    if not active:
        return CANCELLED
    if active == {DONE}:
        return DONE
    if PROGRESS in active or DONE in active:
        return PROGRESS
    if QUEUED in active:
        return QUEUED
    return SENT


def hand_over(units, keep, wanted):
    """Which units an order split off into backorders hands to each of them.

    `units` are (key, state, order_index) of the original order's units, `keep`
    how many it keeps, `wanted` how many each backorder needs, in order. Units
    Pico has built or started stay with the original first; a done unit never
    moves. Returns one list of keys per backorder (shorter when units run out).
    """
    ordered = sorted(
        units, key=lambda unit: (unit[1] != DONE, unit[1] != PROGRESS, unit[2])
    )
    spare = [key for key, state, _index in ordered[keep:] if state != DONE]
    taken = []
    for count in wanted:
        taken.append(spare[:count])
        spare = spare[count:]
    return taken
