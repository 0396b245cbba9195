"""What every dev/ script shares: find Odoo 19, start and stop the parts, measure.

PostgreSQL (started when needed), Mosquitto, the Pico simulator and an Odoo server
run as background processes of their own (new sessions) whose pid files live in a
run directory, so that `dev/demo --stop` can end exactly what was started, by
process id. Odoo is driven through its external JSON-2 API (`/json/2/<model>/<method>`
with an API key), plus `odoo-bin shell` scripts for setup. Also here: the re-run of
a script with Odoo's Python, a fresh database and its teardown, free ports and
server starts, and the one percentile of the figures the scripts print.

Standard library only: the demo runs with any Python 3.10+, Odoo's own or not
(the `odoo-bin shell` scripts import it too: see shell_call).
"""
# pylint: disable=print-used

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "dev"
MODULE = "mrp_pico_mes"
HOST = "127.0.0.1"
RESULT_MARK = "HARNESS-RESULT "
DB_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")

NEEDS_ODOO = """\
No Odoo 19 installation was found. This command needs one of:
  ODOO_BIN=/path/to/odoo-bin       Odoo 19's launcher (its Python must import odoo;
                                   otherwise also set ODOO_PYTHON=/path/to/python)
  ODOO_PYTHON=/path/to/python      (or PYTHON=...) a Python whose `import odoo` gives
                                   Odoo 19 (odoo-bin next to the package, or -m odoo)
  odoo-bin or odoo on the PATH
and also: a PostgreSQL server (local socket access for the current user, or sudo to
start it and create the role), the mosquitto broker binary, and the Python packages
graphql-core and paho-mqtt (for the Pico simulator) in Odoo's Python."""

# Printed by the Python of a candidate installation: its version and folders.
_PROBE = (
    "import sys; sys.path[:0] = [p for p in sys.argv[1:] if p]; "
    "import json, os, odoo.release as r, odoo, odoo.cli; "
    "print(json.dumps({'version': r.version, 'major': r.version_info[0], "
    "'package': os.path.dirname(os.path.abspath(r.__file__)), "
    "'python': sys.executable}))"
)


class HarnessError(RuntimeError):
    """A problem the user has to solve; the message says what and how."""


# --- Progress lines -----------------------------------------------------------------
class Progress:
    """Numbered progress lines: `[ 3/12] Starting Mosquitto ... ok (0.4 s)`."""

    def __init__(self, total, stream=None):
        self.total = total
        self.number = 0
        self.stream = stream or sys.stdout
        self._open = False  # a step line waits for its outcome

    @contextlib.contextmanager
    def step(self, text):
        """Print the step, run the block, print its outcome and duration.

        The block may set `note["text"]` to say what it found or did.
        """
        self.number += 1
        width = len(str(self.total))
        self.stream.write(f"[{self.number:>{width}}/{self.total}] {text} ... ")
        self.stream.flush()
        self._open = True
        note = {"text": "ok"}
        started = time.monotonic()
        try:
            yield note
        except BaseException:
            self._close("FAILED")
            raise
        elapsed = time.monotonic() - started
        self._close(f"{note['text']} ({elapsed:.1f} s)")

    def _close(self, outcome):
        if not self._open:
            outcome = f"        -> {outcome}"
        self.stream.write(f"{outcome}\n")
        self.stream.flush()
        self._open = False

    def info(self, text):
        """An indented detail line under the current step."""
        if self._open:
            self.stream.write("\n")
            self._open = False
        self.stream.write(f"        {text}\n")
        self.stream.flush()


# --- Small helpers ------------------------------------------------------------------
def run(cmd, check=False, timeout=None, **kwargs):
    """subprocess.run with text output captured."""
    return subprocess.run(
        cmd,
        check=check,
        timeout=timeout,
        text=True,
        capture_output=True,
        **kwargs,
    )


def as_root(cmd):
    """The command, prefixed with sudo unless we are root already."""
    if os.geteuid() == 0:
        return list(cmd)
    if not shutil.which("sudo"):
        raise HarnessError(f"needs root for: {' '.join(cmd)} (and sudo is missing)")
    return ["sudo", *cmd]


def port_free(port, host=HOST):
    """Whether nothing listens on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred=None, host=HOST):
    """`preferred` when free, else a free port chosen by the kernel."""
    if preferred and port_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Call predicate until it returns a truthy value; return it, or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def log_tail(path, lines=30):
    """The last lines of a log file, indented, for error messages."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "        (no log)"
    return "\n".join(f"        {line}" for line in text)


def http_json(url, payload=None, headers=None, timeout=30.0, method=None):
    """GET (payload None) or POST JSON; return (status, decoded JSON or text)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("GET" if data is None else "POST"),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def http_ok(url, timeout=2.0):
    """Whether GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


# --- Figures ------------------------------------------------------------------------
def percentile(values, p):
    """Nearest-rank percentile of a list (None if empty)."""
    ordered = sorted(values)
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, -(-p * len(ordered) // 100) - 1))
    return ordered[index]


def summary(values):
    """n, min, median (p50), p95, p99, max and mean of a list (None if empty)."""
    return {
        "n": len(values),
        "min": min(values) if values else None,
        "median": percentile(values, 50),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
    }


# --- Finding Odoo 19 ------------------------------------------------------------------
@dataclasses.dataclass
class Odoo:
    """An Odoo 19 installation: how to run it and where its addons are."""

    python: str
    launcher: list  # command prefix, e.g. [python, /path/odoo-bin]
    version: str
    addons: list  # folders of Odoo's own addons
    found_by: str

    def command(self, *args, sub=None):
        """The command line of `odoo-bin [sub] args...`."""
        return [*self.launcher, *([sub] if sub else []), *map(str, args)]


def _shebang_python(path):
    """The interpreter named by a script's #! line (None if it names none)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    parts = first[2:].split()
    if not parts:
        return None
    if parts[0].endswith("/env"):
        names = [part for part in parts[1:] if not part.startswith("-")]
        return shutil.which(names[0]) if names else None
    return parts[0]


def _probe(python, launcher_dir):
    """(info dict, None) of the Odoo a Python imports, or (None, why not)."""
    if not python:
        return None, "no Python to run it with"
    try:
        result = run([python, "-c", _PROBE, launcher_dir or ""], timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python}: {exc}"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["import odoo failed"])[-1]
        return None, f"{python} cannot run Odoo ({last})"
    return json.loads(result.stdout.strip().splitlines()[-1]), None


def find_odoo(environ=None):
    """Return the Odoo 19 installation named by the environment, or raise."""
    environ = os.environ if environ is None else environ
    odoo_bin = environ.get("ODOO_BIN")
    python = environ.get("ODOO_PYTHON") or environ.get("PYTHON")
    candidates = []  # (python, launcher script or None, how it was found)
    if odoo_bin:
        if not os.path.isfile(odoo_bin):
            raise HarnessError(f"ODOO_BIN={odoo_bin} does not exist.\n\n{NEEDS_ODOO}")
        candidates.append((python or _shebang_python(odoo_bin), odoo_bin, "ODOO_BIN"))
    elif python:
        how = "ODOO_PYTHON" if environ.get("ODOO_PYTHON") else "PYTHON"
        candidates.append((python, None, how))
    else:
        for name in ("odoo-bin", "odoo"):
            path = shutil.which(name)
            if path:
                candidates.append((_shebang_python(path), path, f"{name} on PATH"))
    tried = []
    for cand_python, launcher, how in candidates:
        launcher_dir = os.path.dirname(os.path.abspath(launcher)) if launcher else ""
        info, why = _probe(cand_python, launcher_dir)
        if info is None:
            tried.append(f"{how}: {why}")
            continue
        if info["major"] != 19:
            tried.append(f"{how}: Odoo {info['version']}, not 19")
            continue
        package = Path(info["package"])
        root = package.parent
        if not launcher and (root / "odoo-bin").is_file():
            launcher = str(root / "odoo-bin")
        cmd = [info["python"], launcher] if launcher else [info["python"], "-m", "odoo"]
        addons = [str(p) for p in (root / "addons", package / "addons") if p.is_dir()]
        return Odoo(info["python"], cmd, info["version"], addons, how)
    detail = "\n".join(f"  - {line}" for line in tried) or "  - nothing was set"
    raise HarnessError(f"{NEEDS_ODOO}\n\nTried:\n{detail}")


def find_simulator_python(odoo):
    """A Python that has what the simulator needs (graphql-core, paho-mqtt)."""
    for python in dict.fromkeys([odoo.python, sys.executable]):
        probe = run([python, "-c", "import graphql, paho.mqtt.client"], timeout=60)
        if probe.returncode == 0:
            return python
    raise HarnessError(
        "The Pico simulator needs graphql-core and paho-mqtt: "
        f"{odoo.python} -m pip install graphql-core paho-mqtt"
    )


def reexec_with_odoo_python(script, modules, hint=""):
    """Run `script` again with Odoo's Python when this one lacks `modules`.

    The scripts need what Odoo's Python has (requests, psycopg2, ...): started
    with another Python, they start again with it, the same arguments and
    PICO_DEV_REEXEC set; lacking them there too, they stop and say what.
    """
    missing = [name for name in modules if not _importable(name)]
    if not missing:
        return
    name = Path(script).name
    if os.environ.get("PICO_DEV_REEXEC") == name:
        sys.exit(f"dev/{name} needs {', '.join(modules)}{hint}.")
    try:
        odoo = find_odoo()
    except HarnessError as exc:
        sys.exit(f"dev/{name}: {exc}")
    os.environ["PICO_DEV_REEXEC"] = name
    os.execv(odoo.python, [odoo.python, str(script), *sys.argv[1:]])


def _importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def _mosquitto_module():
    """simulator/mosquitto.py, the project's one Mosquitto starter.

    Loaded from its file: importing the simulator package would need graphql-core,
    which the Python running this script may lack.
    """
    spec = importlib.util.spec_from_file_location(
        "_pico_mosquitto", REPO / "simulator" / "mosquitto.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- PostgreSQL -----------------------------------------------------------------------
def _psql(sql, db="postgres", variables=None, timeout=60):
    """Run SQL with psql (variables as psql :'name' values); return the result."""
    cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db]
    for name, value in (variables or {}).items():
        cmd += ["-v", f"{name}={value}"]
    return run(cmd, input=sql, timeout=timeout)


def psql_value(sql, db="postgres", variables=None):
    """First column of the first row (a string), or raise."""
    result = _psql(sql, db, variables)
    if result.returncode != 0:
        raise HarnessError(f"psql failed: {result.stderr.strip()}")
    return (result.stdout.strip().splitlines() or [""])[0]


def ensure_postgres():
    """Start PostgreSQL if needed and make sure this user has a role; say what."""
    for tool in ("pg_isready", "psql"):
        if not shutil.which(tool):
            raise HarnessError(
                f"{tool} not found: install PostgreSQL (client and server), e.g. "
                "`apt-get install postgresql`."
            )
    said = "already running"
    if run(["pg_isready", "-q"]).returncode != 0:
        started = False
        if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
            versions = sorted(os.listdir("/etc/postgresql"), key=_version_key)
            if versions:
                cmd = as_root(["pg_ctlcluster", versions[-1], "main", "start"])
                started = run(cmd, timeout=120).returncode == 0
        if not started:
            run(as_root(["service", "postgresql", "start"]), timeout=120)
        with contextlib.suppress(HarnessError):
            wait_until(
                lambda: run(["pg_isready", "-q"]).returncode == 0, 30, 0.5, "PostgreSQL"
            )
        if run(["pg_isready", "-q"]).returncode != 0:
            raise HarnessError(
                "PostgreSQL is not running and could not be started "
                "(pg_ctlcluster <version> main start / service postgresql start)."
            )
        said = "started"
    if _psql("SELECT 1").returncode != 0:
        # Odoo connects over the local socket as the current user (never "postgres").
        user = getpass.getuser()
        run(as_root(["su", "postgres", "-c", f"createuser --superuser {user}"]))
        if _psql("SELECT 1").returncode != 0:
            raise HarnessError(
                f"PostgreSQL refuses user {user!r}; create the role: "
                f"sudo -u postgres createuser --superuser {user}"
            )
        said += f", role {user} created"
    return said


def _version_key(name):
    return [int(part) if part.isdigit() else 0 for part in name.split(".")]


def postgres_version():
    return psql_value("SHOW server_version")


def check_db_name(db):
    if not DB_NAME_RE.match(db):
        raise HarnessError(f"{db!r} is not a usable database name")
    return db


def database_exists(db):
    sql = "SELECT count(*) FROM pg_database WHERE datname = :'db';"
    return psql_value(sql, variables={"db": check_db_name(db)}) == "1"


def drop_database(db):
    result = run(["dropdb", "--if-exists", check_db_name(db)], timeout=300)
    if result.returncode != 0:
        raise HarnessError(f"could not drop database {db}: {result.stderr.strip()}")


def fresh_database(db, run_dir):
    """Stop what a previous run left in run_dir, forget its files, drop db.

    Returns what was done, for a progress line.
    """
    stop_all(run_dir)
    clean_run_dir(run_dir)
    if database_exists(db):
        drop_database(db)
        return "old one dropped"
    return "ok"


@contextlib.contextmanager
def stop_on_failure(prog, run_dir):
    """Around a script's run: a HarnessError is said, with where the logs are,
    what the run started is stopped and the script exits with status 1; an
    interruption or a failed command stops it too, and goes on."""
    try:
        yield
    except HarnessError as exc:
        print(f"\n{prog}: {exc}\nLogs: {run_dir}", file=sys.stderr)
        stop_all(run_dir)
        sys.exit(1)
    except (subprocess.SubprocessError, KeyboardInterrupt):
        stop_all(run_dir)
        raise


def teardown(run_dir, db, keep=False, kept="", order=None, connection=None):
    """Close the script's own `connection` to the database, stop the run's
    services and drop its database; with `keep`, say that they run on."""
    if connection is not None:
        connection.close()
    if keep:
        print(f"Kept running (--keep): {kept}")
        return
    stop_all(run_dir, **({"order": order} if order else {}))
    drop_database(db)


# --- Background services and their pid files ---------------------------------------
@dataclasses.dataclass
class Service:
    """A process started in its own session, with a pid file in the run dir."""

    name: str
    pid: int
    log: Path
    started: str  # the process's start time (/proc/<pid>/stat), against pid reuse
    process: subprocess.Popen | None = None

    def alive(self):
        if self.process is not None:
            return self.process.poll() is None
        return _proc_start(self.pid) == self.started


def _proc_start(pid):
    """Start time of a running (not zombie) process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def spawn(run_dir, name, cmd, cwd=None, env=None):
    """Start cmd in a new session, output to <run_dir>/<name>.log; write its pid."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(part) for part in cmd],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = _proc_start(process.pid)
    record = {
        "pid": process.pid,
        "started": started,
        "cmd": [str(part) for part in cmd],
        "log": str(log),
    }
    (run_dir / f"{name}.pid").write_text(json.dumps(record))
    return Service(name, process.pid, log, started, process)


def running_services(run_dir):
    """Services of the run dir whose process still runs, by name."""
    found = {}
    for pid_file in sorted(Path(run_dir).glob("*.pid")):
        try:
            record = json.loads(pid_file.read_text())
            service = Service(
                pid_file.stem, record["pid"], Path(record["log"]), record["started"]
            )
        except (OSError, ValueError, KeyError):
            continue
        if service.alive():
            found[service.name] = service
        else:
            pid_file.unlink(missing_ok=True)
    return found


def stop_service(run_dir, service, grace=20.0):
    """End a service's process group (SIGTERM twice, then SIGKILL); drop its pid."""
    pid = service.pid
    for sig, wait in (
        (signal.SIGTERM, grace),
        (signal.SIGTERM, 5.0),
        (signal.SIGKILL, 5),
    ):
        if not service.alive():
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # The process leads its own session and group (start_new_session).
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while service.alive() and time.monotonic() < deadline:
            if service.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.process.wait(timeout=0.2)
            else:
                time.sleep(0.2)
    (Path(run_dir) / f"{service.name}.pid").unlink(missing_ok=True)
    return not service.alive()


def clean_run_dir(run_dir):
    """Forget the logs, broker state and file store of a previous run."""
    run_dir = Path(run_dir)
    if running_services(run_dir):
        raise HarnessError(f"services of {run_dir} are still running")
    for log in run_dir.glob("*.log"):
        log.unlink()
    for folder in ("mosquitto", "data"):
        shutil.rmtree(run_dir / folder, ignore_errors=True)


def stop_all(run_dir, order=("odoo", "simulator", "catalogue-sim", "mosquitto")):
    """Stop every service of the run dir (Odoo first); return [(name, stopped)]."""
    services = running_services(run_dir)
    names = [n for n in order if n in services] + sorted(set(services) - set(order))
    return [(name, stop_service(run_dir, services[name])) for name in names]


# --- Mosquitto -----------------------------------------------------------------------
def start_mosquitto(run_dir, port=None):
    """A Mosquitto broker on 127.0.0.1 (1883 when free); return (Service, port).

    Configured by simulator/mosquitto.py as for the tests (loopback listener,
    persistence, full log), but started here in a session of its own with a pid
    file, so that it outlives this script and `--stop` can end it.
    """
    mosquitto = _mosquitto_module()
    port = port or free_port(1883)
    try:
        broker = mosquitto.MosquittoBroker(Path(run_dir) / "mosquitto", port=port)
    except RuntimeError as exc:
        raise HarnessError(str(exc)) from exc
    broker._write_config()  # pylint: disable=protected-access
    service = spawn(run_dir, "mosquitto", [broker.binary, "-c", broker.config_path])
    with contextlib.suppress(HarnessError):
        wait_until(
            lambda: not port_free(port) or not service.alive(), 10, 0.05, "Mosquitto"
        )
    if not service.alive() or port_free(port):
        raise HarnessError(f"mosquitto did not start:\n{log_tail(service.log)}")
    return service, port


def broker_log(run_dir):
    """The broker's log (its config logs to stderr, which spawn() writes here)."""
    return Path(run_dir) / "mosquitto.log"


def broker_log_size(run_dir):
    """Current size of the broker log: pass it as `since` to wait_for_subscriber."""
    try:
        return broker_log(run_dir).stat().st_size
    except OSError:
        return 0


def wait_for_subscriber(
    run_dir, prefix, since=0, timeout=90.0, client_prefix="odoo-pico-"
):
    """Wait until the broker logs (after byte `since`) Odoo subscribing to prefix."""
    pattern = re.compile(
        rf"^\d+: ({re.escape(client_prefix)}\S*) \d+ {re.escape(prefix.rstrip('/'))}/"
    )

    def subscribed():
        try:
            with open(broker_log(run_dir), "rb") as handle:
                handle.seek(since)
                text = handle.read().decode(errors="replace")
        except OSError:
            return None
        for line in text.splitlines():
            match = pattern.match(line)
            if match:
                return match.group(1)
        return None

    return wait_until(subscribed, timeout, 0.1, "Odoo's MQTT subscription")


# --- The Pico simulator ---------------------------------------------------------------
class Simulator:
    """Client of a running simulator: its control API and GraphQL endpoint."""

    def __init__(self, base_url, token="sim-token"):
        self.base_url = base_url.rstrip("/")
        self.token = token

    @property
    def graphql_url(self):
        return f"{self.base_url}/graph/v2"

    def control(self, name, payload=None):
        status, body = http_json(f"{self.base_url}/_control/{name}", payload)
        if status != 200:
            raise HarnessError(f"simulator /_control/{name}: {status} {body}")
        return body

    def orders(self):
        return self.control("orders")

    def config(self):
        return self.control("config")

    def deliveries(self):
        return self.control("deliveries")

    def subscriptions(self):
        return self.control("subscriptions")

    def complete(self, **body):
        return self.control("complete", body)

    def faults(self, **body):
        return self.control("faults", body)

    def deploy(self, product_id):
        """Deploy a product created with the Work Instructions API."""
        return self.control("deploy", {"productId": product_id})

    def graphql(self, query, variables=None):
        status, body = http_json(
            self.graphql_url,
            {"query": query, "variables": variables or {}},
            headers={"x-pico-api-org": self.token},
        )
        if status != 200 or (isinstance(body, dict) and body.get("errors")):
            raise HarnessError(f"simulator GraphQL: {status} {body}")
        return body["data"]


def start_simulator(
    python,
    run_dir,
    name="simulator",
    port=None,
    mqtt=None,
    fixture=None,
    work_instructions=False,
    args=(),
):
    """Run `python -m simulator` (8077 when free); return (Service, Simulator).

    mqtt: (host, port, prefix) to publish completions to a broker.
    work_instructions: serve Pico's alpha Work Instructions API (BOM transfer).
    args: more command-line options (e.g. --schema-profile full).
    """
    port = port or free_port(8077)
    cmd = [python, "-m", "simulator", "--port", port]
    if mqtt:
        host, mqtt_port, prefix = mqtt
        cmd += ["--mqtt-host", host, "--mqtt-port", mqtt_port, "--mqtt-prefix", prefix]
    if fixture:
        cmd += ["--fixture", fixture]
    if work_instructions:
        cmd.append("--work-instructions")
    cmd += list(args)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    service = spawn(run_dir, name, cmd, cwd=REPO, env=env)
    simulator = Simulator(f"http://{HOST}:{port}")
    # Waits for an answer or an early exit; the check below says which.
    with contextlib.suppress(HarnessError):
        wait_until(
            lambda: http_ok(simulator.base_url + "/") or not service.alive(),
            30,
            0.1,
            "the simulator",
        )
    if not service.alive() or not http_ok(simulator.base_url + "/"):
        raise HarnessError(f"the simulator did not start:\n{log_tail(service.log)}")
    return service, simulator


# --- Odoo --------------------------------------------------------------------------
class OdooRun:
    """One database of an Odoo installation, with the addon on its addons path."""

    def __init__(self, odoo, db, run_dir, extra_addons=()):
        self.odoo = odoo
        self.db = check_db_name(db)
        self.run_dir = Path(run_dir)
        self.data_dir = self.run_dir / "data"
        # A folder holding only a link to this repository (the repository is the
        # addon). Outside the repository, or the link would make a loop in it.
        tag = hashlib.sha1(str(self.run_dir.resolve()).encode()).hexdigest()[:10]
        addons_dir = (
            Path(tempfile.gettempdir()) / f"{MODULE}-addons-{os.getuid()}-{tag}"
        )
        addons_dir.mkdir(parents=True, exist_ok=True)
        link = addons_dir / MODULE
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(REPO)
        # The repository's folder last: see addons_dir.
        self.addons_path = ",".join(
            [*odoo.addons, *map(str, extra_addons), str(addons_dir)]
        )
        self.http_port = None

    def base_args(self):
        return [
            "-d",
            self.db,
            f"--addons-path={self.addons_path}",
            f"--data-dir={self.data_dir}",
            "--http-interface",
            HOST,
        ]

    def install(self, log_name="odoo-install", modules=MODULE, demo=True):
        """Create the database with the addon and demo data; raise on failure."""
        log = self.run_dir / f"{log_name}.log"
        cmd = self.odoo.command(
            *self.base_args(),
            "-i",
            modules,
            *(["--with-demo"] if demo else []),
            "--stop-after-init",
            f"--http-port={free_port()}",
            f"--gevent-port={free_port()}",
            "--workers=0",
            "--max-cron-threads=0",
            f"--logfile={log}",
        )
        result = run(cmd, timeout=3600)
        text = log.read_text(errors="replace") if log.exists() else ""
        errors = [
            line
            for line in text.splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]
        if result.returncode != 0 or errors or not database_exists(self.db):
            raise HarnessError(
                f"installing {MODULE} in {self.db} failed (log {log}):\n"
                + (result.stderr.strip() or log_tail(log))
            )
        return log

    def shell(self, script, log_name="odoo-shell", timeout=3600):
        """Run a script in `odoo-bin shell`; return the object it prints.

        The script ends by printing RESULT_MARK + JSON on stdout.
        """
        log = self.run_dir / f"{log_name}.log"
        cmd = self.odoo.command(
            *self.base_args(),
            "--no-http",
            "--workers=0",
            "--max-cron-threads=0",
            f"--logfile={log}",
            sub="shell",
        )
        result = run(cmd, input=script, timeout=timeout)
        for line in reversed(result.stdout.splitlines()):
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise HarnessError(
            f"odoo-bin shell failed (log {log}):\n"
            + "\n".join((result.stdout + result.stderr).strip().splitlines()[-40:])
        )

    @property
    def addons_dir(self):
        """The folder of the addons path that holds the link to this repository."""
        return Path(self.addons_path.rsplit(",", 1)[-1])

    def start_server(
        self, http_port, workers=0, cron_threads=3, extra=(), name="odoo", env=None
    ):
        """Start the HTTP server with cron threads/workers; wait until it answers.

        `name` names the service and its log (<name>-server.log): a second server
        on the same database gets another name. `env`: variables added to this
        process's environment (e.g. ODOO_QUEUE_JOB_CHANNELS).
        """
        self.http_port = http_port
        log = self.run_dir / f"{name}-server.log"
        cmd = self.odoo.command(
            # -d alone (no --db-filter) makes a mono-database server: with a filter,
            # every request without a session (webhooks) lists the databases over a
            # new PostgreSQL connection.
            *self.base_args(),
            f"--http-port={http_port}",
            f"--gevent-port={free_port()}",
            f"--workers={workers}",
            f"--max-cron-threads={cron_threads}",
            f"--logfile={log}",
            *extra,
        )
        # Odoo's threaded server reloads itself (a request past limit_time_real)
        # by exec'ing the basename of its interpreter ("python"), looked up on
        # PATH: put the interpreter's own folder first, or a virtualenv's Odoo
        # comes back as the system Python without its packages and dies.
        interpreter = cmd[0] if os.path.basename(cmd[0]).startswith("python") else ""
        interpreter_dir = os.path.dirname(interpreter)
        path = os.pathsep.join(
            p for p in (interpreter_dir, os.environ.get("PATH", "")) if p
        )
        service = spawn(
            self.run_dir, name, cmd, env={**os.environ, **(env or {}), "PATH": path}
        )
        health = f"{self.url}/web/health"
        with contextlib.suppress(HarnessError):
            wait_until(lambda: http_ok(health) or not service.alive(), 180, 0.2, "Odoo")
        if not service.alive() or not http_ok(health):
            raise HarnessError(f"Odoo did not start (log {log}):\n{log_tail(log)}")
        return service

    @property
    def url(self):
        return f"http://{HOST}:{self.http_port}"


def add_executor_option(parser):
    """--executor of the scripts that start Odoo (demo, chaos, benchmark)."""
    parser.add_argument(
        "--executor",
        choices=("cron", "queue_job"),
        default="cron",
        help="what runs events and exchanges: Odoo's scheduler (default) or OCA "
        "queue_job (needs odoo-addon-queue-job in Odoo's Python)",
    )


def notify_crons(db):
    """Wake Odoo's cron workers for db now (what ir.cron._trigger does on commit)."""
    psql_value(f"SELECT pg_notify('cron_trigger', '{check_db_name(db)}')")


# Run in `odoo-bin shell`: point the demo backend at the simulator and the broker,
# and issue an API key for the admin user. `main` gets its parameters as a dict.
CONFIGURE_SCRIPT = """
def main(env, params):
    backend = env.ref("mrp_pico_mes.pico_backend_demo")
    backend.write({
        "endpoint_url": params["endpoint_url"],
        "api_token": params["api_token"],
        "webhook_base_url": params["odoo_url"],
        "mqtt_host": params["mqtt_host"],
        "mqtt_port": params["mqtt_port"],
        "mqtt_topic_prefix": params["mqtt_prefix"],
        "mqtt_enabled": params["mqtt_enabled"],
        "executor": params.get("executor", "cron"),
    })
    icp = env["ir.config_parameter"].sudo()
    icp.set_param("web.base.url", params["odoo_url"])
    icp.set_param("web.base.url.freeze", "True")
    admin = env.ref("base.user_admin")
    key = env["res.users.apikeys"].with_user(admin).sudo()._generate(
        "rpc", params["key_name"], None
    )
    env.cr.commit()
    return {
        "backend_id": backend.id,
        "api_key": key,
        "webhook_completion_url": backend.webhook_completion_url,
    }
"""


def shell_call(script, params, function="main"):
    """A shell script that runs `function(env, params)` and prints its JSON result.

    The script may `import harness` (dev/ is put first on its sys.path).
    """
    return (
        f"import sys as _sys\n_sys.path.insert(0, {str(DEV)!r})\n"
        f"{script}\n"
        "import json as _json\n"
        f"_result = {function}(env, _json.loads({json.dumps(params)!r}))\n"
        f"print({RESULT_MARK!r} + _json.dumps(_result, default=str))\n"
    )


class Json2:
    """Odoo 19's external JSON-2 API: POST /json/2/<model>/<method>, bearer API key."""

    def __init__(self, base_url, db, api_key, timeout=120.0):
        self.base_url = base_url.rstrip("/")
        self.db = db
        self.api_key = api_key
        self.timeout = timeout

    def __call__(self, model, method, ids=None, context=None, **kwargs):
        body = dict(kwargs)
        if ids is not None:
            body["ids"] = list(ids)
        if context:
            body["context"] = context
        status, result = http_json(
            f"{self.base_url}/json/2/{model}/{method}",
            body,
            headers={
                "Authorization": f"bearer {self.api_key}",
                "X-Odoo-Database": self.db,
            },
            timeout=self.timeout,
        )
        if status != 200:
            message = result.get("message") if isinstance(result, dict) else result
            raise HarnessError(f"{model}.{method}: HTTP {status}: {message}")
        return result

    def xmlid(self, module, name):
        """The record id of module.name."""
        rows = self(
            "ir.model.data",
            "search_read",
            domain=[("module", "=", module), ("name", "=", name)],
            fields=["res_id"],
            limit=1,
        )
        if not rows:
            raise HarnessError(f"no record {module}.{name}")
        return rows[0]["res_id"]


def machine_info():
    """CPU model, cores and RAM of this machine."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram_gib}
