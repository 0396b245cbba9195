#!/usr/bin/env python3
"""Fuzz the webhook doors of a real Odoo 19 server (a script that prints figures).

    PYTHON=/path/to/odoo/python dev/fuzz_webhook.py [--requests N] [--seed S]

It starts what it needs with the demo's code (dev/harness.py): PostgreSQL if
needed, a fresh database FUZZ_DB (default pico_fuzz, dropped and recreated) with
mrp_pico_mes and its demo data, three backends (company A; company A with HMAC
signatures required; company B), and Odoo on a free loopback port with no cron
running, so that only the doors write. Then it sends --requests generated
requests (default 10,000) to both webhook URLs (completion, version), the cases
drawn by hypothesis strategies:

  random JSON of every type; deep nesting; huge, negative and non-finite numbers;
  wrong types in every field; missing and extra fields; unicode, NUL, lone
  surrogates and invalid UTF-8; bodies over the size limit, with a length and
  chunked without one; wrong content types; schema-valid but wrong facts (unknown
  order, negative or huge index, dates in year 1 and 9999, an order of another
  backend or company); SQL, HTML and script strings; replayed, expired, future,
  wrong and malformed HMAC signatures; the right secret, a wrong one and none;
  unknown keys and kinds; valid and broken bodies in UTF-8 (with and without a
  byte order mark), UTF-16, UTF-32, Latin-1, cp1252 and Shift JIS, behind
  right, wrong and doubled byte order marks, under declared charsets that match,
  contradict or do not exist.

Report: answers by status and by family, 5xx count (must be 0), connection
errors, whether the server is still up, whether any rejected request created a
record (pico.event rows added must equal the 202 answers; the other tables the
door could touch must not change), server log errors, p50/p99 of a rejection.
Also bench-results/fuzz.json (gitignored). Exit status 1 on any 5xx, a dead
server or a record created by a rejection.
"""
# pylint: disable=print-used

import argparse
import collections
import json
import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

try:  # Odoo's Python has them; another one re-runs this script with it.
    import psycopg2
    import requests
    from psycopg2.sql import SQL, Identifier
except ImportError:
    psycopg2 = requests = None

RUN_DIR = Path(os.environ.get("FUZZ_RUN_DIR") or h.REPO / ".run" / "fuzz")
RESULTS = h.REPO / "bench-results" / "fuzz.json"
SECRET_HEADER = "X-Pico-Webhook-Secret"
SIGNATURE_HEADER = "X-Pico-Signature"
# Tables a webhook delivery could write to (directly or through a processor).
WATCHED_TABLES = (
    "pico_event",
    "pico_exchange",
    "pico_work_order",
    "pico_operation",
    "pico_operation_version",
    "pico_quality_result",
    "mrp_production",
    "stock_move",
    "stock_lot",
)

SETUP_SCRIPT = """
def main(env, params):
    icp = env["ir.config_parameter"].sudo()
    icp.set_param("web.base.url", params["odoo_url"])
    icp.set_param("web.base.url.freeze", "True")
    demo = env.ref("mrp_pico_mes.pico_backend_demo")
    company_b = env["res.company"].create({"name": "Fuzz Company B"})
    backends = {
        "a": demo,
        "h": env["pico.backend"].create({
            "name": "Fuzz HMAC", "endpoint_url": "http://127.0.0.1:9/graph/v2",
            "webhook_require_hmac": True,
        }),
        "b": env["pico.backend"].create({
            "name": "Fuzz B", "endpoint_url": "http://127.0.0.1:9/graph/v2",
            "company_id": company_b.id,
        }),
    }
    demo.write({"webhook_require_hmac": False, "mqtt_enabled": False})
    productions = env["mrp.production"].search([], limit=5)
    refs = [f"{p.name}#{p.id}" for p in productions]
    operations = env["pico.operation"].search([], limit=5).mapped("pico_id")
    env.cr.commit()
    return {
        "backends": {
            name: {"id": b.id, "key": b.webhook_key, "secret": b.webhook_secret}
            for name, b in backends.items()
        },
        "order_refs": refs,
        "operation_ids": operations,
    }
"""


# --- Sending ------------------------------------------------------------------------
def _hmac(secret, timestamp, body):
    import hashlib
    import hmac

    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Sender:
    def __init__(self, url, facts):
        self.url = url
        self.facts = facts
        self.local = threading.local()
        self.replayed = {}

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def request(self, case):
        backends = self.facts["backends"]
        backend = backends.get(case.target)
        key = backend["key"] if backend else "0" * 32
        secret = backend["secret"] if backend else "nothing"
        headers = dict(case.extra_headers)
        if case.content_type:
            headers["Content-Type"] = case.content_type
        headers[SECRET_HEADER] = {
            "right": secret,
            "wrong": secret[:-1] + ("x" if secret[-1] != "x" else "y"),
            "empty": "",
        }.get(case.secret)
        if headers[SECRET_HEADER] is None:
            del headers[SECRET_HEADER]
        now = int(time.time())
        stamp = {"expired": now - 301, "future": now + 301, "replay": now - 3600}.get(
            case.hmac, now
        )
        if case.hmac in ("fresh", "expired", "future", "replay"):
            headers[SIGNATURE_HEADER] = (
                f"t={stamp},v1={_hmac(secret, stamp, case.body)}"
            )
        elif case.hmac == "wrong":
            headers[SIGNATURE_HEADER] = f"t={now},v1={_hmac('x', now, case.body)}"
        elif case.hmac == "garbage":
            headers[SIGNATURE_HEADER] = "t=99999999999999999999999,v1=zz,,=="
        body = case.body
        data = body
        if case.chunked:

            def chunks(payload=body):
                for start in range(0, len(payload), 65536):
                    yield payload[start : start + 65536]
                if not payload:
                    yield b""

            data = chunks()
        url = f"{self.url}/pico_mes/webhook/{key}/{case.kind}"
        started = time.perf_counter()
        try:
            response = self.session().post(url, data=data, headers=headers, timeout=60)
            status = response.status_code
            answer = response.content[:300]
        except requests.RequestException as exc:
            # A fresh session: the connection is gone.
            self.local.session = requests.Session()
            status, answer = "conn-error", str(exc)[:200].encode()
        elapsed = time.perf_counter() - started
        return status, elapsed, answer


# --- Database checks -----------------------------------------------------------------
def table_counts(db):
    with psycopg2.connect(dbname=db) as conn, conn.cursor() as cr:
        counts = {}
        for table in WATCHED_TABLES:
            cr.execute(SQL("SELECT count(*) FROM {}").format(Identifier(table)))
            counts[table] = cr.fetchone()[0]
        return counts


# --- Report -------------------------------------------------------------------------
class Figures:
    """What the answers, the tables and the server log say of a fuzz run."""

    def __init__(self, results, before, after, text):
        self.log_errors = [
            line
            for line in text.splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]
        self.tracebacks = text.count("Traceback (most recent call last)")
        self.by_status = collections.Counter(
            str(status) for _c, status, _e, _a in results
        )
        self.by_family = collections.defaultdict(collections.Counter)
        for case, status, _elapsed, _answer in results:
            self.by_family[case.family][str(status)] += 1
        self.fives = [
            (case, status, answer)
            for case, status, _e, answer in results
            if isinstance(status, int) and status >= 500
        ]
        self.rejections = [
            elapsed * 1000
            for _c, status, elapsed, _a in results
            if isinstance(status, int) and 400 <= status < 500
        ]
        self.created = after["pico_event"] - before["pico_event"]
        self.accepted_new = self.by_status.get("202", 0)
        self.others_changed = {
            table: after[table] - before[table]
            for table in WATCHED_TABLES
            if table != "pico_event" and after[table] != before[table]
        }
        self.leak = self.created != self.accepted_new or bool(self.others_changed)

    def print_tables(self):
        print("| Status | Answers |")
        print("|---|---:|")
        for status, count in sorted(self.by_status.items()):
            print(f"| {status} | {count} |")
        print()
        statuses = sorted(self.by_status)
        print("| Family | " + " | ".join(statuses) + " |")
        print("|---" + "|---:" * len(statuses) + "|")
        for family, counter in sorted(self.by_family.items()):
            cells = " | ".join(str(counter.get(s, 0)) for s in statuses)
            print(f"| {family} | {cells} |")

    def print_checks(self, alive):
        created, accepted_new = self.created, self.accepted_new
        print(f"5xx answers:                      {len(self.fives)}")
        print(
            f"connection errors:                {self.by_status.get('conn-error', 0)}"
        )
        print(f"server still up:                  {'yes' if alive else 'NO'}")
        print(
            f"events created / 202 answers:     {created} / {accepted_new} "
            f"({'equal' if created == accepted_new else 'DIFFERENT'})"
        )
        print(
            "other tables changed:             "
            + (json.dumps(self.others_changed) if self.others_changed else "none")
        )
        print(f"records created by rejections:    {'YES' if self.leak else 'none'}")
        print(
            f"server log ERROR lines:           {len(self.log_errors)} "
            f"(tracebacks: {self.tracebacks})"
        )
        rejections = self.rejections
        if rejections:
            print(
                f"rejection time (ms):              p50 "
                f"{h.percentile(rejections, 50):.1f}, "
                f"p99 {h.percentile(rejections, 99):.1f} (n={len(rejections)})"
            )
        for case, status, answer in self.fives[:10]:
            print(
                f"  5xx {status} {case.family} {case.kind} {case.body[:120]!r}: "
                f"{answer!r}"
            )
        for line in self.log_errors[:10]:
            print(f"  log: {line[:300]}")

    def as_json(self, args, results, duration, alive):
        rejections = self.rejections
        return {
            "requests": len(results),
            "seed": args.seed,
            "duration_s": round(duration, 1),
            "by_status": dict(self.by_status),
            "by_family": {k: dict(v) for k, v in self.by_family.items()},
            "five_xx": len(self.fives),
            "server_up": alive,
            "events_created": self.created,
            "accepted_202": self.accepted_new,
            "other_tables_changed": self.others_changed,
            "log_errors": len(self.log_errors),
            "rejection_ms": {
                "p50": h.percentile(rejections, 50),
                "p99": h.percentile(rejections, 99),
                "mean": statistics.fmean(rejections) if rejections else None,
            },
        }


def report(args, results, duration, before, after, alive, text):
    """Print the figures, write the JSON; return True when something failed."""
    figures = Figures(results, before, after, text)
    print()
    print(
        f"Webhook fuzz: {len(results)} requests in {duration:.1f} s "
        f"(seed {args.seed}, {args.clients} clients, {args.workers} Odoo workers)"
    )
    print()
    figures.print_tables()
    print()
    figures.print_checks(alive)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(figures.as_json(args, results, duration, alive), indent=2)
    )
    return bool(figures.fives or not alive or figures.leak)


# --- Main ---------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="dev/fuzz_webhook.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers")
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders")
    parser.add_argument("--db", default=os.environ.get("FUZZ_DB", "pico_fuzz"))
    parser.add_argument("--keep", action="store_true", help="leave Odoo and the db")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def start(args):
    """A fresh database with three backends, and Odoo without crons; (server,
    its URL, the set-up's facts)."""
    step = h.Progress(6).step
    with step("Finding Odoo 19") as note:
        odoo = h.find_odoo()
        note["text"] = f"Odoo {odoo.version} ({odoo.found_by})"
    with step("Checking PostgreSQL") as note:
        note["text"] = h.ensure_postgres()
    with step(f"Fresh database {args.db}") as note:
        note["text"] = h.fresh_database(args.db, RUN_DIR)
    run = h.OdooRun(odoo, args.db, RUN_DIR)
    port = h.free_port()
    url = f"http://{h.HOST}:{port}"
    with step(f"Installing {h.MODULE} with demo data"):
        run.install()
    with step("Three backends (A, A with HMAC, company B)") as note:
        facts = run.shell(h.shell_call(SETUP_SCRIPT, {"odoo_url": url}))
        note["text"] = f"{len(facts['order_refs'])} order refs"
    with step(f"Starting Odoo ({args.workers} workers, no cron)") as note:
        server = run.start_server(port, workers=args.workers, cron_threads=0)
        note["text"] = url
    return server, url, facts


def fuzz(args, url, facts):
    """Generate the cases and send them from `--clients` threads; the results
    [(case, status, seconds, answer)] and how long it took."""
    from fuzz_cases import generate

    sender = Sender(url, facts)
    results = []
    started = time.perf_counter()
    print(
        f"Generating and sending {args.requests} requests (hypothesis, seed "
        f"{args.seed}) with {args.clients} clients ...",
        flush=True,
    )
    todo = queue.Queue(maxsize=500)

    def send_all():
        while (case := todo.get()) is not None:
            status, elapsed, answer = sender.request(case)
            results.append((case, status, elapsed, answer))

    clients = [threading.Thread(target=send_all) for _n in range(args.clients)]
    for client in clients:
        client.start()
    try:
        generate(facts, args.requests, args.seed, todo.put)
    finally:
        for _client in clients:
            todo.put(None)
        for client in clients:
            client.join()
    return results, time.perf_counter() - started


def main(argv=None):
    args = parse_args(argv)
    h.reexec_with_odoo_python(
        __file__,
        ("requests", "psycopg2", "hypothesis"),
        " (pip install -r dev/requirements-test.txt)",
    )
    with h.stop_on_failure("dev/fuzz_webhook.py", RUN_DIR):
        server, url, facts = start(args)
    log = RUN_DIR / "odoo-server.log"
    log_start = log.stat().st_size if log.exists() else 0
    before = table_counts(args.db)
    results, duration = fuzz(args, url, facts)
    after = table_counts(args.db)
    alive = server.alive() and h.http_ok(f"{url}/web/health")
    text = log.read_text(errors="replace")[log_start:] if log.exists() else ""
    failed = report(args, results, duration, before, after, alive, text)
    h.teardown(RUN_DIR, args.db, args.keep, kept=f"Odoo {url}, database {args.db}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
