#!/usr/bin/env python3
"""Cron + trigger vs OCA queue_job as the executor of a queue (not a test).

    PYTHON=/path/to/odoo/python [QUEUE_JOB_DIR=/path/to/addons] dev/bench_queue_job.py

The `queue_job` addon comes with Odoo's Python (`pip install odoo-addon-queue-job`)
or from QUEUE_JOB_DIR, a folder holding it, e.g. unpacked from
`pip download --no-deps "odoo-addon-queue-job>=19.0,<19.1"` (its wheel holds
odoo/addons/queue_job); `openupgradelib` must be importable (PYTHONPATH). Odoo is
found as by the other dev/ scripts (dev/harness.py: ODOO_BIN, ODOO_PYTHON or
PYTHON). The figures in docs/DECISIONS_QUEUE.md come from this script.

It writes a probe addon to a temporary folder, creates the database QJ_DB (default
pico_qj_bench, dropped first), starts one prefork Odoo (5 HTTP workers, 2 cron
workers, queue_job loaded server-wide, channel root:4) on a free loopback port, and
for each executor measures the latency from a row's commit to the start of its work
(20 rows, one at a time) and the throughput of 100 rows of 50 ms of work, waiting
(pg_sleep, like a call to Pico) or computing (like applying a completion). The cron
variant claims rows one by one with FOR NO KEY UPDATE SKIP LOCKED, as pico.queue
does. Odoo's prefork cron workers run at nice 10; they are set to nice 0 here so
that both executors compete on equal terms (pass --keep-nice to measure as is).
"""
# pylint: disable=print-used

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

try:  # Odoo's Python has it; another one re-runs this script with it.
    import psycopg2
except ImportError:
    psycopg2 = None

MANIFEST = """{
    "name": "queue_job probe (dev/bench_queue_job.py)",
    "version": "19.0.1.0.0",
    "license": "LGPL-3",
    "author": "mrp_pico_mes authors",
    "depends": ["queue_job"],
    "data": ["security/ir.model.access.csv", "data/cron.xml"],
}
"""
ACCESS = """id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink
access_qj_probe_row,qj.probe.row,model_qj_probe_row,base.group_system,1,1,1,1
"""
CRON = """<odoo>
    <record id="cron_drain" model="ir.cron">
        <field name="name">qj probe: drain rows</field>
        <field name="model_id" ref="model_qj_probe_row" />
        <field name="state">code</field>
        <field name="code">model._cron_drain()</field>
        <field name="user_id" ref="base.user_root" />
        <field name="interval_number">1</field>
        <field name="interval_type">hours</field>
    </record>
</odoo>
"""
MODEL = """import time

from odoo import api, fields, models


class QjProbeRow(models.Model):
    _name = "qj.probe.row"
    _description = "queue_job probe row"

    kind = fields.Char()
    ms = fields.Integer()
    cpu = fields.Boolean()
    done = fields.Boolean(index=True)

    def init(self):
        self.env.cr.execute(
            "CREATE TABLE IF NOT EXISTS qj_probe_mark "
            "(row_id int, started double precision, finished double precision)"
        )

    def _probe_work(self, row_id):
        cr = self.env.cr
        cr.execute("SELECT ms, cpu FROM qj_probe_row WHERE id = %s", (row_id,))
        ms, cpu = cr.fetchone()
        cr.execute(
            "INSERT INTO qj_probe_mark (row_id, started) "
            "VALUES (%s, extract(epoch from clock_timestamp()))",
            (row_id,),
        )
        if cpu:
            end = time.process_time() + ms / 1000.0
            while time.process_time() < end:
                pass
        else:
            cr.execute("SELECT pg_sleep(%s)", (ms / 1000.0,))
        cr.execute(
            "UPDATE qj_probe_mark SET finished = extract(epoch from clock_timestamp()) "
            "WHERE row_id = %s",
            (row_id,),
        )
        cr.execute("UPDATE qj_probe_row SET done = true WHERE id = %s", (row_id,))

    @api.model
    def _cron_drain(self):
        cr = self.env.cr
        while True:
            cr.execute(
                "SELECT id FROM qj_probe_row WHERE kind = 'cron' AND done IS NOT TRUE"
                " ORDER BY id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED"
            )
            row = cr.fetchone()
            if not row:
                break
            self._probe_work(row[0])
            self.env["ir.cron"]._commit_progress(1)

    @api.model
    def probe_enqueue(self, kind, n, ms, cpu):
        rows = self.create([{"kind": kind, "ms": ms, "cpu": cpu} for _ in range(n)])
        if kind == "cron":
            self.env.ref("qj_probe.cron_drain")._trigger()
        else:
            for row in rows:
                self.with_delay(channel="root")._probe_work(row.id)
        return rows.ids
"""


def write_probe(root):
    addon = root / "qj_probe"
    for sub in ("models", "data", "security"):
        (addon / sub).mkdir(parents=True)
    (addon / "__manifest__.py").write_text(MANIFEST)
    (addon / "__init__.py").write_text("from . import models\n")
    (addon / "models" / "__init__.py").write_text("from . import probe\n")
    (addon / "models" / "probe.py").write_text(MODEL)
    (addon / "data" / "cron.xml").write_text(CRON)
    (addon / "security" / "ir.model.access.csv").write_text(ACCESS)


def marks(db, ids, timeout):
    deadline = time.time() + timeout
    with psycopg2.connect(dbname=db) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            while True:
                cr.execute(
                    "SELECT started, finished FROM qj_probe_mark "
                    "WHERE row_id = ANY(%s) AND finished IS NOT NULL",
                    (ids,),
                )
                rows = cr.fetchall()
                if len(rows) >= len(ids) or time.time() > deadline:
                    return rows
                time.sleep(0.02)


def measure(call, db, kind, ms, cpu, rows, tries):
    latencies = []
    for _try in range(tries):
        ids = call("probe_enqueue", [kind, 1, 0, False])
        committed = time.time()
        done = marks(db, ids, 120)
        if done:
            latencies.append((done[0][0] - committed) * 1000)
    ids = call("probe_enqueue", [kind, rows, ms, cpu])
    committed = time.time()
    done = marks(db, ids, 900)
    seconds = max(end for _start, end in done) - committed if done else float("nan")
    return {
        "executor": kind,
        "work": f"{ms} ms {'computing' if cpu else 'waiting'}",
        "latency_p50_ms": round(h.percentile(latencies, 50), 1),
        "latency_p95_ms": round(h.percentile(latencies, 95), 1),
        "rows": len(done),
        "rows_per_s": round(len(done) / seconds, 1),
    }


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="root:4")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--keep-nice", action="store_true")
    return parser.parse_args()


def start(args, odoo, db, work):
    """The probe installed in a fresh database, the server started; (its
    service, its URL)."""
    queue_job_dir = os.environ.get("QUEUE_JOB_DIR")
    if queue_job_dir and not (Path(queue_job_dir) / "queue_job").is_dir():
        sys.exit(f"QUEUE_JOB_DIR={queue_job_dir} holds no queue_job addon.")
    write_probe(work / "addons")
    extra = [queue_job_dir] if queue_job_dir else []
    run = h.OdooRun(odoo, db, work / "run", extra_addons=[*extra, work / "addons"])
    if h.database_exists(db):
        h.drop_database(db)
    run.install(modules="qj_probe", demo=False)
    with psycopg2.connect(dbname=db) as conn, conn.cursor() as cr:
        cr.execute("UPDATE res_users SET password = 'admin' WHERE login = 'admin'")
    return run.start_server(
        h.free_port(),
        workers=args.workers,
        cron_threads=2,
        extra=["--load=base,web,queue_job", "--log-level=warn"],
        env={"ODOO_QUEUE_JOB_CHANNELS": args.channels},
    ), run.url


def renice(server):
    """Odoo's prefork cron workers run at nice 10: all at 0, as the HTTP ones."""
    children = subprocess.run(
        ["pgrep", "-P", str(server.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for child in children:
        subprocess.run(
            ["renice", "-n", "0", "-p", child], capture_output=True, check=False
        )


def main():
    args = parse_args()
    h.reexec_with_odoo_python(__file__, ("psycopg2",))
    try:
        odoo = h.find_odoo()
    except h.HarnessError as exc:
        sys.exit(f"dev/bench_queue_job.py: {exc}")
    db = h.check_db_name(os.environ.get("QJ_DB", "pico_qj_bench"))
    work = Path(tempfile.mkdtemp(prefix="qj-bench-"))
    try:
        server, base_url = start(args, odoo, db, work)
        url = f"{base_url}/xmlrpc/2"
        uid = xmlrpc.client.ServerProxy(f"{url}/common").authenticate(
            db, "admin", "admin", {}
        )
        time.sleep(3)  # the job runner starts a little after the server
        if not args.keep_nice:
            renice(server)
        models = xmlrpc.client.ServerProxy(f"{url}/object", allow_none=True)

        def call(method, params):
            return models.execute_kw(db, uid, "admin", "qj.probe.row", method, params)

        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        for kind in ("cron", "job"):
            for cpu in (False, True):
                result = measure(call, db, kind, 50, cpu, args.rows, args.tries)
                print(json.dumps({**result, "channels": args.channels}), flush=True)
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    except h.HarnessError as exc:
        sys.exit(f"dev/bench_queue_job.py: {exc}")
    finally:
        h.stop_all(work / "run")
        if h.database_exists(db):
            h.drop_database(db)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
