#!/usr/bin/env python3
"""Chaos run of mrp_pico_mes: two Odoo 19 nodes, faults, then the books (not a test).

    PYTHON=/path/to/odoo/python dev/chaos.py [--completions 1000] [--seed 11]

It starts everything itself with dev/harness.py: PostgreSQL if needed, a fresh
database CHAOS_DB (default pico_chaos, dropped and recreated) with the addon and
its demo data, Mosquitto, the Pico simulator, a webhook proxy (in this process:
the load balancer in front of the nodes, and where deliveries get lost or
doubled), and TWO Odoo servers on that one database (separate processes, each
threaded with its own cron threads), as a plant with two application nodes runs.

Then it plays a production day. About `--completions` unit completions over MOs
of 1 to 20 units (a serial-tracked drone built from two serial-tracked components
Pico reports, four untracked screws and one lot-tracked threadlocker per unit)
are completed in the simulator at `--rate` per second, and reach Odoo by webhook
(the proxy alternating between the nodes) or over MQTT, with these faults:

- 10 % of webhook deliveries duplicated, half of them at once to both nodes;
- 5 % of completions out of order (unit 3 before unit 1) and a few MOs completed
  in Pico before Odoo released them (held, then applied when they are);
- 20 % of Pico GraphQL calls answered 503 or left to time out;
- 10 % of webhook deliveries lost (the proxy answers 200 and drops them): only the
  catch-up reconciliation (every minute here) can find them;
- one node killed with SIGKILL twice while it applies events (when it holds the
  processor's advisory lock), then restarted;
- Mosquitto restarted once right after a burst of QoS 1 messages;
- every connection of the database terminated once (pg_terminate_backend);
- a few MOs cancelled and a few reduced while their units are being built.

At the end it waits until the queues drain and checks, from the database and the
simulator: each completed unit produced exactly once (stock, serials, MOs), the
components consumed exactly (per product and per lot/serial), MOs done or
cancelled as planned, every unit in the simulator exactly once and every cancel
there, no event or exchange left behind. It prints a table (and writes
bench-results/chaos.json): completions, faults per kind, events by state, lost,
doubled, drain time after the last fault, and both servers' ERROR lines grouped
by cause, those the run provoked named as such.
"""
# pylint: disable=print-used

import argparse
import collections
import contextlib
import datetime
import functools
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

try:  # Odoo's Python has them all; another one re-runs this script with it.
    import paho.mqtt.client as mqtt
    import psycopg2
    import requests
except ImportError:
    mqtt = psycopg2 = requests = None

RUN_DIR = Path(os.environ.get("CHAOS_RUN_DIR") or h.REPO / ".run" / "chaos")
RESULTS = h.REPO / "bench-results" / "chaos.json"
PREFIX = "pico/chaos"
STREAM = "operationOrderCompletesStream"
# Share of GraphQL calls left unanswered (within --graphql-errors; the rest 503).
TIMEOUT_SHARE = 0.05
# Seconds after a provoked incident during which a server's ERROR lines are its.
PROVOKED_WINDOW = 45


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class Counter(collections.Counter):
    """A thread-safe counter of faults and deliveries."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def add(self, key, n=1):
        with self.lock:
            self[key] += n


# --- The webhook proxy ---------------------------------------------------------------
class Proxy:
    """Pico's webhooks arrive here; each is forwarded as the run's plan says.

    A unit's plan: door "mqtt" (the webhook is swallowed: that completion reaches
    Odoo over MQTT only), "lost" (answered 200, never forwarded), or webhook to a
    node, optionally twice (one after the other, or at once to both nodes). A
    node that does not answer is failed over to the other, as a load balancer
    would.
    """

    def __init__(self, chaos):
        self.chaos = chaos
        self.plans = {}
        self.lock = threading.Lock()
        self.server = None
        self.port = None
        self.turn = 0

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = proxy.handle(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self):
                # The job runner's calls (/queue_job/runjob), spread over the
                # nodes as a load balancer would.
                status = proxy.forward_get(self.path, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.port = h.free_port()
        self.server = ThreadingHTTPServer((h.HOST, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://{h.HOST}:{self.port}"

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def plan(self, key, plan):
        with self.lock:
            if plan is None:
                self.plans.pop(key, None)
            else:
                self.plans[key] = plan

    def handle(self, path, headers, body):
        key = None
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            data = json.loads(body)
            data = data.get("data", {}).get(STREAM, data)
            key = (data["externalOrderId"], data.get("orderIndex") or 0)
        with self.lock:
            plan = self.plans.pop(key, None) if key else None
        counts = self.chaos.counts
        if plan is None:
            # Not a completion of the run (or Pico's retry of one): forward.
            return self.forward(path, headers, body)
        if plan["door"] == "mqtt":
            return 200
        if plan.get("lost"):
            counts.add("webhook deliveries lost")
            return 200
        counts.add("webhook deliveries")
        if plan.get("duplicate") == "concurrent":
            counts.add("duplicates, at once to both nodes")
            results = []
            threads = [
                threading.Thread(
                    target=lambda node=node: results.append(
                        self.forward(path, headers, body, node)
                    )
                )
                for node in (0, 1)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return min(results)
        status = self.forward(path, headers, body)
        if plan.get("duplicate") == "sequential":
            counts.add("duplicates, one after the other")
            self.forward(path, headers, body)
        return status

    def forward_get(self, path, headers):
        """GET on a node (alternating, failing over); its status."""
        with self.lock:
            self.turn += 1
            node = self.turn % 2
        wanted = {k: v for k, v in headers.items() if k.lower() == "x-odoo-database"}
        for target in (node, 1 - node):
            url = self.chaos.nodes[target].url + path
            try:
                return requests.get(url, headers=wanted, timeout=60).status_code
            except requests.RequestException:
                continue
        return 502

    def forward(self, path, headers, body, node=None):
        """POST to a node (alternating by default, failing over); its status."""
        if node is None:
            with self.lock:
                self.turn += 1
                node = self.turn % 2
        wanted = {
            k: v
            for k, v in headers.items()
            if k.lower().startswith("x-pico") or k.lower() == "content-type"
        }
        for target in (node, 1 - node):
            url = self.chaos.nodes[target].url + path
            try:
                response = requests.post(url, data=body, headers=wanted, timeout=60)
            except requests.RequestException:
                self.chaos.counts.add("webhook failovers (node down)")
                continue
            self.chaos.counts.add(f"webhook answers {response.status_code}")
            return response.status_code
        return 502


# --- An Odoo node ---------------------------------------------------------------------
class Node:
    """One Odoo server process of the run (threaded, with cron threads)."""

    def __init__(self, chaos, name):
        self.chaos = chaos
        self.name = name
        self.port = h.free_port()
        self.url = f"http://{h.HOST}:{self.port}"
        self.service = None
        self.log = RUN_DIR / f"{name}.log"
        self.kills = []

    def start(self):
        run = self.chaos.run
        cmd = run.odoo.command(
            *run.base_args(),
            f"--http-port={self.port}",
            f"--gevent-port={h.free_port()}",
            "--workers=0",
            f"--max-cron-threads={self.chaos.args.cron_threads}",
            f"--logfile={self.log}",
            "--log-level=info",
            # The job engine: its runner in each node (one leader, elected).
            *(
                ["--load=base,web,queue_job"]
                if self.chaos.args.executor == "queue_job"
                else []
            ),
        )
        env = None
        if self.chaos.args.executor == "queue_job":
            # Jobs of both queues side by side (queue_job's default is root:1).
            # The runner calls the jobs through the proxy, as it would through a
            # cluster's load balancer, so that both nodes run them.
            env = {
                **os.environ,
                "ODOO_QUEUE_JOB_CHANNELS": "root:4",
                "ODOO_QUEUE_JOB_HOST": h.HOST,
                "ODOO_QUEUE_JOB_PORT": str(self.chaos.proxy.port),
            }
        self.service = h.spawn(RUN_DIR, self.name, cmd, env=env)
        started = time.monotonic()
        health = f"{self.url}/web/health"
        with contextlib.suppress(h.HarnessError):
            h.wait_until(
                lambda: h.http_ok(health) or not self.service.alive(), 180, 0.2, "Odoo"
            )
        if not self.service.alive() or not h.http_ok(health):
            raise h.HarnessError(
                f"Odoo {self.name} did not start:\n{h.log_tail(self.log)}"
            )
        return time.monotonic() - started

    def kill(self):
        """SIGKILL the whole process group (no goodbye, as a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.service.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.service.process.wait(timeout=10)


class FailoverApi:
    """JSON-2 calls to the first node that answers (one may be down)."""

    def __init__(self, apis):
        self.apis = apis
        self.failovers = 0

    def __call__(self, *args, **kwargs):
        deadline = time.monotonic() + 120
        while True:
            for api in self.apis:
                try:
                    return api(*args, **kwargs)
                except h.HarnessError as exc:
                    if "HTTP" in str(exc) and "HTTP 5" not in str(exc):
                        raise
                except OSError:
                    self.failovers += 1  # that node is down: the next one
            if time.monotonic() > deadline:
                raise h.HarnessError(f"no node answered {args[:2]}")
            time.sleep(1)


# --- The run --------------------------------------------------------------------------
class Chaos:
    def __init__(self, args):
        self.args = args
        self.random = random.Random(args.seed)
        self.db = h.check_db_name(os.environ.get("CHAOS_DB") or "pico_chaos")
        self.counts = Counter()
        self.incidents = []  # (monotonic, wall time, kind, detail)
        self.progress = h.Progress(9)
        self.pg = None
        self.proxy = Proxy(self)
        self.nodes = []
        self.results = {"started_at": _now().isoformat(timespec="seconds")}
        self.completed = {}  # (external id, index) -> completion sent to Pico
        self.withdrawn = set()  # units the run cancelled or reduced away
        self.takeovers = []  # per SIGKILL: how soon the other node applied events
        self.last_fault = None
        self.mqtt_client = None

    # --- Set-up ----------------------------------------------------------------------
    def plan_orders(self):
        """MO quantities (1 to 20, about 6.7 on average) summing to the target."""
        quantities, left = [], self.args.completions
        while left > 0:
            qty = min(20, max(1, int(self.random.expovariate(1 / 5.7)) + 1), left)
            quantities.append(qty)
            left -= qty
        count = len(quantities)
        unreleased = set(self.random.sample(range(count), max(1, count // 30)))
        big = [i for i, q in enumerate(quantities) if q >= 6 and i not in unreleased]
        self.random.shuffle(big)
        share = max(1, count // 50)
        self.cancel_plan = set(big[:share])
        self.reduce_plan = set(big[share : 2 * share])
        return quantities, unreleased

    def setup(self):
        step = self.progress.step
        args = self.args
        with step("Finding Odoo 19") as note:
            self.odoo = h.find_odoo()
            note["text"] = f"Odoo {self.odoo.version} ({self.odoo.found_by})"
        with step(f"Fresh database {self.db}, Mosquitto, simulator, proxy") as note:
            h.ensure_postgres()
            h.stop_all(RUN_DIR)
            h.clean_run_dir(RUN_DIR)
            if h.database_exists(self.db):
                h.drop_database(self.db)
            self.mqtt_service, self.mqtt_port = h.start_mosquitto(
                RUN_DIR, port=h.free_port()
            )
            python = h.find_simulator_python(self.odoo)
            _service, self.sim = h.start_simulator(python, RUN_DIR, port=h.free_port())
            # One delivery thread in Pico: give slow nodes time, retry a while.
            self.sim.control("config", {"webhook_timeout": 30, "webhook_max_tries": 8})
            # Pico reports the threadlocker lot too (a third consumed serial).
            self.sim.control(
                "operations",
                {
                    "id": "op-drone",
                    "consumedSerials": [
                        {
                            "id": "attr-motor",
                            "externalId": "MOTOR-220",
                            "label": "Motor serial",
                        },
                        {
                            "id": "attr-fc",
                            "externalId": "FC-330",
                            "label": "Flight controller serial",
                        },
                        {
                            "id": "attr-glue",
                            "externalId": "CHAOS-GLUE",
                            "label": "Threadlocker lot",
                        },
                    ],
                },
            )
            self.proxy_url = self.proxy.start()
            note["text"] = (
                f"broker :{self.mqtt_port}, simulator {self.sim.base_url}, "
                f"proxy {self.proxy_url}"
            )
        self.run = h.OdooRun(self.odoo, self.db, RUN_DIR)
        self.nodes = [Node(self, "odoo-a"), Node(self, "odoo-b")]
        with step(f"Installing {h.MODULE} with demo data") as note:
            template = args.template
            if template and h.database_exists(template):
                # Development shortcut: a copy of an earlier run's fresh install.
                h.run(["createdb", "-T", template, self.db], check=True)
                note["text"] = f"copied from {template}"
            else:
                modules = h.MODULE
                if args.executor == "queue_job":
                    modules += ",queue_job"
                self.run.install(modules=modules)
                if template:
                    h.run(["createdb", "-T", self.db, template], check=True)
        quantities, unreleased = self.plan_orders()
        with step(
            f"Creating {len(quantities)} MOs for {args.completions} units, stock"
        ) as note:
            params = {
                "endpoint_url": self.sim.graphql_url,
                "api_token": self.sim.token,
                "proxy_url": self.proxy_url,
                "odoo_url": self.nodes[0].url,
                "mqtt_host": h.HOST,
                "mqtt_port": self.mqtt_port,
                "mqtt_prefix": PREFIX,
                "units": args.completions,
                "spare_serials": 20,
                "glue_lots": 3,
                "quantities": quantities,
                "unreleased": sorted(unreleased),
                "executor": args.executor,
            }
            script = (Path(__file__).resolve().parent / "chaos_odoo.py").read_text()
            self.facts = self.run.shell(
                h.shell_call(script, params, "setup"), log_name="chaos-setup"
            )
            note["text"] = (
                f"{len(unreleased)} left unreleased, {len(self.cancel_plan)} to "
                f"cancel, {len(self.reduce_plan)} to reduce"
            )
        self.pg = psycopg2.connect(dbname=self.db)
        self.pg.autocommit = True
        self.initial_stock = self.stock()
        with step("Starting two Odoo nodes on the database") as note:
            # Pico's faults from the start: the orders of the confirmed MOs are
            # sent as soon as the nodes run.
            self.set_graphql_faults(True)
            for node in self.nodes:
                node.start()
            self.api = FailoverApi(
                [h.Json2(n.url, self.db, self.facts["api_key"]) for n in self.nodes]
            )
            for _try in range(20):
                answer = self.api(
                    "pico.backend",
                    "action_register_webhooks",
                    ids=[self.facts["backend_id"]],
                )
                if answer.get("params", {}).get("type") == "success":
                    break
                self.counts.add("webhook registrations refused by Pico faults")
            else:
                raise h.HarnessError(f"webhook registration: {answer}")
            h.wait_for_subscriber(RUN_DIR, PREFIX, timeout=120)
            note["text"] = ", ".join(f"{n.name} {n.url}" for n in self.nodes)
        self.machine()

    def machine(self):
        info = h.machine_info()
        info.update(
            postgresql=h.postgres_version(),
            odoo=self.odoo.version,
            load_average_at_start=list(os.getloadavg()),
            cron_threads_per_node=self.args.cron_threads,
        )
        self.results["machine"] = info

    # --- SQL helpers ------------------------------------------------------------------
    def sql(self, query, params=()):
        for _try in range(30):
            try:
                with self.pg.cursor() as cr:
                    cr.execute(query, params)
                    return cr.fetchall()
            except psycopg2.OperationalError:
                # Our own connection, terminated with the others on purpose.
                time.sleep(0.5)
                self.pg = psycopg2.connect(dbname=self.db)
                self.pg.autocommit = True
        raise h.HarnessError("the database is not reachable")

    def stock(self):
        """{(product id, lot name or None): quantity} in internal locations."""
        rows = self.sql(
            """
            SELECT q.product_id, l.name, COALESCE(sum(q.quantity), 0)
              FROM stock_quant q
              JOIN stock_location loc ON loc.id = q.location_id
              LEFT JOIN stock_lot l ON l.id = q.lot_id
             WHERE loc.usage = 'internal' AND q.product_id IN %s
          GROUP BY q.product_id, l.name
            """,
            (tuple(self.facts["products"].values()),),
        )
        return {(product, lot): float(qty) for product, lot, qty in rows}

    # --- Feeding the floor ------------------------------------------------------------
    def jobs(self):
        """Unit completions in the order Pico will report them."""
        productions = self.facts["productions"]
        queues = [
            [(mo_index, index) for index in range(mo["qty"])]
            for mo_index, mo in enumerate(productions)
        ]
        for units in queues:
            # 5 % out of order: a unit completed before the one ahead of it.
            for position in range(len(units) - 1):
                if self.random.random() < self.args.out_of_order:
                    units[position], units[position + 1] = (
                        units[position + 1],
                        units[position],
                    )
                    self.counts.add("completions out of order")
        order = []
        active = list(range(len(queues)))
        while active:
            # A floor builds several orders at once: interleave a few at a time.
            window = active[:6]
            pick = self.random.choice(window)
            order.append(queues[pick].pop(0))
            if not queues[pick]:
                active.remove(pick)
        return order

    def external_id(self, mo):
        return f"{mo['name']}#{mo['id']}"

    def route(self):
        """A delivery plan for one completion."""
        r = self.random.random
        if r() < self.args.mqtt_share:
            return {"door": "mqtt"}
        plan = {"door": "webhook"}
        if r() < self.args.lost:
            plan["lost"] = True
        elif r() < self.args.duplicates:
            plan["duplicate"] = "concurrent" if r() < 0.5 else "sequential"
        return plan

    def complete(self, mo, index):
        """Complete one unit in Pico; deliver it as planned."""
        external_id = self.external_id(mo)
        serial_no = len(self.completed)
        motor = self.facts["motors"][serial_no]
        controller = self.facts["controllers"][serial_no]
        plan = self.route()
        self.proxy.plan((external_id, index), plan)
        body = {
            "externalOrderId": external_id,
            "orderIndex": index,
            "producedSerial": f"CH-DRONE-{mo['id']}-{index:02d}",
            "consumedSerials": [
                {"externalId": self.facts["codes"]["motor"], "value": motor},
                {"externalId": self.facts["codes"]["controller"], "value": controller},
                {
                    "externalId": self.facts["codes"]["glue"],
                    "value": self.facts["glue_lots"][serial_no % 3],
                },
            ],
            "operator": f"Operator {serial_no % 7}",
            "station": f"Line {serial_no % 3 + 1}",
        }
        if not mo["released"]:
            # Pico completes an order Odoo has not released yet (forced).
            body["operationId"] = self.facts["operation"]
        try:
            completion = self.sim.complete(**body)
        except h.HarnessError as exc:
            if "NOT_FOUND" not in str(exc):
                raise
            # Odoo's save of this order has not reached Pico yet (GraphQL faults):
            # the operator cannot build it before.
            self.proxy.plan((external_id, index), None)
            self.counts.add("completions waiting for the order in Pico")
            return False
        self.completed[(external_id, index)] = completion
        self.counts.add("completions sent")
        if plan["door"] == "mqtt":
            self.publish(completion)
        return True

    def publish(self, completion):
        """Publish one completion over MQTT at QoS 1 (again until the broker has it)."""
        payload = json.dumps(completion)
        self.counts.add("MQTT completions")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                info = self.mqtt_client.publish(f"{PREFIX}/completion", payload, qos=1)
                info.wait_for_publish(5)
                if info.is_published():
                    return
            except (RuntimeError, ValueError) as exc:
                # Not connected: paho reconnects, and the message goes again.
                self.counts.add(f"MQTT publishes repeated ({type(exc).__name__})")
                time.sleep(1)
                continue
            self.counts.add("MQTT publishes repeated (broker away)")
            time.sleep(1)
        raise h.HarnessError("the broker did not take a completion for 2 minutes")

    def start_mqtt(self):
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"chaos-{os.getpid()}"
        )
        client.reconnect_delay_set(0.2, 2)
        client.connect(h.HOST, self.mqtt_port, keepalive=30)
        client.loop_start()
        self.mqtt_client = client

    def open_production(self, mo):
        """The MO of an order chain still open (the current backorder), or None."""
        rows = self.sql(
            """
            SELECT DISTINCT p.id FROM mrp_production p
              JOIN pico_work_order u ON u.production_id = p.id
             WHERE u.external_order_id = %s AND p.state NOT IN ('done', 'cancel')
            """,
            (self.external_id(mo),),
        )
        return rows[0][0] if rows else None

    def applied(self, mo):
        """Units of the MO whose completion Odoo has applied."""
        return {
            row[0]
            for row in self.sql(
                "SELECT order_index FROM pico_work_order "
                "WHERE external_order_id = %s AND state = 'done'",
                (self.external_id(mo),),
            )
        }

    def planner_change(self, mo_index, mo, built):
        """Cancel or reduce the MO once the units built so far are applied.

        Returns False while Odoo has not applied them yet (the change waits, as a
        planner would look at the order first).
        """
        if not built <= self.applied(mo):
            return False
        production = self.open_production(mo)
        if production is None:
            return True
        external_id = self.external_id(mo)
        if mo_index in self.cancel_plan:
            self.incident("planner change", f"cancel of {external_id}")
            self.api("mrp.production", "action_cancel", ids=[production])
            self.counts.add("MOs cancelled mid-build")
        else:
            [row] = self.api(
                "mrp.production", "read", ids=[production], fields=["product_qty"]
            )
            new_qty = max(1, int(row["product_qty"]) - 2)
            self.incident("planner change", f"{external_id} reduced to {new_qty}")
            [wizard] = self.api(
                "change.production.qty",
                "create",
                vals_list=[{"mo_id": production, "product_qty": new_qty}],
            )
            self.api("change.production.qty", "change_prod_qty", ids=[wizard])
            self.counts.add("MOs reduced mid-build")
        withdrawn = self.sql(
            "SELECT order_index FROM pico_work_order WHERE external_order_id = %s "
            "AND (cancel_requested OR state = 'cancelled')",
            (external_id,),
        )
        self.withdrawn |= {(external_id, row[0]) for row in withdrawn}
        return True

    def feed(self):  # noqa: C901 - one loop, the faults in order
        """Complete every planned unit at the run's rate, faults included."""
        args = self.args
        jobs = self.jobs()
        total = len(jobs)
        productions = self.facts["productions"]
        milestones = {
            int(total * 0.25): self.kill_a_node,
            int(total * 0.40): self.restart_broker,
            int(total * 0.55): functools.partial(self.kill_a_node, "receiving"),
            int(total * 0.70): self.terminate_connections,
        }
        # A planner changes some MOs after a third of their units.
        gates = {}
        for mo_index in self.cancel_plan | self.reduce_plan:
            gates[mo_index] = max(1, productions[mo_index]["qty"] // 3)
        done_per_mo = collections.Counter()
        built_per_mo = collections.defaultdict(set)
        changed = set()
        released_later = set()
        stop_timeouts = threading.Event()
        threading.Thread(
            target=self.graphql_timeouts, args=(stop_timeouts,), daemon=True
        ).start()
        started = time.monotonic()
        deferred = collections.deque()
        faults = queue.Queue()

        def inject():
            while (action := faults.get()) is not None:
                action()

        fault_thread = threading.Thread(target=inject, daemon=True)
        fault_thread.start()
        number = 0
        with self.progress.step(f"Feeding {total} completions with faults") as note:
            while jobs or deferred:
                if deferred and (not jobs or self.random.random() < 0.2):
                    job = deferred.popleft()
                else:
                    job = jobs.pop(0)
                mo_index, index = job
                mo = productions[mo_index]
                external_id = self.external_id(mo)
                if (external_id, index) in self.withdrawn:
                    continue
                if mo_index in gates and mo_index not in changed:
                    if done_per_mo[mo_index] >= gates[mo_index]:
                        if self.planner_change(mo_index, mo, built_per_mo[mo_index]):
                            changed.add(mo_index)
                            if (external_id, index) in self.withdrawn:
                                continue
                            if mo_index in self.cancel_plan:
                                continue
                        else:
                            deferred.append(job)
                            time.sleep(0.05)
                            continue
                elif mo_index in self.cancel_plan and mo_index in changed:
                    continue
                if not self.complete(mo, index):
                    deferred.append(job)
                    time.sleep(0.05)
                    continue
                done_per_mo[mo_index] += 1
                built_per_mo[mo_index].add(index)
                number += 1
                if not mo["released"] and mo_index not in released_later:
                    # Odoo releases it a little after Pico reported a unit.
                    released_later.add(mo_index)
                    threading.Timer(8.0, self.release_late, args=(mo,)).start()
                action = milestones.pop(number, None)
                if action:
                    # The floor goes on while a node or the broker is down; the
                    # faults themselves come one after the other.
                    faults.put(action)
                due = started + number / args.rate
                time.sleep(max(0.0, due - time.monotonic()))
                if number % 50 == 0:
                    self.progress.info(
                        f"{number} completions sent, {len(deferred)} waiting (order "
                        f"not in Pico yet, or planner change), load "
                        f"{os.getloadavg()[0]:.1f}"
                    )
            for action in milestones.values():
                faults.put(action)
            faults.put(None)
            fault_thread.join()
            stop_timeouts.set()
            self.set_graphql_faults(False)
            self.last_fault = time.monotonic()
            note["text"] = f"{number} sent in {time.monotonic() - started:.0f} s"

    def release_late(self, mo):
        self.incident("planner change", f"{self.external_id(mo)} released late")
        with contextlib.suppress(h.HarnessError):
            self.api("mrp.production", "action_confirm", ids=[mo["id"]])
            self.counts.add("MOs released after Pico completed units")

    # --- Faults -----------------------------------------------------------------------
    def incident(self, kind, detail=""):
        self.incidents.append((time.monotonic(), _now(), kind, detail))
        self.progress.info(f"fault: {kind} {detail}".rstrip())

    def set_graphql_faults(self, on):
        if on:
            self.sim.faults(
                error_rate=max(0.0, self.args.graphql_errors - TIMEOUT_SHARE),
                error_status=503,
                timeout_seconds=8,
            )
        else:
            self.sim.faults(clear=True)

    def graphql_timeouts(self, stop):
        """Leave one GraphQL call in TIMEOUT_SHARE unanswered (a timeout)."""
        while not stop.wait(3):
            with contextlib.suppress(h.HarnessError):
                log = self.sim.control("requests")
                timeouts = sum(1 for entry in log if entry.get("fault") == "timeout")
                if timeouts < TIMEOUT_SHARE * len(log):
                    self.sim.faults(timeout_next=1)

    def kill_a_node(self, which="applying"):
        """SIGKILL a node, keep it down `--down-seconds`, then restart it.

        `which`: "applying", the node applying an event right now (a connection
        holding an event's row lock and advisory locks), or "receiving", the
        node the proxy sends the next webhook to. While it is down, measure how
        long the other node takes to apply an event of the stored backlog.
        """
        pids = {node.service.pid: node for node in self.nodes}
        victim, deadline = None, time.monotonic() + 60
        how = "while applying an event"
        if which == "receiving":
            victim = self.nodes[(self.proxy.turn + 1) % 2]
            how = "as it receives the webhooks"
        while victim is None and time.monotonic() < deadline:
            rows = self.sql(
                """
                SELECT a.application_name FROM pg_locks l
                  JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE a.datname = %s
                   AND l.locktype = 'relation' AND l.mode = 'RowShareLock'
                   AND l.relation = 'pico_event'::regclass
                   AND EXISTS (SELECT 1 FROM pg_locks k
                                WHERE k.pid = l.pid AND k.locktype = 'advisory')
                """,
                (self.db,),
            )
            for (name,) in rows:
                match = re.match(r"odoo-(\d+)", name or "")
                if match and int(match.group(1)) in pids:
                    victim = pids[int(match.group(1))]
            if victim is None:
                time.sleep(0.02)
        if victim is None:
            victim, how = self.nodes[0], "(no event in progress within 60 s)"
        survivor = next(node for node in self.nodes if node is not victim)
        (killed_at,) = self.sql("SELECT (now() AT TIME ZONE 'UTC')")[0]
        backlog = self.due_events()
        victim.kill()
        t0 = time.monotonic()
        self.counts.add("node SIGKILLs")
        self.incident("SIGKILL", f"{victim.name} {how}; {backlog} events due")
        taken = None
        while time.monotonic() - t0 < self.args.down_seconds:
            (applied,) = self.sql(
                "SELECT count(*) FROM pico_event WHERE processed_at >= %s",
                (killed_at,),
            )[0]
            if applied and taken is None:
                taken = time.monotonic() - t0
                self.incident(
                    "takeover", f"{survivor.name} applied an event {taken:.1f} s after"
                )
            time.sleep(0.1)
        self.takeovers.append(
            {
                "victim": victim.name,
                "which": which,
                "due_at_kill": backlog,
                "seconds": None if taken is None else round(taken, 2),
            }
        )
        took = victim.start()
        victim.kills.append(took)
        self.incident("restart", f"{victim.name} answering after {took:.1f} s")

    def due_events(self):
        """Events waiting to be applied now (received, or due again)."""
        (count,) = self.sql(
            "SELECT count(*) FROM pico_event WHERE state IN ('received', 'held') "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= "
            "(now() AT TIME ZONE 'UTC'))"
        )[0]
        return count

    def restart_broker(self):
        """Restart Mosquitto right after a burst of QoS 1 messages."""
        self.counts.add("Mosquitto restarts")
        self.incident("Mosquitto restart", "with QoS 1 messages in flight")
        h.stop_service(RUN_DIR, self.mqtt_service, grace=5)
        time.sleep(1)
        self.mqtt_service, _port = h.start_mosquitto(RUN_DIR, port=self.mqtt_port)

    def terminate_connections(self):
        rows = self.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.db,),
        )
        self.counts.add("pg_terminate_backend rounds")
        self.incident("pg_terminate_backend", f"{rows[0][0]} connections")

    # --- State of a run (to check a kept run again: --check-only) ---------------------
    def save_state(self):
        state = {
            "facts": self.facts,
            "completed": [[k[0], k[1], v] for k, v in self.completed.items()],
            "withdrawn": sorted(self.withdrawn),
            "initial_stock": [[k[0], k[1], v] for k, v in self.initial_stock.items()],
            "cancel_plan": sorted(self.cancel_plan),
            "reduce_plan": sorted(self.reduce_plan),
            "sim": self.sim.base_url,
            "counts": dict(self.counts),
            "incidents": [[w.isoformat(), k, d] for _m, w, k, d in self.incidents],
            "nodes": [node.log.name for node in self.nodes],
            "results": self.results,
            "takeovers": self.takeovers,
        }
        (RUN_DIR / "state.json").write_text(json.dumps(state, default=str))

    def load_state(self):
        state = json.loads((RUN_DIR / "state.json").read_text())
        self.facts = state["facts"]
        self.completed = {(e, i): v for e, i, v in state["completed"]}
        self.withdrawn = {tuple(k) for k in state["withdrawn"]}
        self.initial_stock = {(p, lot): q for p, lot, q in state["initial_stock"]}
        self.cancel_plan = set(state["cancel_plan"])
        self.reduce_plan = set(state["reduce_plan"])
        self.sim = h.Simulator(state["sim"])
        self.counts.update(state["counts"])
        self.incidents = [
            (0, datetime.datetime.fromisoformat(w), k, d)
            for w, k, d in state["incidents"]
        ]
        self.nodes = [Node(self, Path(name).stem) for name in state["nodes"]]
        self.results.update(state["results"])
        self.takeovers = state.get("takeovers", [])
        self.pg = psycopg2.connect(dbname=self.db)
        self.pg.autocommit = True

    # --- Drain and checks -------------------------------------------------------------
    def queues(self):
        events = dict(self.sql("SELECT state, count(*) FROM pico_event GROUP BY state"))
        exchanges = dict(
            self.sql("SELECT state, count(*) FROM pico_exchange GROUP BY state")
        )
        return events, exchanges

    def drained(self):
        events, exchanges = self.queues()
        open_events = sum(events.get(s, 0) for s in ("received", "held"))
        open_exchanges = sum(
            exchanges.get(s, 0) for s in ("pending", "sending", "retry_wait")
        )
        expected = set(self.completed) - self.withdrawn
        built = {
            (ext, idx)
            for ext, idx in self.sql(
                "SELECT external_order_id, order_index FROM pico_work_order "
                "WHERE state = 'done'"
            )
        }
        missing = expected - built
        return not open_events and not open_exchanges and not missing, (
            open_events,
            open_exchanges,
            len(missing),
        )

    def drain(self):
        with self.progress.step("Waiting for every queue to drain") as note:
            deadline = time.monotonic() + self.args.drain_timeout
            last = 0
            while True:
                ok, (events, exchanges, missing) = self.drained()
                if ok:
                    break
                if time.monotonic() > deadline:
                    note["text"] = (
                        f"NOT drained: {events} events, {exchanges} exchanges "
                        f"open, {missing} units not applied"
                    )
                    self.results["drain_s"] = None
                    return
                if time.monotonic() - last > 30:
                    last = time.monotonic()
                    self.progress.info(
                        f"open: {events} events, {exchanges} exchanges, "
                        f"{missing} units not applied yet"
                    )
                time.sleep(1)
            took = time.monotonic() - self.last_fault
            self.results["drain_s"] = took
            note["text"] = f"{took:.0f} s after the last fault"

    def check(self):
        """The books: each check is (name, ok, detail)."""
        checks = []
        facts = self.facts
        products = facts["products"]
        productions = facts["productions"]
        external_ids = tuple(self.external_id(mo) for mo in productions)
        built = set(self.completed) - self.withdrawn
        # Units built in Pico that the run did not withdraw: each once in Odoo.
        done_units = collections.Counter(
            (ext, idx)
            for ext, idx in self.sql(
                "SELECT external_order_id, order_index FROM pico_work_order "
                "WHERE external_order_id IN %s AND state = 'done'",
                (external_ids,),
            )
        )
        lost = sorted(built - set(done_units))
        doubled = sorted(k for k, n in done_units.items() if n > 1)
        unexpected = sorted(set(done_units) - built)
        self.results["lost"] = len(lost)
        self.results["doubled"] = len(doubled)
        checks.append(
            (
                "every unit built in Pico done once in Odoo",
                not lost and not doubled,
                (
                    f"{len(built)} built, {len(lost)} lost, {len(doubled)} doubled, "
                    f"{len(unexpected)} done but never built"
                ),
            )
        )
        # Finished product: stock grew by the units built; each serial once.
        stock = self.stock()
        drone = products["drone"]
        grown = sum(q for (p, _l), q in stock.items() if p == drone) - sum(
            q for (p, _l), q in self.initial_stock.items() if p == drone
        )
        checks.append(
            (
                "drone stock = units built",
                round(grown) == len(built),
                f"+{grown:g} for {len(built)} units",
            )
        )
        serials = {
            completion["endState"]["producedSerial"]
            for key, completion in self.completed.items()
            if key in built
        }
        rows = self.sql(
            """
            SELECT l.name, count(DISTINCT l.id), coalesce(sum(q.quantity), 0)
              FROM stock_lot l
              LEFT JOIN stock_quant q ON q.lot_id = l.id
              LEFT JOIN stock_location loc ON loc.id = q.location_id
             WHERE l.product_id = %s AND l.name IN %s
               AND (loc.usage = 'internal' OR loc.id IS NULL)
          GROUP BY l.name
            """,
            (drone, tuple(serials) or ("",)),
        )
        serial_ok = {name for name, lots, qty in rows if lots == 1 and qty == 1}
        checks.append(
            (
                "each reported serial exists once, in stock",
                serial_ok == serials,
                f"{len(serial_ok)} of {len(serials)}",
            )
        )
        # Components: initial - BOM x units built, per product and lot/serial.
        bom = {int(k): v for k, v in facts["bom"].items()}
        detail = []
        ok = True
        for product_id, per_unit in bom.items():
            before = sum(
                q for (p, _l), q in self.initial_stock.items() if p == product_id
            )
            after = sum(q for (p, _l), q in stock.items() if p == product_id)
            expected = before - per_unit * len(built)
            ok &= abs(after - expected) < 1e-6
            detail.append(f"{product_id}: {after:g} (expected {expected:g})")
        checks.append(
            ("component stock = initial - BOM x units", ok, "; ".join(detail))
        )
        reported = collections.Counter()
        for key, completion in self.completed.items():
            if key in built:
                for entry in completion["operationSummary"]["consumedSerials"] or []:
                    reported[entry["value"]] += 1
        per_lot_ok = True
        tracked = (products["motor"], products["controller"], products["glue"])
        for key in set(stock) | set(self.initial_stock):
            product_id, lot = key
            if lot and product_id in tracked:
                want = self.initial_stock.get(key, 0) - reported.get(lot, 0)
                per_lot_ok &= abs(stock.get(key, 0) - want) < 1e-6
        negative = [k for k, q in stock.items() if q < -1e-6]
        checks.append(
            (
                "per lot/serial: initial - what Pico reported, no quant < 0",
                per_lot_ok and not negative,
                f"{len(reported)} serials, {len(negative)} negative quants",
            )
        )
        # No stock move doubled: one done finished move per unit built.
        [(finished_moves, finished_qty)] = self.sql(
            """
            SELECT count(*), coalesce(sum(m.quantity), 0) FROM stock_move m
              JOIN mrp_production p ON p.id = m.production_id
             WHERE p.origin LIKE 'chaos-%%' AND m.state = 'done'
               AND m.product_id = %s
            """,
            (drone,),
        )
        checks.append(
            (
                "no finished move doubled",
                finished_qty == len(built),
                f"{finished_moves} done moves, {finished_qty:g} units",
            )
        )
        # MOs: done or cancelled as planned.
        chains = collections.defaultdict(collections.Counter)
        origins = {
            f"chaos-{n:04d}": self.external_id(mo) for n, mo in enumerate(productions)
        }
        for origin, state, qty in self.sql(
            """
            SELECT p.origin, p.state, coalesce(sum(m.quantity), 0)
              FROM mrp_production p
              LEFT JOIN stock_move m ON m.production_id = p.id
                   AND m.state = 'done' AND m.product_id = %s
             WHERE p.origin LIKE 'chaos-%%'
          GROUP BY p.id, p.origin, p.state
            """,
            (drone,),
        ):
            ext = origins.get(origin)
            chains[ext][state] += 1
            chains[ext]["produced"] += float(qty or 0)
        bad = []
        for mo_index, mo in enumerate(productions):
            ext = self.external_id(mo)
            chain = chains.get(ext, collections.Counter())
            units = sum(1 for key in built if key[0] == ext)
            open_mos = sum(
                n for s, n in chain.items() if s not in ("done", "cancel", "produced")
            )
            want_cancel = mo_index in self.cancel_plan
            if (
                open_mos
                or round(chain["produced"]) != units
                or (want_cancel and not chain["cancel"])
                or (not want_cancel and chain["cancel"])
            ):
                bad.append(f"{ext} {dict(chain)} for {units} units")
        checks.append(
            (
                "every MO done or cancelled as planned, backorders consistent",
                not bad,
                "; ".join(bad[:5]) or f"{len(productions)} orders",
            )
        )
        # The simulator: every unit exactly once, every cancel there.
        orders = collections.Counter(
            (o["externalOrderId"], o["operationId"], o["orderIndex"])
            for o in self.sim.orders()
        )
        states = {
            (o["externalOrderId"], o["orderIndex"]): o["state"]
            for o in self.sim.orders()
        }
        units = self.sql(
            "SELECT external_order_id, operation_pico_id, order_index, state, "
            "cancel_requested FROM pico_work_order WHERE external_order_id IN %s",
            (external_ids,),
        )
        twice = [k for k, n in orders.items() if n > 1]
        absent = [
            (ext, idx)
            for ext, op, idx, state, _c in units
            if (ext, op, idx) not in orders and (ext, idx) not in self.completed
        ]
        not_cancelled = [
            (ext, idx)
            for ext, _op, idx, state, cancel in units
            if state == "cancelled" and states.get((ext, idx)) not in ("canceled", None)
        ]
        checks.append(
            (
                "every unit in the simulator once, every cancel reached it",
                not twice and not absent and not not_cancelled,
                (
                    f"{len(orders)} orders, {len(twice)} twice, {len(absent)} absent, "
                    f"{len(not_cancelled)} cancels missing"
                ),
            )
        )
        events, exchanges = self.queues()
        left = {s: n for s, n in events.items() if s not in ("done",)}
        checks.append(
            ("no event left received/held/failed/dead", not left, str(left or "none"))
        )
        stuck = {s: n for s, n in exchanges.items() if s not in ("done", "cancelled")}
        checks.append(
            ("no exchange left pending/sending/failed", not stuck, str(stuck or "none"))
        )
        self.results["events_by_state"] = events
        self.results["exchanges_by_state"] = exchanges
        self.results["checks"] = [list(c) for c in checks]
        return checks

    # --- Logs and report --------------------------------------------------------------
    def error_lines(self):
        """ERROR/CRITICAL lines of both nodes, grouped by cause."""
        groups = collections.Counter()
        examples = {}
        line_re = re.compile(
            r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \d+ "
            r"(ERROR|CRITICAL) (\S+) (\S+): (.*)"
        )
        for node in self.nodes:
            try:
                lines = node.log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines):
                match = line_re.match(line)
                if not match:
                    continue
                stamp, _level, _db, logger, message = match.groups()
                detail = message
                if message.startswith("bad query"):
                    following = lines[number + 1 : number + 4]
                    detail = next(
                        (x for x in following if x.startswith("ERROR:")), message
                    )
                cause = re.sub(r"\d+", "N", f"{logger}: {detail}")[:140]
                moment = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc
                )
                provoked = self.provoked_by(moment)
                key = (provoked or "NOT PROVOKED", cause)
                groups[key] += 1
                examples.setdefault(key, line[:300])
        self.results["errors"] = [
            {"provoked_by": k[0], "cause": k[1], "count": n, "example": examples[k]}
            for k, n in groups.most_common()
        ]
        return groups

    def provoked_by(self, moment):
        """The latest incident the run provoked shortly before `moment`, if any."""
        found = None
        for _mono, wall, kind, _detail in self.incidents:
            if kind == "restart":
                continue
            delta = (moment - wall).total_seconds()
            if -2 <= delta <= PROVOKED_WINDOW:
                found = kind
        return found

    def report(self, checks):
        r = self.results
        r["counts"] = dict(self.counts)
        requests_log = self.sim.control("requests")
        faults = collections.Counter(e.get("fault") for e in requests_log)
        r["graphql"] = {
            "requests": len(requests_log),
            "errors_503": faults.get("error", 0),
            "timeouts": faults.get("timeout", 0),
        }
        r["incidents"] = [
            {"at": wall.isoformat(timespec="seconds"), "kind": kind, "detail": detail}
            for _m, wall, kind, detail in self.incidents
        ]
        r["finished_at"] = _now().isoformat(timespec="seconds")
        r["machine"]["load_average_at_end"] = list(os.getloadavg())
        errors = self.error_lines()
        c = self.counts
        rows = [
            ("Completions sent (units built in Pico)", c["completions sent"]),
            (
                "  by webhook through the proxy / over MQTT",
                (
                    f"{c['webhook deliveries'] + c['webhook deliveries lost']} / "
                    f"{c['MQTT completions']}"
                ),
            ),
            ("  units withdrawn by cancels and reductions", len(self.withdrawn)),
            (
                "Duplicates: at once to both nodes / one after the other",
                (
                    f"{c['duplicates, at once to both nodes']} / "
                    f"{c['duplicates, one after the other']}"
                ),
            ),
            ("Out of order (unit n+1 before n)", c["completions out of order"]),
            (
                "MOs completed in Pico before Odoo released them",
                c["MOs released after Pico completed units"],
            ),
            (
                "Webhook deliveries lost (found by catch-up only)",
                c["webhook deliveries lost"],
            ),
            (
                "Pico GraphQL calls: total / 503 / timed out",
                (
                    f"{r['graphql']['requests']} / {r['graphql']['errors_503']} / "
                    f"{r['graphql']['timeouts']}"
                ),
            ),
            ("Executor", self.args.executor),
            ("Node SIGKILLs (then restarts)", c["node SIGKILLs"]),
            (
                "Takeover after each SIGKILL (other node's first applied event)",
                "; ".join(
                    f"{t['victim']} ({t['which']}, {t['due_at_kill']} due): "
                    + (
                        f"{t['seconds']} s"
                        if t["seconds"] is not None
                        else f"none within {self.args.down_seconds:g} s"
                    )
                    for t in getattr(self, "takeovers", [])
                )
                or "-",
            ),
            ("Mosquitto restarts with QoS 1 in flight", c["Mosquitto restarts"]),
            ("pg_terminate_backend rounds", c["pg_terminate_backend rounds"]),
            (
                "MOs cancelled / reduced mid-build",
                f"{c['MOs cancelled mid-build']} / {c['MOs reduced mid-build']}",
            ),
            ("Webhook failovers to the other node", c["webhook failovers (node down)"]),
            (
                "Events by state",
                ", ".join(f"{k} {v}" for k, v in sorted(r["events_by_state"].items())),
            ),
            (
                "Exchanges by state",
                ", ".join(
                    f"{k} {v}" for k, v in sorted(r["exchanges_by_state"].items())
                ),
            ),
            ("LOST", r["lost"]),
            ("DOUBLED", r["doubled"]),
            (
                "Drained after the last fault",
                "NOT DRAINED" if r.get("drain_s") is None else f"{r['drain_s']:.0f} s",
            ),
        ]
        m = r["machine"]
        print(
            f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
            f"PostgreSQL {m['postgresql']}; Odoo {m['odoo']}; two nodes --workers=0 "
            f"--max-cron-threads={m['cron_threads_per_node']}; load average "
            f"{m['load_average_at_start'][0]:.2f} at start, "
            f"{m['load_average_at_end'][0]:.2f} at end"
        )
        print(f"Command: dev/chaos.py {' '.join(sys.argv[1:])}".rstrip())
        width = max(len(label) for label, _v in rows)
        print()
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        print("\nChecks:")
        for name, ok, detail in checks:
            print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        print("\nERROR lines of both servers, by cause:")
        if not errors:
            print("  none")
        for (provoked, cause), count in errors.most_common():
            print(f"  {count:4d}  [{provoked}] {cause}")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        self.args.out.write_text(json.dumps(r, indent=2, default=str))
        print(f"\nWritten: {self.args.out}; logs in {RUN_DIR}")
        unprovoked = sum(n for (p, _c), n in errors.items() if p == "NOT PROVOKED")
        return all(ok for _n, ok, _d in checks) and not unprovoked

    def cleanup(self):
        self.proxy.stop()
        if self.mqtt_client:
            self.mqtt_client.loop_stop()
        if self.pg is not None:
            self.pg.close()
        if self.args.keep:
            print(f"Kept running (--keep): database {self.db}, run dir {RUN_DIR}")
            return
        h.stop_all(RUN_DIR, order=("odoo-a", "odoo-b", "simulator", "mosquitto"))
        h.drop_database(self.db)


def reexec_with_odoo_python():
    """Run again with Odoo's Python when this one lacks what the run needs."""
    if None not in (requests, psycopg2, mqtt):
        return
    if os.environ.get("PICO_CHAOS_REEXEC"):
        sys.exit("dev/chaos.py needs requests, psycopg2 and paho-mqtt.")
    odoo = h.find_odoo()
    os.environ["PICO_CHAOS_REEXEC"] = "1"
    os.execv(odoo.python, [odoo.python, __file__, *sys.argv[1:]])


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="dev/chaos.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--completions", type=int, default=1000, help="unit completions"
    )
    parser.add_argument(
        "--rate", type=float, default=3.0, help="completions per second"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--mqtt-share", type=float, default=0.3, help="share over MQTT")
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--out-of-order", type=float, default=0.05)
    parser.add_argument("--lost", type=float, default=0.10, help="webhooks lost")
    parser.add_argument("--graphql-errors", type=float, default=0.20)
    parser.add_argument("--cron-threads", type=int, default=2, help="per node")
    h.add_executor_option(parser)
    parser.add_argument(
        "--down-seconds",
        type=float,
        default=10.0,
        help="how long a killed node stays down before its restart",
    )
    parser.add_argument("--drain-timeout", type=float, default=1800, help="seconds")
    parser.add_argument("--keep", action="store_true", help="leave the servers and db")
    parser.add_argument(
        "--template",
        help="development shortcut: copy this database instead of installing "
        "(made from the first run's fresh install when it does not exist)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="check the books of the last run again (kept with --keep)",
    )
    args = parser.parse_args(argv)
    try:
        reexec_with_odoo_python()
    except h.HarnessError as exc:
        sys.exit(f"dev/chaos.py: {exc}")
    chaos = Chaos(args)
    if args.check_only:
        chaos.load_state()
        ok = chaos.report(chaos.check())
        return 0 if ok else 1
    try:
        chaos.setup()
        chaos.start_mqtt()
        chaos.feed()
        chaos.save_state()
        chaos.drain()
        chaos.save_state()
        with chaos.progress.step("Checking the books"):
            checks = chaos.check()
        ok = chaos.report(checks)
    except h.HarnessError as exc:
        print(f"\ndev/chaos.py: {exc}", file=sys.stderr)
        print(f"Logs: {RUN_DIR}", file=sys.stderr)
        chaos.args.keep = True
        chaos.cleanup()
        return 1
    except BaseException:
        h.stop_all(RUN_DIR, order=("odoo-a", "odoo-b", "simulator", "mosquitto"))
        raise
    chaos.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
