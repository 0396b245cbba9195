"""Pytest fixture `mosquitto`: a real Mosquitto broker on a free loopback port."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

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


class MosquittoBroker:
    """A mosquitto process with a generated config in its own directory."""

    def __init__(
        self, workdir, binary, port=None, extra_config=(), allow_anonymous=True
    ):
        self.host = HOST
        self.port = port or free_port()
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.extra_config = list(extra_config)
        self.allow_anonymous = allow_anonymous
        self.process = None
        self._log_file = None

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
            # able to write the persistence file in a pytest tmp dir.
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

    def stop(self):
        """Stop the broker gracefully (SIGTERM lets it save its persistence file)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self):
        """Stop and start again on the same port; sessions survive via persistence."""
        self.stop()
        return self.start()

    def log_text(self):
        """Return the broker log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def url(self):
        """Return mqtt://host:port."""
        return f"mqtt://{self.host}:{self.port}"


def start_broker(workdir, extra_config=(), allow_anonymous=True):
    """Start a broker in workdir, failing the test clearly when mosquitto is missing."""
    binary = find_mosquitto()
    if binary is None:
        pytest.fail(
            "mosquitto binary not found (looked at $MOSQUITTO_BIN, PATH, /usr/sbin): "
            "install it with `apt-get install mosquitto` - the MQTT tests need a "
            "real broker and must not be skipped",
            pytrace=False,
        )
    last_error = None
    # A free port can be taken between free_port() and the broker's bind: retry.
    for _attempt in range(3):
        broker = MosquittoBroker(
            workdir,
            binary,
            extra_config=extra_config,
            allow_anonymous=allow_anonymous,
        )
        try:
            return broker.start()
        except RuntimeError as exc:
            last_error = exc
    pytest.fail(f"could not start mosquitto: {last_error}", pytrace=False)


@pytest.fixture
def mosquitto(tmp_path):
    """Yield a running MosquittoBroker (.host, .port, .restart()); stop it after."""
    broker = start_broker(tmp_path / "mosquitto")
    try:
        yield broker
    finally:
        broker.stop()
