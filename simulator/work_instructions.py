"""Pico's Work Instructions API (alpha) in the simulator, and "deploy".

Off by default: the documented schema has the mutation names but not their input
shapes, so a simulator that served them unasked would again agree with the addon
instead of with Pico. `PicoSimulator(work_instructions=True)` (or
`--work-instructions`) adds work_instructions.graphql to the schema.

Created products, processes and stations are drafts: nothing shows in Pico's
`operations` until the product is deployed (POST /_control/deploy
{"productId": "..."}), which makes each process and the product an Operation
(with its consumed serials), links them in order and fires the streams, as
deploying in Pico's UI does.
"""

import copy
import re
import threading
from pathlib import Path

from .store import SimError, iso, utcnow

SDL_PATH = Path(__file__).with_name("work_instructions.graphql")
ID_PATTERN = re.compile(r"^[a-z0-9_]{3,50}$", re.IGNORECASE)


def sdl():
    """The schema extension text."""
    return SDL_PATH.read_text()


def _check_id(value, field):
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise SimError(
            "BAD_USER_INPUT", f"{field}: {value!r} does not match ^[a-z0-9_]{{3,50}}$"
        )
    # Case-insensitive ids: one object whatever the case it is written in.
    return value.lower()


def _unique(ids, field):
    seen = set()
    for value in ids:
        if value in seen:
            raise SimError("BAD_USER_INPUT", f"{field}: {value!r} appears twice")
        seen.add(value)


class WorkInstructions:
    """Draft stations, processes and products, and the log of every write."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.stations = {}
            self.processes = {}
            self.products = {}
            self.log = []

    def _write(self, kind, table, key, record):
        action = "updated" if key in table else "created"
        record = {**record, "updatedAt": iso(utcnow())}
        if action == "updated":
            record["createdAt"] = table[key]["createdAt"]
            record["version"] = table[key]["version"] + 1
        else:
            record["createdAt"] = record["updatedAt"]
            record["version"] = 1
        table[key] = record
        self.log.append({"mutation": kind, "id": key, "action": action})
        return key

    def station_create(self, data):
        station = data["station"]
        with self.lock:
            key = _check_id(station["id"], "station.id")
            return self._write(
                "stationCreate", self.stations, key, copy.deepcopy(station)
            )

    def process_create(self, data):
        process = copy.deepcopy(data["process"])
        with self.lock:
            key = _check_id(process["id"], "process.id")
            step_ids = [
                _check_id(step["id"], f"process.steps[{index}].id")
                for index, step in enumerate(process["steps"])
            ]
            if not step_ids:
                raise SimError("BAD_USER_INPUT", "process.steps: at least one step")
            _unique(step_ids, "process.steps.id")
            for step in process["steps"]:
                actions = step.get("actions") or []
                _unique(
                    [_check_id(a["id"], "process.steps.actions.id") for a in actions],
                    "process.steps.actions.id",
                )
            station = process.get("stationId")
            if station is not None:
                station = _check_id(station, "process.stationId")
                if station not in self.stations:
                    raise SimError(
                        "NOT_FOUND", f"process.stationId: no station {station!r}"
                    )
            return self._write("processCreate", self.processes, key, process)

    def product_create(self, data):
        product = copy.deepcopy(data["product"])
        with self.lock:
            key = _check_id(product["id"], "product.id")
            process_ids = [
                _check_id(value, "product.processIds")
                for value in product["processIds"]
            ]
            if not process_ids:
                raise SimError("BAD_USER_INPUT", "product.processIds: at least one")
            _unique(process_ids, "product.processIds")
            for value in process_ids:
                if value not in self.processes:
                    raise SimError(
                        "NOT_FOUND", f"product.processIds: no process {value!r}"
                    )
            serials = product.get("consumedSerials") or []
            _unique(
                [_check_id(s["id"], "product.consumedSerials.id") for s in serials],
                "product.consumedSerials.id",
            )
            for serial in serials:
                if serial.get("processId") is not None and (
                    serial["processId"].lower() not in process_ids
                ):
                    raise SimError(
                        "BAD_USER_INPUT",
                        f"product.consumedSerials: process {serial['processId']!r} "
                        "is not one of the product's processIds",
                    )
            product["processIds"] = process_ids
            return self._write("productCreate", self.products, key, product)

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(
                {
                    "stations": self.stations,
                    "processes": self.processes,
                    "products": self.products,
                    "log": self.log,
                }
            )

    def deployable(self, product_id):
        """The product and its processes, as they are now; raises NOT_FOUND."""
        with self.lock:
            key = (product_id or "").lower()
            product = self.products.get(key)
            if product is None:
                raise SimError("NOT_FOUND", f"no product {product_id!r} to deploy")
            processes = [
                copy.deepcopy(self.processes[p]) for p in product["processIds"]
            ]
            return copy.deepcopy(product), processes


def _attribute(serial):
    return {"id": serial["id"].lower(), "externalId": serial["partNumber"]}


def deploy(sim, product_id):
    """Deploy a created product: its processes and itself become Operations."""
    product, processes = sim.work_instructions.deployable(product_id)
    serials = product.get("consumedSerials") or []
    deployed = []
    for process in processes:
        own = [
            _attribute(s)
            for s in serials
            if (s.get("processId") or "").lower() == process["id"].lower()
        ]
        deployed.append(
            sim.deploy_operation(
                {
                    "id": process["id"].lower(),
                    "name": process["name"],
                    "consumedSerials": own,
                }
            )
        )
    operation = {
        "id": product["id"].lower(),
        "name": product["name"],
        "consumedSerials": [_attribute(s) for s in serials],
    }
    if product.get("partNumber"):
        operation["externalId"] = product["partNumber"]
    if product.get("revision"):
        operation["externalRevision"] = product["revision"]
    deployed.append(sim.deploy_operation(operation))
    links = sim.replace_sub_operations(product["id"].lower(), product["processIds"])
    return {"operations": deployed, "subOperations": links}


class Resolvers:
    """The three mutations; each answers the id it wrote."""

    def __init__(self, sim):
        self.sim = sim

    def _run(self, function, args):
        # Imported here: graph imports this module's sdl() at schema build time.
        from .graph import _call

        return _call(function, args["input"])

    def root_value(self):
        store = self.sim.work_instructions
        return {
            "stationCreate": lambda info, **args: self._run(store.station_create, args),
            "processCreate": lambda info, **args: self._run(store.process_create, args),
            "productCreate": lambda info, **args: self._run(store.product_create, args),
        }
