"""The chaos run's production day: units completed in Pico at the run's rate and
delivered as planned (webhook, duplicated, lost, or MQTT), planner changes, MOs
released late, and the faults injected on the way."""

import collections
import contextlib
import functools
import json
import os
import queue
import threading
import time

import harness as h
import paho.mqtt.client as mqtt

from . import faults
from .state import PREFIX


def jobs(chaos):
    """Unit completions in the order Pico will report them."""
    productions = chaos.facts["productions"]
    queues = [
        [(mo_index, index) for index in range(mo["qty"])]
        for mo_index, mo in enumerate(productions)
    ]
    for units in queues:
        # 5 % out of order: a unit completed before the one ahead of it.
        for position in range(len(units) - 1):
            if chaos.random.random() < chaos.args.out_of_order:
                units[position], units[position + 1] = (
                    units[position + 1],
                    units[position],
                )
                chaos.counts.add("completions out of order")
    order = []
    active = list(range(len(queues)))
    while active:
        # A floor builds several orders at once: interleave a few at a time.
        window = active[:6]
        pick = chaos.random.choice(window)
        order.append(queues[pick].pop(0))
        if not queues[pick]:
            active.remove(pick)
    return order


def route(chaos):
    """A delivery plan for one completion."""
    r = chaos.random.random
    if r() < chaos.args.mqtt_share:
        return {"door": "mqtt"}
    plan = {"door": "webhook"}
    if r() < chaos.args.lost:
        plan["lost"] = True
    elif r() < chaos.args.duplicates:
        plan["duplicate"] = "concurrent" if r() < 0.5 else "sequential"
    return plan


def complete(chaos, mo, index):
    """Complete one unit in Pico; deliver it as planned."""
    facts = chaos.facts
    external_id = chaos.external_id(mo)
    serial_no = len(chaos.completed)
    plan = route(chaos)
    chaos.proxy.plan((external_id, index), plan)
    body = {
        "externalOrderId": external_id,
        "orderIndex": index,
        "producedSerial": f"CH-DRONE-{mo['id']}-{index:02d}",
        "consumedSerials": [
            {
                "externalId": facts["codes"]["motor"],
                "value": facts["motors"][serial_no],
            },
            {
                "externalId": facts["codes"]["controller"],
                "value": facts["controllers"][serial_no],
            },
            {
                "externalId": facts["codes"]["glue"],
                "value": facts["glue_lots"][serial_no % 3],
            },
        ],
        "operator": f"Operator {serial_no % 7}",
        "station": f"Line {serial_no % 3 + 1}",
    }
    if not mo["released"]:
        # Pico completes an order Odoo has not released yet (forced).
        body["operationId"] = facts["operation"]
    try:
        completion = chaos.sim.complete(**body)
    except h.HarnessError as exc:
        if "NOT_FOUND" not in str(exc):
            raise
        # Odoo's save of this order has not reached Pico yet (GraphQL faults):
        # the operator cannot build it before.
        chaos.proxy.plan((external_id, index), None)
        chaos.counts.add("completions waiting for the order in Pico")
        return False
    chaos.completed[(external_id, index)] = completion
    chaos.counts.add("completions sent")
    if plan["door"] == "mqtt":
        publish(chaos, completion)
    return True


def publish(chaos, completion):
    """Publish one completion over MQTT at QoS 1 (again until the broker has it)."""
    payload = json.dumps(completion)
    chaos.counts.add("MQTT completions")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            info = chaos.mqtt_client.publish(f"{PREFIX}/completion", payload, qos=1)
            info.wait_for_publish(5)
            if info.is_published():
                return
        except (RuntimeError, ValueError) as exc:
            # Not connected: paho reconnects, and the message goes again.
            chaos.counts.add(f"MQTT publishes repeated ({type(exc).__name__})")
            time.sleep(1)
            continue
        chaos.counts.add("MQTT publishes repeated (broker away)")
        time.sleep(1)
    raise h.HarnessError("the broker did not take a completion for 2 minutes")


def start_mqtt(chaos):
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"chaos-{os.getpid()}"
    )
    client.reconnect_delay_set(0.2, 2)
    client.connect(h.HOST, chaos.mqtt_port, keepalive=30)
    client.loop_start()
    chaos.mqtt_client = client


def open_production(chaos, mo):
    """The MO of an order chain still open (the current backorder), or None."""
    rows = chaos.sql(
        """
        SELECT DISTINCT p.id FROM mrp_production p
          JOIN pico_work_order u ON u.production_id = p.id
         WHERE u.external_order_id = %s AND p.state NOT IN ('done', 'cancel')
        """,
        (chaos.external_id(mo),),
    )
    return rows[0][0] if rows else None


def applied(chaos, mo):
    """Units of the MO whose completion Odoo has applied."""
    return {
        row[0]
        for row in chaos.sql(
            "SELECT order_index FROM pico_work_order "
            "WHERE external_order_id = %s AND state = 'done'",
            (chaos.external_id(mo),),
        )
    }


def planner_change(chaos, mo_index, mo, built):
    """Cancel or reduce the MO once the units built so far are applied.

    Returns False while Odoo has not applied them yet (the change waits, as a
    planner would look at the order first).
    """
    if not built <= applied(chaos, mo):
        return False
    production = open_production(chaos, mo)
    if production is None:
        return True
    external_id = chaos.external_id(mo)
    if mo_index in chaos.cancel_plan:
        chaos.incident("planner change", f"cancel of {external_id}")
        chaos.api("mrp.production", "action_cancel", ids=[production])
        chaos.counts.add("MOs cancelled mid-build")
    else:
        [row] = chaos.api(
            "mrp.production", "read", ids=[production], fields=["product_qty"]
        )
        new_qty = max(1, int(row["product_qty"]) - 2)
        chaos.incident("planner change", f"{external_id} reduced to {new_qty}")
        [wizard] = chaos.api(
            "change.production.qty",
            "create",
            vals_list=[{"mo_id": production, "product_qty": new_qty}],
        )
        chaos.api("change.production.qty", "change_prod_qty", ids=[wizard])
        chaos.counts.add("MOs reduced mid-build")
    withdrawn = chaos.sql(
        "SELECT order_index FROM pico_work_order WHERE external_order_id = %s "
        "AND (cancel_requested OR state = 'cancelled')",
        (external_id,),
    )
    chaos.withdrawn |= {(external_id, row[0]) for row in withdrawn}
    return True


def release_late(chaos, mo):
    chaos.incident("planner change", f"{chaos.external_id(mo)} released late")
    with contextlib.suppress(h.HarnessError):
        chaos.api("mrp.production", "action_confirm", ids=[mo["id"]])
        chaos.counts.add("MOs released after Pico completed units")


class Feed:
    """Complete every planned unit at the run's rate, faults included.

    The faults come at milestones (a share of the units sent), one after the
    other in a thread of their own while the floor goes on; a planner changes
    some MOs after a third of their units; a unit that cannot be built yet
    (order not in Pico, planner change pending) waits in `deferred`.
    """

    def __init__(self, chaos):
        self.chaos = chaos
        self.jobs = jobs(chaos)
        self.total = len(self.jobs)
        self.productions = chaos.facts["productions"]
        total = self.total
        self.milestones = {
            int(total * 0.25): functools.partial(faults.kill_a_node, chaos),
            int(total * 0.40): functools.partial(faults.restart_broker, chaos),
            int(total * 0.55): functools.partial(
                faults.kill_a_node, chaos, "receiving"
            ),
            int(total * 0.70): functools.partial(faults.terminate_connections, chaos),
        }
        # A planner changes some MOs after a third of their units.
        self.gates = {
            mo_index: max(1, self.productions[mo_index]["qty"] // 3)
            for mo_index in chaos.cancel_plan | chaos.reduce_plan
        }
        self.done_per_mo = collections.Counter()
        self.built_per_mo = collections.defaultdict(set)
        self.changed = set()
        self.released_later = set()
        self.deferred = collections.deque()
        self.faults = queue.Queue()
        self.number = 0

    def run(self):
        chaos = self.chaos
        stop_timeouts = threading.Event()
        threading.Thread(
            target=faults.graphql_timeouts, args=(chaos, stop_timeouts), daemon=True
        ).start()
        fault_thread = threading.Thread(target=self.inject, daemon=True)
        fault_thread.start()
        started = time.monotonic()
        with chaos.progress.step(
            f"Feeding {self.total} completions with faults"
        ) as note:
            while self.jobs or self.deferred:
                if self.build(self.next_job()):
                    due = started + self.number / chaos.args.rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    self.say_progress()
            for action in self.milestones.values():
                self.faults.put(action)
            self.faults.put(None)
            fault_thread.join()
            stop_timeouts.set()
            faults.set_graphql_faults(chaos, False)
            chaos.last_fault = time.monotonic()
            note["text"] = f"{self.number} sent in {time.monotonic() - started:.0f} s"

    def inject(self):
        while (action := self.faults.get()) is not None:
            action()

    def next_job(self):
        if self.deferred and (not self.jobs or self.chaos.random.random() < 0.2):
            return self.deferred.popleft()
        return self.jobs.pop(0)

    def defer(self, job):
        self.deferred.append(job)
        time.sleep(0.05)

    def build(self, job):
        """Complete the unit of `job` unless it is withdrawn or must wait; whether
        it was completed."""
        chaos = self.chaos
        mo_index, index = job
        mo = self.productions[mo_index]
        if (chaos.external_id(mo), index) in chaos.withdrawn:
            return False
        if not self.gate_open(job, mo):
            return False
        if not complete(chaos, mo, index):
            self.defer(job)
            return False
        self.done_per_mo[mo_index] += 1
        self.built_per_mo[mo_index].add(index)
        self.number += 1
        if not mo["released"] and mo_index not in self.released_later:
            # Odoo releases it a little after Pico reported a unit.
            self.released_later.add(mo_index)
            threading.Timer(8.0, release_late, args=(chaos, mo)).start()
        action = self.milestones.pop(self.number, None)
        if action:
            # The floor goes on while a node or the broker is down; the faults
            # themselves come one after the other.
            self.faults.put(action)
        return True

    def gate_open(self, job, mo):
        """Whether the unit may be built now: a planner's change of its MO comes
        first once a third of it is built (the unit may be withdrawn by it, or
        wait for it)."""
        chaos = self.chaos
        mo_index, index = job
        if mo_index in self.gates and mo_index not in self.changed:
            if self.done_per_mo[mo_index] < self.gates[mo_index]:
                return True
            if not planner_change(chaos, mo_index, mo, self.built_per_mo[mo_index]):
                self.defer(job)
                return False
            self.changed.add(mo_index)
            return (
                chaos.external_id(mo),
                index,
            ) not in chaos.withdrawn and mo_index not in chaos.cancel_plan
        return not (mo_index in chaos.cancel_plan and mo_index in self.changed)

    def say_progress(self):
        if self.number % 50 == 0:
            self.chaos.progress.info(
                f"{self.number} completions sent, {len(self.deferred)} waiting "
                f"(order not in Pico yet, or planner change), load "
                f"{os.getloadavg()[0]:.1f}"
            )
