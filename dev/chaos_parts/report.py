"""The chaos run's report: the table of counts and faults, the checks, both
servers' ERROR lines grouped by cause (those the run provoked named as such),
and the JSON results file."""
# pylint: disable=print-used

import collections
import datetime
import json
import os
import re
import sys

from .state import RUN_DIR, now

# Seconds after a provoked incident during which a server's ERROR lines are its.
PROVOKED_WINDOW = 45
LINE_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \d+ (ERROR|CRITICAL) (\S+) (\S+): (.*)"
)
# The INFO line of a race a queue lost and retried (core/races.py): its statement.
RACE_RE = re.compile(r" INFO \S+ \S+races: .*lost a race.*?\): (.*)")


class Report:
    def __init__(self, chaos):
        self.chaos = chaos
        self.results = chaos.results
        self.counts = chaos.counts

    def report(self, checks):
        """Print and write everything; whether the run passed (every check, and
        no ERROR line the run did not provoke)."""
        self.record()
        errors = self.error_lines()
        self.print_table(checks, errors)
        out = self.chaos.args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.results, indent=2, default=str))
        print(f"\nWritten: {out}; logs in {RUN_DIR}")
        unprovoked = sum(n for (p, _c), n in errors.items() if p == "NOT PROVOKED")
        return all(ok for _n, ok, _d in checks) and not unprovoked

    def record(self):
        """The counts, Pico's requests, the incidents and the end in the results."""
        chaos, r = self.chaos, self.results
        r["counts"] = dict(self.counts)
        requests_log = chaos.sim.control("requests")
        faults = collections.Counter(e.get("fault") for e in requests_log)
        r["graphql"] = {
            "requests": len(requests_log),
            "errors_503": faults.get("error", 0),
            "timeouts": faults.get("timeout", 0),
        }
        r["incidents"] = [
            {"at": wall.isoformat(timespec="seconds"), "kind": kind, "detail": detail}
            for _m, wall, kind, detail in chaos.incidents
        ]
        r["finished_at"] = now().isoformat(timespec="seconds")
        r["machine"]["load_average_at_end"] = list(os.getloadavg())

    def print_table(self, checks, errors):
        m = self.results["machine"]
        print(
            f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
            f"PostgreSQL {m['postgresql']}; Odoo {m['odoo']}; two nodes "
            f"--workers={m.get('workers_per_node', 0)} "
            f"--max-cron-threads={m['cron_threads_per_node']}"
            + (f", job channels {m['job_channels']}" if m.get("job_channels") else "")
            + "; load average "
            f"{m['load_average_at_start'][0]:.2f} at start, "
            f"{m['load_average_at_end'][0]:.2f} at end"
        )
        print(f"Command: dev/chaos.py {' '.join(sys.argv[1:])}".rstrip())
        rows = [*self.delivery_rows(), *self.fault_rows(), *self.outcome_rows()]
        width = max(len(label) for label, _v in rows)
        print()
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        print("\nChecks:")
        for name, ok, detail in checks:
            print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        races = self.race_lines()
        print(
            f"\nRaces lost and retried (INFO, core/races.py): {sum(races.values())}"
            + "".join(f"\n  {n:4d}  {what}" for what, n in races.most_common())
        )
        print("\nERROR lines of both servers, by cause:")
        if not errors:
            print("  none")
        for (provoked, cause), count in errors.most_common():
            print(f"  {count:4d}  [{provoked}] {cause}")

    def delivery_rows(self):
        c, r = self.counts, self.results
        return [
            ("Completions sent (units built in Pico)", c["completions sent"]),
            (
                "  by webhook through the proxy / over MQTT",
                (
                    f"{c['webhook deliveries'] + c['webhook deliveries lost']} / "
                    f"{c['MQTT completions']}"
                ),
            ),
            ("  units withdrawn by cancels and reductions", len(self.chaos.withdrawn)),
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
            ("Executor", self.chaos.args.executor),
        ]

    def fault_rows(self):
        c = self.counts
        down = self.chaos.args.down_seconds
        takeovers = "; ".join(
            f"{t['victim']} ({t['which']}"
            + {True: ", job runner", False: ", not the runner"}.get(t.get("runner"), "")
            + f", {t['due_at_kill']} due): "
            + (
                f"{t['seconds']} s"
                if t["seconds"] is not None
                else f"none within {down:g} s"
            )
            for t in self.chaos.takeovers
        )
        return [
            ("Node SIGKILLs (then restarts)", c["node SIGKILLs"]),
            (
                "Takeover after each SIGKILL (other node's first applied event)",
                takeovers or "-",
            ),
            ("Mosquitto restarts with QoS 1 in flight", c["Mosquitto restarts"]),
            ("pg_terminate_backend rounds", c["pg_terminate_backend rounds"]),
            (
                "MOs cancelled / reduced mid-build",
                f"{c['MOs cancelled mid-build']} / {c['MOs reduced mid-build']}",
            ),
            ("Webhook failovers to the other node", c["webhook failovers (node down)"]),
        ]

    def outcome_rows(self):
        r = self.results
        return [
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

    def error_lines(self):
        """ERROR/CRITICAL lines of both nodes, grouped by cause."""
        groups = collections.Counter()
        examples = {}
        for node in self.chaos.nodes:
            try:
                lines = node.log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines):
                match = LINE_RE.match(line)
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

    def race_lines(self):
        """Races the queues lost and retried (INFO lines), by table the refused
        statement named first."""
        groups = collections.Counter()
        for node in self.chaos.nodes:
            try:
                text = node.log.read_text(errors="replace")
            except OSError:
                continue
            for match in RACE_RE.finditer(text):
                table = re.search(r'(?:FROM|UPDATE|INTO) "?(\w+)', match.group(1))
                groups[table.group(1) if table else match.group(1)[:60]] += 1
        self.results["races_retried"] = dict(groups)
        return groups

    def provoked_by(self, moment):
        """The latest incident the run provoked shortly before `moment`, if any."""
        found = None
        for _mono, wall, kind, _detail in self.chaos.incidents:
            if kind == "restart":
                continue
            delta = (moment - wall).total_seconds()
            if -2 <= delta <= PROVOKED_WINDOW:
                found = kind
        return found
