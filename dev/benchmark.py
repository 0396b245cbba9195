#!/usr/bin/env python3
"""Benchmark of mrp_pico_mes on a real Odoo 19 server (not a test).

    PYTHON=/path/to/odoo/python dev/benchmark.py [--workers N] [--quick]

It starts everything itself with the demo's code (dev/harness.py): PostgreSQL if
needed, Mosquitto, two Pico simulators (the demo one, and one listing a generated
catalogue of 5,000 operations), a fresh database BENCH_DB (default pico_bench,
dropped and recreated) with mrp_pico_mes and its demo data, and Odoo on a free
loopback port. Then it measures:

- in process (`odoo-bin shell`, dev/bench_odoo.py), before the server starts:
  confirm time of an MO with a mapped BOM vs an unmapped copy; the inbox processor
  applying a completion to a one-unit MO vs Odoo's own set_qty_producing +
  button_mark_done of an identical MO; the catalogue sync of 5,000 operations
  (time, peak RSS growth, tracemalloc peak);
- against the server: confirm -> order in Pico, with the real sender cron;
  completion -> MO done by webhook, then by MQTT (publish -> event stored -> MO
  done); webhook accept latency and throughput at 1, 10 and 50 concurrent clients
  sending back to back, and 50 clients paced at 1 request/s each (distinct real
  completion payloads; the processor cron is still triggered and woken, but its
  code does nothing meanwhile, so that the figures are the door's).
- in process, last: the Actual vs Standard pivot (Manufacturing > Reporting >
  Pico) over a year of generated built units (--insight-units, 250,000 by
  default; 0 skips it): the grouping sets the web client's pivot asks for, as the
  administrator (record rules apply), five runs each. `--insight-only` installs
  the database and runs only this measure.

Why --workers: one threaded Odoo process (--workers=0) runs every request and cron
on one core because of Python's GIL; production runs the prefork server. The
default is Odoo's sizing rule, 2 x cores + 1 HTTP workers, so that the concurrent
accept test measures what a deployment would give; crons then run in their own
processes (--max-cron-threads, default 3: the MQTT subscriber holds one for its
whole run, the sender and the processor use the others).

Results: a table on stdout and bench-results/benchmark.json (gitignored).
Loopback only; every loop is bounded.
"""
# pylint: disable=print-used

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

try:  # Odoo's Python has both; another one re-runs this script with it.
    import psycopg2
    import requests
except ImportError:
    psycopg2 = requests = None

RUN_DIR = Path(os.environ.get("BENCH_RUN_DIR") or h.REPO / ".run" / "bench")
RESULTS = h.REPO / "bench-results" / "benchmark.json"
PREFIX = "pico/bench"
STREAM = "operationOrderCompletesStream"
UNSUBSCRIBE = "mutation($id: String!) { webhookUnsubscribe(subscriptionID: $id) }"
# The processor's cron slots (data/pico_event_cron.xml).
PROCESSOR_SLOTS = ("ir_cron_pico_event_process", "ir_cron_pico_event_process_2")

TARGETS = {
    "webhook_done_p95_ms": 2000,
    "mqtt_done_p95_ms": 3000,
    "processing_ratio": 1.25,
    "confirm_slowdown": 0.10,
    "insight_pivot_ms": 1000,
    # Webhook accept against Odoo's own floor (a trivial public route), per load.
    "accept_latency_ratio": 1.5,
    "accept_throughput_ratio": 0.7,
    # Completion -> MO done p95 against the median processing time, same run.
    "waiting_ratio": 1.5,
    # Completion of a unit of a 500-unit MO against one of a 1-unit MO.
    "completion_size_ratio": 1.2,
}
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


def percentile(values, p):
    """Nearest-rank percentile of a list (None if empty)."""
    ordered = sorted(values)
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, -(-p * len(ordered) // 100) - 1))
    return ordered[index]


def summary(values):
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
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


class Bench:
    def __init__(self, args):
        self.args = args
        self.db = h.check_db_name(os.environ.get("BENCH_DB") or "pico_bench")
        self.results = {"targets": TARGETS, "started_at": _now()}
        steps = 18 + bool(args.insight_units)
        if args.insight_only:
            steps = 7
        elif args.catalogue_only:
            steps = 6 + len({args.catalogue, args.catalogue_big})
        self.progress = h.Progress(steps)
        self.http = requests.Session()
        self.pg = None

    # --- Set-up --------------------------------------------------------------------
    def setup(self):
        step = self.progress.step
        args = self.args
        with step("Finding Odoo 19") as note:
            self.odoo = h.find_odoo()
            note["text"] = f"Odoo {self.odoo.version} ({self.odoo.found_by})"
        with step("Checking PostgreSQL") as note:
            note["text"] = h.ensure_postgres()
        with step(f"Fresh database {self.db} and run dir") as note:
            h.stop_all(RUN_DIR)
            h.clean_run_dir(RUN_DIR)
            if h.database_exists(self.db):
                h.drop_database(self.db)
                note["text"] = "old one dropped"
        with step("Starting Mosquitto and two Pico simulators") as note:
            _service, self.mqtt_port = h.start_mosquitto(RUN_DIR, port=h.free_port())
            python = h.find_simulator_python(self.odoo)
            _service, self.sim = h.start_simulator(
                python,
                RUN_DIR,
                port=h.free_port(),
                mqtt=(h.HOST, self.mqtt_port, PREFIX),
            )
            self.catalogue_sims = {}
            for size in sorted({args.catalogue, args.catalogue_big}):
                fixture = RUN_DIR / f"catalogue-{size}.json"
                fixture.write_text(json.dumps(catalogue_fixture(size)))
                _service, self.catalogue_sims[size] = h.start_simulator(
                    python,
                    RUN_DIR,
                    name=f"catalogue-sim-{size}",
                    port=h.free_port(),
                    fixture=fixture,
                )
            note["text"] = f"broker :{self.mqtt_port}, simulators {self.sim.base_url}"
        self.machine()
        self.run = h.OdooRun(self.odoo, self.db, RUN_DIR)
        self.port = h.free_port()
        self.url = f"http://{h.HOST}:{self.port}"
        with step(f"Installing {h.MODULE} (demo data) and {FLOOR_MODULE}") as note:
            floor = self.run.addons_dir / FLOOR_MODULE
            for name, text in FLOOR_FILES.items():
                (floor / name).parent.mkdir(parents=True, exist_ok=True)
                (floor / name).write_text(text)
            modules = f"{h.MODULE},{FLOOR_MODULE}"
            if args.executor == "queue_job":
                modules += ",queue_job"
            self.run.install(modules=modules)
        with step("Configuring the demo backend (MQTT off for now)") as note:
            params = {
                "endpoint_url": self.sim.graphql_url,
                "api_token": self.sim.token,
                "odoo_url": self.url,
                "mqtt_host": h.HOST,
                "mqtt_port": self.mqtt_port,
                "mqtt_prefix": PREFIX,
                "mqtt_enabled": False,
                "key_name": "dev/benchmark",
                "executor": args.executor,
            }
            result = self.run.shell(h.shell_call(h.CONFIGURE_SCRIPT, params))
            self.backend_id, self.api_key = result["backend_id"], result["api_key"]

    def machine(self):
        info = h.machine_info()
        version = h.run([self.odoo.python, "-c", "import sys; print(sys.version)"])
        info.update(
            python=version.stdout.strip().split()[0],
            python_path=self.odoo.python,
            postgresql=h.postgres_version(),
            odoo=self.odoo.version,
            platform=platform.platform(),
            load_average_at_start=list(os.getloadavg()),
            workers=self.args.workers,
            max_cron_threads=self.args.cron_threads,
            executor=self.args.executor,
        )
        self.results["machine"] = info

    # --- In-process measurements -----------------------------------------------------
    def in_process(self):
        script = (Path(__file__).resolve().parent / "bench_odoo.py").read_text()
        args = self.args
        if args.catalogue_only:
            self.catalogue_curve(script)
            return
        with self.progress.step(
            f"In process: {args.runs} confirms and completions of each kind"
        ) as note:
            params = {
                "warmup": 3,
                "runs": args.runs,
                "profiled": 5,
                "serial_lots": 2 * (args.runs + 8) + 10,
            }
            result = self.run.shell(
                h.shell_call(script, params, "inprocess"), log_name="bench-inprocess"
            )
            self.results["inprocess"] = result
            ratio = (
                result["processing"]["processor"]["median"]
                / result["processing"]["odoo"]["median"]
            )
            note["text"] = f"processing / Odoo's own = {ratio:.2f}"
        with self.progress.step(
            f"In process: confirm and completion cost by MO size {args.sizes}"
        ) as note:
            params = {
                "sizes": args.sizes,
                "runs": {str(size): _curve_runs(size) for size in args.sizes},
            }
            result = self.run.shell(
                h.shell_call(script, params, "curves"), log_name="bench-curves"
            )
            self.results["curves"] = result
            small, big = str(args.sizes[0]), str(args.sizes[-1])
            ratio = (
                result[big]["complete_next"]["median"]
                / result[small]["complete_first"]["median"]
            )
            note["text"] = f"completion {big} / {small} units = {ratio:.2f}"
        self.catalogue_curve(script)

    def catalogue_curve(self, script):
        args = self.args
        self.results["catalogue_curve"] = {}
        for size, sim in sorted(self.catalogue_sims.items()):
            with self.progress.step(
                f"In process: catalogue sync of {size} operations (own process)"
            ) as note:
                params = {
                    "endpoint_url": sim.graphql_url,
                    "api_token": "sim-token",
                    # tracemalloc doubles the time: only on the reference size.
                    "trace": size == args.catalogue,
                    "tag": str(size),
                }
                result = self.run.shell(
                    h.shell_call(script, params, "catalogue"),
                    log_name=f"bench-catalogue-{size}",
                )
                self.results["catalogue_curve"][str(size)] = result
                if size == args.catalogue:
                    self.results["catalogue"] = result
                note["text"] = (
                    f"{result['sync_ms'] / 1000:.1f} s, peak RSS "
                    f"+{result['rss_peak_growth_mib']:.0f} MiB"
                )

    def insight(self):
        units = self.args.insight_units
        if not units:
            return
        script = (Path(__file__).resolve().parent / "bench_odoo.py").read_text()
        with self.progress.step(
            f"In process: Actual vs Standard pivot on {units:,} generated units"
        ) as note:
            result = self.run.shell(
                h.shell_call(script, {"units": units, "runs": 5}, "insight"),
                log_name="bench-insight",
            )
            self.results["insight"] = result
            default = result["pivot"]["product x week (default pivot)"]
            note["text"] = f"median {default['median']:.0f} ms"

    # --- Against the server ----------------------------------------------------------
    def start_server(self):
        with self.progress.step(
            f"Starting Odoo --workers={self.args.workers} "
            f"--max-cron-threads={self.args.cron_threads}"
        ) as note:
            self.run.start_server(
                self.port,
                workers=self.args.workers,
                cron_threads=self.args.cron_threads,
                **self.job_engine(self.args.workers),
            )
            self.api = h.Json2(self.url, self.db, self.api_key)
            answer = self.api(
                "pico.backend", "action_register_webhooks", ids=[self.backend_id]
            )
            if answer.get("params", {}).get("type") != "success":
                raise h.HarnessError(f"webhook registration: {answer}")
            self.pg = psycopg2.connect(dbname=self.db)
            self.pg.autocommit = True
            # The in-process MOs queued their orders: let the sender empty the outbox.
            h.notify_crons(self.db)
            h.wait_until(
                lambda: (
                    self.sql(
                        "SELECT count(*) FROM pico_exchange "
                        "WHERE state IN ('pending', 'sending')"
                    )[0]
                    == 0
                ),
                180,
                0.2,
                "the outbox to empty",
            )
            note["text"] = self.url

    def restart_main(self, runner=True):
        """Restart the measured server as start_server() started it."""
        for name, service in h.running_services(RUN_DIR).items():
            if name.startswith("odoo"):
                h.stop_service(RUN_DIR, service)
        self.run.start_server(
            self.port,
            workers=self.args.workers,
            cron_threads=self.args.cron_threads,
            **self.job_engine(self.args.workers, runner),
        )

    def job_engine(self, capacity, runner=True):
        """start_server() arguments of a server on the job engine (with its
        runner, whose channels run `capacity` jobs at once), or none."""
        if self.args.executor != "queue_job" or not runner:
            return {}
        return {
            "extra": ["--load=base,web,queue_job"],
            "env": {"ODOO_QUEUE_JOB_CHANNELS": f"root:{capacity}"},
        }

    def sql(self, query, params=()):
        with self.pg.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchone() or (None,)

    def widget_mo(self):
        product = self.api.xmlid(h.MODULE, "product_pico_widget")
        bom = self.api.xmlid(h.MODULE, "mrp_bom_pico_widget")
        [mo_id] = self.api(
            "mrp.production",
            "create",
            vals_list=[{"product_id": product, "bom_id": bom, "product_qty": 1}],
        )
        [row] = self.api("mrp.production", "read", ids=[mo_id], fields=["name"])
        return mo_id, f"{row['name']}#{mo_id}"

    def sim_orders(self):
        response = self.http.get(f"{self.sim.base_url}/_control/orders", timeout=10)
        response.raise_for_status()
        return response.json()

    def confirm_to_pico(self):
        count = 2 * self.args.latency_runs
        with self.progress.step(f"Confirm -> order in Pico ({count} MOs)") as note:
            latencies, self.released = [], []
            for _number in range(count):
                mo_id, external_id = self.widget_mo()
                self.api("mrp.production", "action_confirm", ids=[mo_id])
                confirmed = time.perf_counter()

                def in_pico(external_id=external_id):
                    for order in self.sim_orders():
                        if order["externalOrderId"] == external_id:
                            return time.perf_counter()
                    return None

                seen = h.wait_until(in_pico, 60, 0.005, f"{external_id} in Pico")
                latencies.append((seen - confirmed) * 1000)
                self.released.append((mo_id, external_id))
            self.results["confirm_to_pico_ms"] = summary(latencies)
            note["text"] = f"p50 {percentile(latencies, 50):.0f} ms"

    def complete(self, mo_id, external_id, serial):
        """Complete a unit in the simulator; (ms to event stored, ms to MO done)."""
        started = time.perf_counter()
        response = self.http.post(
            f"{self.sim.base_url}/_control/complete",
            json={
                "externalOrderId": external_id,
                "orderIndex": 0,
                "producedSerial": serial,
                "consumedSerials": [],
                "operator": "Benchmark Operator",
                "station": "Bench / 1",
            },
            timeout=30,
        )
        response.raise_for_status()
        stored = h.wait_until(
            lambda: (
                self.sql(
                    "SELECT 1 FROM pico_event WHERE external_order_id = %s "
                    "AND event_type = 'completion'",
                    (external_id,),
                )[0]
                and time.perf_counter()
            ),
            60,
            0.002,
            f"the completion of {external_id} stored",
        )
        done = h.wait_until(
            lambda: (
                self.sql(
                    "SELECT state = 'done' FROM mrp_production WHERE id = %s", (mo_id,)
                )[0]
                and time.perf_counter()
            ),
            60,
            0.005,
            f"{external_id} done",
        )
        source = self.sql(
            "SELECT source FROM pico_event WHERE external_order_id = %s", (external_id,)
        )[0]
        return (stored - started) * 1000, (done - started) * 1000, source

    def completions(self, door, batch):
        stored_ms, done_ms, sources = [], [], []
        for mo_id, external_id in batch:
            serial = f"BW-{door}-{mo_id}"
            stored, done, source = self.complete(mo_id, external_id, serial)
            stored_ms.append(stored)
            done_ms.append(done)
            sources.append(source)
        if set(sources) != {door}:
            raise h.HarnessError(f"{door} phase: events came by {set(sources)}")
        self.results[f"{door}_completion"] = {
            "to_event_stored_ms": summary(stored_ms),
            "to_mo_done_ms": summary(done_ms),
        }
        return percentile(done_ms, 95)

    def webhook_completions(self):
        batch = self.released[: self.args.latency_runs]
        with self.progress.step(
            f"Completion -> MO done by webhook ({len(batch)})"
        ) as note:
            p95 = self.completions("webhook", batch)
            note["text"] = f"p95 {p95:.0f} ms"

    def mqtt_completions(self):
        batch = self.released[self.args.latency_runs :]
        with self.progress.step(
            f"Completion -> MO done over MQTT ({len(batch)}; webhook unsubscribed)"
        ) as note:
            for record in self.sim.subscriptions():
                if record["webhookUrl"].endswith("/completion"):
                    self.sim.graphql(
                        UNSUBSCRIBE,
                        {"id": record["subscriptionId"]},
                    )
            since = h.broker_log_size(RUN_DIR)
            self.api(
                "pico.backend",
                "write",
                ids=[self.backend_id],
                vals={"mqtt_enabled": True},
            )
            self.api("pico.backend", "action_mqtt_receive_now", ids=[self.backend_id])
            h.wait_for_subscriber(RUN_DIR, PREFIX, since, timeout=120)
            p95 = self.completions("mqtt", batch)
            note["text"] = f"p95 {p95:.0f} ms"

    # --- Confirm -> all orders in Pico, by MO size ---------------------------------
    def orders_curve(self):
        with self.progress.step(
            f"Confirm -> all orders in Pico, MOs of {self.args.sizes} units"
        ) as note:
            product = self.api.xmlid(h.MODULE, "product_pico_widget")
            bom = self.api.xmlid(h.MODULE, "mrp_bom_pico_widget")
            out = {}
            for size in self.args.sizes:
                [mo_id] = self.api(
                    "mrp.production",
                    "create",
                    vals_list=[
                        {"product_id": product, "bom_id": bom, "product_qty": size}
                    ],
                )
                [row] = self.api("mrp.production", "read", ids=[mo_id], fields=["name"])
                external_id = f"{row['name']}#{mo_id}"
                started = time.perf_counter()
                self.api("mrp.production", "action_confirm", ids=[mo_id])
                confirmed = time.perf_counter()

                def all_in(external_id=external_id, size=size):
                    orders = self.sim_orders()
                    got = sum(o["externalOrderId"] == external_id for o in orders)
                    return time.perf_counter() if got >= size else None

                seen = h.wait_until(all_in, 300, 0.02, f"{size} orders in Pico")
                out[str(size)] = {
                    "confirm_call_ms": (confirmed - started) * 1000,
                    "to_all_in_pico_ms": (seen - confirmed) * 1000,
                    "per_order_ms": (seen - confirmed) * 1000 / size,
                }
            self.results["orders_curve"] = out
            big = out[str(self.args.sizes[-1])]
            note["text"] = (
                f"{self.args.sizes[-1]} units: {big['to_all_in_pico_ms'] / 1000:.1f} s "
                f"({big['per_order_ms']:.1f} ms per order)"
            )

    # --- Draining completions with 1, 2, 4 cron workers and two servers --------------
    def drain(self):
        if self.args.executor == "queue_job":
            # The engine runs jobs in HTTP workers: the channel's capacity and the
            # workers per server are the entry's number.
            configs = [
                ("1 job worker", (1,)),
                ("2 job workers", (2,)),
                ("4 job workers", (4,)),
                ("2 servers x 2 job workers", (2, 2)),
            ]
        else:
            configs = [
                ("1 cron worker", (1,)),
                ("2 cron workers", (2,)),
                ("4 cron workers", (4,)),
                ("2 servers x 2 cron workers", (2, 2)),
            ]
        count = self.args.drain
        with self.progress.step(
            f"Drain {count} stored completions ({self.args.executor}): "
            + ", ".join(label for label, _servers in configs)
        ) as note:
            # Webhooks again, and no MQTT subscriber holding a cron worker.
            self.api(
                "pico.backend",
                "write",
                ids=[self.backend_id],
                vals={"mqtt_enabled": False},
            )
            self.api("pico.backend", "action_register_webhooks", ids=[self.backend_id])
            product = self.api.xmlid(h.MODULE, "product_pico_widget")
            bom = self.api.xmlid(h.MODULE, "mrp_bom_pico_widget")
            # One product and BOM: every MO consumes the same components.
            mo_ids = self.api(
                "mrp.production",
                "create",
                vals_list=[
                    {"product_id": product, "bom_id": bom, "product_qty": 1}
                    for _n in range(count * len(configs))
                ],
            )
            self.api("mrp.production", "action_confirm", ids=mo_ids)
            rows = self.api("mrp.production", "read", ids=mo_ids, fields=["name"])
            orders = [(row["id"], f"{row['name']}#{row['id']}") for row in rows]
            self.wait_outbox_empty()
            crons = tuple(
                self.sql(
                    "SELECT c.id FROM ir_cron c JOIN ir_model_data d "
                    "ON d.res_id = c.id AND d.model = 'ir.cron' "
                    "WHERE d.module = %s AND d.name = %s",
                    (h.MODULE, name),
                )[0]
                for name in PROCESSOR_SLOTS
            )
            out = {}
            for number, (label, servers) in enumerate(configs):
                batch = orders[number * count : (number + 1) * count]
                out[label] = self.drain_one(crons, servers, batch, f"D{number}")
            self.results["drain"] = out
            self.results["drain_executor"] = self.args.executor
            note["text"] = ", ".join(
                f"{label}: {r['per_s']:.1f}/s" for label, r in out.items()
            )

    def wait_outbox_empty(self, timeout=300):
        h.notify_crons(self.db)
        h.wait_until(
            lambda: (
                self.sql(
                    "SELECT count(*) FROM pico_exchange "
                    "WHERE state IN ('pending', 'sending')"
                )[0]
                == 0
            ),
            timeout,
            0.2,
            "the outbox to empty",
        )

    def drain_one(self, crons, servers, batch, tag):
        """Store completions of `batch` with the processor off, then time the drain.

        Scheduler: the processor's cron slots are off while the completions are
        stored, then switched on and triggered. Job engine: the backend is on
        the scheduler (slots off) while they are stored, then switched to the
        engine, which hands it every stored event as a job at once.
        """
        engine = self.args.executor == "queue_job"
        self.sql(
            "UPDATE ir_cron SET active = false WHERE id IN %s RETURNING id", (crons,)
        )
        if engine:
            self.api(
                "pico.backend",
                "write",
                ids=[self.backend_id],
                vals={"executor": "cron"},
            )
        self.restart_servers((2,), runner=False)
        for mo_id, external_id in batch:
            self.http.post(
                f"{self.sim.base_url}/_control/complete",
                json={
                    "externalOrderId": external_id,
                    "orderIndex": 0,
                    "producedSerial": f"BD-{tag}-{mo_id}",
                    "consumedSerials": [],
                    "operator": "Benchmark Operator",
                    "station": "Bench / 1",
                },
                timeout=30,
            ).raise_for_status()
        external_ids = tuple(e for _m, e in batch)
        h.wait_until(
            lambda: (
                self.sql(
                    "SELECT count(*) FROM pico_event WHERE event_type = 'completion' "
                    "AND external_order_id IN %s",
                    (external_ids,),
                )[0]
                == len(batch)
            ),
            120,
            0.05,
            "the drain's completions stored",
        )
        self.restart_servers(servers)
        if engine:
            # The runner starts a few seconds after its server: let it be ready.
            time.sleep(5)
            started = time.perf_counter()
            self.api(
                "pico.backend",
                "write",
                ids=[self.backend_id],
                vals={"executor": "queue_job"},
            )
        else:
            started = time.perf_counter()
            self.sql(
                "UPDATE ir_cron SET active = true WHERE id IN %s RETURNING id", (crons,)
            )
            self.sql(
                "INSERT INTO ir_cron_trigger (cron_id, call_at) "
                "VALUES (%s, now() AT TIME ZONE 'UTC') RETURNING id",
                (crons[0],),
            )
            h.notify_crons(self.db)
        mo_ids = tuple(m for m, _e in batch)
        h.wait_until(
            lambda: (
                self.sql(
                    "SELECT count(*) FROM mrp_production WHERE id IN %s "
                    "AND state = 'done'",
                    (mo_ids,),
                )[0]
                == len(batch)
            ),
            600,
            0.05,
            "the completions drained",
        )
        wall = time.perf_counter() - started
        # Zero doubles: every serial is in stock exactly once, every MO made one.
        doubles = self.sql(
            "SELECT count(*) FROM (SELECT l.id FROM stock_lot l "
            "JOIN stock_quant q ON q.lot_id = l.id "
            "JOIN stock_location s ON s.id = q.location_id AND s.usage = 'internal' "
            "WHERE l.name LIKE %s GROUP BY l.id HAVING sum(q.quantity) <> 1) x",
            (f"BD-{tag}-%",),
        )[0]
        produced = self.sql(
            "SELECT coalesce(sum(l.quantity), 0) FROM stock_move_line l "
            "JOIN stock_move m ON m.id = l.move_id "
            "WHERE m.production_id IN %s AND m.state = 'done'",
            (mo_ids,),
        )[0]
        events = self.sql(
            "SELECT count(*) FROM pico_event WHERE external_order_id IN %s "
            "AND state = 'done'",
            (external_ids,),
        )[0]
        if engine:
            self.sql(
                "UPDATE ir_cron SET active = true WHERE id IN %s RETURNING id", (crons,)
            )
        return {
            "servers": list(servers),
            "completions": len(batch),
            "wall_s": wall,
            "per_s": len(batch) / wall,
            "doubles": doubles + abs(float(produced) - len(batch)),
            "events_done": events,
        }

    def restart_servers(self, servers, runner=True):
        """Stop the Odoo servers; start one per entry: its cron workers and 2 HTTP
        workers (scheduler), or its HTTP workers and the job runner's capacity
        (job engine; `runner=False` starts none)."""
        for name, service in h.running_services(RUN_DIR).items():
            if name.startswith("odoo"):
                h.stop_service(RUN_DIR, service)
        self.extra_urls = []
        engine = self.args.executor == "queue_job"
        for number, count in enumerate(servers):
            port = self.port if number == 0 else h.free_port()
            self.run.start_server(
                port,
                workers=max(count, 2) if engine else 2,
                cron_threads=1 if engine else count,
                name="odoo" if number == 0 else f"odoo{number + 1}",
                **self.job_engine(count, runner),
            )
        self.run.http_port = self.port

    # --- Webhook accept ------------------------------------------------------------
    def accept_payloads(self, count):
        sys.path.insert(0, str(h.REPO))
        from core import documents
        from simulator import graph
        from simulator.store import Store

        store = Store()
        schema = graph.load_schema()
        _stream, document = graph.compile_fragment(
            schema, documents.COMPLETION_FRAGMENT
        )
        bodies = []
        for number in range(count):
            completion = store.complete_order(
                {
                    "externalOrderId": f"BENCH-ACCEPT/{number:06d}#0",
                    "orderIndex": 0,
                    "operationId": "op-widget",
                    "producedSerial": f"BA-{number:06d}",
                    "consumedSerials": [],
                    "operator": "Benchmark Operator",
                }
            )
            fields = graph.project(schema, document, STREAM, completion)
            bodies.append(json.dumps({"data": {STREAM: fields}}).encode())
        return bodies

    def accept(self):
        # (label, clients, requests, requests per second per client or None)
        levels = [
            ("1", 1, self.args.accept[0], None),
            ("10", 10, self.args.accept[1], None),
            ("50", 50, self.args.accept[2], None),
            ("50 paced", 50, 50 * self.args.paced, 1.0),
        ]
        warm = 100
        total = warm + sum(level[2] for level in levels)
        floor_url = f"{self.url}/{FLOOR_MODULE}/bench/completion"
        backend = self.results["inprocess"]["accept_backend"]
        action = self.sql(
            "SELECT c.ir_actions_server_id, a.code FROM ir_cron c "
            "JOIN ir_act_server a ON a.id = c.ir_actions_server_id "
            "JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'ir.cron' "
            "WHERE d.module = %s AND d.name = %s",
            (h.MODULE, "ir_cron_pico_event_process"),
        )
        with self.progress.step(
            "Webhook accept at 1, 10, 50 clients (processor idle)"
        ) as note:
            bodies = self.accept_payloads(total)
            headers = {
                "Content-Type": "application/json",
                "X-Pico-Webhook-Secret": backend["secret"],
            }
            if self.args.executor == "queue_job":
                # The door makes a job per event; the runner is off meanwhile, so
                # that the figures are the door's and not the jobs'.
                self.api(
                    "pico.backend",
                    "write",
                    ids=[backend["id"]],
                    vals={"executor": "queue_job"},
                )
                self.restart_main(runner=False)
            # The door runs as deployed (stores, triggers the processor cron, wakes
            # the cron workers), but the cron's code does nothing meanwhile, so
            # that the figures are the door's and not the processor's.
            self.sql(
                "UPDATE ir_act_server SET code = 'pass' WHERE id = %s RETURNING id",
                (action[0],),
            )
            try:
                self.fire(backend["url"], headers, bodies[:warm], 10)
                self.fire(floor_url, headers, bodies[:warm], 10)
                offset, self.results["accept"] = warm, {}
                self.results["floor"] = {}
                for number, (label, clients, count, rate) in enumerate(levels):
                    chunk = bodies[offset : offset + count]
                    # The floor and the door side by side, in turns, same bodies
                    # (the floor stores nothing, the door gets them first).
                    doors = [
                        ("accept", backend["url"], "/pico_mes/webhook/"),
                        ("floor", floor_url, f"/{FLOOR_MODULE}/"),
                    ]
                    for key, url, path in doors if number % 2 == 0 else doors[::-1]:
                        log_from = _size(RUN_DIR / "odoo-server.log")
                        result = self.fire(url, headers, chunk, clients, rate)
                        result["server"] = server_side(
                            RUN_DIR / "odoo-server.log", log_from, path
                        )
                        self.results[key][label] = result
                    offset += count
            finally:
                self.sql(
                    "UPDATE ir_act_server SET code = %s WHERE id = %s RETURNING id",
                    (action[1], action[0]),
                )
                self.sql(
                    "DELETE FROM pico_event WHERE backend_id = %s RETURNING 1",
                    (backend["id"],),
                )
                if self.args.executor == "queue_job":
                    self.sql(
                        "DELETE FROM queue_job WHERE identity_key LIKE %s RETURNING 1",
                        ("mrp_pico_mes:pico.event:%",),
                    )
                    self.restart_main()
            at50 = self.results["accept"]["50"]
            floor50 = self.results["floor"]["50"]
            note["text"] = (
                f"50 clients: p50 {at50['latency_ms']['p50']:.0f} ms vs floor "
                f"{floor50['latency_ms']['p50']:.0f} ms, "
                f"{at50['throughput_per_s']:.0f}/s vs "
                f"{floor50['throughput_per_s']:.0f}/s"
            )

    def fire(self, url, headers, bodies, clients, rate=None):
        """POST bodies from `clients` threads (one Session each); return stats.

        Without `rate` each client sends its next request as soon as the previous
        one is answered (closed loop: the most load `clients` callers can make).
        With `rate`, each client sends `rate` requests per second, from a random
        offset (paced: the load of `clients` stations reporting at that pace).
        """
        shares = [bodies[i::clients] for i in range(clients)]
        latencies, statuses, lock = [], {}, threading.Lock()
        barrier = threading.Barrier(clients + 1)
        offsets = random.Random(7)

        def worker(share, offset):
            session = requests.Session()
            mine, codes = [], {}
            barrier.wait()
            began = time.perf_counter()
            for number, body in enumerate(share):
                if rate:
                    due = began + offset + number / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                start = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=60)
                mine.append((time.perf_counter() - start) * 1000)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
            with lock:
                latencies.extend(mine)
                for code, n in codes.items():
                    statuses[code] = statuses.get(code, 0) + n

        threads = [
            threading.Thread(
                target=worker,
                args=(share, offsets.uniform(0, 1 / rate) if rate else 0.0),
            )
            for share in shares
        ]
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        return {
            "clients": clients,
            "rate_per_client": rate,
            "requests": len(bodies),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "latency_ms": summary(latencies),
            "throughput_per_s": len(bodies) / wall,
            "wall_s": wall,
        }

    # --- Report -------------------------------------------------------------------
    def report(self):
        r = self.results
        rows = self.rows = []
        if self.args.catalogue_only:
            self.report_catalogue(r["catalogue"])
            self.report_catalogue_curve(r.get("catalogue_curve") or {})
        elif not self.args.insight_only:
            if r.get("accept"):
                self.report_accept(r["accept"])
            self.report_inprocess(r["inprocess"])
            self.report_latencies(r)
            self.report_catalogue(r["catalogue"])
            self.report_catalogue_curve(r.get("catalogue_curve") or {})
            self.report_curves(r.get("curves") or {}, r.get("orders_curve") or {})
            self.report_drain(r.get("drain") or {})
        if r.get("insight"):
            self.report_insight(r["insight"])
        for phase, error in (r.get("errors") or {}).items():
            self.row(f"{phase} did not finish", error[:200])
        r["rows"] = [list(x) for x in rows]
        r["finished_at"] = _now()
        r["machine"]["load_average_at_end"] = list(os.getloadavg())
        self.print_report()
        out = self.args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(r, indent=2, default=str))
        print(f"\nWritten: {out}")

    def row(self, metric, value, target="", ok=None):
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((metric, value, target, verdict))
        return ok

    def report_accept(self, accept):
        floor = self.results.get("floor", {})
        lat_limit = TARGETS["accept_latency_ratio"]
        thr_limit = TARGETS["accept_throughput_ratio"]
        for clients in ("1", "10", "50", "50 paced"):
            for key, data in (("door", accept[clients]), ("floor", floor.get(clients))):
                if not data:
                    continue
                lat = data["latency_ms"]
                bad = sum(v for k, v in data["statuses"].items() if k != "202")
                value = (
                    f"p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} / p99 "
                    f"{lat['p99']:.1f} ms, {data['throughput_per_s']:.0f} req/s"
                )
                srv = data.get("server") or {}
                if srv.get("n"):
                    value += (
                        f"; server {srv['queries_p50']:.0f} queries, SQL "
                        f"{srv['sql_ms_p50']:.1f} + other {srv['python_ms_p50']:.1f} ms"
                    )
                if bad:
                    value += f", {bad} not 202"
                who = (
                    "Webhook accept"
                    if key == "door"
                    else "  Odoo's floor (trivial route)"
                )
                if data.get("rate_per_client"):
                    label = (
                        f"{who}, {data['clients']} clients at "
                        f"{data['rate_per_client']:g} req/s each, "
                        f"{data['requests']} req"
                    )
                else:
                    label = f"{who}, {clients} client(s), {data['requests']} req"
                self.row(label, value)
            base = floor.get(clients)
            if not base:
                continue
            door = accept[clients]
            p50 = door["latency_ms"]["p50"] / base["latency_ms"]["p50"]
            p99 = door["latency_ms"]["p99"] / base["latency_ms"]["p99"]
            thr = door["throughput_per_s"] / base["throughput_per_s"]
            paced = "paced" in clients
            ok = max(p50, p99) <= lat_limit and (paced or thr >= thr_limit)
            self.row(
                "  door / floor",
                f"p50 {p50:.2f}x, p99 {p99:.2f}x"
                + ("" if paced else f", throughput {thr:.2f}x"),
                f"<= {lat_limit}x" + ("" if paced else f", >= {thr_limit}x"),
                ok,
            )

    def report_inprocess(self, ip):
        proc, queries = ip["processing"], ip["processing_queries"]
        for kind, label in (
            ("processor", "Completion processing (inbox processor), 1-unit MO"),
            ("odoo", "Odoo's own set_qty_producing + button_mark_done"),
        ):
            self.row(
                label,
                f"median {proc[kind]['median']:.0f} ms, p95 {proc[kind]['p95']:.0f} "
                f"ms, {queries[kind]['median']:.0f} queries",
            )
        self.ratio = proc["processor"]["median"] / proc["odoo"]["median"]
        limit = TARGETS["processing_ratio"]
        self.row(
            "  processing / Odoo's own (medians)",
            f"{self.ratio:.2f}x",
            f"<= {limit}x",
            self.ratio <= limit,
        )
        conf, cq = ip["confirm"], ip["confirm_queries"]
        self.slow = conf["mapped"]["median"] / conf["unmapped"]["median"] - 1
        limit = TARGETS["confirm_slowdown"]
        self.row(
            "Confirm: mapped BOM (released) vs unmapped copy",
            f"median {conf['mapped']['median']:.1f} vs "
            f"{conf['unmapped']['median']:.1f} ms ({cq['mapped']['median']:.0f} vs "
            f"{cq['unmapped']['median']:.0f} queries): {self.slow:+.0%}",
            f"<= +{limit:.0%}",
            self.slow <= limit,
        )
        both = ip["create_and_confirm"]
        extra = both["mapped"]["median"] / both["unmapped"]["median"] - 1
        self.row(
            "  create + confirm, for context",
            f"median {both['mapped']['median']:.1f} vs "
            f"{both['unmapped']['median']:.1f} ms: {extra:+.0%}",
        )

    def report_latencies(self, r):
        c2p = r["confirm_to_pico_ms"]
        self.row(
            "Confirm commit -> order in Pico (sender cron)",
            f"p50 {c2p['p50']:.0f} / p95 {c2p['p95']:.0f} / max {c2p['max']:.0f} ms",
        )
        for door, label, key in (
            ("webhook", "webhook", "webhook_done_p95_ms"),
            ("mqtt", "MQTT publish", "mqtt_done_p95_ms"),
        ):
            res = r[f"{door}_completion"]
            stored, done = res["to_event_stored_ms"], res["to_mo_done_ms"]
            self.row(
                f"Completion ({label}) -> event stored",
                f"p50 {stored['p50']:.0f} / p95 {stored['p95']:.0f} ms",
            )
            self.row(
                f"Completion ({label}) -> MO done",
                f"p50 {done['p50']:.0f} / p95 {done['p95']:.0f} / max "
                f"{done['max']:.0f} ms",
                f"p95 <= {TARGETS[key] / 1000:g} s",
                done["p95"] <= TARGETS[key],
            )
            processing = r["inprocess"]["processing"]["processor"]["median"]
            ratio = done["p95"] / processing
            limit = TARGETS["waiting_ratio"]
            self.row(
                "  that p95 / median processing time (in process, same run)",
                f"{done['p95']:.0f} / {processing:.0f} ms = {ratio:.2f}x",
                f"<= {limit}x",
                ratio <= limit,
            )

    def report_catalogue_curve(self, curve):
        if len(curve) < 2:
            return
        sizes = sorted(curve, key=int)
        small, big = curve[sizes[0]], curve[sizes[-1]]
        factor = int(sizes[-1]) / int(sizes[0])
        for size in sizes:
            cat = curve[size]
            self.row(
                f"Catalogue sync, {cat['listed']} operations (own process)",
                f"{cat['sync_ms'] / 1000:.1f} s, {cat['sync_queries']} queries; peak "
                f"RSS +{cat['rss_peak_growth_mib']:.0f} MiB (process "
                f"{cat['rss_peak_mib']:.0f} MiB); again "
                f"{cat['resync_ms'] / 1000:.1f} s",
            )
        time_ratio = big["sync_ms"] / small["sync_ms"]
        mem_ratio = big["rss_peak_mib"] / small["rss_peak_mib"]
        self.row(
            f"  {sizes[-1]} / {sizes[0]} operations ({factor:g}x the work)",
            f"time {time_ratio:.1f}x, process peak RSS {mem_ratio:.2f}x",
            f"time <= {factor:g}x (linear)",
            time_ratio <= factor * 1.1,
        )

    def report_curves(self, curves, orders):
        if not curves:
            return
        sizes = sorted(curves, key=int)
        one = curves[sizes[0]]
        for size in sizes:
            c = curves[size]
            mapped, unmapped = (
                c["confirm_mapped"]["median"],
                c["confirm_unmapped"]["median"],
            )
            extra = mapped / unmapped - 1
            value = (
                f"{mapped:.0f} vs {unmapped:.0f} ms unmapped ({extra:+.0%}), "
                f"{c['confirm_mapped_q']['median']:.0f} vs "
                f"{c['confirm_unmapped_q']['median']:.0f} queries"
            )
            if int(size) > 1:
                per_unit = (mapped - one["confirm_mapped"]["median"]) / (int(size) - 1)
                per_odoo = (unmapped - one["confirm_unmapped"]["median"]) / (
                    int(size) - 1
                )
                value += f"; per extra unit {per_unit:.2f} ms (Odoo's {per_odoo:.2f})"
            self.row(
                f"Confirm of a {size}-unit MO (median of {c['confirm_mapped']['n']})",
                value,
            )
            o = orders.get(size)
            if o:
                self.row(
                    f"  confirm -> all {size} orders in Pico (server, sender cron)",
                    f"{o['to_all_in_pico_ms']:.0f} ms "
                    f"({o['per_order_ms']:.1f} ms/order)",
                )
        base = one["complete_first"]["median"]
        odoo_base = one["odoo_first"]["median"]
        limit = TARGETS["completion_size_ratio"]
        for size in sizes:
            c = curves[size]
            key = (
                "complete_next"
                if int(size) > 1 and c["complete_next"]["n"]
                else "complete_first"
            )
            ms = c[key]["median"]
            ratio = ms / base
            odoo_ratio = c["odoo_first"]["median"] / odoo_base
            value = (
                f"{ms:.0f} ms, {c[key + '_q']['median']:.0f} queries: {ratio:.2f}x the "
                f"1-unit MO's; Odoo's own produce-one-and-backorder "
                f"{c['odoo_first']['median']:.0f} ms ({odoo_ratio:.2f}x)"
            )
            if int(size) > 1:
                value += f"; first unit {c['complete_first']['median']:.0f} ms"
            big = size == sizes[-1] and int(size) > 1
            self.row(
                f"Completion of a unit of a {size}-unit MO",
                value,
                f"<= {limit}x" if big else "",
                ratio <= limit if big else None,
            )

    def report_drain(self, drain):
        for label, d in drain.items():
            self.row(
                f"Drain {d['completions']} stored completions, {label}",
                f"{d['per_s']:.1f} completions/s ({d['wall_s']:.1f} s), "
                f"{d['events_done']} events done, {d['doubles']:g} doubles",
                "0 doubles",
                d["doubles"] == 0 and d["events_done"] == d["completions"],
            )

    def report_catalogue(self, cat):
        self.row(
            f"Catalogue sync: {cat['listed']} operations, {cat['links']} links",
            f"{cat['sync_ms'] / 1000:.1f} s (of which fetch "
            f"{cat['fetch_ms'] / 1000:.1f} s), {cat['sync_queries']} queries",
        )
        self.row(
            "  memory of that sync",
            f"peak RSS +{cat['rss_peak_growth_mib']:.0f} MiB (process peak "
            f"{cat['rss_peak_mib']:.0f} MiB); tracemalloc peak "
            f"{cat['tracemalloc_peak_mib']:.0f} MiB",
        )
        self.row(
            "  sync again, nothing changed",
            f"{cat['resync_ms'] / 1000:.1f} s, {cat['resync_queries']} queries",
        )

    def report_insight(self, ins):
        limit = TARGETS["insight_pivot_ms"]
        self.row(
            f"Pico report table rebuilt from {ins['units']:,} units",
            f"{ins['rebuild_s']:.1f} s, {ins['report_rows']:,} rows "
            f"(generating the units: {ins['generate_s']:.0f} s)",
        )
        for name, res in ins["pivot"].items():
            label = f"Pico report pivot, {name}"
            value = (
                f"median {res['median']:.0f} ms, max {res['max']:.0f} ms "
                f"({res['groups']} groups, {ins['units']:,} units)"
            )
            if name.startswith("product x week"):
                self.row(label, value, f"< {limit} ms", res["median"] < limit)
            else:
                self.row(label, value)

    def print_report(self):
        m = self.results["machine"]
        load = " ".join(f"{x:.2f}" for x in m["load_average_at_start"])
        print(
            f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
            f"Python {m['python']}; PostgreSQL {m['postgresql']}; Odoo {m['odoo']}"
        )
        print(
            f"Server: --workers={m['workers']} --max-cron-threads="
            f"{m['max_cron_threads']}; load average at start {load}, at end "
            + " ".join(f"{x:.2f}" for x in m["load_average_at_end"])
        )
        heads = ("Metric", "Measured", "Target", "")
        widths = [
            max(len(str(row[i])) for row in [heads, *self.rows]) for i in range(4)
        ]
        print()
        for row in [heads, tuple("-" * w for w in widths), *self.rows]:
            cells = zip(row, widths, strict=True)
            print("  ".join(str(c).ljust(w) for c, w in cells).rstrip())
        if self.args.insight_only or self.args.catalogue_only:
            return
        ip = self.results["inprocess"]
        show = self.args.profile
        if show or self.ratio > TARGETS["processing_ratio"]:
            self.print_profiles("Completion", ip["profiles"], ("processor", "odoo"))
        if show or self.slow > TARGETS["confirm_slowdown"]:
            self.print_profiles("Confirm", ip["confirm_profiles"], ("mapped",))

    def print_profiles(self, title, profiles, kinds):
        for kind in kinds:
            prof = profiles[kind]
            print(
                f"\n{title}, {kind}: cProfile of {prof['runs']} runs, own time by part"
            )
            for name, part in prof["own_time_by_category"].items():
                print(f"  {name:<36} {part['seconds']:8.3f} s {part['share']:7.1%}")
            for key, text in (
                ("addon_cumulative_ms_per_run", "this addon's functions"),
                ("odoo_called_by_addon_ms_per_run", "Odoo's functions it calls"),
            ):
                if prof.get(key):
                    print(f"  {text}, cumulative ms per run (under cProfile):")
                    for ms, calls, name in prof[key][:10]:
                        print(f"    {ms:8.2f} ms  {calls:4d} calls  {name}")
            if self.args.profile:
                print(prof["top_cumulative"])

    def cleanup(self):
        if self.pg is not None:
            self.pg.close()
        if self.args.keep:
            print(
                f"Kept running (--keep): Odoo {self.url}, database {self.db}; "
                f"stop with DEMO_RUN_DIR={RUN_DIR} dev/demo --stop"
            )
            return
        h.stop_all(RUN_DIR)
        h.drop_database(self.db)


def _curve_runs(size):
    """Measured MOs of each size in the curves (a 500-unit MO takes seconds)."""
    return 6 if size <= 10 else 3 if size <= 100 else 2


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _size(path):
    try:
        return path.stat().st_size
    except OSError:
        return 0


def server_side(log, since, path="/pico_mes/webhook/"):
    """Per-request figures Odoo logs for the POSTs to `path` written after `since`.

    Odoo ends each request line with: query count, SQL seconds, other seconds.
    """
    queries, sql, other = [], [], []
    with open(log, "rb") as handle:
        handle.seek(since)
        for raw in handle:
            line = raw.decode(errors="replace")
            if path not in line:
                continue
            parts = line.split()
            try:
                queries.append(int(parts[-3]))
                sql.append(float(parts[-2]) * 1000)
                other.append(float(parts[-1]) * 1000)
            except (ValueError, IndexError):
                continue
    if not queries:
        return {"n": 0}
    return {
        "n": len(queries),
        "queries_p50": percentile(queries, 50),
        "sql_ms_p50": percentile(sql, 50),
        "python_ms_p50": percentile(other, 50),
        "sql_ms_p95": percentile(sql, 95),
        "python_ms_p95": percentile(other, 95),
    }


def reexec_with_odoo_python():
    """Run again with Odoo's Python when this one lacks requests or psycopg2."""
    if requests is not None and psycopg2 is not None:
        return
    if os.environ.get("PICO_BENCH_REEXEC"):
        sys.exit("dev/benchmark.py needs requests and psycopg2 (Odoo's own needs).")
    odoo = h.find_odoo()
    os.environ["PICO_BENCH_REEXEC"] = "1"
    os.execv(odoo.python, [odoo.python, __file__, *sys.argv[1:]])


def main(argv=None):
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        prog="dev/benchmark.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * cores + 1,
        help="Odoo HTTP workers (prefork); default 2 x cores + 1 (see above)",
    )
    parser.add_argument("--cron-threads", type=int, default=3)
    h.add_executor_option(parser)
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=("orders", "accept", "drain", "insight"),
        help="only these of the later phases (default: all); the in-process "
        "measures and the completion latencies always run",
    )
    parser.add_argument("--runs", type=int, default=30, help="in-process runs per kind")
    parser.add_argument(
        "--latency-runs", type=int, default=20, help="completions per door"
    )
    parser.add_argument(
        "--accept",
        type=int,
        nargs=3,
        default=(200, 1000, 2000),
        metavar=("N1", "N10", "N50"),
        help="requests at 1, 10 and 50 clients",
    )
    parser.add_argument(
        "--paced",
        type=int,
        default=10,
        help="requests per client of the paced accept test (50 clients, 1/s each)",
    )
    parser.add_argument("--catalogue", type=int, default=5000, help="operations")
    parser.add_argument(
        "--insight-units",
        type=int,
        default=250_000,
        help="built units generated for the report pivot measure (0: skip it)",
    )
    parser.add_argument(
        "--insight-only",
        action="store_true",
        help="install, then measure only the report pivot",
    )
    parser.add_argument(
        "--catalogue-only",
        action="store_true",
        help="install, then measure only the two catalogue syncs (--catalogue, "
        "--catalogue-big), each in its own process",
    )
    parser.add_argument(
        "--catalogue-big",
        type=int,
        default=50000,
        help="operations of the second catalogue sync (the curve's other end)",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1, 10, 100, 500],
        help="MO sizes (units) of the confirm and completion curves",
    )
    parser.add_argument(
        "--drain", type=int, default=40, help="completions drained per configuration"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts (a smoke run)"
    )
    parser.add_argument("--profile", action="store_true", help="print the cProfiles")
    parser.add_argument("--keep", action="store_true", help="leave Odoo and the db")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="JSON results (default bench-results/benchmark.json)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.latency_runs, args.paced = 6, 4, 2
        args.accept, args.catalogue = (20, 50, 100), 500
        args.insight_units = min(args.insight_units, 20_000)
        args.catalogue_big, args.sizes, args.drain = 2000, [1, 10, 50], 6
    if args.insight_only and not args.insight_units:
        parser.error("--insight-only needs --insight-units > 0")
    try:
        reexec_with_odoo_python()
    except h.HarnessError as exc:
        sys.exit(f"dev/benchmark.py: {exc}")
    bench = Bench(args)
    try:
        bench.setup()
        if args.insight_only:
            bench.insight()
            bench.report()
            bench.cleanup()
            return 0
        if args.catalogue_only:
            bench.in_process()
            bench.report()
            bench.cleanup()
            return 0
        bench.in_process()
        bench.start_server()
        bench.confirm_to_pico()
        bench.webhook_completions()
        bench.mqtt_completions()
        # The later measures are kept apart: one failing leaves the others' figures.
        later = {
            "orders": bench.orders_curve,
            "accept": bench.accept,
            "drain": bench.drain,
        }
        chosen = args.phases or [*later, "insight"]
        for phase in [later[name] for name in later if name in chosen]:
            try:
                phase()
            except (
                h.HarnessError,
                requests.RequestException,
                RuntimeError,
                psycopg2.Error,
            ) as exc:
                bench.results.setdefault("errors", {})[phase.__name__] = str(exc)
                print(f"\n{phase.__name__} failed: {exc}", file=sys.stderr)
        if "insight" in chosen:
            bench.insight()
        bench.report()
    except h.HarnessError as exc:
        print(f"\ndev/benchmark.py: {exc}", file=sys.stderr)
        print(f"Logs: {RUN_DIR}", file=sys.stderr)
        h.stop_all(RUN_DIR)
        return 1
    except (subprocess.SubprocessError, KeyboardInterrupt):
        h.stop_all(RUN_DIR)
        raise
    bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
