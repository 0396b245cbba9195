"""Shop-floor decisions (quality, scrap, downtime, consumption), without Odoo."""

from datetime import datetime, timedelta, timezone

import pytest

from core import clock, shopfloor
from core.errors import PayloadError


@pytest.mark.parametrize(
    ("result", "defect", "serial", "expected"),
    [
        ("pass", shopfloor.SCRAP, "SN1", shopfloor.NONE),
        ("review", shopfloor.NONE, "SN1", shopfloor.HOLD),
        ("fail", shopfloor.SCRAP, "SN1", shopfloor.SCRAP),
        ("fail", shopfloor.NONE, "SN1", shopfloor.NONE),
        ("fail", None, "SN1", shopfloor.HOLD),
        # A batch is never scrapped whole automatically.
        ("fail", shopfloor.SCRAP, None, shopfloor.HOLD),
    ],
)
def test_quality_consequence(result, defect, serial, expected):
    assert shopfloor.quality_consequence(result, defect, serial) == expected


def test_quality_states_move_one_way():
    assert shopfloor.may_move_quality(shopfloor.HELD, shopfloor.RELEASED)
    assert not shopfloor.may_move_quality(shopfloor.RELEASED, shopfloor.HELD)
    assert not shopfloor.may_move_quality(shopfloor.SCRAPPED, shopfloor.RELEASED)
    values = {value for value, _label in shopfloor.QUALITY_STATES}
    assert set(shopfloor.QUALITY_TRANSITIONS) == values
    assert set(shopfloor.STATE_OF_CONSEQUENCE.values()) <= values


@pytest.mark.parametrize(
    ("tracking", "found", "name", "finished", "expected"),
    [
        ("none", False, None, False, shopfloor.SCRAP_OK),
        ("serial", True, "SN1", False, shopfloor.SCRAP_OK),
        ("lot", False, None, False, shopfloor.SCRAP_NAME_MISSING),
        ("serial", False, "SN1", True, shopfloor.SCRAP_WAIT_FOR_SERIAL),
        ("serial", False, "SN1", False, shopfloor.SCRAP_LOT_UNKNOWN),
    ],
)
def test_scrap_lot_check(tracking, found, name, finished, expected):
    assert shopfloor.scrap_lot_check(tracking, found, name, finished) == expected


def test_downtime_is_one_record_opened_then_closed():
    assert shopfloor.downtime_action(False, False) == shopfloor.DOWNTIME_OPENED
    assert shopfloor.downtime_action(False, True) == shopfloor.DOWNTIME_RECORDED
    assert shopfloor.downtime_action(True, False) == shopfloor.DOWNTIME_UPDATED
    assert shopfloor.downtime_action(True, True) == shopfloor.DOWNTIME_CLOSED


def test_consumption_only_on_open_orders():
    assert shopfloor.consumption_allowed("progress")
    assert not shopfloor.consumption_allowed("done")
    assert not shopfloor.consumption_allowed("cancel")


def test_one_time_helper():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 1, 13, 0, 5, 987654, tzinfo=paris)
    naive = datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone.utc).replace(tzinfo=None)
    assert clock.odoo_datetime(moment) == naive
    assert clock.odoo_datetime(None) is False
    assert clock.parse_odoo_datetime("2026-03-01T12:00:05.5Z", "at") == naive
    assert clock.parse_odoo_datetime("", "at") is False
    with pytest.raises(PayloadError):
        clock.parse_odoo_datetime("yesterday", "end")
