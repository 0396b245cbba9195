"""What the benchmark's phases share: the run's state and the calls they all make."""

import datetime
import os
from pathlib import Path

import harness as h
import psycopg2
import requests

RUN_DIR = Path(os.environ.get("BENCH_RUN_DIR") or h.REPO / ".run" / "bench")
PREFIX = "pico/bench"
STREAM = "operationOrderCompletesStream"
UNSUBSCRIBE = "mutation($id: String!) { webhookUnsubscribe(subscriptionID: $id) }"
# The processor's cron slots (data/pico_event_cron.xml).
PROCESSOR_SLOTS = ("ir_cron_pico_event_process", "ir_cron_pico_event_process_2")

TARGETS = {
    "webhook_done_p95_ms": 2000,
    "mqtt_done_p95_ms": 3000,
    "processing_ratio": 1.10,
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


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Bench:
    """One benchmark run: its arguments and results, the database, the servers
    and simulators the set-up started, and the calls every phase makes."""

    def __init__(self, args):
        self.args = args
        self.db = h.check_db_name(os.environ.get("BENCH_DB") or "pico_bench")
        self.results = {"targets": TARGETS, "started_at": now()}
        steps = 18 + bool(args.insight_units)
        if args.insight_only:
            steps = 7
        elif args.catalogue_only:
            steps = 6 + len({args.catalogue, args.catalogue_big})
        self.progress = h.Progress(steps)
        self.http = requests.Session()
        self.pg = None
        # Set by the set-up (setup.py) and the server start (latency.py).
        self.odoo = self.run = self.sim = self.api = None
        self.catalogue_sims = {}
        self.mqtt_port = self.port = self.url = None
        self.backend_id = self.api_key = None
        self.released = []

    # --- The database -------------------------------------------------------------
    def connect(self):
        self.pg = psycopg2.connect(dbname=self.db)
        self.pg.autocommit = True

    def sql(self, query, params=()):
        with self.pg.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchone() or (None,)

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

    def processor_crons(self):
        """The ids of the processor's cron slots."""
        return tuple(
            self.sql(
                "SELECT c.id FROM ir_cron c JOIN ir_model_data d "
                "ON d.res_id = c.id AND d.model = 'ir.cron' "
                "WHERE d.module = %s AND d.name = %s",
                (h.MODULE, name),
            )[0]
            for name in PROCESSOR_SLOTS
        )

    # --- Servers ------------------------------------------------------------------
    def job_engine(self, capacity, runner=True):
        """start_server() arguments of a server on the job engine (with its
        runner, whose channels run `capacity` jobs at once), or none."""
        if self.args.executor != "queue_job" or not runner:
            return {}
        return {
            "extra": ["--load=base,web,queue_job"],
            "env": {"ODOO_QUEUE_JOB_CHANNELS": f"root:{capacity}"},
        }

    def stop_servers(self):
        for name, service in h.running_services(RUN_DIR).items():
            if name.startswith("odoo"):
                h.stop_service(RUN_DIR, service)

    def restart_main(self, runner=True):
        """Restart the measured server as start_server() started it."""
        self.stop_servers()
        self.run.start_server(
            self.port,
            workers=self.args.workers,
            cron_threads=self.args.cron_threads,
            **self.job_engine(self.args.workers, runner),
        )

    def restart_servers(self, servers, runner=True):
        """Stop the Odoo servers; start one per entry: its cron workers and 2 HTTP
        workers (scheduler), or its HTTP workers and the job runner's capacity
        (job engine; `runner=False` starts none)."""
        self.stop_servers()
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

    def set_backend(self, **vals):
        """Write the demo backend through the server."""
        self.api("pico.backend", "write", ids=[self.backend_id], vals=vals)

    # --- The widget and the simulator ---------------------------------------------
    def widget(self):
        """(product id, BOM id) of the demo's mapped widget."""
        return (
            self.api.xmlid(h.MODULE, "product_pico_widget"),
            self.api.xmlid(h.MODULE, "mrp_bom_pico_widget"),
        )

    def widget_mo(self):
        product, bom = self.widget()
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

    def complete_in_pico(self, external_id, serial):
        """Complete unit 0 of an order in the simulator (no consumed serials)."""
        self.http.post(
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
        ).raise_for_status()

    def wait_sql(self, query, params, want, timeout, interval, what):
        """Wait until the first column of `query` equals `want`."""
        h.wait_until(
            lambda: self.sql(query, params)[0] == want, timeout, interval, what
        )

    def cleanup(self):
        h.teardown(
            RUN_DIR,
            self.db,
            self.args.keep,
            kept=f"Odoo {self.url}, database {self.db}; "
            f"stop with DEMO_RUN_DIR={RUN_DIR} dev/demo --stop",
            connection=self.pg,
        )
