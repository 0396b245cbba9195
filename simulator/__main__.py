"""Run the simulator alone: `python -m simulator --port 8077` from the repo root."""

import argparse
import contextlib
import logging
import signal
import threading

from .profiles import DEFAULT_PROFILE, PROFILES
from .server import BODY_STYLES, PicoSimulator


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Pico MES simulator"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (the control API has no authentication: keep it "
        "on loopback or a private container network)",
    )
    parser.add_argument("--port", type=int, default=8077, help="0 picks a free port")
    parser.add_argument("--fixture", help="JSON file with operations/subOperations")
    parser.add_argument("--token", default="sim-token", help="x-pico-api-org value")
    parser.add_argument("--mqtt-host", help="publish events to this broker")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--mqtt-prefix", default="pico/sim")
    parser.add_argument(
        "--schema-profile",
        choices=PROFILES,
        default=DEFAULT_PROFILE,
        help="documented: exactly what Pico documents (default); legacy: plus the "
        "older snapshot's fields; full: plus the inputs pico-api.md only infers",
    )
    parser.add_argument(
        "--introspection",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer __schema/__type queries (--no-introspection refuses them, as "
        "many production GraphQL servers do)",
    )
    parser.add_argument(
        "--max-mutation-fields",
        type=int,
        default=0,
        help="refuse mutations with more root fields than this (a server that "
        "limits batching); 0, the default, is GraphQL's rule: no limit",
    )
    parser.add_argument("--body-style", choices=BODY_STYLES, default="wrapped")
    parser.add_argument("--hmac-secret", help="sign webhooks with X-Pico-Signature")
    parser.add_argument(
        "--work-instructions",
        action="store_true",
        help="serve Pico's alpha Work Instructions API (processCreate, "
        "productCreate, stationCreate) with the input shapes the README decides",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Start the simulator and serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    simulator = PicoSimulator(
        port=args.port,
        host=args.host,
        token=args.token,
        fixture=args.fixture,
        body_style=args.body_style,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_prefix=args.mqtt_prefix,
        hmac_secret=args.hmac_secret,
        work_instructions=args.work_instructions,
        schema_profile=args.schema_profile,
        introspection=args.introspection,
        max_mutation_fields=args.max_mutation_fields,
    )
    # SIGTERM (e.g. from a test or a process manager) ends as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    simulator.start()
    # The one line a user or a test waits for; stdout, not logging, by design.
    print(  # pylint: disable=print-used
        f"Pico simulator on {simulator.url} (token {simulator.token}, "
        f"control {simulator.control_url}, schema {simulator.schema_profile}, "
        f"introspection {'on' if simulator.introspection else 'off'})",
        flush=True,
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
