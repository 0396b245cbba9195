"""The benchmark's set-up: Odoo, PostgreSQL, a fresh database, Mosquitto, the
simulators (the demo's, and one per generated catalogue), the install of the
addon and of the floor, the demo backend."""

import json
import os
import platform

import harness as h

from .state import PREFIX, RUN_DIR

FLOOR_MODULE = "pico_bench_floor"
# The benchmark's own throwaway addon: what Odoo costs to answer a sessionless POST
# that reads its body and runs one query (never part of mrp_pico_mes).
FLOOR_FILES = {
    "__init__.py": "from . import controllers\n",
    "__manifest__.py": repr(
        {
            "name": "Benchmark floor (dev/benchmark.py, throwaway)",
            "version": "19.0.1.0.0",
            "depends": ["web"],
            "license": "LGPL-3",
            "installable": True,
        }
    )
    + "\n",
    "controllers/__init__.py": "from . import floor\n",
    "controllers/floor.py": """from odoo import http
from odoo.http import request


class Floor(http.Controller):
    @http.route(
        "/pico_bench_floor/<string:key>/<string:kind>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def floor(self, key, kind, **_kwargs):
        body = request.httprequest.get_data()
        request.env.cr.execute("SELECT %s", [len(body)])
        return request.make_json_response(
            {"status": "accepted", "bytes": request.env.cr.fetchone()[0]}, status=202
        )
""",
}


def catalogue_fixture(count, children=4):
    """A Pico catalogue of `count` operations: products with `children` processes."""
    stamp = "2025-01-01T00:00:00Z"
    operations, links = [], []

    def operation(op_id, name, part, serials):
        return {
            "id": op_id,
            "name": name,
            "externalId": part,
            "externalRevision": "A",
            "externalCodes": [],
            "templateID": None,
            "variantName": None,
            "consumedSerials": serials,
            "updatedAt": stamp,
            "archivedAt": None,
        }

    for product in range(count // (children + 1)):
        parent = f"bench-{product:05d}"
        serials = [
            {
                "id": f"{parent}-a{k}",
                "externalId": f"BC-{product:05d}-{k}",
            }
            for k in range(2)
        ]
        operations.append(
            operation(parent, f"Bench product {product}", parent, serials)
        )
        for child in range(children):
            op_id = f"{parent}-p{child}"
            operations.append(
                operation(
                    op_id,
                    f"Bench product {product} step {child}",
                    f"{parent}-P{child}",
                    serials[child : child + 1] if child < 2 else [],
                )
            )
            links.append(
                {
                    "parentId": parent,
                    "subId": op_id,
                    "subGroup": None,
                    "updatedAt": stamp,
                }
            )
    return {"operations": operations, "subOperations": links}


def setup(bench):
    """Everything up to a configured database; the server starts later."""
    step = bench.progress.step
    with step("Finding Odoo 19") as note:
        bench.odoo = h.find_odoo()
        note["text"] = f"Odoo {bench.odoo.version} ({bench.odoo.found_by})"
    with step("Checking PostgreSQL") as note:
        note["text"] = h.ensure_postgres()
    with step(f"Fresh database {bench.db} and run dir") as note:
        note["text"] = h.fresh_database(bench.db, RUN_DIR)
    with step("Starting Mosquitto and two Pico simulators") as note:
        start_services(bench)
        note["text"] = f"broker :{bench.mqtt_port}, simulators {bench.sim.base_url}"
    machine(bench)
    bench.run = h.OdooRun(bench.odoo, bench.db, RUN_DIR)
    bench.port = h.free_port()
    bench.url = f"http://{h.HOST}:{bench.port}"
    with step(f"Installing {h.MODULE} (demo data) and {FLOOR_MODULE}"):
        floor = bench.run.addons_dir / FLOOR_MODULE
        for name, text in FLOOR_FILES.items():
            (floor / name).parent.mkdir(parents=True, exist_ok=True)
            (floor / name).write_text(text)
        modules = f"{h.MODULE},{FLOOR_MODULE}"
        if bench.args.executor == "queue_job":
            modules += ",queue_job"
        bench.run.install(modules=modules)
    with step("Configuring the demo backend (MQTT off for now)"):
        configure(bench)


def start_services(bench):
    """Mosquitto, the demo's simulator and one simulator per catalogue size."""
    args = bench.args
    _service, bench.mqtt_port = h.start_mosquitto(RUN_DIR, port=h.free_port())
    python = h.find_simulator_python(bench.odoo)
    _service, bench.sim = h.start_simulator(
        python,
        RUN_DIR,
        port=h.free_port(),
        mqtt=(h.HOST, bench.mqtt_port, PREFIX),
    )
    bench.catalogue_sims = {}
    for size in sorted({args.catalogue, args.catalogue_big}):
        fixture = RUN_DIR / f"catalogue-{size}.json"
        fixture.write_text(json.dumps(catalogue_fixture(size)))
        _service, bench.catalogue_sims[size] = h.start_simulator(
            python,
            RUN_DIR,
            name=f"catalogue-sim-{size}",
            port=h.free_port(),
            fixture=fixture,
        )


def configure(bench):
    """Point the demo backend at the simulator; an API key for the admin."""
    params = {
        "endpoint_url": bench.sim.graphql_url,
        "api_token": bench.sim.token,
        "odoo_url": bench.url,
        "mqtt_host": h.HOST,
        "mqtt_port": bench.mqtt_port,
        "mqtt_prefix": PREFIX,
        "mqtt_enabled": False,
        "key_name": "dev/benchmark",
        "executor": bench.args.executor,
    }
    result = bench.run.shell(h.shell_call(h.CONFIGURE_SCRIPT, params))
    bench.backend_id, bench.api_key = result["backend_id"], result["api_key"]


def machine(bench):
    info = h.machine_info()
    version = h.run([bench.odoo.python, "-c", "import sys; print(sys.version)"])
    info.update(
        python=version.stdout.strip().split()[0],
        python_path=bench.odoo.python,
        postgresql=h.postgres_version(),
        odoo=bench.odoo.version,
        platform=platform.platform(),
        load_average_at_start=list(os.getloadavg()),
        workers=bench.args.workers,
        max_cron_threads=bench.args.cron_threads,
        executor=bench.args.executor,
    )
    bench.results["machine"] = info
