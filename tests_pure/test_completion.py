"""What a completion does: which unit, what each component line consumes, serials."""

from datetime import UTC, datetime, timedelta

import pytest

from core import completion as cp
from core.payloads import ConsumedSerial, parse_completion

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _completion(**overrides):
    payload = {
        "externalOrderId": "WH/MO/00042#17",
        "orderIndex": 0,
        "at": "2026-11-22T10:00:00Z",
        "operation": {"id": "op-drone", "externalId": "DRONE-100"},
        "operationSummary": {
            "startedAt": "2026-11-22T09:50:00Z",
            "cycleTime": 600000,
            "consumedSerials": [
                {"id": "attr-motor", "externalId": "MOTOR-220", "value": "M-1"},
                {"id": "attr-fc", "externalId": "FC-330", "value": "F-1"},
            ],
        },
        "endState": {
            "producedSerial": "DR-1",
            "station": {"name": "Line 1"},
            "operator": {"name": "Dana Ruiz"},
        },
    }
    payload.update(overrides)
    return parse_completion(payload)


def _unit(state="sent", operation="op-drone", reserved=None, key=1):
    return cp.Unit(key, operation, state, 0, reserved)


MOTOR = cp.Component(
    "motor", "Motor", "serial", 1.0, "attr-motor", "MOTOR-220", "MOTOR-220"
)
FC = cp.Component("fc", "Flight controller", "serial", 1.0, "attr-fc", "FC-330")
SCREW = cp.Component("screw", "Screw", "none", 4.0)
GLUE = cp.Component("glue", "Glue", "lot", 0.5, "part:GLUE-1", "GLUE-1")
COMPONENTS = (MOTOR, FC, SCREW)


# --- decide ---------------------------------------------------------------------
def test_unknown_order_is_held():
    assert cp.decide(_completion(), []).kind == cp.HOLD


def test_ordered_operation_produces():
    decision = cp.decide(_completion(), [_unit()])
    assert decision.kind == cp.PRODUCE
    assert decision.unit.key == 1


def test_child_operation_is_recorded_only():
    child = _completion(operation={"id": "op-frame"})
    decision = cp.decide(child, [_unit()])
    assert decision.kind == cp.CHILD
    assert decision.unit.key == 1


def test_wip_flag_is_a_child_even_on_the_ordered_operation():
    assert cp.decide(_completion(wip=True), [_unit()]).kind == cp.CHILD


def test_done_unit_has_no_effect():
    assert cp.decide(_completion(), [_unit("done")]).kind == cp.ALREADY_DONE


def test_cancelled_unit_is_refused():
    assert cp.decide(_completion(), [_unit("cancelled")]).kind == cp.REFUSED


def test_missing_operation_with_one_unit_is_that_unit():
    bare = _completion(operation=None)
    assert cp.decide(bare, [_unit()]).kind == cp.PRODUCE


# --- serials --------------------------------------------------------------------
def test_produced_serial_reported():
    serial = cp.produced_serial(_completion(), _unit(), "serial", "Drone", False)
    assert serial == "DR-1"


def test_untracked_product_has_no_serial():
    assert cp.produced_serial(_completion(), _unit(), "none", "Drone", False) is None


def test_odoo_serial_must_match():
    with pytest.raises(cp.CompletionError) as err:
        cp.produced_serial(_completion(), _unit(reserved="SN-9"), "serial", "D", True)
    assert err.value.code == "serial_mismatch"
    assert "SN-9" in str(err.value) and "DR-1" in str(err.value)


def test_odoo_serial_used_when_pico_reports_none():
    completion = _completion(endState={"producedSerial": None})
    unit = _unit(reserved="SN-9")
    assert cp.produced_serial(completion, unit, "serial", "D", True) == "SN-9"


def test_odoo_serial_matching_is_accepted():
    completion = _completion(endState={"producedSerial": "SN-9"})
    assert cp.produced_serial(completion, _unit(reserved="SN-9"), "serial", "D", True)


def test_echoed_reserved_serial_used():
    completion = _completion(endState=None, reservedSerialNumber="R-5")
    assert cp.produced_serial(completion, _unit(), "serial", "D", False) == "R-5"


def test_no_serial_at_all_fails():
    completion = _completion(endState=None)
    with pytest.raises(cp.CompletionError) as err:
        cp.produced_serial(completion, _unit(), "serial", "Drone", False)
    assert err.value.code == "serial_missing"
    assert "Drone" in err.value.message


def test_render_translates_the_template():
    error = cp.CompletionError("serial_missing", unit="X/0", product="Drone")
    rendered = error.render(lambda template: f"[fr] {template}")
    assert rendered.startswith("[fr] Pico reported no produced serial for unit X/0")


# --- consumption ----------------------------------------------------------------
def test_serialized_lines_take_reported_serials_others_bom_ratio():
    consume, unmatched = cp.consumption(COMPONENTS, _completion().consumed_serials)
    by_key = {c.key: c for c in consume}
    assert by_key["motor"] == cp.Consume("motor", 1.0, cp.FROM_SERIALS, (("M-1", 1.0),))
    assert by_key["fc"].lots == (("F-1", 1.0),)
    assert by_key["screw"] == cp.Consume("screw", 4.0, cp.FROM_RATIO)
    assert unmatched == ()


def test_units_multiply_the_ratio():
    serials = (
        ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),
        ConsumedSerial("MOTOR-220", "M-2", "attr-motor"),
    )
    consume, _ = cp.consumption((MOTOR, SCREW), serials, units=2)
    assert consume[0].lots == (("M-1", 1.0), ("M-2", 1.0))
    assert consume[1].qty == 8.0


def test_match_by_part_number_without_id():
    serials = (ConsumedSerial("MOTOR-220", "M-1"), ConsumedSerial("FC-330", "F-1"))
    consume, unmatched = cp.consumption(COMPONENTS, serials)
    assert [c.lots for c in consume[:2]] == [(("M-1", 1.0),), (("F-1", 1.0),)]
    assert unmatched == ()


def test_unmapped_serials_are_reported_not_consumed():
    serials = (
        *_completion().consumed_serials,
        ConsumedSerial("BATT-9", "B-1", "attr-batt"),
    )
    _consume, unmatched = cp.consumption(COMPONENTS, serials)
    assert [s.value for s in unmatched] == ["B-1"]


def test_missing_serial_for_a_serialized_line_fails():
    serials = (ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),)
    with pytest.raises(cp.CompletionError) as err:
        cp.consumption(COMPONENTS, serials)
    assert err.value.code == "serial_count"
    assert err.value.params["line"] == "Flight controller"
    assert err.value.params["count"] == 0


def test_too_many_serials_fail():
    serials = (
        ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),
        ConsumedSerial("MOTOR-220", "M-2", "attr-motor"),
        ConsumedSerial("FC-330", "F-1", "attr-fc"),
    )
    with pytest.raises(cp.CompletionError, match="needs 1 serial"):
        cp.consumption(COMPONENTS, serials)


def test_same_serial_twice_fails():
    motor2 = cp.Component("motor", "Motor", "serial", 2.0, "attr-motor")
    serials = (
        ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),
        ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),
    )
    with pytest.raises(cp.CompletionError) as err:
        cp.consumption((motor2,), serials)
    assert err.value.code == "serial_twice"


def test_serialized_line_with_fraction_fails():
    half = cp.Component("motor", "Motor", "serial", 0.5, "attr-motor")
    with pytest.raises(cp.CompletionError) as err:
        cp.consumption((half,), (ConsumedSerial("MOTOR-220", "M-1", "attr-motor"),))
    assert err.value.code == "line_not_whole"


def test_lot_line_gets_the_lot_and_the_bom_quantity():
    serials = (ConsumedSerial("GLUE-1", "L-7"),)
    consume, _ = cp.consumption((GLUE,), serials)
    assert consume[0] == cp.Consume("glue", 0.5, cp.FROM_SERIALS, (("L-7", 0.5),))


def test_lot_line_without_lot_fails():
    with pytest.raises(cp.CompletionError) as err:
        cp.consumption((GLUE,), ())
    assert err.value.code == "lot_missing"


def test_unmapped_tracked_line_keeps_odoo_reservation():
    unmapped = cp.Component("glue", "Glue", "lot", 0.5)
    consume, _ = cp.consumption((unmapped,), ())
    assert consume[0].source == cp.FROM_RESERVATION
    assert consume[0].qty == 0.5


# --- timing and plan ------------------------------------------------------------
def test_timing_from_started_at_and_cycle_time():
    timing = cp.timing(_completion())
    assert timing.start == AT - timedelta(minutes=10)
    assert timing.end == AT
    assert timing.minutes == 10.0


def test_timing_without_started_at_uses_cycle_time():
    completion = _completion(operationSummary={"cycleTime": 90000})
    timing = cp.timing(completion)
    assert timing.start == AT - timedelta(seconds=90)
    assert timing.minutes == 1.5


def test_timing_without_cycle_time_uses_dates():
    completion = _completion(operationSummary={"startedAt": "2026-11-22T09:45:00Z"})
    assert cp.timing(completion).minutes == 15.0


def test_timing_without_anything():
    timing = cp.timing(_completion(operationSummary={}))
    assert (timing.start, timing.end, timing.minutes) == (None, AT, None)


def test_start_after_end_is_clamped():
    completion = _completion(
        operationSummary={"startedAt": "2026-11-22T10:05:00Z", "cycleTime": 0}
    )
    assert cp.timing(completion).start == AT


def test_plan_last_unit():
    unit = _unit()
    plan = cp.plan(_completion(), unit, COMPONENTS, units_left=1)
    assert plan.last_unit
    assert plan.produced_serial == "DR-1"
    assert len(plan.consume) == 3
    assert not cp.plan(_completion(), unit, COMPONENTS, units_left=3).last_unit


def test_operator_key_ignores_case_and_spaces():
    assert cp.operator_key("  Dana   RUIZ ") == cp.operator_key("dana ruiz")
    assert cp.operator_key(None) == ""


def test_shares_slice_the_interval_in_proportion():
    timing = cp.timing(_completion())  # 09:50 -> 10:00, 10 minutes
    first, second = cp.shares(timing, [1.0, 3.0])
    assert (first.start, first.end) == (
        AT - timedelta(minutes=10),
        AT - timedelta(minutes=7.5),
    )
    assert (second.start, second.end) == (first.end, AT)
    assert (first.minutes, second.minutes) == (2.5, 7.5)


def test_shares_without_start_are_empty():
    timing = cp.timing(_completion(operationSummary={}))
    assert cp.shares(timing, [1.0, 1.0]) == [cp.Timing(), cp.Timing()]
