"""Against the server: its start, confirm -> order in Pico, completion -> MO done
by webhook and over MQTT, confirm -> all orders in Pico by MO size."""

import time

import harness as h

from .state import PREFIX, RUN_DIR, UNSUBSCRIBE


def start_server(bench):
    args = bench.args
    with bench.progress.step(
        f"Starting Odoo --workers={args.workers} --max-cron-threads={args.cron_threads}"
    ) as note:
        bench.run.start_server(
            bench.port,
            workers=args.workers,
            cron_threads=args.cron_threads,
            **bench.job_engine(args.workers),
        )
        bench.api = h.Json2(bench.url, bench.db, bench.api_key)
        answer = bench.api(
            "pico.backend", "action_register_webhooks", ids=[bench.backend_id]
        )
        if answer.get("params", {}).get("type") != "success":
            raise h.HarnessError(f"webhook registration: {answer}")
        bench.connect()
        # The in-process MOs queued their orders: let the sender empty the outbox.
        bench.wait_outbox_empty(180)
        note["text"] = bench.url


def confirm_to_pico(bench):
    count = 2 * bench.args.latency_runs
    with bench.progress.step(f"Confirm -> order in Pico ({count} MOs)") as note:
        latencies, bench.released = [], []
        for _number in range(count):
            mo_id, external_id = bench.widget_mo()
            bench.api("mrp.production", "action_confirm", ids=[mo_id])
            confirmed = time.perf_counter()

            def in_pico(external_id=external_id):
                for order in bench.sim_orders():
                    if order["externalOrderId"] == external_id:
                        return time.perf_counter()
                return None

            seen = h.wait_until(in_pico, 60, 0.005, f"{external_id} in Pico")
            latencies.append((seen - confirmed) * 1000)
            bench.released.append((mo_id, external_id))
        bench.results["confirm_to_pico_ms"] = h.summary(latencies)
        note["text"] = f"p50 {h.percentile(latencies, 50):.0f} ms"


def complete(bench, mo_id, external_id, serial):
    """Complete a unit in the simulator; (ms to event stored, ms to MO done)."""
    started = time.perf_counter()
    bench.complete_in_pico(external_id, serial)
    stored = h.wait_until(
        lambda: (
            bench.sql(
                "SELECT 1 FROM pico_event WHERE external_order_id = %s "
                "AND event_type = 'completion'",
                (external_id,),
            )[0]
            and time.perf_counter()
        ),
        60,
        0.002,
        f"the completion of {external_id} stored",
    )
    done = h.wait_until(
        lambda: (
            bench.sql(
                "SELECT state = 'done' FROM mrp_production WHERE id = %s", (mo_id,)
            )[0]
            and time.perf_counter()
        ),
        60,
        0.005,
        f"{external_id} done",
    )
    source = bench.sql(
        "SELECT source FROM pico_event WHERE external_order_id = %s", (external_id,)
    )[0]
    return (stored - started) * 1000, (done - started) * 1000, source


def completions(bench, door, batch):
    stored_ms, done_ms, sources = [], [], []
    for mo_id, external_id in batch:
        serial = f"BW-{door}-{mo_id}"
        stored, done, source = complete(bench, mo_id, external_id, serial)
        stored_ms.append(stored)
        done_ms.append(done)
        sources.append(source)
    if set(sources) != {door}:
        raise h.HarnessError(f"{door} phase: events came by {set(sources)}")
    bench.results[f"{door}_completion"] = {
        "to_event_stored_ms": h.summary(stored_ms),
        "to_mo_done_ms": h.summary(done_ms),
    }
    return h.percentile(done_ms, 95)


def webhook_completions(bench):
    batch = bench.released[: bench.args.latency_runs]
    with bench.progress.step(
        f"Completion -> MO done by webhook ({len(batch)})"
    ) as note:
        p95 = completions(bench, "webhook", batch)
        note["text"] = f"p95 {p95:.0f} ms"


def mqtt_completions(bench):
    batch = bench.released[bench.args.latency_runs :]
    with bench.progress.step(
        f"Completion -> MO done over MQTT ({len(batch)}; webhook unsubscribed)"
    ) as note:
        for record in bench.sim.subscriptions():
            if record["webhookUrl"].endswith("/completion"):
                bench.sim.graphql(UNSUBSCRIBE, {"id": record["subscriptionId"]})
        since = h.broker_log_size(RUN_DIR)
        bench.set_backend(mqtt_enabled=True)
        bench.api("pico.backend", "action_mqtt_receive_now", ids=[bench.backend_id])
        h.wait_for_subscriber(RUN_DIR, PREFIX, since, timeout=120)
        p95 = completions(bench, "mqtt", batch)
        note["text"] = f"p95 {p95:.0f} ms"


def orders_curve(bench):
    """Confirm -> all orders in Pico, by MO size."""
    sizes = bench.args.sizes
    with bench.progress.step(
        f"Confirm -> all orders in Pico, MOs of {sizes} units"
    ) as note:
        product, bom = bench.widget()
        out = {str(size): _all_orders(bench, product, bom, size) for size in sizes}
        bench.results["orders_curve"] = out
        big = out[str(sizes[-1])]
        note["text"] = (
            f"{sizes[-1]} units: {big['to_all_in_pico_ms'] / 1000:.1f} s "
            f"({big['per_order_ms']:.1f} ms per order)"
        )


def _all_orders(bench, product, bom, size):
    """Confirm an MO of `size` units; how long until Pico has all its orders."""
    [mo_id] = bench.api(
        "mrp.production",
        "create",
        vals_list=[{"product_id": product, "bom_id": bom, "product_qty": size}],
    )
    [row] = bench.api("mrp.production", "read", ids=[mo_id], fields=["name"])
    external_id = f"{row['name']}#{mo_id}"
    started = time.perf_counter()
    bench.api("mrp.production", "action_confirm", ids=[mo_id])
    confirmed = time.perf_counter()

    def all_in():
        orders = bench.sim_orders()
        got = sum(o["externalOrderId"] == external_id for o in orders)
        return time.perf_counter() if got >= size else None

    seen = h.wait_until(all_in, 300, 0.02, f"{size} orders in Pico")
    return {
        "confirm_call_ms": (confirmed - started) * 1000,
        "to_all_in_pico_ms": (seen - confirmed) * 1000,
        "per_order_ms": (seen - confirmed) * 1000 / size,
    }
