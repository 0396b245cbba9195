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
import dataclasses
import datetime
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

try:  # Odoo's Python has them (hypothesis: dev/requirements-test.txt).
    import hypothesis
    import psycopg2
    import requests
    from hypothesis import strategies as st
    from psycopg2.sql import SQL, Identifier
except ImportError:
    hypothesis = psycopg2 = requests = st = None

RUN_DIR = Path(os.environ.get("FUZZ_RUN_DIR") or h.REPO / ".run" / "fuzz")
RESULTS = h.REPO / "bench-results" / "fuzz.json"
SECRET_HEADER = "X-Pico-Webhook-Secret"
SIGNATURE_HEADER = "X-Pico-Signature"
MAX_BODY = 1024 * 1024
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

# Encodings, byte order marks and declared charsets of the "encodings" family: the
# door takes UTF-8 JSON (RFC 8259) and answers the rest with a 4xx naming it.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32")
ENCODINGS += ("utf-32-le", "utf-32-be", "latin-1", "cp1252", "shift_jis")
BOMS = (b"",) * 6 + (
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xff\xfe\x00\x00",
    b"\x00\x00\xfe\xff",
)
CHARSETS = ("utf-8", "UTF-8", "utf-16", "utf-16le", "utf-32", "iso-8859-1", "latin-1")
CHARSETS += ("windows-1252", "us-ascii", "shift_jis", "ebcdic", "nonsense")

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


# Schema-valid dates at the edges of what a datetime holds.
YEAR_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+01:00",
]


# --- Cases --------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    family: str
    target: str  # backend: a (plain), h (HMAC required), b (company B), x (unknown)
    kind: str  # completion | version | any other string
    body: bytes
    content_type: str | None = "application/json"
    secret: str = "right"  # right | wrong | none | empty
    hmac: str = "none"  # none | fresh | expired | future | replay | wrong | garbage
    chunked: bool = False
    extra_headers: dict = dataclasses.field(default_factory=dict)


def strategies(facts):
    """The hypothesis strategy of one Case; `facts` are the setup's results."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**400), max_value=10**400)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=40)
    )
    values = st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=25,
    )
    nasty = st.sampled_from(
        [
            "'; DROP TABLE pico_event; --",
            "' OR '1'='1",
            "1); SELECT pg_sleep(5); --",
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "{{7*7}}${7*7}%s%n",
            "../../../../etc/passwd",
            "\u202e\ufeff\u200b",
            "\\u0000",
            "\x00",
            "\ud800",
            "🏭" * 50,
            "x" * 5000,
        ]
    )
    dates = st.sampled_from(
        [
            *YEAR_EDGES,
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-12:00",
            "2026-02-30T10:00:00Z",
            "2026-11-22T10:00:00.123456789Z",
            "2026-11-22 10:00:00",
            "yesterday",
        ]
    )
    refs = facts["order_refs"] or ["WH/MO/00001#1"]
    operations = facts["operation_ids"] or ["op-1"]
    fields_ = values | nasty | dates

    @st.composite
    def completion(draw, valid=True):
        """A schema-valid completion (facts may be wrong), or a broken one."""
        good_time = st.datetimes(
            min_value=datetime.datetime(2020, 1, 1),  # noqa: DTZ001
            max_value=datetime.datetime(2030, 1, 1),  # noqa: DTZ001
        ).map(lambda d: d.isoformat() + "Z")
        body = {
            "externalOrderId": draw(
                st.sampled_from(refs)
                | st.just("WH/MO/99999#999999")
                | st.text(min_size=1, max_size=40)
            ),
            "orderIndex": draw(
                st.integers(min_value=0, max_value=5)
                | st.sampled_from([0, 2**31 - 1, 10**6])
            ),
            "at": draw(good_time | st.sampled_from(YEAR_EDGES)),
            "operation": {"id": draw(st.sampled_from(operations))},
            "operationSummary": {
                "consumedSerials": draw(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "externalId": st.text(min_size=1, max_size=8),
                                "value": st.text(min_size=1, max_size=20),
                            }
                        ),
                        max_size=3,
                    )
                ),
                "endState": {"producedSerial": draw(st.text(max_size=20) | nasty)},
            },
        }
        if not valid:
            body["orderIndex"] = draw(
                st.sampled_from([-1, 2**31, 2**63, 10**30]) | fields_
            )
            body["at"] = draw(dates | fields_)
            for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
                if draw(st.booleans()):
                    body[name] = draw(fields_)
                else:
                    body.pop(name, None)
            body.update(draw(st.dictionaries(st.text(max_size=8), values, max_size=3)))
        if draw(st.booleans()):
            body = {"data": {"operationOrderCompletesStream": body}}
        return body

    @st.composite
    def operation(draw, valid=True):
        body = {
            "id": draw(st.sampled_from(operations) | st.text(min_size=1, max_size=12)),
            "name": draw(st.text(min_size=1, max_size=30) | nasty),
            "updatedAt": "2026-11-22T10:00:00Z",
            "externalId": draw(st.text(max_size=12)),
            "consumedSerials": [],
        }
        if not valid:
            for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
                body[name] = draw(fields_)
            body.update(draw(st.dictionaries(st.text(max_size=8), values, max_size=3)))
        if draw(st.booleans()):
            body = {"data": {"operationsStream": body}}
        return body

    def dumps(value):
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")

    @st.composite
    def encoded(draw, body):
        """A body's JSON in one of the encodings a client might choose, maybe
        behind a byte order mark (its own, another's, or one added twice)."""
        text = json.dumps(draw(body), allow_nan=True, ensure_ascii=False)
        encoding = draw(st.sampled_from(ENCODINGS))
        errors = "surrogatepass" if encoding.startswith("utf") else "replace"
        raw = text.encode(encoding, errors)
        return draw(st.sampled_from(BOMS)) + raw

    kinds = st.sampled_from(["completion", "version"])
    targets = st.sampled_from(["a", "b", "h"])
    secrets = st.sampled_from(["right"] * 6 + ["wrong", "none", "empty"])
    hmacs = st.sampled_from(
        ["fresh", "expired", "future", "replay", "wrong", "garbage", "none"]
    )
    charsets = st.sampled_from(
        ["application/json", "application/json;charset=", "text/json; charset=utf-8"]
        + [f"application/json; charset={name}" for name in CHARSETS]
        + ['application/json; charset="UTF-16"', "application/json; Charset=UTF8"]
    )
    content_types = st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "application/xml",
            "application/json; charset=latin-1",
            None,
        ]
    )

    def case(family, body, **fixed):
        return st.builds(
            Case,
            family=st.just(family),
            target=fixed.pop("target", targets),
            kind=fixed.pop("kind", kinds),
            body=body,
            secret=fixed.pop("secret", st.just("right")),
            hmac=fixed.pop("hmac", st.just("fresh")),
            **{
                k: st.just(v) if not isinstance(v, st.SearchStrategy) else v
                for k, v in fixed.items()
            },
        )

    bodies_any = completion(valid=False).map(dumps) | operation(valid=False).map(dumps)
    return st.one_of(
        case("random JSON", values.map(dumps)),
        case(
            "deep nesting",
            st.integers(min_value=2, max_value=100_000).flatmap(
                lambda depth: st.sampled_from(
                    [
                        b"[" * depth + b"]" * depth,
                        b'{"a":' * depth + b"1" + b"}" * depth,
                        b"[" * depth,
                    ]
                )
            ),
        ),
        case("wrong types", bodies_any),
        case("valid completion", completion().map(dumps), kind=st.just("completion")),
        case("valid version", operation().map(dumps), kind=st.just("version")),
        case("invalid UTF-8", st.binary(max_size=400)),
        case(
            "unicode",
            st.text(max_size=200).map(
                lambda t: json.dumps({"externalOrderId": t, "at": t}).encode()
            )
            | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        ),
        case(
            "oversized",
            st.integers(min_value=MAX_BODY + 1, max_value=MAX_BODY + 300_000).map(
                lambda size: b'{"pad": "' + b"x" * size + b'"}'
            ),
            chunked=st.booleans(),
        ),
        case("chunked", bodies_any, chunked=True),
        case("content type", bodies_any, content_type=content_types),
        case(
            "wrong facts",
            completion().map(dumps),
            kind=st.just("completion"),
            target=st.sampled_from(["a", "b"]),
        ),
        case(
            "SQL/HTML/script",
            st.tuples(completion(valid=False), nasty).map(
                lambda pair: dumps(
                    {**pair[0], "externalOrderId": pair[1], "note": pair[1]}
                )
            ),
        ),
        case(
            "HMAC",
            completion().map(dumps) | operation().map(dumps),
            target=st.just("h"),
            hmac=hmacs,
        ),
        case("secret", completion().map(dumps), secret=secrets),
        case(
            "unknown URL",
            completion().map(dumps),
            target=st.sampled_from(["x", "a"]),
            kind=st.sampled_from(["completion", "other", "", "x" * 300, "version/x"]),
        ),
        case("empty", st.sampled_from([b"", b" ", b"null", b"{}", b"[]", b'""'])),
        case(
            "encodings",
            encoded(completion() | completion(valid=False)),
            kind=st.just("completion"),
            content_type=charsets,
        ),
        case(
            "encodings",
            encoded(operation()),
            kind=st.just("version"),
            content_type=charsets,
        ),
    )


def generate(facts, count, seed, sink=None):
    """Draw `count` cases with hypothesis (reproducible with the seed).

    Each case goes to `sink` as soon as it is drawn (the sender works meanwhile);
    without a sink, return the list.
    """
    cases = []
    sink = sink or cases.append
    strategy = strategies(facts)
    drawn = 0
    round_seed = seed
    while drawn < count:

        @hypothesis.seed(round_seed)
        @hypothesis.settings(
            max_examples=count - drawn,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(strategy)
        def draw(case):
            nonlocal drawn
            if drawn < count:
                drawn += 1
                sink(case)

        draw()
        round_seed += 1
    return cases


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


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


# --- Main ---------------------------------------------------------------------------
def report(args, results, duration, before, after, alive, text):
    """Print the figures, write the JSON; return True when something failed."""
    log_errors = [
        line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line
    ]
    tracebacks = text.count("Traceback (most recent call last)")
    by_status = collections.Counter(str(status) for _c, status, _e, _a in results)
    by_family = collections.defaultdict(collections.Counter)
    for case, status, _elapsed, _answer in results:
        by_family[case.family][str(status)] += 1
    fives = [
        (case, status, answer)
        for case, status, _e, answer in results
        if isinstance(status, int) and status >= 500
    ]
    rejections = [
        elapsed * 1000
        for _c, status, elapsed, _a in results
        if isinstance(status, int) and 400 <= status < 500
    ]
    created = after["pico_event"] - before["pico_event"]
    accepted_new = by_status.get("202", 0)
    others_changed = {
        table: after[table] - before[table]
        for table in WATCHED_TABLES
        if table != "pico_event" and after[table] != before[table]
    }
    leak = created != accepted_new or bool(others_changed)

    print()
    print(
        f"Webhook fuzz: {len(results)} requests in {duration:.1f} s "
        f"(seed {args.seed}, {args.clients} clients, {args.workers} Odoo workers)"
    )
    print()
    print("| Status | Answers |")
    print("|---|---:|")
    for status, count in sorted(by_status.items()):
        print(f"| {status} | {count} |")
    print()
    statuses = sorted(by_status)
    print("| Family | " + " | ".join(statuses) + " |")
    print("|---" + "|---:" * len(statuses) + "|")
    for family, counter in sorted(by_family.items()):
        cells = " | ".join(str(counter.get(s, 0)) for s in statuses)
        print(f"| {family} | {cells} |")
    print()
    print(f"5xx answers:                      {len(fives)}")
    print(f"connection errors:                {by_status.get('conn-error', 0)}")
    print(f"server still up:                  {'yes' if alive else 'NO'}")
    print(
        f"events created / 202 answers:     {created} / {accepted_new} "
        f"({'equal' if created == accepted_new else 'DIFFERENT'})"
    )
    print(
        "other tables changed:             "
        + (json.dumps(others_changed) if others_changed else "none")
    )
    print(f"records created by rejections:    {'YES' if leak else 'none'}")
    print(
        f"server log ERROR lines:           {len(log_errors)} "
        f"(tracebacks: {tracebacks})"
    )
    if rejections:
        print(
            f"rejection time (ms):              p50 {percentile(rejections, 50):.1f}, "
            f"p99 {percentile(rejections, 99):.1f} (n={len(rejections)})"
        )
    for case, status, answer in fives[:10]:
        print(
            f"  5xx {status} {case.family} {case.kind} {case.body[:120]!r}: {answer!r}"
        )
    for line in log_errors[:10]:
        print(f"  log: {line[:300]}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "requests": len(results),
                "seed": args.seed,
                "duration_s": round(duration, 1),
                "by_status": dict(by_status),
                "by_family": {k: dict(v) for k, v in by_family.items()},
                "five_xx": len(fives),
                "server_up": alive,
                "events_created": created,
                "accepted_202": accepted_new,
                "other_tables_changed": others_changed,
                "log_errors": len(log_errors),
                "rejection_ms": {
                    "p50": percentile(rejections, 50),
                    "p99": percentile(rejections, 99),
                    "mean": statistics.fmean(rejections) if rejections else None,
                },
            },
            indent=2,
        )
    )
    return bool(fives or not alive or leak)


def reexec_with_odoo_python():
    """Run again with Odoo's Python when this one lacks what the fuzzer needs."""
    if None not in (requests, psycopg2, hypothesis):
        return
    if os.environ.get("PICO_FUZZ_REEXEC"):
        sys.exit(
            "dev/fuzz_webhook.py needs requests, psycopg2 and hypothesis "
            "(pip install -r dev/requirements-test.txt)."
        )
    odoo = h.find_odoo()
    os.environ["PICO_FUZZ_REEXEC"] = "1"
    os.execv(odoo.python, [odoo.python, __file__, *sys.argv[1:]])


def main(argv=None):
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
    args = parser.parse_args(argv)
    try:
        reexec_with_odoo_python()
    except h.HarnessError as exc:
        sys.exit(f"dev/fuzz_webhook.py: {exc}")
    progress = h.Progress(6)
    step = progress.step
    run = None
    try:
        with step("Finding Odoo 19") as note:
            odoo = h.find_odoo()
            note["text"] = f"Odoo {odoo.version} ({odoo.found_by})"
        with step("Checking PostgreSQL") as note:
            note["text"] = h.ensure_postgres()
        with step(f"Fresh database {args.db}") as note:
            h.stop_all(RUN_DIR)
            h.clean_run_dir(RUN_DIR)
            if h.database_exists(args.db):
                h.drop_database(args.db)
                note["text"] = "old one dropped"
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
    except h.HarnessError as exc:
        print(f"\ndev/fuzz_webhook.py: {exc}\nLogs: {RUN_DIR}", file=sys.stderr)
        h.stop_all(RUN_DIR)
        return 1
    except (subprocess.SubprocessError, KeyboardInterrupt):
        h.stop_all(RUN_DIR)
        raise

    log = RUN_DIR / "odoo-server.log"
    log_start = log.stat().st_size if log.exists() else 0
    before = table_counts(args.db)
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
    duration = time.perf_counter() - started
    after = table_counts(args.db)
    alive = server.alive() and h.http_ok(f"{url}/web/health")
    text = log.read_text(errors="replace")[log_start:] if log.exists() else ""
    failed = report(args, results, duration, before, after, alive, text)
    if args.keep:
        print(f"Kept running (--keep): Odoo {url}, database {args.db}")
    else:
        h.stop_all(RUN_DIR)
        h.drop_database(args.db)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
