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
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

RESULTS = h.REPO / "bench-results" / "benchmark.json"


def parse_args(argv=None):
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
    _measure_options(parser)
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
    return args


def _measure_options(parser):
    """How much each measure does."""
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


def main(argv=None):
    args = parse_args(argv)
    h.reexec_with_odoo_python(__file__, ("requests", "psycopg2"), " (Odoo's own needs)")
    # Imported once in Odoo's Python: they need requests and psycopg2.
    from benchmark_parts.state import RUN_DIR, Bench

    bench = Bench(args)
    with h.stop_on_failure("dev/benchmark.py", RUN_DIR):
        run(bench)
    bench.cleanup()
    return 0


def run(bench):
    """The phases the arguments ask for, then the report."""
    from benchmark_parts import accept, drain, inprocess, latency, report, setup

    args = bench.args
    setup.setup(bench)
    if args.insight_only:
        inprocess.insight(bench)
    elif args.catalogue_only:
        inprocess.in_process(bench)
    else:
        inprocess.in_process(bench)
        latency.start_server(bench)
        latency.confirm_to_pico(bench)
        latency.webhook_completions(bench)
        latency.mqtt_completions(bench)
        # The later measures are kept apart: one failing leaves the others' figures.
        later = {
            "orders": latency.orders_curve,
            "accept": accept.accept,
            "drain": drain.drain,
        }
        chosen = args.phases or [*later, "insight"]
        for phase in [later[name] for name in later if name in chosen]:
            run_apart(bench, phase)
        if "insight" in chosen:
            inprocess.insight(bench)
    report.Report(bench).report()


def run_apart(bench, phase):
    """Run a later phase; its failure is noted in the results, not raised."""
    import psycopg2
    import requests

    try:
        phase(bench)
    except (
        h.HarnessError,
        requests.RequestException,
        RuntimeError,
        psycopg2.Error,
    ) as exc:
        bench.results.setdefault("errors", {})[phase.__name__] = str(exc)
        print(f"\n{phase.__name__} failed: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
