"""BOM transfer rules: ids, collisions, notes as steps, the documents planned."""

import pytest

from core import bom_transfer as bt
from core import features
from core.bom_transfer import BomIn, SerialIn, StepIn, WorkcenterIn

ASSEMBLY = WorkcenterIn("workcenter:1", "Assembly Line", code="ASM-1")
TEST_BENCH = WorkcenterIn("workcenter:2", "Test bench")


def _bom(**changes):
    values = {
        "key": "bom:1",
        "product_name": "Drone",
        "default_code": "DRONE-100",
        "revision": "A",
        "steps": (
            StepIn(
                "operation:1",
                "Frame assembly",
                ASSEMBLY,
                note="<ol><li>Fit the arms</li><li>Tighten the <b>four</b> screws</li>"
                "</ol>",
            ),
            StepIn(
                "operation:2",
                "Electronics",
                ASSEMBLY,
                note="<p>Mount the controller.</p><p>Plug the motors<br>in order</p>",
            ),
            StepIn("operation:3", "Flight test", TEST_BENCH),
        ),
        "serials": (
            SerialIn("line:1", "Motor", "MOTOR-220", step_key="operation:1"),
            SerialIn("line:2", "Flight controller", "FC-330", step_key="operation:2"),
        ),
    }
    values.update(changes)
    return BomIn(**values)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("DRONE-100", "drone_100"),
        ("  Drone 100 / Rev.B ", "drone_100_rev_b"),
        ("Überschall-Motor", "uberschall_motor"),
        ("A1", "a1_id"),
        ("x", "x_id"),
        ("__abc__", "abc"),
        ("Moteur électrique 3×", "moteur_electrique_3"),
        ("日本", ""),
        ("", ""),
        (None, ""),
        ("---", ""),
    ],
)
def test_normalise_id(reference, expected):
    assert bt.normalise_id(reference) == expected
    if expected:
        assert bt.is_valid_id(expected)


def test_long_references_are_cut_and_keep_apart():
    one = bt.normalise_id("X" * 60 + "-ONE")
    two = bt.normalise_id("X" * 60 + "-TWO")
    assert len(one) == bt.MAX_LENGTH and len(two) == bt.MAX_LENGTH
    assert one != two
    assert bt.is_valid_id(one) and bt.is_valid_id(two)
    # Pure function: the same reference always gives the same id.
    assert one == bt.normalise_id("X" * 60 + "-ONE")


def test_collision_rule_is_stable_and_order_free():
    taken = {"drone_100": "bom:1"}
    assert bt.assign_id("drone_100", "bom:1", taken) == "drone_100"
    second = bt.assign_id("drone_100", "bom:2", taken)
    assert second.startswith("drone_100_") and second != "drone_100"
    assert bt.is_valid_id(second)
    # Same owner, same answer whatever else is taken meanwhile.
    assert bt.assign_id("drone_100", "bom:2", {**taken, "other": "bom:9"}) == second
    # An id in Pico that Odoo did not create (owner None) is never overwritten.
    assert bt.assign_id("drone_100", "bom:3", {"drone_100": None}) != "drone_100"
    # Hash taken as well: counters follow.
    crowded = {"drone_100": "bom:1", second: "bom:7"}
    assert bt.assign_id("drone_100", "bom:2", crowded) == "drone_100_2"


def test_collision_suffix_fits_the_length_limit():
    candidate = "a" * bt.MAX_LENGTH
    other = bt.assign_id(candidate, "bom:2", {candidate: "bom:1"})
    assert len(other) <= bt.MAX_LENGTH and bt.is_valid_id(other)


@pytest.mark.parametrize(
    ("note", "steps"),
    [
        (None, []),
        ("", []),
        ("<p><br></p>", []),
        (
            "<ol><li>Fit the arms</li><li>Tighten the <b>four</b> screws</li></ol>",
            ["Fit the arms", "Tighten the four screws"],
        ),
        (
            "<p>Mount it.</p><p>Plug the motors<br>in order</p>",
            ["Mount it.", "Plug the motors\nin order"],
        ),
        ("<h2>Safety</h2><ul><li>Gloves</li></ul>", ["Safety", "Gloves"]),
        ("One line only", ["One line only"]),
        ("First\nSecond\n\n", ["First", "Second"]),
        ("Para one\nstill one\n\nPara two", ["Para one\nstill one", "Para two"]),
        ("<p>A &amp; B</p><script>alert(1)</script>", ["A & B"]),
    ],
)
def test_split_note(note, steps):
    assert bt.split_note(note) == steps


def test_plan_documents_of_a_bom():
    plan = bt.plan(_bom())
    mutations = [document["mutation"] for document in plan.documents]
    # Stations first (one per work centre), then processes in BOM order, then the
    # product that references them.
    assert mutations == [
        "stationCreate",
        "stationCreate",
        "processCreate",
        "processCreate",
        "processCreate",
        "productCreate",
    ]
    stations = [d["input"]["station"] for d in plan.documents[:2]]
    assert stations == [
        {"id": "asm_1", "name": "Assembly Line"},
        {"id": "test_bench", "name": "Test bench"},
    ]
    frame, electronics, flight = (d["input"]["process"] for d in plan.documents[2:5])
    assert frame["id"] == "drone_100_frame_assembly"
    assert frame["stationId"] == "asm_1"
    assert [s["instructionText"]["text"] for s in frame["steps"]] == [
        "Fit the arms",
        "Tighten the four screws",
    ]
    assert [s["id"] for s in frame["steps"]] == ["step_1", "step_2"]
    assert electronics["steps"][1]["name"] == "Plug the motors"
    # No note: one step, named and worded after the operation.
    assert flight["steps"] == [
        {
            "id": "step_1",
            "name": "Flight test",
            "instructionText": {"text": "Flight test"},
        }
    ]
    assert flight["stationId"] == "test_bench"
    product = plan.documents[-1]["input"]["product"]
    assert product == {
        "id": "drone_100",
        "name": "Drone",
        "partNumber": "DRONE-100",
        "revision": "A",
        "processIds": [
            "drone_100_frame_assembly",
            "drone_100_electronics",
            "drone_100_flight_test",
        ],
        "consumedSerials": [
            {
                "id": "motor_220",
                "partNumber": "MOTOR-220",
                "processId": "drone_100_frame_assembly",
            },
            {
                "id": "fc_330",
                "partNumber": "FC-330",
                "processId": "drone_100_electronics",
            },
        ],
    }
    for document in plan.documents:
        assert bt.is_valid_id(bt.document_id(document))


def test_pinned_ids_survive_renames():
    first = bt.plan(_bom())
    steps = tuple(
        StepIn(
            step.key,
            step.name + " (new name)",
            step.workcenter,
            step.note,
            pinned_id=first.process_ids[step.key],
        )
        for step in _bom().steps
    )
    again = bt.plan(
        _bom(default_code="DRONE-200", pinned_id=first.product_id, steps=steps),
        taken={first.product_id: "bom:1"},
    )
    assert again.product_id == first.product_id
    assert again.process_ids == first.process_ids
    assert again.fingerprint != first.fingerprint  # names changed: changed since sent


def test_fingerprint_is_stable():
    assert bt.plan(_bom()).fingerprint == bt.plan(_bom()).fingerprint


def test_second_bom_of_the_same_product_gets_its_own_ids():
    first = bt.plan(_bom())
    taken = {first.product_id: "bom:1"}
    taken.update({pid: key for key, pid in first.process_ids.items()})
    other = bt.plan(
        _bom(
            key="bom:2",
            steps=tuple(
                StepIn(f"operation:{n + 10}", s.name, s.workcenter, s.note)
                for n, s in enumerate(_bom().steps)
            ),
        ),
        taken=taken,
    )
    assert other.product_id != first.product_id
    assert other.product_id.startswith("drone_100_")
    assert not set(other.process_ids.values()) & set(first.process_ids.values())


def test_problems_are_listed_together():
    bad = _bom(
        default_code=" ",
        steps=(),
        serials=(SerialIn("line:9", "Battery", None),),
    )
    with pytest.raises(bt.TransferError) as info:
        bt.plan(bad)
    codes = [problem.code for problem in info.value.problems]
    assert codes == ["no_product_code", "no_operations", "component_no_code"]
    assert "Battery" in str(info.value)


def test_unusable_names_and_bad_pinned_ids():
    steps = (StepIn("operation:1", "—", WorkcenterIn("workcenter:1", "日本")),)
    with pytest.raises(bt.TransferError) as info:
        bt.plan(_bom(steps=steps, serials=(), pinned_id="Bad-Id!"))
    codes = [problem.code for problem in info.value.problems]
    assert codes == ["bad_pinned_id", "no_usable_id", "no_usable_id"]


def test_same_part_number_twice_gets_distinct_serial_ids():
    serials = (
        SerialIn("line:1", "Motor", "MOTOR-220"),
        SerialIn("line:2", "Motor", "MOTOR-220"),
    )
    plan = bt.plan(_bom(serials=serials))
    ids = [s["id"] for s in plan.documents[-1]["input"]["product"]["consumedSerials"]]
    assert ids[0] == "motor_220" and ids[1].startswith("motor_220_")
    assert all(
        "processId" not in s
        for s in plan.documents[-1]["input"]["product"]["consumedSerials"]
    )


def test_missing_mutations():
    assert bt.missing_mutations({"Operation.externalCodes"}) == list(bt.MUTATIONS)
    assert bt.missing_mutations(features.WORK_INSTRUCTIONS_KEYS) == []
    assert bt.missing_mutations({features.PROCESS_CREATE}) == [
        "stationCreate",
        "productCreate",
    ]


def test_documents_are_valid_graphql():
    graphql = pytest.importorskip("graphql")
    for document in bt.DOCUMENTS.values():
        graphql.parse(document)
