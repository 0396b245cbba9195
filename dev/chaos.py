#!/usr/bin/env python3
"""Chaos run of mrp_pico_mes: two Odoo 19 nodes, faults, then the books (not a test).

    PYTHON=/path/to/odoo/python dev/chaos.py [--completions 1000] [--seed 11]

It starts everything itself with dev/harness.py: PostgreSQL if needed, a fresh
database CHAOS_DB (default pico_chaos, dropped and recreated) with the addon and
its demo data, Mosquitto, the Pico simulator, a webhook proxy (in this process:
the load balancer in front of the nodes, and where deliveries get lost or
doubled), and TWO Odoo servers on that one database (separate processes: on the
scheduler threaded with cron threads, on the job engine prefork with HTTP
workers), as a plant with two application nodes runs.

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
- a node killed with SIGKILL, then restarted, twice: the node applying an event
  (holding its locks), then the node receiving the next webhook (on the job
  engine, the proxy's turn awaited so that it is the node holding queue_job's
  runner); the report gives the other node's takeover time for each;
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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

RESULTS = h.REPO / "bench-results" / "chaos.json"


def parse_args(argv=None):
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    h.reexec_with_odoo_python(__file__, ("requests", "psycopg2", "paho.mqtt.client"))
    # Imported once in Odoo's Python: they need requests, psycopg2 and paho-mqtt.
    from chaos_parts.books import Books
    from chaos_parts.report import Report
    from chaos_parts.state import RUN_DIR, SERVICES, Chaos

    chaos = Chaos(args)
    if args.check_only:
        chaos.load_state()
        ok = Report(chaos).report(Books(chaos).check())
        return 0 if ok else 1
    try:
        ok = run(chaos)
    except h.HarnessError as exc:
        print(f"\ndev/chaos.py: {exc}", file=sys.stderr)
        print(f"Logs: {RUN_DIR}", file=sys.stderr)
        chaos.args.keep = True
        chaos.cleanup()
        return 1
    except BaseException:
        h.stop_all(RUN_DIR, order=SERVICES)
        raise
    chaos.cleanup()
    return 0 if ok else 1


def run(chaos):
    """Set up, feed the floor with faults, drain, check; whether all is well."""
    from chaos_parts import books, floor, setup
    from chaos_parts.report import Report

    setup.setup(chaos)
    floor.start_mqtt(chaos)
    floor.Feed(chaos).run()
    chaos.save_state()
    books.drain(chaos)
    chaos.save_state()
    with chaos.progress.step("Checking the books"):
        checks = books.Books(chaos).check()
    return Report(chaos).report(checks)


if __name__ == "__main__":
    sys.exit(main())
