"""The demo's set-up: PostgreSQL, the database, Mosquitto, the simulator, the
install, the demo backend, Odoo with its cron threads, the webhooks."""

import harness as h

from .state import DB, PORT, PREFIX, RUN_DIR, WORKERS, M


def setup(demo):
    step = demo.progress.step
    with step("Finding Odoo 19") as note:
        demo.odoo = h.find_odoo()
        note["text"] = f"Odoo {demo.odoo.version} ({demo.odoo.found_by})"
    running = h.running_services(RUN_DIR)
    with step("Checking PostgreSQL") as note:
        note["text"] = h.ensure_postgres()
    with step(f"Preparing database {DB}") as note:
        note["text"] = prepare(demo, running)
    with step("Starting Mosquitto") as note:
        _service, demo.mqtt_port = h.start_mosquitto(RUN_DIR)
        note["text"] = f"{h.HOST}:{demo.mqtt_port}"
    with step("Starting the Pico simulator (python -m simulator)") as note:
        start_simulator(demo)
        note["text"] = (
            f"{demo.sim.graphql_url}, schema {demo.schema_profile}, "
            f"introspection {'on' if demo.introspection else 'off'}"
        )
    demo.odoo_run = h.OdooRun(demo.odoo, DB, RUN_DIR)
    with step(f"Creating {DB}: installing {M} with demo data") as note:
        modules = M if demo.executor == "cron" else f"{M},queue_job"
        log = demo.odoo_run.install(modules=modules)
        note["text"] = f"log {log}"
    odoo_url = f"http://{h.HOST}:{PORT}"
    with step("Pointing the demo backend at the simulator") as note:
        result = configure(demo, odoo_url)
        note["text"] = f"webhooks to {result['webhook_completion_url']}"
    with step(f"Starting Odoo on {odoo_url} ({demo.executor} executor)") as note:
        start_server(demo)
        demo.api = h.Json2(odoo_url, DB, result["api_key"])
        note["text"] = f"log {RUN_DIR / 'odoo-server.log'}"
    with step("Registering the webhooks in the simulator (backend action)") as note:
        note["text"] = register_webhooks(demo)


def prepare(demo, running):
    """A free name for the database and a clean run dir (with --reset, what a
    previous demo left is stopped and dropped); what was done."""
    if running:
        if not demo.reset:
            names = ", ".join(f"{s.name} (pid {s.pid})" for s in running.values())
            raise h.HarnessError(
                f"A demo is already running: {names}. "
                "Stop it with `dev/demo --stop`, or rerun with --reset."
            )
        h.stop_all(RUN_DIR)
    said = "name free"
    if h.database_exists(DB):
        if not demo.reset:
            raise h.HarnessError(
                f"Database {DB} already exists. Rerun with --reset to drop "
                "and recreate it, or set DEMO_DB to another name."
            )
        h.drop_database(DB)
        said = "old one dropped"
    h.clean_run_dir(RUN_DIR)
    if not h.port_free(PORT):
        raise h.HarnessError(f"Port {PORT} is in use; set DEMO_PORT to a free port.")
    return said


def start_simulator(demo):
    python = h.find_simulator_python(demo.odoo)
    _service, demo.sim = h.start_simulator(
        python,
        RUN_DIR,
        mqtt=(h.HOST, demo.mqtt_port, PREFIX),
        work_instructions=True,
        args=[
            "--schema-profile",
            demo.schema_profile,
            "--introspection" if demo.introspection else "--no-introspection",
        ],
    )


def configure(demo, odoo_url):
    """Point the demo backend at the simulator; the configure script's result."""
    params = {
        "endpoint_url": demo.sim.graphql_url,
        "api_token": demo.sim.token,
        "odoo_url": odoo_url,
        "mqtt_host": h.HOST,
        "mqtt_port": demo.mqtt_port,
        "mqtt_prefix": PREFIX,
        # Turned on later: first the webhook door alone, then MQTT.
        "mqtt_enabled": False,
        "key_name": "dev/demo",
        "executor": demo.executor,
    }
    result = demo.odoo_run.shell(h.shell_call(h.CONFIGURE_SCRIPT, params))
    demo.backend_id = result["backend_id"]
    return result


def start_server(demo):
    if demo.executor == "queue_job":
        # The job runner lives in the server's main process (server-wide
        # module) and calls the HTTP workers back on this port.
        demo.odoo_run.start_server(
            PORT,
            workers=max(WORKERS, 2),
            cron_threads=1,
            extra=["--load=base,web,queue_job"],
        )
    else:
        demo.odoo_run.start_server(PORT, workers=WORKERS, cron_threads=3)


def register_webhooks(demo):
    """The backend's Register webhooks button; what Odoo found of Pico's API."""
    answer = demo.backend_action("action_register_webhooks")
    params = answer.get("params", {}) if isinstance(answer, dict) else {}
    if params.get("type") != "success":
        raise h.HarnessError(f"webhook registration: {params.get('message')}")
    [backend] = demo.api(
        "pico.backend",
        "read",
        ids=[demo.backend_id],
        fields=["pico_features_state", "pico_features"],
    )
    found = (backend["pico_features"] or "").split()
    return (
        f"{len(demo.sim.subscriptions())} subscriptions; API features "
        f"{backend['pico_features_state']}: {len(found)} optional field(s)"
    )
