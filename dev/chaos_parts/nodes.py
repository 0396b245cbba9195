"""An Odoo node of the chaos run, and JSON-2 calls that fail over between nodes."""

import contextlib
import os
import signal
import subprocess
import time

import harness as h

from .state import RUN_DIR

# HTTP worker processes per node on the job engine, and the jobs run at once
# (both nodes together). More slots than one node's workers: queue_job's runner
# counts a killed node's jobs as running until it requeues them, 10 s after they
# were enqueued, and the survivor needs free slots meanwhile. More workers in
# all than slots, so that the webhooks find a free one (readme/INSTALL.md).
JOB_ENGINE_WORKERS = 4
JOB_ENGINE_CHANNELS = "root:6"


class Node:
    """One Odoo server of the run: threaded with cron threads on the scheduler;
    on the job engine prefork, as the install section runs it (its jobs are
    HTTP requests: in a threaded server they would share one interpreter lock,
    and a job's many short SQL statements each wait for it)."""

    def __init__(self, chaos, name):
        self.chaos = chaos
        self.name = name
        self.port = h.free_port()
        self.url = f"http://{h.HOST}:{self.port}"
        self.service = None
        self.log = RUN_DIR / f"{name}-server.log"
        self.kills = []

    def start(self):
        """Start the node and wait until it answers; how long that took."""
        chaos = self.chaos
        extra, env, workers = ["--log-level=info"], None, 0
        if chaos.args.executor == "queue_job":
            workers = JOB_ENGINE_WORKERS
            # The job engine: its runner in each node (one leader, elected). Jobs
            # of both queues side by side (queue_job's default is root:1). The
            # runner calls the jobs through the proxy, as it would through a
            # cluster's load balancer, so that both nodes run them.
            extra.append("--load=base,web,queue_job")
            env = {
                "ODOO_QUEUE_JOB_CHANNELS": JOB_ENGINE_CHANNELS,
                "ODOO_QUEUE_JOB_HOST": h.HOST,
                "ODOO_QUEUE_JOB_PORT": str(chaos.proxy.port),
            }
        started = time.monotonic()
        self.service = chaos.run.start_server(
            self.port,
            workers=workers,
            cron_threads=chaos.args.cron_threads,
            extra=extra,
            name=self.name,
            env=env,
        )
        return time.monotonic() - started

    def kill(self):
        """SIGKILL the whole process group (no goodbye, as a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.service.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.service.process.wait(timeout=10)


class FailoverApi:
    """JSON-2 calls to the first node that answers (one may be down)."""

    def __init__(self, apis):
        self.apis = apis
        self.failovers = 0

    def __call__(self, *args, **kwargs):
        deadline = time.monotonic() + 120
        while True:
            for api in self.apis:
                try:
                    return api(*args, **kwargs)
                except h.HarnessError as exc:
                    if "HTTP" in str(exc) and "HTTP 5" not in str(exc):
                        raise
                except OSError:
                    self.failovers += 1  # that node is down: the next one
            if time.monotonic() > deadline:
                raise h.HarnessError(f"no node answered {args[:2]}")
            time.sleep(1)
