"""What the chaos run's parts share: the run's state, SQL, its save and load."""

import collections
import datetime
import json
import os
import random
import threading
import time
from pathlib import Path

import harness as h
import psycopg2

RUN_DIR = Path(os.environ.get("CHAOS_RUN_DIR") or h.REPO / ".run" / "chaos")
PREFIX = "pico/chaos"
STREAM = "operationOrderCompletesStream"
# The services of a run, in the order they stop.
SERVICES = ("odoo-a", "odoo-b", "simulator", "mosquitto")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class Counter(collections.Counter):
    """A thread-safe counter of faults and deliveries."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def add(self, key, n=1):
        with self.lock:
            self[key] += n


class Chaos:
    """One chaos run: its arguments, counts and incidents, the database, the
    services the set-up started and the facts of its MOs."""

    def __init__(self, args):
        from .proxy import Proxy

        self.args = args
        self.random = random.Random(args.seed)
        self.db = h.check_db_name(os.environ.get("CHAOS_DB") or "pico_chaos")
        self.counts = Counter()
        self.incidents = []  # (monotonic, wall time, kind, detail)
        self.progress = h.Progress(9)
        self.pg = None
        self.proxy = Proxy(self)
        self.nodes = []
        self.results = {"started_at": now().isoformat(timespec="seconds")}
        self.completed = {}  # (external id, index) -> completion sent to Pico
        self.withdrawn = set()  # units the run cancelled or reduced away
        self.takeovers = []  # per SIGKILL: how soon the other node applied events
        self.last_fault = None
        self.mqtt_client = None
        # Set by the set-up (setup.py).
        self.odoo = self.run = self.sim = self.api = self.facts = None
        self.mqtt_service = self.mqtt_port = self.proxy_url = None
        self.cancel_plan, self.reduce_plan = set(), set()
        self.initial_stock = {}

    def incident(self, kind, detail=""):
        self.incidents.append((time.monotonic(), now(), kind, detail))
        self.progress.info(f"fault: {kind} {detail}".rstrip())

    @staticmethod
    def external_id(mo):
        return f"{mo['name']}#{mo['id']}"

    # --- SQL ----------------------------------------------------------------------
    def connect(self):
        self.pg = psycopg2.connect(dbname=self.db)
        self.pg.autocommit = True

    def sql(self, query, params=()):
        for _try in range(30):
            try:
                with self.pg.cursor() as cr:
                    cr.execute(query, params)
                    return cr.fetchall()
            except psycopg2.OperationalError:
                # Our own connection, terminated with the others on purpose.
                time.sleep(0.5)
                self.connect()
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

    def queues(self):
        """({event state: count}, {exchange state: count})."""
        events = dict(self.sql("SELECT state, count(*) FROM pico_event GROUP BY state"))
        exchanges = dict(
            self.sql("SELECT state, count(*) FROM pico_exchange GROUP BY state")
        )
        return events, exchanges

    # --- State of a run (to check a kept run again: --check-only) -------------------
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
            "nodes": [node.name for node in self.nodes],
            "results": self.results,
            "takeovers": self.takeovers,
        }
        (RUN_DIR / "state.json").write_text(json.dumps(state, default=str))

    def load_state(self):
        from .nodes import Node

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
        # Names; a state of an earlier version has the names of the node logs.
        self.nodes = [Node(self, Path(name).stem) for name in state["nodes"]]
        self.results.update(state["results"])
        self.takeovers = state.get("takeovers", [])
        self.connect()

    def cleanup(self):
        self.proxy.stop()
        if self.mqtt_client:
            self.mqtt_client.loop_stop()
        h.teardown(
            RUN_DIR,
            self.db,
            self.args.keep,
            kept=f"database {self.db}, run dir {RUN_DIR}",
            order=SERVICES,
            connection=self.pg,
        )
