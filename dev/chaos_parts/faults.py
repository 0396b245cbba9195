"""The faults of the chaos run: Pico's GraphQL errors and timeouts, a node
SIGKILLed and restarted, Mosquitto restarted, every connection terminated."""

import contextlib
import re
import time

import harness as h

from .state import RUN_DIR

# queue_job's runner: the leader holds this session advisory lock
# (queue_job/jobrunner/runner.py, PG_ADVISORY_LOCK_ID).
RUNNER_LOCK = 2293787760715711918

# Share of GraphQL calls left unanswered (within --graphql-errors; the rest 503).
TIMEOUT_SHARE = 0.05


def set_graphql_faults(chaos, on):
    if on:
        chaos.sim.faults(
            error_rate=max(0.0, chaos.args.graphql_errors - TIMEOUT_SHARE),
            error_status=503,
            timeout_seconds=8,
        )
    else:
        chaos.sim.faults(clear=True)


def graphql_timeouts(chaos, stop):
    """Leave one GraphQL call in TIMEOUT_SHARE unanswered (a timeout)."""
    while not stop.wait(3):
        with contextlib.suppress(h.HarnessError):
            log = chaos.sim.control("requests")
            timeouts = sum(1 for entry in log if entry.get("fault") == "timeout")
            if timeouts < TIMEOUT_SHARE * len(log):
                chaos.sim.faults(timeout_next=1)


def kill_a_node(chaos, which="applying"):
    """SIGKILL a node, keep it down `--down-seconds`, then restart it.

    `which`: "applying", the node applying an event right now (a connection
    holding an event's row lock and advisory locks), or "receiving", the
    node the proxy sends the next webhook to. While it is down, measure how
    long the other node takes to apply an event of the stored backlog.
    """
    runner = _runner_node(chaos)
    if which == "receiving":
        if runner is not None:
            # The harder case on the job engine: the receiving node also holds
            # queue_job's runner, so the survivor must win the election and
            # requeue the dead node's jobs (the run of 2026-12-06). The proxy
            # alternates, so it turns to that node within a delivery or two.
            deadline = time.monotonic() + 10
            while (
                chaos.nodes[(chaos.proxy.turn + 1) % 2] is not runner
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
        victim = chaos.nodes[(chaos.proxy.turn + 1) % 2]
        how = "as it receives the webhooks"
    else:
        victim, how = _applying_node(chaos), "while applying an event"
        if victim is None:
            victim, how = chaos.nodes[0], "(no event in progress within 60 s)"
    if runner is not None:
        how += " (it holds the job runner)" if victim is runner else " (not the runner)"
    survivor = next(node for node in chaos.nodes if node is not victim)
    (killed_at,) = chaos.sql("SELECT (now() AT TIME ZONE 'UTC')")[0]
    backlog = due_events(chaos)
    victim.kill()
    t0 = time.monotonic()
    chaos.counts.add("node SIGKILLs")
    chaos.incident("SIGKILL", f"{victim.name} {how}; {backlog} events due")
    taken = _takeover(chaos, survivor, killed_at, t0)
    chaos.takeovers.append(
        {
            "victim": victim.name,
            "which": which,
            "due_at_kill": backlog,
            "runner": None if runner is None else victim is runner,
            "seconds": None if taken is None else round(taken, 2),
        }
    )
    took = victim.start()
    victim.kills.append(took)
    chaos.incident("restart", f"{victim.name} answering after {took:.1f} s")


def _runner_node(chaos):
    """The node whose process holds queue_job's runner (the elected leader:
    a session advisory lock, seen in pg_locks as two 32-bit halves), or None
    (the scheduler, or no leader at this moment)."""
    if chaos.args.executor != "queue_job":
        return None
    pids = {node.service.pid: node for node in chaos.nodes}
    rows = chaos.sql(
        """
        SELECT a.application_name FROM pg_locks l
          JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE a.datname = %s AND l.locktype = 'advisory' AND l.granted
           AND l.classid::bigint = %s AND l.objid::bigint = %s
        """,
        (chaos.db, RUNNER_LOCK >> 32, RUNNER_LOCK & 0xFFFFFFFF),
    )
    for (name,) in rows:
        match = re.match(r"odoo-(\d+)", name or "")
        pid = int(match.group(1)) if match else None
        # The runner of a prefork node is a child process of the node.
        pid = pid if pid in pids else _parent(pid)
        if pid in pids:
            return pids[pid]
    return None


def _applying_node(chaos):
    """The node applying an event now (within 60 s), or None."""
    pids = {node.service.pid: node for node in chaos.nodes}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = chaos.sql(
            """
            SELECT a.application_name FROM pg_locks l
              JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.datname = %s
               AND l.locktype = 'relation' AND l.mode = 'RowShareLock'
               AND l.relation = 'pico_event'::regclass
               AND EXISTS (SELECT 1 FROM pg_locks k
                            WHERE k.pid = l.pid AND k.locktype = 'advisory')
            """,
            (chaos.db,),
        )
        victim = None
        for (name,) in rows:
            match = re.match(r"odoo-(\d+)", name or "")
            pid = int(match.group(1)) if match else None
            # A prefork node's connection is its worker's: its parent is the node.
            pid = pid if pid in pids else _parent(pid)
            if pid in pids:
                victim = pids[pid]
        if victim is not None:
            return victim
        time.sleep(0.02)
    return None


def _parent(pid):
    """The parent process id of `pid` (None if it is gone or unknown)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # "pid (comm) state ppid ...": comm may hold spaces, not ")".
            return int(stat.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError, TypeError):
        return None


def _takeover(chaos, survivor, killed_at, t0):
    """Seconds until the survivor applied an event after the kill (None if not
    while the victim is down)."""
    taken = None
    while time.monotonic() - t0 < chaos.args.down_seconds:
        (applied,) = chaos.sql(
            "SELECT count(*) FROM pico_event WHERE processed_at >= %s",
            (killed_at,),
        )[0]
        if applied and taken is None:
            taken = time.monotonic() - t0
            chaos.incident(
                "takeover", f"{survivor.name} applied an event {taken:.1f} s after"
            )
        time.sleep(0.1)
    return taken


def due_events(chaos):
    """Events waiting to be applied now (received, or due again)."""
    (count,) = chaos.sql(
        "SELECT count(*) FROM pico_event WHERE state IN ('received', 'held') "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= "
        "(now() AT TIME ZONE 'UTC'))"
    )[0]
    return count


def restart_broker(chaos):
    """Restart Mosquitto right after a burst of QoS 1 messages."""
    chaos.counts.add("Mosquitto restarts")
    chaos.incident("Mosquitto restart", "with QoS 1 messages in flight")
    h.stop_service(RUN_DIR, chaos.mqtt_service, grace=5)
    time.sleep(1)
    chaos.mqtt_service, _port = h.start_mosquitto(RUN_DIR, port=chaos.mqtt_port)


def terminate_connections(chaos):
    rows = chaos.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (chaos.db,),
    )
    chaos.counts.add("pg_terminate_backend rounds")
    chaos.incident("pg_terminate_backend", f"{rows[0][0]} connections")
