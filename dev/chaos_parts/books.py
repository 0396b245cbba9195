"""The end of the chaos run: wait until the queues drain, then check the books
from the database and the simulator."""

import collections
import time


def drained(chaos):
    """(whether nothing is left, (open events, open exchanges, units missing))."""
    events, exchanges = chaos.queues()
    open_events = sum(events.get(s, 0) for s in ("received", "held"))
    open_exchanges = sum(
        exchanges.get(s, 0) for s in ("pending", "sending", "retry_wait")
    )
    expected = set(chaos.completed) - chaos.withdrawn
    built = {
        (ext, idx)
        for ext, idx in chaos.sql(
            "SELECT external_order_id, order_index FROM pico_work_order "
            "WHERE state = 'done'"
        )
    }
    missing = expected - built
    return not open_events and not open_exchanges and not missing, (
        open_events,
        open_exchanges,
        len(missing),
    )


def drain(chaos):
    with chaos.progress.step("Waiting for every queue to drain") as note:
        deadline = time.monotonic() + chaos.args.drain_timeout
        last = 0
        while True:
            ok, (events, exchanges, missing) = drained(chaos)
            if ok:
                break
            if time.monotonic() > deadline:
                note["text"] = (
                    f"NOT drained: {events} events, {exchanges} exchanges "
                    f"open, {missing} units not applied"
                )
                chaos.results["drain_s"] = None
                return
            if time.monotonic() - last > 30:
                last = time.monotonic()
                chaos.progress.info(
                    f"open: {events} events, {exchanges} exchanges, "
                    f"{missing} units not applied yet"
                )
            time.sleep(1)
        took = time.monotonic() - chaos.last_fault
        chaos.results["drain_s"] = took
        note["text"] = f"{took:.0f} s after the last fault"


class Books:
    """The checks of a run: each is (name, ok, detail)."""

    def __init__(self, chaos):
        self.chaos = chaos
        self.products = chaos.facts["products"]
        self.productions = chaos.facts["productions"]
        self.external_ids = tuple(chaos.external_id(mo) for mo in self.productions)
        # Units built in Pico that the run did not withdraw: each once in Odoo.
        self.built = set(chaos.completed) - chaos.withdrawn
        self.stock = chaos.stock()
        self.drone = self.products["drone"]

    def check(self):
        chaos = self.chaos
        checks = [
            self.units_once(),
            self.drone_stock(),
            self.serials_once(),
            self.component_stock(),
            self.per_lot(),
            self.finished_moves(),
            self.orders(),
            self.simulator(),
        ]
        events, exchanges = chaos.queues()
        left = {s: n for s, n in events.items() if s not in ("done",)}
        checks.append(
            ("no event left received/held/failed/dead", not left, str(left or "none"))
        )
        stuck = {s: n for s, n in exchanges.items() if s not in ("done", "cancelled")}
        checks.append(
            ("no exchange left pending/sending/failed", not stuck, str(stuck or "none"))
        )
        chaos.results["events_by_state"] = events
        chaos.results["exchanges_by_state"] = exchanges
        chaos.results["checks"] = [list(c) for c in checks]
        return checks

    def units_once(self):
        chaos, built = self.chaos, self.built
        done_units = collections.Counter(
            (ext, idx)
            for ext, idx in chaos.sql(
                "SELECT external_order_id, order_index FROM pico_work_order "
                "WHERE external_order_id IN %s AND state = 'done'",
                (self.external_ids,),
            )
        )
        lost = sorted(built - set(done_units))
        doubled = sorted(k for k, n in done_units.items() if n > 1)
        unexpected = sorted(set(done_units) - built)
        chaos.results["lost"] = len(lost)
        chaos.results["doubled"] = len(doubled)
        return (
            "every unit built in Pico done once in Odoo",
            not lost and not doubled,
            (
                f"{len(built)} built, {len(lost)} lost, {len(doubled)} doubled, "
                f"{len(unexpected)} done but never built"
            ),
        )

    def _total(self, stock, product_id):
        return sum(q for (p, _l), q in stock.items() if p == product_id)

    def drone_stock(self):
        """Finished product: stock grew by the units built."""
        grown = self._total(self.stock, self.drone) - self._total(
            self.chaos.initial_stock, self.drone
        )
        return (
            "drone stock = units built",
            round(grown) == len(self.built),
            f"+{grown:g} for {len(self.built)} units",
        )

    def serials_once(self):
        serials = {
            completion["endState"]["producedSerial"]
            for key, completion in self.chaos.completed.items()
            if key in self.built
        }
        rows = self.chaos.sql(
            """
            SELECT l.name, count(DISTINCT l.id), coalesce(sum(q.quantity), 0)
              FROM stock_lot l
              LEFT JOIN stock_quant q ON q.lot_id = l.id
              LEFT JOIN stock_location loc ON loc.id = q.location_id
             WHERE l.product_id = %s AND l.name IN %s
               AND (loc.usage = 'internal' OR loc.id IS NULL)
          GROUP BY l.name
            """,
            (self.drone, tuple(serials) or ("",)),
        )
        serial_ok = {name for name, lots, qty in rows if lots == 1 and qty == 1}
        return (
            "each reported serial exists once, in stock",
            serial_ok == serials,
            f"{len(serial_ok)} of {len(serials)}",
        )

    def component_stock(self):
        """Components: initial - BOM x units built, per product."""
        bom = {int(k): v for k, v in self.chaos.facts["bom"].items()}
        detail = []
        ok = True
        for product_id, per_unit in bom.items():
            before = self._total(self.chaos.initial_stock, product_id)
            after = self._total(self.stock, product_id)
            expected = before - per_unit * len(self.built)
            ok &= abs(after - expected) < 1e-6
            detail.append(f"{product_id}: {after:g} (expected {expected:g})")
        return ("component stock = initial - BOM x units", ok, "; ".join(detail))

    def per_lot(self):
        """Per lot/serial: initial - what Pico reported; no negative quant."""
        chaos, stock, products = self.chaos, self.stock, self.products
        reported = collections.Counter()
        for key, completion in chaos.completed.items():
            if key in self.built:
                for entry in completion["operationSummary"]["consumedSerials"] or []:
                    reported[entry["value"]] += 1
        per_lot_ok = True
        tracked = (products["motor"], products["controller"], products["glue"])
        for key in set(stock) | set(chaos.initial_stock):
            product_id, lot = key
            if lot and product_id in tracked:
                want = chaos.initial_stock.get(key, 0) - reported.get(lot, 0)
                per_lot_ok &= abs(stock.get(key, 0) - want) < 1e-6
        negative = [k for k, q in stock.items() if q < -1e-6]
        return (
            "per lot/serial: initial - what Pico reported, no quant < 0",
            per_lot_ok and not negative,
            f"{len(reported)} serials, {len(negative)} negative quants",
        )

    def finished_moves(self):
        """No stock move doubled: one done finished move per unit built."""
        [(finished_moves, finished_qty)] = self.chaos.sql(
            """
            SELECT count(*), coalesce(sum(m.quantity), 0) FROM stock_move m
              JOIN mrp_production p ON p.id = m.production_id
             WHERE p.origin LIKE 'chaos-%%' AND m.state = 'done'
               AND m.product_id = %s
            """,
            (self.drone,),
        )
        return (
            "no finished move doubled",
            finished_qty == len(self.built),
            f"{finished_moves} done moves, {finished_qty:g} units",
        )

    def orders(self):
        """MOs: done or cancelled as planned, backorders consistent."""
        chaos = self.chaos
        chains = self._chains()
        bad = []
        for mo_index, mo in enumerate(self.productions):
            ext = chaos.external_id(mo)
            chain = chains.get(ext, collections.Counter())
            units = sum(1 for key in self.built if key[0] == ext)
            open_mos = sum(
                n for s, n in chain.items() if s not in ("done", "cancel", "produced")
            )
            want_cancel = mo_index in chaos.cancel_plan
            if (
                open_mos
                or round(chain["produced"]) != units
                or (want_cancel and not chain["cancel"])
                or (not want_cancel and chain["cancel"])
            ):
                bad.append(f"{ext} {dict(chain)} for {units} units")
        return (
            "every MO done or cancelled as planned, backorders consistent",
            not bad,
            "; ".join(bad[:5]) or f"{len(self.productions)} orders",
        )

    def _chains(self):
        """{external order id: Counter of its MOs by state, and "produced"}."""
        chaos = self.chaos
        chains = collections.defaultdict(collections.Counter)
        origins = {
            f"chaos-{n:04d}": chaos.external_id(mo)
            for n, mo in enumerate(self.productions)
        }
        for origin, state, qty in chaos.sql(
            """
            SELECT p.origin, p.state, coalesce(sum(m.quantity), 0)
              FROM mrp_production p
              LEFT JOIN stock_move m ON m.production_id = p.id
                   AND m.state = 'done' AND m.product_id = %s
             WHERE p.origin LIKE 'chaos-%%'
          GROUP BY p.id, p.origin, p.state
            """,
            (self.drone,),
        ):
            ext = origins.get(origin)
            chains[ext][state] += 1
            chains[ext]["produced"] += float(qty or 0)
        return chains

    def simulator(self):
        """The simulator: every unit exactly once, every cancel there."""
        chaos = self.chaos
        sim_orders = chaos.sim.orders()
        orders = collections.Counter(
            (o["externalOrderId"], o["operationId"], o["orderIndex"])
            for o in sim_orders
        )
        states = {
            (o["externalOrderId"], o["orderIndex"]): o["state"] for o in sim_orders
        }
        units = chaos.sql(
            "SELECT external_order_id, operation_pico_id, order_index, state, "
            "cancel_requested FROM pico_work_order WHERE external_order_id IN %s",
            (self.external_ids,),
        )
        twice = [k for k, n in orders.items() if n > 1]
        absent = [
            (ext, idx)
            for ext, op, idx, _state, _c in units
            if (ext, op, idx) not in orders and (ext, idx) not in chaos.completed
        ]
        not_cancelled = [
            (ext, idx)
            for ext, _op, idx, state, _cancel in units
            if state == "cancelled" and states.get((ext, idx)) not in ("canceled", None)
        ]
        return (
            "every unit in the simulator once, every cancel reached it",
            not twice and not absent and not not_cancelled,
            (
                f"{len(orders)} orders, {len(twice)} twice, {len(absent)} absent, "
                f"{len(not_cancelled)} cancels missing"
            ),
        )
