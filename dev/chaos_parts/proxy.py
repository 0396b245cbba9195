"""The webhook proxy of the chaos run: the load balancer in front of the nodes,
and where deliveries get lost or doubled."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness as h
import requests

from .state import STREAM


class Proxy:
    """Pico's webhooks arrive here; each is forwarded as the run's plan says.

    A unit's plan: door "mqtt" (the webhook is swallowed: that completion reaches
    Odoo over MQTT only), "lost" (answered 200, never forwarded), or webhook to a
    node, optionally twice (one after the other, or at once to both nodes). A
    node that does not answer is failed over to the other, as a load balancer
    would.
    """

    def __init__(self, chaos):
        self.chaos = chaos
        self.plans = {}
        self.lock = threading.Lock()
        self.server = None
        self.port = None
        self.turn = 0

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = proxy.handle(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self):
                # The job runner's calls (/queue_job/runjob), spread over the
                # nodes as a load balancer would.
                status = proxy.forward_get(self.path, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.port = h.free_port()
        self.server = ThreadingHTTPServer((h.HOST, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://{h.HOST}:{self.port}"

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def plan(self, key, plan):
        with self.lock:
            if plan is None:
                self.plans.pop(key, None)
            else:
                self.plans[key] = plan

    def handle(self, path, headers, body):
        key = None
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            data = json.loads(body)
            data = data.get("data", {}).get(STREAM, data)
            key = (data["externalOrderId"], data.get("orderIndex") or 0)
        with self.lock:
            plan = self.plans.pop(key, None) if key else None
        counts = self.chaos.counts
        if plan is None:
            # Not a completion of the run (or Pico's retry of one): forward.
            return self.forward(path, headers, body)
        if plan["door"] == "mqtt":
            return 200
        if plan.get("lost"):
            counts.add("webhook deliveries lost")
            return 200
        counts.add("webhook deliveries")
        if plan.get("duplicate") == "concurrent":
            counts.add("duplicates, at once to both nodes")
            results = []
            threads = [
                threading.Thread(
                    target=lambda node=node: results.append(
                        self.forward(path, headers, body, node)
                    )
                )
                for node in (0, 1)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return min(results)
        status = self.forward(path, headers, body)
        if plan.get("duplicate") == "sequential":
            counts.add("duplicates, one after the other")
            self.forward(path, headers, body)
        return status

    def forward_get(self, path, headers):
        """GET on a node (alternating, failing over); its status."""
        with self.lock:
            self.turn += 1
            node = self.turn % 2
        wanted = {k: v for k, v in headers.items() if k.lower() == "x-odoo-database"}
        for target in (node, 1 - node):
            url = self.chaos.nodes[target].url + path
            try:
                return requests.get(url, headers=wanted, timeout=60).status_code
            except requests.RequestException:
                continue
        return 502

    def forward(self, path, headers, body, node=None):
        """POST to a node (alternating by default, failing over); its status."""
        if node is None:
            with self.lock:
                self.turn += 1
                node = self.turn % 2
        wanted = {
            k: v
            for k, v in headers.items()
            if k.lower().startswith("x-pico") or k.lower() == "content-type"
        }
        for target in (node, 1 - node):
            url = self.chaos.nodes[target].url + path
            try:
                response = requests.post(url, data=body, headers=wanted, timeout=60)
            except requests.RequestException:
                self.chaos.counts.add("webhook failovers (node down)")
                continue
            self.chaos.counts.add(f"webhook answers {response.status_code}")
            return response.status_code
        return 502
