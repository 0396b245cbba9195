# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A real Mosquitto broker on a free loopback port, for the Odoo MQTT tests.

Odoo-free on purpose (the same logic as tests_pure/broker_fixture.py, without
pytest), so it can start a broker from any test runner.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def find_mosquitto():
    """Return the path of the mosquitto binary, or None."""
    explicit = os.environ.get("MOSQUITTO_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return found
    # Debian installs it in /usr/sbin, which is not on a normal user's PATH.
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    """Return a TCP port that is free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Mosquitto:
    """A mosquitto process with its own config, persistence and log directory."""

    def __init__(self, binary=None, workdir=None):
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise RuntimeError(
                "mosquitto binary not found (looked at $MOSQUITTO_BIN, PATH, "
                "/usr/sbin): install it with `apt-get install mosquitto`; the MQTT "
                "tests need a real broker"
            )
        self.host = HOST
        self.port = None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pico-mosquitto-"))
        self.process = None
        self._log_file = None

    @property
    def log_path(self):
        return self.workdir / "mosquitto.log"

    def _write_config(self):
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type all",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto 2 drops to user "mosquitto", which may not write here.
            lines.append("user root")
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self):
        """Start on a free port (retrying if it was taken meanwhile); return self."""
        last_error = None
        for _attempt in range(3):
            self.port = free_port()
            try:
                return self._start_once()
            except RuntimeError as exc:
                last_error = exc
        raise RuntimeError(f"could not start mosquitto: {last_error}")

    def _start_once(self):
        config = self._write_config()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                code = self.process.returncode
                raise RuntimeError(f"mosquitto exited with {code}: {self.log_text()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not accept on port {self.port} in time")

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self):
        """Stop the broker (SIGTERM, then kill) and remove a temporary workdir."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self._close_log()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self):
        """Return the broker log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
