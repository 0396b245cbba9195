"""The simulator's Work Instructions API (alpha): strict inputs, opt-in, deploy."""

import pytest
import requests
from graphql import parse, validate
from sim_fixture import running_simulator

from core import bom_transfer as bt
from core import features
from core.bom_transfer import BomIn, SerialIn, StepIn, WorkcenterIn
from simulator import profiles
from simulator import work_instructions as wi

WAIT = 10.0

BOM = BomIn(
    key="bom:1",
    product_name="Rover",
    default_code="ROVER-7",
    revision="B",
    steps=(
        StepIn(
            "operation:1",
            "Chassis",
            WorkcenterIn("workcenter:1", "Assembly", "ASM"),
            note="<ol><li>Bolt the wheels</li><li>Fit the motor</li></ol>",
        ),
        StepIn("operation:2", "Test", WorkcenterIn("workcenter:2", "Bench")),
    ),
    serials=(SerialIn("line:1", "Motor", "MOT-1", step_key="operation:1"),),
)


def gql(sim, query, variables=None):
    return requests.post(
        sim.url,
        json={"query": query, "variables": variables or {}},
        headers={"x-pico-api-org": sim.token},
        timeout=WAIT,
    )


def send(sim, document):
    name = document["mutation"]
    return gql(sim, bt.DOCUMENTS[name], {"input": document["input"]})


@pytest.fixture
def wi_sim():
    with running_simulator(work_instructions=True) as simulator:
        yield simulator


def _detected(sim):
    answer = gql(sim, features.INTROSPECTION_QUERY)
    return features.features_from_introspection(answer.json()["data"])


def test_off_by_default(pico_sim):
    answer = gql(pico_sim, bt.DOCUMENTS["processCreate"], {"input": {}})
    assert answer.status_code == 400
    assert bt.missing_mutations(_detected(pico_sim)) == list(bt.MUTATIONS)


def test_every_element_is_annotated_with_its_source():
    document = parse(wi.sdl())
    found = profiles.annotations(document)
    assert len(found) > 30
    unannotated = [item.path for item in found if item.source is None]
    assert unannotated == []
    documented = {item.path for item in found if item.source == "documented"}
    # What pico-api.md §1.4 documents, and nothing more.
    assert "ProcessCreateInput.process" in documented
    assert "ProcessInput.steps" in documented
    assert "ProcessInput.stationId" not in documented
    assert not {path for path in documented if path.startswith("Product")}


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_served_on_request_by_every_profile(profile):
    with running_simulator(work_instructions=True, schema_profile=profile) as sim:
        assert bt.missing_mutations(_detected(sim)) == []
        assert features.WORK_INSTRUCTIONS_KEYS <= _detected(sim)


def test_every_document_the_addon_sends_validates(wi_sim):
    assert bt.missing_mutations(_detected(wi_sim)) == []
    for document in bt.DOCUMENTS.values():
        assert validate(wi_sim.schema, parse(document)) == []
    for document in bt.plan(BOM).documents:
        answer = send(wi_sim, document)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == {document["mutation"]: bt.document_id(document)}


def test_second_send_updates(wi_sim):
    documents = bt.plan(BOM).documents
    for _round in range(2):
        for document in documents:
            assert send(wi_sim, document).status_code == 200
    state = wi_sim.work_instruction_state()
    assert sorted(state["processes"]) == ["rover_7_chassis", "rover_7_test"]
    assert sorted(state["products"]) == ["rover_7"]
    assert state["products"]["rover_7"]["version"] == 2
    actions = [entry["action"] for entry in state["log"]]
    assert actions == ["created"] * 5 + ["updated"] * 5


def test_unknown_fields_are_rejected(wi_sim):
    document = bt.plan(BOM).documents[-1]
    product = {**document["input"]["product"], "quantity": 1}
    answer = gql(wi_sim, bt.DOCUMENTS["productCreate"], {"input": {"product": product}})
    assert answer.status_code == 400
    assert "quantity" in answer.text
    process = bt.plan(BOM).documents[2]["input"]["process"]
    process = {**process, "station": "asm"}
    answer = gql(wi_sim, bt.DOCUMENTS["processCreate"], {"input": {"process": process}})
    assert answer.status_code == 400 and "station" in answer.text


@pytest.mark.parametrize("bad_id", ["ab", "Has-Dash", "x" * 51, "spaces here"])
def test_ids_must_match_the_pattern(wi_sim, bad_id):
    answer = gql(
        wi_sim,
        bt.DOCUMENTS["stationCreate"],
        {"input": {"station": {"id": bad_id, "name": "S"}}},
    )
    errors = answer.json()["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "a-z0-9_" in errors[0]["message"]


def test_references_must_exist(wi_sim):
    documents = bt.plan(BOM).documents
    answer = send(wi_sim, documents[2])  # a process before its station
    assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    answer = send(wi_sim, documents[-1])  # a product before its processes
    assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert wi_sim.work_instruction_state()["products"] == {}


def test_deploy_makes_operations_with_serials_and_links(wi_sim):
    for document in bt.plan(BOM).documents:
        send(wi_sim, document)
    before = {op["id"] for op in wi_sim.operations()}
    assert "rover_7" not in before  # created is not deployed
    answer = requests.post(
        wi_sim.control_url + "deploy", json={"productId": "rover_7"}, timeout=WAIT
    )
    assert answer.status_code == 200
    operations = {op["id"]: op for op in wi_sim.operations()}
    product = operations["rover_7"]
    assert product["externalId"] == "ROVER-7"
    assert product["externalRevision"] == "B"
    assert [(a["id"], a["externalId"]) for a in product["consumedSerials"]] == [
        ("mot_1", "MOT-1")
    ]
    assert [a["id"] for a in operations["rover_7_chassis"]["consumedSerials"]] == [
        "mot_1"
    ]
    assert operations["rover_7_test"]["consumedSerials"] == []
    links = [
        link["subId"]
        for link in wi_sim.sub_operations()
        if link["parentId"] == "rover_7"
    ]
    assert links == ["rover_7_chassis", "rover_7_test"]
    missing = requests.post(
        wi_sim.control_url + "deploy", json={"productId": "nope_1"}, timeout=WAIT
    )
    assert missing.status_code == 404
