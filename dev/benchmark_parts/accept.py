"""Webhook accept at 1, 10 and 50 clients (and 50 paced), against Odoo's floor:
a trivial public route of the benchmark's throwaway addon, same bodies."""

import json
import random
import sys
import threading
import time

import harness as h
import requests

from .setup import FLOOR_MODULE
from .state import RUN_DIR, STREAM

SERVER_LOG = RUN_DIR / "odoo-server.log"


def accept(bench):
    args = bench.args
    # (label, clients, requests, requests per second per client or None)
    levels = [
        ("1", 1, args.accept[0], None),
        ("10", 10, args.accept[1], None),
        ("50", 50, args.accept[2], None),
        ("50 paced", 50, 50 * args.paced, 1.0),
    ]
    warm = 100
    total = warm + sum(level[2] for level in levels)
    with bench.progress.step(
        "Webhook accept at 1, 10, 50 clients (processor idle)"
    ) as note:
        door = Door(bench)
        bodies = payloads(total)
        with door.idle():
            door.fire_all(bodies[:warm])
            bench.results["accept"], bench.results["floor"] = {}, {}
            offset = warm
            for number, (label, clients, count, rate) in enumerate(levels):
                chunk = bodies[offset : offset + count]
                door.level(label, number, chunk, clients, rate)
                offset += count
        at50 = bench.results["accept"]["50"]
        floor50 = bench.results["floor"]["50"]
        note["text"] = (
            f"50 clients: p50 {at50['latency_ms']['p50']:.0f} ms vs floor "
            f"{floor50['latency_ms']['p50']:.0f} ms, "
            f"{at50['throughput_per_s']:.0f}/s vs "
            f"{floor50['throughput_per_s']:.0f}/s"
        )


def payloads(count):
    """`count` distinct completion webhook bodies, as the simulator sends them."""
    sys.path.insert(0, str(h.REPO))
    from core import documents
    from simulator import graph
    from simulator.store import Store

    store = Store()
    schema = graph.load_schema()
    _stream, document = graph.compile_fragment(schema, documents.COMPLETION_FRAGMENT)
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


class Door:
    """The webhook door and the floor, fired at in turns with the same bodies."""

    def __init__(self, bench):
        self.bench = bench
        self.backend = bench.results["inprocess"]["accept_backend"]
        self.floor_url = f"{bench.url}/{FLOOR_MODULE}/bench/completion"
        self.headers = {
            "Content-Type": "application/json",
            "X-Pico-Webhook-Secret": self.backend["secret"],
        }

    def idle(self):
        """A context in which the processor does nothing (see _Idle)."""
        return _Idle(self.bench, self.backend["id"])

    def fire_all(self, bodies):
        """Warm both up: 10 clients each."""
        fire(self.backend["url"], self.headers, bodies, 10)
        fire(self.floor_url, self.headers, bodies, 10)

    def level(self, label, number, chunk, clients, rate):
        """The floor and the door side by side, in turns, same bodies (the floor
        stores nothing, the door gets them first)."""
        doors = [
            ("accept", self.backend["url"], "/pico_mes/webhook/"),
            ("floor", self.floor_url, f"/{FLOOR_MODULE}/"),
        ]
        for key, url, path in doors if number % 2 == 0 else doors[::-1]:
            log_from = _size(SERVER_LOG)
            result = fire(url, self.headers, chunk, clients, rate)
            result["server"] = server_side(SERVER_LOG, log_from, path)
            self.bench.results[key][label] = result


class _Idle:
    """The door runs as deployed (stores, triggers the processor cron, wakes the
    cron workers), but the cron's code does nothing meanwhile, so that the
    figures are the door's and not the processor's. On the job engine the door
    makes a job per event, and the runner is off meanwhile. After: the cron's
    code back, the events (and jobs) deleted, the server as it was."""

    def __init__(self, bench, backend_id):
        self.bench = bench
        self.backend_id = backend_id
        self.engine = bench.args.executor == "queue_job"
        self.action = None

    def __enter__(self):
        bench = self.bench
        self.action = bench.sql(
            "SELECT c.ir_actions_server_id, a.code FROM ir_cron c "
            "JOIN ir_act_server a ON a.id = c.ir_actions_server_id "
            "JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'ir.cron' "
            "WHERE d.module = %s AND d.name = %s",
            (h.MODULE, "ir_cron_pico_event_process"),
        )
        if self.engine:
            bench.api(
                "pico.backend",
                "write",
                ids=[self.backend_id],
                vals={"executor": "queue_job"},
            )
            bench.restart_main(runner=False)
        bench.sql(
            "UPDATE ir_act_server SET code = 'pass' WHERE id = %s RETURNING id",
            (self.action[0],),
        )
        return self

    def __exit__(self, *_exc):
        bench = self.bench
        bench.sql(
            "UPDATE ir_act_server SET code = %s WHERE id = %s RETURNING id",
            (self.action[1], self.action[0]),
        )
        bench.sql(
            "DELETE FROM pico_event WHERE backend_id = %s RETURNING 1",
            (self.backend_id,),
        )
        if self.engine:
            bench.sql(
                "DELETE FROM queue_job WHERE identity_key LIKE %s RETURNING 1",
                ("mrp_pico_mes:pico.event:%",),
            )
            bench.restart_main()
        return False


def fire(url, headers, bodies, clients, rate=None):
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
        "latency_ms": h.summary(latencies),
        "throughput_per_s": len(bodies) / wall,
        "wall_s": wall,
    }


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
        "queries_p50": h.percentile(queries, 50),
        "sql_ms_p50": h.percentile(sql, 50),
        "python_ms_p50": h.percentile(other, 50),
        "sql_ms_p95": h.percentile(sql, 95),
        "python_ms_p95": h.percentile(other, 95),
    }
