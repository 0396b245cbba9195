"""Shop-floor rules: what a scrap, a downtime or a quality result does.

Pure decisions on plain values; `pico.shopfloor` and `pico.quality.result` look
records up, ask here, and act on the answer.
"""

# What a failed inspection of a defect class does.
NONE = "none"
SCRAP = "scrap"
HOLD = "hold"
CONSEQUENCES = [
    (NONE, "Record only"),
    (SCRAP, "Scrap the unit"),
    (HOLD, "Hold for review"),
]

# States of a quality result, and the transitions a person or a rule makes.
RECORDED = "recorded"
HELD = "hold"
RELEASED = "released"
SCRAPPED = "scrapped"
QUALITY_STATES = [
    (RECORDED, "Recorded"),
    (HELD, "On hold"),
    (RELEASED, "Released"),
    (SCRAPPED, "Scrapped"),
]
QUALITY_TRANSITIONS = {
    RECORDED: {HELD, SCRAPPED},
    HELD: {RELEASED, SCRAPPED},
    RELEASED: set(),
    SCRAPPED: set(),
}
# What a consequence makes of a recorded result.
STATE_OF_CONSEQUENCE = {NONE: RECORDED, HOLD: HELD, SCRAP: SCRAPPED}
RESULTS = [("pass", "Pass"), ("fail", "Fail"), ("review", "Review")]


def quality_consequence(result, defect_consequence=None, serial=None):
    """The consequence of an inspection result.

    A pass only records; a review holds; a failure does what its defect class says
    (hold when the class is not mapped). A batch (no serial) is never scrapped whole
    automatically: it is held so that someone decides.
    """
    if result == "pass":
        consequence = NONE
    elif result == "review":
        consequence = HOLD
    else:
        consequence = defect_consequence or HOLD
    if consequence == SCRAP and not serial:
        consequence = HOLD
    return consequence


def may_move_quality(old, new):
    """Whether a quality result may go from `old` to `new`."""
    return new in QUALITY_TRANSITIONS.get(old, ())


# What to do with a scrap of a tracked product whose lot Odoo cannot find.
SCRAP_OK = "ok"
SCRAP_NAME_MISSING = "name_missing"
SCRAP_WAIT_FOR_SERIAL = "wait_for_serial"
SCRAP_LOT_UNKNOWN = "lot_unknown"


def scrap_lot_check(tracking, lot_found, lot_name, is_finished_product):
    """SCRAP_OK, or why the scrap cannot be recorded as it stands.

    A tracked product's scrap must name its lot; an unknown serial of the order's
    own product is waited for (the completion that records it may not be applied
    yet); an unknown lot of a component is refused.
    """
    if tracking == "none" or lot_found:
        return SCRAP_OK
    if not lot_name:
        return SCRAP_NAME_MISSING
    if is_finished_product:
        return SCRAP_WAIT_FOR_SERIAL
    return SCRAP_LOT_UNKNOWN


# What a downtime message does to the work center's loss record.
DOWNTIME_OPENED = "opened"
DOWNTIME_RECORDED = "recorded"
DOWNTIME_UPDATED = "updated"
DOWNTIME_CLOSED = "closed"


def downtime_action(record_exists, has_end):
    """A stop is reported when it starts and again when it ends: one record.

    The first message creates it (opened, or recorded when it already has its end);
    a later one updates it (closed when it brings the end).
    """
    if record_exists:
        return DOWNTIME_CLOSED if has_end else DOWNTIME_UPDATED
    return DOWNTIME_RECORDED if has_end else DOWNTIME_OPENED


def consumption_allowed(production_state):
    """Whether consumed components may still be registered on an order."""
    return production_state not in ("done", "cancel")
