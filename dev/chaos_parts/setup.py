"""The chaos run's set-up: a fresh database, Mosquitto, the simulator, the proxy,
the install, the MOs and their stock, then the two nodes."""

import os

import harness as h

from . import faults
from .nodes import JOB_ENGINE_CHANNELS, JOB_ENGINE_WORKERS, FailoverApi, Node
from .state import PREFIX, RUN_DIR

# Pico reports the threadlocker lot too (a third consumed serial).
DRONE_SERIALS = [
    {"id": "attr-motor", "externalId": "MOTOR-220", "label": "Motor serial"},
    {"id": "attr-fc", "externalId": "FC-330", "label": "Flight controller serial"},
    {"id": "attr-glue", "externalId": "CHAOS-GLUE", "label": "Threadlocker lot"},
]


def plan_orders(chaos):
    """MO quantities (1 to 20, about 6.7 on average) summing to the target."""
    quantities, left = [], chaos.args.completions
    while left > 0:
        qty = min(20, max(1, int(chaos.random.expovariate(1 / 5.7)) + 1), left)
        quantities.append(qty)
        left -= qty
    count = len(quantities)
    unreleased = set(chaos.random.sample(range(count), max(1, count // 30)))
    big = [i for i, q in enumerate(quantities) if q >= 6 and i not in unreleased]
    chaos.random.shuffle(big)
    share = max(1, count // 50)
    chaos.cancel_plan = set(big[:share])
    chaos.reduce_plan = set(big[share : 2 * share])
    return quantities, unreleased


def setup(chaos):
    step = chaos.progress.step
    args = chaos.args
    with step("Finding Odoo 19") as note:
        chaos.odoo = h.find_odoo()
        note["text"] = f"Odoo {chaos.odoo.version} ({chaos.odoo.found_by})"
    with step(f"Fresh database {chaos.db}, Mosquitto, simulator, proxy") as note:
        h.ensure_postgres()
        h.fresh_database(chaos.db, RUN_DIR)
        start_services(chaos)
        note["text"] = (
            f"broker :{chaos.mqtt_port}, simulator {chaos.sim.base_url}, "
            f"proxy {chaos.proxy_url}"
        )
    chaos.run = h.OdooRun(chaos.odoo, chaos.db, RUN_DIR)
    chaos.nodes = [Node(chaos, "odoo-a"), Node(chaos, "odoo-b")]
    with step(f"Installing {h.MODULE} with demo data") as note:
        note["text"] = install(chaos)
    quantities, unreleased = plan_orders(chaos)
    with step(
        f"Creating {len(quantities)} MOs for {args.completions} units, stock"
    ) as note:
        create_orders(chaos, quantities, unreleased)
        note["text"] = (
            f"{len(unreleased)} left unreleased, {len(chaos.cancel_plan)} to "
            f"cancel, {len(chaos.reduce_plan)} to reduce"
        )
    chaos.connect()
    chaos.initial_stock = chaos.stock()
    with step("Starting two Odoo nodes on the database") as note:
        start_nodes(chaos)
        note["text"] = ", ".join(f"{n.name} {n.url}" for n in chaos.nodes)
    machine(chaos)


def start_services(chaos):
    """Mosquitto, the simulator (with the run's delivery settings), the proxy."""
    chaos.mqtt_service, chaos.mqtt_port = h.start_mosquitto(RUN_DIR, port=h.free_port())
    python = h.find_simulator_python(chaos.odoo)
    _service, chaos.sim = h.start_simulator(python, RUN_DIR, port=h.free_port())
    # One delivery thread in Pico: give slow nodes time, retry a while.
    chaos.sim.control("config", {"webhook_timeout": 30, "webhook_max_tries": 8})
    chaos.sim.control(
        "operations", {"id": "op-drone", "consumedSerials": DRONE_SERIALS}
    )
    chaos.proxy_url = chaos.proxy.start()


def install(chaos):
    """The addon with its demo data (or a copy of --template); what was done."""
    template = chaos.args.template
    if template and h.database_exists(template):
        # Development shortcut: a copy of an earlier run's fresh install.
        h.run(["createdb", "-T", template, chaos.db], check=True)
        return f"copied from {template}"
    modules = h.MODULE
    if chaos.args.executor == "queue_job":
        modules += ",queue_job"
    chaos.run.install(modules=modules)
    if template:
        h.run(["createdb", "-T", chaos.db, template], check=True)
    return "ok"


def create_orders(chaos, quantities, unreleased):
    """The MOs, their stock and the backend, by dev/chaos_odoo.py."""
    args = chaos.args
    params = {
        "endpoint_url": chaos.sim.graphql_url,
        "api_token": chaos.sim.token,
        "proxy_url": chaos.proxy_url,
        "odoo_url": chaos.nodes[0].url,
        "mqtt_host": h.HOST,
        "mqtt_port": chaos.mqtt_port,
        "mqtt_prefix": PREFIX,
        "units": args.completions,
        "spare_serials": 20,
        "glue_lots": 3,
        "quantities": quantities,
        "unreleased": sorted(unreleased),
        "executor": args.executor,
    }
    script = (h.DEV / "chaos_odoo.py").read_text()
    chaos.facts = chaos.run.shell(
        h.shell_call(script, params, "setup"), log_name="chaos-setup"
    )


def start_nodes(chaos):
    """Both nodes, Pico's faults on from the start, webhooks registered."""
    # The orders of the confirmed MOs are sent as soon as the nodes run.
    faults.set_graphql_faults(chaos, True)
    for node in chaos.nodes:
        node.start()
    chaos.api = FailoverApi(
        [h.Json2(n.url, chaos.db, chaos.facts["api_key"]) for n in chaos.nodes]
    )
    for _try in range(20):
        answer = chaos.api(
            "pico.backend",
            "action_register_webhooks",
            ids=[chaos.facts["backend_id"]],
        )
        if answer.get("params", {}).get("type") == "success":
            break
        chaos.counts.add("webhook registrations refused by Pico faults")
    else:
        raise h.HarnessError(f"webhook registration: {answer}")
    h.wait_for_subscriber(RUN_DIR, PREFIX, timeout=120)


def machine(chaos):
    info = h.machine_info()
    job_engine = chaos.args.executor == "queue_job"
    info.update(
        postgresql=h.postgres_version(),
        odoo=chaos.odoo.version,
        load_average_at_start=list(os.getloadavg()),
        cron_threads_per_node=chaos.args.cron_threads,
        workers_per_node=JOB_ENGINE_WORKERS if job_engine else 0,
        job_channels=JOB_ENGINE_CHANNELS if job_engine else None,
    )
    chaos.results["machine"] = info
