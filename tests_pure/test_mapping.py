"""BOM <-> Pico operation mapping rules, suggestions and version differences."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core import mapping
from core.mapping import Attribute, Bom, Line, Operation, Step
from core.payloads import parse_operation

MOTOR = Attribute("attr-motor", "MOTOR-220", "Motor serial")
FC = Attribute("attr-fc", "FC-330", "Flight controller serial")
FRAME_PROCESS = Operation(
    "op-frame",
    "Frame assembly",
    "DRONE-100-P10",
    "A",
    attributes=(MOTOR,),
    is_child=True,
)
FLIGHT_PROCESS = Operation(
    "op-flight",
    "Flight controller install",
    "DRONE-100-P20",
    "A",
    attributes=(FC,),
    is_child=True,
)
DRONE = Operation(
    "op-drone",
    "Pico Demo Drone",
    "DRONE-100",
    "A",
    attributes=(MOTOR, FC),
    descendant_keys=("op-frame", "op-flight"),
)


def _line(key, name, code, tracking="serial", attribute=None, **extra):
    values = {
        "key": key,
        "name": name,
        "default_code": code,
        "tracking": tracking,
        "product_uom_name": "Units",
        "uom_name": "Units",
    }
    if attribute:
        values.update(
            attribute_key=attribute.key,
            attribute_operation_key="op-drone",
            attribute_title=attribute.title,
        )
    values.update(extra)
    return Line(**values)


def _bom(**overrides):
    values = {
        "name": "Drone",
        "product_name": "[DRONE-100] Drone",
        "product_tracking": "serial",
        "uom_name": "Units",
        "product_uom_name": "Units",
        "operation": DRONE,
        "lines": (
            _line(1, "[MOTOR-220] Motor", "MOTOR-220", attribute=MOTOR),
            _line(2, "[FC-330] Flight controller", "FC-330", attribute=FC),
            _line(3, "Frame", None, tracking="none"),
            _line(4, "Screw", None, tracking="none", qty_per_unit=8.0),
        ),
    }
    values.update(overrides)
    return Bom(**values)


def _codes(problems):
    return [problem.code for problem in problems]


def test_valid_mapping_has_no_problem():
    """The demo drone mapping passes every rule."""
    assert mapping.validate(_bom()) == []


def test_no_operation():
    """A BOM without operation says which product needs one."""
    problems = mapping.validate(_bom(operation=None))
    assert _codes(problems) == ["no_operation"]
    assert "[DRONE-100] Drone" in problems[0].message


def test_kit_is_refused():
    """A kit BOM cannot go to Pico."""
    assert _codes(mapping.validate(_bom(kind="phantom"))) == ["kit"]


def test_archived_operation():
    """Mapping an archived operation is a problem naming it."""
    problems = mapping.validate(_bom(operation=replace(DRONE, archived=True)))
    assert _codes(problems) == ["operation_archived"]
    assert "[DRONE-100] Pico Demo Drone" in problems[0].message


@pytest.mark.parametrize(("tracking", "word"), [("none", "nothing"), ("lot", "lots")])
def test_finished_product_must_be_serial(tracking, word):
    """Pico produces serials: the finished product must be serial tracked."""
    problems = mapping.validate(_bom(product_tracking=tracking))
    assert _codes(problems) == ["product_not_serial"]
    assert word in problems[0].message
    assert "[DRONE-100] Drone" in problems[0].message


def test_bom_units_must_be_whole_and_convertible():
    """Half a unit, or a unit of another kind, cannot be built by Pico."""
    problems = mapping.validate(_bom(units=0.5))
    assert _codes(problems) == ["bom_units"]
    assert "0.5" in problems[0].message
    problems = mapping.validate(_bom(units=None, uom_name="kg"))
    assert _codes(problems) == ["bom_uom"]
    assert "kg" in problems[0].message


def test_attribute_without_line():
    """Every consumed serial must map to a BOM line; the message names it."""
    bom = _bom()
    lines = (replace(bom.lines[0], attribute_key=None), *bom.lines[1:])
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["attribute_unmapped", "line_unmapped"]
    assert "MOTOR-220 (Motor serial)" in problems[0].message
    assert problems[0].subject == ("attribute", "attr-motor")
    assert "[MOTOR-220] Motor" in problems[1].message
    assert problems[1].subject == ("line", 1)


def test_attribute_mapped_twice():
    """Two lines on one attribute are named together."""
    bom = _bom()
    lines = (
        *bom.lines,
        _line(5, "[MOTOR-220] Spare motor", "MOTOR-220", attribute=MOTOR),
    )
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["attribute_mapped_twice"]
    assert "[MOTOR-220] Motor, [MOTOR-220] Spare motor" in problems[0].message


def test_tracked_line_without_attribute():
    """A lot or serial tracked component must map to an attribute."""
    bom = _bom()
    lines = (*bom.lines, _line(6, "[GLUE] Glue", "GLUE", tracking="lot"))
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["line_unmapped"]
    assert "[GLUE] Glue" in problems[0].message
    assert "lots" in problems[0].message


def test_line_on_removed_attribute():
    """A line whose attribute the new version dropped is flagged."""
    operation = replace(DRONE, attributes=(MOTOR, replace(FC, active=False)))
    problems = mapping.validate(_bom(operation=operation))
    assert _codes(problems) == ["line_attribute_removed"]
    assert "[FC-330] Flight controller" in problems[0].message
    assert "FC-330" in problems[0].message


def test_line_on_attribute_of_another_operation():
    """A line mapped to another operation's attribute is flagged."""
    bom = _bom()
    lines = (replace(bom.lines[0], attribute_operation_key="op-frame"), *bom.lines[1:])
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["attribute_unmapped", "line_attribute_foreign"]


def test_untracked_line_on_attribute():
    """An attribute captures a serial: its component must be tracked."""
    bom = _bom()
    lines = (replace(bom.lines[0], tracking="none"), *bom.lines[1:])
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["line_not_tracked"]
    assert "[MOTOR-220] Motor" in problems[0].message


def test_serial_line_quantity_and_unit():
    """One serial per unit built; a line unit that does not convert is flagged."""
    bom = _bom()
    lines = (replace(bom.lines[0], qty_per_unit=2.0), *bom.lines[1:])
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["line_qty"]
    assert "consumes 2" in problems[0].message
    lines = (*bom.lines[:3], replace(bom.lines[3], qty_per_unit=None, uom_name="kg"))
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["line_uom"]
    assert "Screw" in problems[0].message


def test_routing_steps():
    """Steps map to the operation's processes, all or none."""
    steps = (
        Step(10, "Frame", 1, FRAME_PROCESS),
        Step(20, "Flight controller", 2, FLIGHT_PROCESS),
    )
    bom = _bom(steps=steps)
    assert mapping.validate(bom) == []
    problems = mapping.validate(
        replace(bom, steps=(steps[0], replace(steps[1], process=None)))
    )
    assert _codes(problems) == ["step_unmapped"]
    stranger = Operation("op-x", "Paint", "X-1", archived=True)
    problems = mapping.validate(
        replace(bom, steps=(steps[0], replace(steps[1], process=stranger)))
    )
    assert _codes(problems) == ["step_foreign", "step_archived"]
    # The motor consumed in the flight-controller step: that process does not take it.
    lines = (replace(bom.lines[0], step_key=20), *bom.lines[1:])
    problems = mapping.validate(replace(bom, lines=lines))
    assert _codes(problems) == ["line_step_attribute"]
    assert "Flight controller install" in problems[0].message


def test_suggest_operation_by_part_number_and_revision():
    """Part number first, then revision, then top level; ties suggest nothing."""
    old_rev = replace(DRONE, key="op-drone-b", revision="B")
    archived = replace(DRONE, key="op-drone-z", archived=True)
    operations = [FRAME_PROCESS, old_rev, DRONE, archived]
    assert mapping.suggest_operation("drone-100 ", "A", operations) is DRONE
    assert mapping.suggest_operation("DRONE-100", "B", operations) is old_rev
    assert mapping.suggest_operation("DRONE-100", None, operations) is None  # tie
    assert mapping.suggest_operation("NOPE", "A", operations) is None
    assert mapping.suggest_operation("", "A", operations) is None
    coded = Operation("op-c", "Coded", "OTHER", external_codes=("ALT-1", "ALT-2"))
    assert mapping.suggest_operation("alt-2", None, [coded]) is coded
    assert [op.key for op in mapping.rank_operations("DRONE-100", "A", operations)] == [
        "op-drone",
        "op-drone-b",
    ]


def test_suggest_attributes_by_part_number():
    """Unmapped lines get the attribute with their internal reference."""
    bom = _bom()
    lines = tuple(
        replace(line, attribute_key=None, attribute_operation_key=None)
        for line in bom.lines
    )
    assert mapping.suggest_attributes(lines, DRONE) == {1: "attr-motor", 2: "attr-fc"}
    # Already mapped attributes and ambiguous part numbers are left alone.
    lines = (bom.lines[0], replace(lines[1]), replace(lines[1], key=9))
    assert mapping.suggest_attributes(lines, DRONE) == {}


def test_suggest_steps_by_name_then_order():
    """Equal names first; otherwise Pico's order when nothing is mapped yet."""
    steps = (Step(1, "Flight controller install", 20), Step(2, "Frame", 10))
    assert mapping.suggest_steps(steps, [FRAME_PROCESS, FLIGHT_PROCESS]) == {
        1: "op-flight"
    }
    steps = (Step(1, "B", 20), Step(2, "A", 10))
    assert mapping.suggest_steps(steps, [FRAME_PROCESS, FLIGHT_PROCESS]) == {
        2: "op-frame",
        1: "op-flight",
    }
    steps = (Step(1, "A", 10, FRAME_PROCESS), Step(2, "B", 20))
    assert mapping.suggest_steps(steps, [FRAME_PROCESS, FLIGHT_PROCESS]) == {}


def _canonical(**overrides):
    payload = {
        "id": "op-drone",
        "name": "Pico Demo Drone",
        "externalId": "DRONE-100",
        "externalRevision": "A",
        "consumedSerials": [
            {"id": "attr-motor", "externalId": "MOTOR-220"},
            {"id": "attr-fc", "externalId": "FC-330"},
        ],
        "updatedAt": "2025-01-01T00:00:00Z",
        "archivedAt": None,
    }
    payload.update(overrides)
    return mapping.canonical_operation(parse_operation(payload))


def test_canonical_operation():
    """Timestamps normalised, duplicates dropped, empty values as None."""
    canonical = _canonical(
        externalCodes=["", "X"],
        templateID="",
        consumedSerials=[{"id": "a"}, {"id": "a"}, {"externalId": "P"}, {}],
    )
    assert canonical["updatedAt"] == datetime(2025, 1, 1, tzinfo=UTC).isoformat()
    assert canonical["externalCodes"] == ["X"]
    assert canonical["templateID"] is None
    assert [mapping.attribute_key(s) for s in canonical["consumedSerials"]] == [
        "a",
        "part:P",
    ]


def test_operation_changes():
    """Every difference becomes one readable change; same payload, no change."""
    old = _canonical()
    assert (
        mapping.operation_changes(old, _canonical(updatedAt="2025-02-01T00:00:00Z"))
        == []
    )
    assert [c.code for c in mapping.operation_changes(None, old)] == ["created"]
    new = _canonical(
        name="Drone v2",
        archivedAt="2025-02-01T00:00:00Z",
        consumedSerials=[
            {"id": "attr-motor", "externalId": "MOTOR-221"},
            {"id": "attr-gps", "externalId": "GPS-1"},
        ],
    )
    changes = mapping.operation_changes(old, new)
    assert [c.message for c in changes] == [
        "Name: Pico Demo Drone → Drone v2",
        "Consumed serial MOTOR-221: MOTOR-220 → MOTOR-221",
        "Consumed serial added: GPS-1",
        "Consumed serial removed: FC-330",
        "Archived in Pico",
    ]
    assert mapping.affects_mapping(changes)
    assert not mapping.affects_mapping(
        mapping.operation_changes(old, _canonical(name="X"))
    )


def test_every_template_formats():
    """No template has a placeholder its callers cannot fill."""
    for template in [*mapping.MESSAGES.values(), *mapping.CHANGE_MESSAGES.values()]:
        names = {part.split(")")[0] for part in template.split("%(")[1:]}
        assert template % dict.fromkeys(names, "x")
