"""Draining stored completions with 1, 2, 4 workers and with two servers."""

import time

import harness as h

# (label, workers per server) of each configuration, by executor. The job engine
# runs jobs in HTTP workers: the channel's capacity and the workers per server
# are the entry's number.
CONFIGS = {
    "cron": [
        ("1 cron worker", (1,)),
        ("2 cron workers", (2,)),
        ("4 cron workers", (4,)),
        ("2 servers x 2 cron workers", (2, 2)),
    ],
    "queue_job": [
        ("1 job worker", (1,)),
        ("2 job workers", (2,)),
        ("4 job workers", (4,)),
        ("2 servers x 2 job workers", (2, 2)),
    ],
}


def drain(bench):
    configs = CONFIGS[bench.args.executor]
    count = bench.args.drain
    with bench.progress.step(
        f"Drain {count} stored completions ({bench.args.executor}): "
        + ", ".join(label for label, _servers in configs)
    ) as note:
        # Webhooks again, and no MQTT subscriber holding a cron worker.
        bench.set_backend(mqtt_enabled=False)
        bench.api("pico.backend", "action_register_webhooks", ids=[bench.backend_id])
        orders = _released_orders(bench, count * len(configs))
        crons = bench.processor_crons()
        out = {}
        for number, (label, servers) in enumerate(configs):
            batch = orders[number * count : (number + 1) * count]
            out[label] = Drain(bench, crons, batch, f"D{number}").run(servers)
        bench.results["drain"] = out
        bench.results["drain_executor"] = bench.args.executor
        note["text"] = ", ".join(
            f"{label}: {r['per_s']:.1f}/s" for label, r in out.items()
        )


def _released_orders(bench, count):
    """`count` one-unit MOs of one product and BOM (every MO consumes the same
    components), confirmed and in Pico; [(MO id, external order id)]."""
    product, bom = bench.widget()
    mo_ids = bench.api(
        "mrp.production",
        "create",
        vals_list=[
            {"product_id": product, "bom_id": bom, "product_qty": 1}
            for _n in range(count)
        ],
    )
    bench.api("mrp.production", "action_confirm", ids=mo_ids)
    rows = bench.api("mrp.production", "read", ids=mo_ids, fields=["name"])
    orders = [(row["id"], f"{row['name']}#{row['id']}") for row in rows]
    bench.wait_outbox_empty()
    return orders


class Drain:
    """One configuration: store completions of `batch` with the processor off,
    then time the drain.

    Scheduler: the processor's cron slots are off while the completions are
    stored, then switched on and triggered. Job engine: the backend is on the
    scheduler (slots off) while they are stored, then switched to the engine,
    which hands it every stored event as a job at once.
    """

    def __init__(self, bench, crons, batch, tag):
        self.bench = bench
        self.crons = crons
        self.batch = batch
        self.tag = tag
        self.engine = bench.args.executor == "queue_job"
        self.mo_ids = tuple(m for m, _e in batch)
        self.external_ids = tuple(e for _m, e in batch)

    def run(self, servers):
        bench = self.bench
        self.store()
        bench.restart_servers(servers)
        started = self.start()
        bench.wait_sql(
            "SELECT count(*) FROM mrp_production WHERE id IN %s AND state = 'done'",
            (self.mo_ids,),
            len(self.batch),
            600,
            0.05,
            "the completions drained",
        )
        wall = time.perf_counter() - started
        doubles, events = self.books()
        if self.engine:
            self.crons_active(True)
        return {
            "servers": list(servers),
            "completions": len(self.batch),
            "wall_s": wall,
            "per_s": len(self.batch) / wall,
            "doubles": doubles,
            "events_done": events,
        }

    def crons_active(self, active):
        self.bench.sql(
            "UPDATE ir_cron SET active = %s WHERE id IN %s RETURNING id",
            (active, self.crons),
        )

    def store(self):
        """The batch's completions stored, nothing applying them."""
        bench = self.bench
        self.crons_active(False)
        if self.engine:
            bench.set_backend(executor="cron")
        bench.restart_servers((2,), runner=False)
        for mo_id, external_id in self.batch:
            bench.complete_in_pico(external_id, f"BD-{self.tag}-{mo_id}")
        bench.wait_sql(
            "SELECT count(*) FROM pico_event WHERE event_type = 'completion' "
            "AND external_order_id IN %s",
            (self.external_ids,),
            len(self.batch),
            120,
            0.05,
            "the drain's completions stored",
        )

    def start(self):
        """Let the executor loose on the stored events; when it was."""
        bench = self.bench
        if self.engine:
            # The runner starts a few seconds after its server: let it be ready.
            time.sleep(5)
            started = time.perf_counter()
            bench.set_backend(executor="queue_job")
            return started
        started = time.perf_counter()
        self.crons_active(True)
        bench.sql(
            "INSERT INTO ir_cron_trigger (cron_id, call_at) "
            "VALUES (%s, now() AT TIME ZONE 'UTC') RETURNING id",
            (self.crons[0],),
        )
        h.notify_crons(bench.db)
        return started

    def books(self):
        """(doubles, events done): every serial in stock exactly once, every MO
        made one."""
        bench = self.bench
        doubles = bench.sql(
            "SELECT count(*) FROM (SELECT l.id FROM stock_lot l "
            "JOIN stock_quant q ON q.lot_id = l.id "
            "JOIN stock_location s ON s.id = q.location_id AND s.usage = 'internal' "
            "WHERE l.name LIKE %s GROUP BY l.id HAVING sum(q.quantity) <> 1) x",
            (f"BD-{self.tag}-%",),
        )[0]
        produced = bench.sql(
            "SELECT coalesce(sum(l.quantity), 0) FROM stock_move_line l "
            "JOIN stock_move m ON m.id = l.move_id "
            "WHERE m.production_id IN %s AND m.state = 'done'",
            (self.mo_ids,),
        )[0]
        events = bench.sql(
            "SELECT count(*) FROM pico_event WHERE external_order_id IN %s "
            "AND state = 'done'",
            (self.external_ids,),
        )[0]
        return doubles + abs(float(produced) - len(self.batch)), events
