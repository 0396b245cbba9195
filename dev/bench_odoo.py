"""The in-process part of dev/benchmark.py, run inside `odoo-bin shell`.

Never imported by the addon or its tests: dev/benchmark.py feeds this file to
`odoo-bin shell -d <its database>` and calls one function with the shell's `env`:

- `inprocess(env, params)`: confirm time of a mapped vs an unmapped copy of the
  demo drone BOM, then the inbox applying a completion to a one-unit MO (the
  scheduler's run loop and, when the backend is on the job engine, the job's
  body) vs Odoo's own produce-and-mark-done of an identical MO, alternating, each
  in its own committed transaction; a cProfile of a few more of each.
- `catalogue(env, params)`: the catalogue synchronization of a backend whose Pico
  lists a large catalogue (time, peak RSS growth, tracemalloc peak).
- `insight(env, params)`: the Actual vs Standard pivot (the grouping sets the web
  client's pivot asks for) over a year of generated built units (250,000 by
  default), as the administrator: the report table rebuilt from them, its
  pivots, and the per-unit table's for comparison; the rows are deleted after.
"""
# pylint: disable=invalid-commit

import cProfile
import gc
import io
import json
import pstats
import resource
import time
import tracemalloc
from collections import defaultdict

import harness

from odoo import Command

from odoo.addons.mrp_pico_mes.core import documents, inbox
from odoo.addons.mrp_pico_mes.simulator import graph
from odoo.addons.mrp_pico_mes.simulator.store import Store

STREAM = "operationOrderCompletesStream"


def _timed(env, function):
    """Run function in a fresh cache and commit; (ms, SQL queries, result)."""
    env.invalidate_all()
    cr = env.cr
    queries = cr.sql_log_count
    start = time.perf_counter()
    result = function()
    cr.commit()
    return (time.perf_counter() - start) * 1000, cr.sql_log_count - queries, result


def _category(filename, function):
    """Where a profiled function belongs, for the time breakdown."""
    path = filename.replace("\\", "/")
    if "psycopg2" in function or "/sql_db.py" in path:
        return "PostgreSQL (queries and commits)"
    for marker, name in (
        ("/mrp_pico_mes/", "mrp_pico_mes (this addon)"),
        ("/addons/mrp/", "mrp"),
        ("/addons/stock", "stock"),
        ("/addons/mail/", "mail (chatter, followers)"),
        ("/addons/product/", "product"),
        ("/odoo/orm/", "ORM"),
        ("/odoo/models", "ORM"),
        ("/odoo/fields", "ORM"),
        ("/odoo/api", "ORM"),
        ("/odoo/tools/", "odoo.tools"),
        ("/odoo/addons/base/", "base"),
    ):
        if marker in path:
            return name
    return "other (Python stdlib, libraries)"


def _profile_report(profile, runs, top=25):
    """Own time by category, the addon's functions, the top cumulative ones."""
    stats = pstats.Stats(profile)
    by_category = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in (
        stats.stats.items()  # pylint: disable=no-member
    ):
        by_category[_category(filename, function)] += own
    total = sum(by_category.values()) or 1.0
    addon = sorted(
        (
            (cum, calls, f"{filename.split('/mrp_pico_mes/')[-1]}:{line} {function}")
            for (filename, line, function), (_cc, calls, _own, cum, _callers) in (
                stats.stats.items()  # pylint: disable=no-member
            )
            if "/mrp_pico_mes/" in filename
        ),
        reverse=True,
    )
    # Odoo's functions the addon calls directly, by the time spent in those calls.
    callees = defaultdict(lambda: [0.0, 0])
    for (filename, line, function), (_cc, _nc, _own, _cum, callers) in (
        stats.stats.items()  # pylint: disable=no-member
    ):
        if "/mrp_pico_mes/" in filename:
            continue
        for (caller_file, _line, _function), edge in callers.items():
            if "/mrp_pico_mes/" in caller_file:
                key = f"{_short(filename)}:{line} {function}"
                callees[key][0] += edge[3]
                callees[key][1] += edge[1]
    called = sorted(((c, n, k) for k, (c, n) in callees.items()), reverse=True)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "runs": runs,
        "own_time_by_category": {
            name: {"seconds": round(sec, 4), "share": round(sec / total, 3)}
            for name, sec in sorted(by_category.items(), key=lambda kv: -kv[1])
        },
        "addon_cumulative_ms_per_run": [
            [round(cum * 1000 / runs, 2), calls, name]
            for cum, calls, name in addon[:15]
        ],
        "odoo_called_by_addon_ms_per_run": [
            [round(cum * 1000 / runs, 2), calls, name]
            for cum, calls, name in called[:12]
        ],
        "top_cumulative": out.getvalue(),
    }


def _short(filename):
    """A source path from its addons or odoo folder on."""
    path = filename.replace("\\", "/")
    for marker in ("/addons/", "/odoo/"):
        if marker in path:
            return path[path.rindex(marker) + 1 :]
    return path


def _prepare(env, params):
    """Stock for every MO of the run, the unmapped BOM, the accept backend."""
    ref = env.ref
    backend = ref("mrp_pico_mes.pico_backend_demo")
    stock = ref("stock.warehouse0").lot_stock_id
    quants = env["stock.quant"]
    serial_count = params["serial_lots"]
    for xmlid, prefix in (
        ("mrp_pico_mes.product_pico_motor", "BM"),
        ("mrp_pico_mes.product_pico_flight_controller", "BF"),
    ):
        product = ref(xmlid)
        lots = env["stock.lot"].create(
            [
                {"name": f"{prefix}-{number:05d}", "product_id": product.id}
                for number in range(serial_count)
            ]
        )
        for lot in lots:
            quants._update_available_quantity(product, stock, 1, lot_id=lot)
    for xmlid, qty in (
        ("mrp_pico_mes.product_pico_frame", serial_count),
        ("mrp_pico_mes.product_pico_screw", 20 * serial_count + 10000),
        ("mrp_pico_mes.product_pico_widget_body", 2000),
    ):
        quants._update_available_quantity(ref(xmlid), stock, qty)
    mapped = ref("mrp_pico_mes.mrp_bom_pico_drone")
    unmapped = env["mrp.bom"].create(
        {
            "product_tmpl_id": mapped.product_tmpl_id.id,
            "product_qty": 1,
            "code": "Benchmark, not for Pico",
            "sequence": 100,
            "bom_line_ids": [
                Command.create(
                    {
                        "product_id": line.product_id.id,
                        "product_qty": line.product_qty,
                        "product_uom_id": line.product_uom_id.id,
                    }
                )
                for line in mapped.bom_line_ids
            ],
        }
    )
    accept = env["pico.backend"].create(
        {
            "name": "Benchmark: webhook accept",
            "endpoint_url": backend.endpoint_url,
            "api_token": backend.api_token,
            "webhook_base_url": backend.webhook_base_url,
        }
    )
    env.cr.commit()
    return backend, mapped, unmapped, accept


def _new_mo(env, bom):
    production = env["mrp.production"].create(
        {
            "product_id": bom.product_tmpl_id.product_variant_id.id,
            "bom_id": bom.id,
            "product_qty": 1,
        }
    )
    env.cr.commit()
    return production


class _Completions:
    """Completion webhook bodies as the simulator delivers them (real projection)."""

    def __init__(self):
        self.store = Store()
        self.schema = graph.load_schema()
        _stream, self.document = graph.compile_fragment(
            self.schema, documents.COMPLETION_FRAGMENT
        )

    def body(self, unit, serial, consumed):
        completion = self.store.complete_order(
            {
                "externalOrderId": unit.external_order_id,
                "orderIndex": unit.order_index,
                "operationId": unit.operation_pico_id,
                "producedSerial": serial,
                "consumedSerials": consumed,
                "operator": "Benchmark Operator",
                "station": "Bench / 1",
            }
        )
        fields = graph.project(self.schema, self.document, STREAM, completion)
        return {"data": {STREAM: fields}}


def _kitted(production):
    """The component serials Odoo reserved for the MO, as Pico would report them."""
    serials = {}
    for line in production.move_raw_ids.move_line_ids:
        if line.lot_id:
            serials.setdefault(line.product_id.default_code, line.lot_id.name)
    return [{"externalId": code, "value": name} for code, name in serials.items()]


def _alternate(env, runners, params):
    """Run each kind's runner(number) in turn, the first kind swapping each time.

    A runner returns (ms, queries, extra). The first `warmup` runs are dropped, the
    next `runs` measured, the last `profiled` ones run under cProfile. Returns
    {kind: {"ms": [...], "queries": [...], "extra": [...], "profile": report}}.
    """
    warmup, runs, profiled = params["warmup"], params["runs"], params["profiled"]
    kinds = list(runners)
    out = {
        kind: {"ms": [], "queries": [], "extra": [], "profile": cProfile.Profile()}
        for kind in kinds
    }
    for number in range(warmup + runs + profiled):
        order = kinds if number % 2 == 0 else kinds[::-1]
        for kind in order:
            record = out[kind]
            profiled_run = number >= warmup + runs
            if profiled_run:
                record["profile"].enable()
            ms, queries, extra = runners[kind](number)
            if profiled_run:
                record["profile"].disable()
            elif number >= warmup:
                record["ms"].append(ms)
                record["queries"].append(queries)
                record["extra"].append(extra)
    for record in out.values():
        record["profile"] = _profile_report(record["profile"], profiled)
    return out


def _confirm_runner(env, bom, productions):
    def run(_number):
        created_ms, _queries, production = _timed(env, lambda: _new_mo(env, bom))
        ms, queries, _result = _timed(env, production.action_confirm)
        productions.append(production)
        return ms, queries, created_ms + ms

    return run


def _job_engine(backend):
    """Whether the backend's completions are applied by jobs of OCA queue_job."""
    return backend.executor == "queue_job" and "queue.job" in backend.env


def _confirm_more(env, boms, productions):
    """As many mapped and unmapped MOs again, confirmed (not measured)."""
    count = len(productions["mapped"])
    for kind, bom in zip(("mapped", "unmapped"), boms, strict=True):
        for _number in range(count):
            production = _new_mo(env, bom)
            production.action_confirm()
            env.cr.commit()
            productions[kind].append(production)


def _apply_completion(env, backend, body, production, who, path=None):
    """Store a completion as the webhook door does, commit, then time the inbox
    applying it; (ms, queries, result). `path`: "scheduler", the processor's run
    loop (what a cron slot runs: claim, locks, the restart on a fresh snapshot,
    the report rebuild after the run), or "job", the body of the job the job
    engine runs for the event (queue_job commits it); by default the backend's
    executor's. `who` names the measure in the error raised when the event or
    the MO is not done after."""
    events = env["pico.event"].sudo()
    intake = inbox.intake(inbox.COMPLETION, body, backend.id)
    event, _created = events._pico_store(
        backend, intake, "webhook", payload=json.dumps(body)
    )
    env.cr.commit()
    path = path or ("job" if _job_engine(backend) else "scheduler")
    if path == "job":
        result = _timed(env, event._pico_job_run)
    else:
        result = _timed(env, lambda: events._pico_run(ids=event.ids))
    event.invalidate_recordset()
    production.invalidate_recordset()
    if event.state != "done" or production.state != "done":
        raise RuntimeError(
            f"{who}: event {event.state} ({event.error}), MO {production.state}"
        )
    return result


def _processor_runner(env, backend, productions, path):
    completions = _Completions()

    def run(number):
        production = productions[number]
        unit = production.pico_work_order_ids
        serial = f"BENCH-{path[0].upper()}-{number:05d}"
        body = completions.body(unit, serial, _kitted(production))
        return _apply_completion(env, backend, body, production, path, path)

    return run


def _odoo_runner(env, product, productions):
    def run(number):
        production = productions[number]

        def produce():
            lot = env["stock.lot"].create(
                {"name": f"BENCH-O-{number:05d}", "product_id": product.id}
            )
            production.lot_producing_ids = [Command.set(lot.ids)]
            production.qty_producing = 1
            production.set_qty_producing()
            return production.button_mark_done()

        result = _timed(env, produce)
        production.invalidate_recordset()
        if result[2] is not True or production.state != "done":
            raise RuntimeError(f"Odoo's mark-done: {result[2]!r}, {production.state}")
        return result

    return run


def inprocess(env, params):
    """Confirm overhead and completion processing vs Odoo's own mark-done."""
    backend, mapped, unmapped, accept = _prepare(env, params)
    paths = ["scheduler", "job"] if _job_engine(backend) else ["scheduler"]
    productions = {"mapped": [], "unmapped": []}
    confirm = _alternate(
        env,
        {
            kind: _confirm_runner(env, bom, productions[kind])
            for kind, bom in (("mapped", mapped), ("unmapped", unmapped))
        },
        params,
    )
    released = [p for p in productions["mapped"] if p.pico_work_order_ids]
    if len(released) != len(productions["mapped"]):
        raise RuntimeError(f"only {len(released)} mapped MOs were released")
    drone = mapped.product_tmpl_id.product_variant_id
    # One MO of each kind per completion measured: for the job path, more of
    # both (confirmed here, outside any measure).
    if len(paths) > 1:
        _confirm_more(env, (mapped, unmapped), productions)
    # The scheduler's run ("processor") and, on the job engine, the job ("job")
    # each apply completions to MOs of their own.
    mos = productions["mapped"]
    half = len(mos) // len(paths)
    runners = {
        ("processor" if path == "scheduler" else "job"): _processor_runner(
            env, backend, mos[number * half : (number + 1) * half], path
        )
        for number, path in enumerate(paths)
    }
    runners["odoo"] = _odoo_runner(env, drone, productions["unmapped"])
    processing = _alternate(env, runners, params)
    return {
        "confirm": {k: harness.summary(v["ms"]) for k, v in confirm.items()},
        "confirm_queries": {
            k: harness.summary(v["queries"]) for k, v in confirm.items()
        },
        "create_and_confirm": {
            k: harness.summary(v["extra"]) for k, v in confirm.items()
        },
        "confirm_profiles": {k: v["profile"] for k, v in confirm.items()},
        "processing": {k: harness.summary(v["ms"]) for k, v in processing.items()},
        "processing_queries": {
            k: harness.summary(v["queries"]) for k, v in processing.items()
        },
        "profiles": {k: v["profile"] for k, v in processing.items()},
        "accept_backend": {
            "id": accept.id,
            "url": accept.webhook_completion_url,
            "secret": accept.sudo().webhook_secret,
        },
    }


def catalogue(env, params):
    """Synchronize a large catalogue: fetch, first sync, re-sync, memory."""
    tag = params.get("tag", "")
    backends = env["pico.backend"].create(
        [
            {
                "name": f"Benchmark: catalogue {tag} {letter}",
                "endpoint_url": params["endpoint_url"],
                "api_token": params["api_token"],
                "read_timeout": 300,
            }
            for letter in "AB"
        ]
    )
    env.cr.commit()
    first, second = backends
    operations = env["pico.operation"]
    start = time.perf_counter()
    with first._get_client() as client:
        # Counted from the streamed answers, as the sync reads them: reading the
        # lists whole here would set the process's peak RSS before it is measured.
        with client.operations_answer() as answer:
            listed = len(answer)
        with client.sub_operations_answer() as answer:
            links = len(answer)
    fetch_ms = (time.perf_counter() - start) * 1000

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sync_ms, queries, stats = _timed(env, lambda: operations._pico_sync_backend(first))
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stored = operations.with_context(active_test=False).search_count(
        [("backend_id", "=", first.id)]
    )
    resync_ms, resync_queries, restats = _timed(
        env, lambda: operations._pico_sync_backend(first)
    )
    traced_ms = peak = None
    if params.get("trace", True):
        gc.collect()
        tracemalloc.start()
        traced_ms, _queries, _stats = _timed(
            env, lambda: operations._pico_sync_backend(second)
        )
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # Archived, so that the server the later measures start does not sync these
    # catalogues again in the background (its catalogue cron takes every active
    # backend) while it is being measured.
    backends.write({"active": False})
    env.cr.commit()
    return {
        "listed": listed,
        "links": links,
        "stored": stored,
        "fetch_ms": fetch_ms,
        "sync_ms": sync_ms,
        "sync_queries": queries,
        "sync_stats": dict(stats),
        "resync_ms": resync_ms,
        "resync_queries": resync_queries,
        "resync_stats": dict(restats),
        "rss_peak_growth_mib": (rss_after - rss_before) / 1024,
        "rss_peak_mib": rss_after / 1024,
        "tracemalloc_peak_mib": peak / 1024 / 1024 if peak is not None else None,
        "tracemalloc_sync_ms": traced_ms,
    }


INSIGHT_MEASURES = [
    "__count",
    "actual_minutes:avg",
    "standard_minutes:avg",
    "variance_pct:avg",
    "scrap_rate:avg",
    "first_pass_yield:avg",
]
INSIGHT_OPERATION = "bench-insight-op"


def _generate_units(env, backend, count, products, operators):
    """Insert `count` built units over the last year, straight in SQL."""
    operation = env["pico.operation"].search([("backend_id", "=", backend.id)], limit=1)
    env.cr.execute(
        """
        INSERT INTO pico_work_order (
            backend_id, company_id, operation_id, operation_pico_id,
            external_order_id, order_index, state, manual, built_product_id,
            station, operator_id, cycle_time, started_at, completed_at,
            actual_minutes, standard_minutes, variance_minutes, variance_pct,
            slower_than_standard, scrapped, quality_failed, scrap_rate,
            first_pass_yield, create_uid, write_uid, create_date, write_date)
        SELECT %(backend)s, %(company)s, %(operation)s, %(pico_op)s,
               'BENCH-' || (g / 10), g %% 10, 'done', false,
               (%(products)s::int[])[1 + g %% %(n_products)s],
               'Line ' || (1 + g %% 4) || ' / St ' || (1 + g %% 6),
               (%(operators)s::int[])[1 + g %% %(n_operators)s],
               x.actual, x.done - x.actual * interval '1 minute', x.done,
               x.actual, x.standard, x.actual - x.standard,
               (x.actual - x.standard) * 100.0 / x.standard,
               x.actual > x.standard, x.r < 0.01, x.r < 0.03,
               CASE WHEN x.r < 0.01 THEN 100 ELSE 0 END,
               CASE WHEN x.r < 0.03 THEN 0 ELSE 100 END,
               1, 1, now() at time zone 'UTC', now() at time zone 'UTC'
          FROM generate_series(1, %(count)s) g,
       LATERAL (SELECT (now() at time zone 'UTC') - interval '365 days'
                       + g * interval '365 days' / %(count)s AS done,
                       8 + random() * 6 AS actual,
                       10.0 + g %% 3 AS standard,
                       random() AS r) x
        """,
        {
            "backend": backend.id,
            "company": backend.company_id.id,
            "operation": operation.id,
            "pico_op": INSIGHT_OPERATION,
            "products": products.ids,
            "n_products": len(products),
            "operators": operators.ids,
            "n_operators": len(operators),
            "count": count,
        },
    )
    env.cr.execute("ANALYZE pico_work_order")
    env.cr.commit()


def _pivot(env, model, domain, grouping_sets, runs):
    """Read the grouping sets of a pivot `runs` times; its timings."""
    timings = []
    groups = 0
    for _run in range(runs):
        env.invalidate_all()
        begin = time.perf_counter()
        measures = INSIGHT_MEASURES
        if model._name == "pico.unit.report":
            measures = [*INSIGHT_MEASURES, "units:sum"]
        sets = model.formatted_read_grouping_sets(domain, grouping_sets, measures)
        timings.append((time.perf_counter() - begin) * 1000)
        groups = sum(len(part) for part in sets)
    return {"ms": timings, "groups": groups, **harness.summary(timings)}


def insight(env, params):
    """Time the Actual vs Standard pivot over `units` generated built units."""
    count, runs = params["units"], params.get("runs", 5)
    products = env["product.product"].create(
        [{"name": f"Benchmark product {n}", "type": "consu"} for n in range(8)]
    )
    # The demo's, whose catalogue has operations (the first backend by name may
    # be one the other measures made).
    backend = env.ref("mrp_pico_mes.pico_backend_demo")
    operators = env["pico.operator"].create(
        [{"backend_id": backend.id, "name": f"Bench Operator {n}"} for n in range(12)]
    )
    env.cr.commit()
    start = time.perf_counter()
    _generate_units(env, backend, count, products, operators)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    env["pico.unit.report"]._pico_refresh()
    env.cr.commit()
    rebuild_s = time.perf_counter() - start
    user = env.ref("base.user_admin")
    report = env["pico.unit.report"].with_user(user)
    units = env["pico.work.order"].with_user(user)
    done = [("state", "=", "done")]
    views = {
        "product x week (default pivot)": (
            report,
            [],
            [[], ["product_id"], ["date:week"], ["product_id", "date:week"]],
        ),
        "station x operator": (
            report,
            [],
            [[], ["station"], ["operator_id"], ["station", "operator_id"]],
        ),
        "this week, by product": (
            report,
            [("date", ">=", "=week_start")],
            [[], ["product_id"]],
        ),
        "per-unit table, product x week (Units Built pivot)": (
            units,
            done,
            [
                [],
                ["built_product_id"],
                ["completed_at:week"],
                ["built_product_id", "completed_at:week"],
            ],
        ),
    }
    results = {name: _pivot(env, *view, runs) for name, view in views.items()}
    total = units.search_count(done)
    rows = report.search_count([])
    env.cr.execute(
        "DELETE FROM pico_work_order WHERE operation_pico_id = %s", [INSIGHT_OPERATION]
    )
    operators.unlink()
    env["pico.unit.report"]._pico_refresh()
    env.cr.commit()
    return {
        "units": count,
        "units_visible": total,
        "generate_s": generate_s,
        "report_rows": rows,
        "rebuild_s": rebuild_s,
        "runs": runs,
        "pivot": results,
    }


# --- Cost curves: MO size ----------------------------------------------------------
def _widget_mo(env, bom, size):
    production = env["mrp.production"].create(
        {
            "product_id": bom.product_tmpl_id.product_variant_id.id,
            "bom_id": bom.id,
            "product_qty": size,
        }
    )
    env.cr.commit()
    return production


def _odoo_one_of(env, production, serial):
    """Odoo's own produce-one-unit-and-backorder of an MO, in one transaction."""

    def produce():
        lot = env["stock.lot"].create(
            {"name": serial, "product_id": production.product_id.id}
        )
        production.lot_producing_ids = [Command.set(lot.ids)]
        production.qty_producing = 1
        production.set_qty_producing()
        return production.with_context(
            skip_backorder=True,
            mo_ids_to_backorder=production.ids if production.product_qty > 1 else [],
        ).button_mark_done()

    ms, queries, _result = _timed(env, produce)
    production.invalidate_recordset()
    if production.state != "done":
        raise RuntimeError(
            f"Odoo's own mark-done left {production.name} {production.state}"
        )
    return ms, queries


CURVE_KEYS = (
    "confirm",
    "confirm_outbox",
    "complete_first",
    "complete_next",
    "odoo_first",
)


def curves(env, params):
    """Confirm and completion cost against the size of the MO (units).

    For each size, alternating a mapped widget BOM (released to Pico on confirm)
    and an unmapped copy: the confirm transaction (ms, queries); then on the mapped
    MO the inbox processor applying the completion of its first unit and of the
    next one (each splits the rest off into a backorder), and on the unmapped MO
    Odoo's own produce-one-and-backorder, for reference.
    """
    sizes = params["sizes"]
    runs = {int(k): v for k, v in params["runs"].items()}
    curve = _Curve(env, 2 * sum(size * runs[size] for size in sizes) + 50)
    keys = [
        f"{key}{kind}{q}"
        for key in CURVE_KEYS
        for kind in (("_mapped", "_unmapped") if key == "confirm" else ("",))
        for q in ("", "_q")
    ]
    out = {size: {key: [] for key in keys} for size in sizes}
    warm = [(size, True) for size in sizes[:2]]
    plan = warm + [
        (size, False)
        for number in range(max(runs.values()))
        for size in sizes
        if number < runs[size]
    ]
    for number, (size, warmup) in enumerate(plan):
        timings = curve.measure(size, swap=number % 2)
        if not warmup:
            for key, ms, queries in timings:
                out[size][key].append(ms)
                out[size][f"{key}_q"].append(queries)
    curve.forget_exchanges()
    return {
        str(size): {key: harness.summary(values) for key, values in row.items()}
        for size, row in out.items()
    }


class _OutboxPart:
    """Time a confirm spends in what the outbox owes: the statement that stores
    the units and their saves (`_pico_insert_units`) and the hand-off of the
    saves to the executor (`_pico_dispatch`: queue_job's job, or the scheduler's
    trigger). The rest of a mapped confirm's extra can be cut; this part cannot
    while the confirm stores one unit and one save per product unit.

    The two methods are wrapped on the registry's classes for the duration of
    the block only (a benchmark's probe, never the addon's code)."""

    METHODS = (
        ("pico.work.order", "_pico_insert_units"),
        ("pico.exchange", "_pico_dispatch"),
    )

    def __init__(self, env):
        self.env = env
        self.ms = 0.0
        self.queries = 0
        self.depth = 0
        self.saved = []

    def __enter__(self):
        for model, name in self.METHODS:
            cls = self.env.registry[model]
            self.saved.append((cls, name, cls.__dict__.get(name)))
            setattr(cls, name, self._wrap(getattr(cls, name)))
        return self

    def __exit__(self, *exc):
        for cls, name, own in self.saved:
            if own is None:
                delattr(cls, name)
            else:
                setattr(cls, name, own)

    def _wrap(self, method):
        part = self

        def timed(records, *args, **kwargs):
            if part.depth:
                # Held completions woken by the insert dispatch their events:
                # counted once, in the outer call.
                return method(records, *args, **kwargs)
            part.depth += 1
            cr = records.env.cr
            queries, start = cr.sql_log_count, time.perf_counter()
            try:
                return method(records, *args, **kwargs)
            finally:
                part.depth -= 1
                part.ms += (time.perf_counter() - start) * 1000
                part.queries += cr.sql_log_count - queries

        return timed


class _Curve:
    """The MOs of the curves: a mapped and an unmapped one of each size."""

    def __init__(self, env, units):
        ref = env.ref
        self.env = env
        stock = ref("stock.warehouse0").lot_stock_id
        quants = env["stock.quant"]
        quants._update_available_quantity(
            ref("mrp_pico_mes.product_pico_widget_body"), stock, units
        )
        quants._update_available_quantity(
            ref("mrp_pico_mes.product_pico_screw"), stock, 4 * units
        )
        self.backend = ref("mrp_pico_mes.pico_backend_demo")
        self.mapped = ref("mrp_pico_mes.mrp_bom_pico_widget")
        self.unmapped = self.mapped.copy(
            {
                "code": "Benchmark curve, not for Pico",
                "sequence": 100,
                "pico_operation_id": False,
                "pico_backend_id": False,
            }
        )
        env.cr.commit()
        self.completions = _Completions()
        self.serial = iter(range(1, 10**6))
        # Serials stay unique when a database is reused.
        self.run = int(time.time()) % 100000
        self.made = []

    def measure(self, size, swap):
        """Confirm an MO of each kind (the unmapped one first unless `swap`), then
        complete units; [(key, ms, queries)]."""
        env = self.env
        kinds = [("mapped", self.mapped), ("unmapped", self.unmapped)]
        productions, timings = {}, []
        for kind, bom in kinds if swap else kinds[::-1]:
            production = _widget_mo(env, bom, size)
            with _OutboxPart(env) as outbox_part:
                ms, queries, _r = _timed(env, production.action_confirm)
            productions[kind] = production
            timings.append((f"confirm_{kind}", ms, queries))
            if kind == "mapped":
                timings.append(("confirm_outbox", outbox_part.ms, outbox_part.queries))
        production = productions["mapped"]
        self.made.append(production.id)
        units = production.pico_work_order_ids
        exchanges = (
            env["pico.exchange"]
            .sudo()
            .search_count([("production_id", "=", production.id)])
        )
        if len(units) != size or exchanges != size:
            raise RuntimeError(f"{size}-unit MO: {len(units)} units, {exchanges} rows")
        first = units.sorted("order_index")[:1]
        timings.append(("complete_first", *self.complete(first, production)))
        if size > 1:
            backorder = (units - first).production_id
            if len(backorder) != 1 or len(backorder.pico_work_order_ids) != size - 1:
                raise RuntimeError(f"{size}-unit MO: backorder {backorder}")
            second = backorder.pico_work_order_ids.sorted("order_index")[:1]
            timings.append(("complete_next", *self.complete(second, backorder)))
        serial = f"BENCH-O-{self.run}-{next(self.serial):06d}"
        ms, queries = _odoo_one_of(env, productions["unmapped"], serial)
        timings.append(("odoo_first", ms, queries))
        return timings

    def complete(self, unit, production):
        serial = f"BENCH-C-{self.run}-{next(self.serial):06d}"
        body = self.completions.body(unit, serial, [])
        ms, queries, _n = _apply_completion(
            self.env, self.backend, body, production, "curve"
        )
        return ms, queries

    def forget_exchanges(self):
        """Not for the server phase's sender: hundreds of saves it would have to
        send before the next measure starts."""
        if self.made:
            self.env.cr.execute(
                "DELETE FROM pico_exchange WHERE state IN %s AND production_id IN %s",
                [("pending", "retry_wait"), tuple(self.made)],
            )
            self.env.cr.commit()
