"""A real Mosquitto broker on a free loopback port, for the tests and the demo.

Odoo-free and pytest-free, so the pure suite, the Odoo suite and dev/ scripts all
start their broker the same way. Only the Debian `mosquitto` binary is used.
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
MISSING = (
    "mosquitto binary not found (looked at $MOSQUITTO_BIN, PATH, /usr/sbin): "
    "install it with `apt-get install mosquitto`; the MQTT tests need a real broker"
)


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


class MosquittoBroker:
    """A mosquitto process with a generated config in its own directory."""

    def __init__(
        self,
        workdir=None,
        binary=None,
        port=None,
        extra_config=(),
        allow_anonymous=True,
    ):
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise RuntimeError(MISSING)
        self.host = HOST
        self.port = port or free_port()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pico-mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.extra_config = list(extra_config)
        self.allow_anonymous = allow_anonymous
        self.process = None
        self._log_file = None

    @property
    def url(self):
        """Return mqtt://host:port."""
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self):
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            # Persistence lets restart() keep sessions and queued QoS 1 messages,
            # as a production broker would across its own restarts.
            "persistence true",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # Run as root, mosquitto 2 drops to user "mosquitto", which may not be
            # able to write the persistence file in a temporary directory.
            lines.append("user root")
        lines.extend(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self):
        """Start the broker and wait until its port accepts connections."""
        self._write_config()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                raise RuntimeError(
                    f"mosquitto exited with {self.process.returncode} at start:\n"
                    + self.log_text()
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"mosquitto did not accept on {self.host}:{self.port} within "
            f"{START_TIMEOUT}s:\n" + self.log_text()
        )

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self, cleanup=True):
        """Stop gracefully (SIGTERM lets it save its persistence file)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self._close_log()
        if cleanup and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self):
        """Stop and start again on the same port; sessions survive via persistence."""
        self.stop(cleanup=False)
        return self.start()

    def log_text(self):
        """Return the broker log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def start_broker(workdir=None, extra_config=(), allow_anonymous=True, tries=3):
    """Start a broker on a free port, retrying when the port was taken meanwhile."""
    last_error = None
    for _attempt in range(tries):
        broker = MosquittoBroker(
            workdir, extra_config=extra_config, allow_anonymous=allow_anonymous
        )
        try:
            return broker.start()
        except RuntimeError as exc:
            if str(exc) == MISSING:
                raise
            last_error = exc
    raise RuntimeError(f"could not start mosquitto: {last_error}")
