"""The demo's shop floor: MOs released, units built in Pico and closed in Odoo
(by webhook, then over MQTT with the webhook down), shop-floor messages, an
operator's note, the health check."""

import time
from collections import Counter

import harness as h

from .state import BUILDS, BUILT_BY, ORDERS, PREFIX, RUN_DIR, M


# --- Releasing ----------------------------------------------------------------------
def release(demo):
    step = demo.progress.step
    with step("Reading the demo catalogue and component stock") as note:
        read_orders(demo)
        note["text"] = f"{len(demo.component_ids)} components"
    for order in demo.orders.values():
        with step(
            f"Releasing MO {order['label']}: {order['qty']:g} x {order['product']}"
        ) as note:
            release_one(demo, order)
            note["text"] = (
                f"{order['name']} confirmed ({order['confirm_ms']:.0f} ms); "
                f"{order['qty']:g} order(s) in Pico {order['to_pico_ms']:.0f} ms "
                "after the confirm"
            )


def read_orders(demo):
    """The orders' products and BOMs, their components and stock before."""
    api = demo.api
    for label, product, bom, qty in ORDERS:
        product_id = api.xmlid(M, product)
        [row] = api("product.product", "read", ids=[product_id], fields=["name"])
        demo.orders[label] = {
            "label": label,
            "product_id": product_id,
            "product": row["name"],
            "bom_id": api.xmlid(M, bom),
            "qty": qty,
        }
    demo.bom_lines = api(
        "mrp.bom.line",
        "search_read",
        domain=[("bom_id", "in", sorted({o["bom_id"] for o in demo.orders.values()}))],
        fields=["bom_id", "product_id", "product_qty"],
    )
    demo.component_ids = sorted({line["product_id"][0] for line in demo.bom_lines})
    demo.names = {
        line["product_id"][0]: line["product_id"][1] for line in demo.bom_lines
    }
    demo.stock_before = demo.on_hand(demo.component_ids)


def release_one(demo, order):
    """Create and confirm one MO, then wait until Pico holds its orders."""
    api = demo.api
    [mo_id] = api(
        "mrp.production",
        "create",
        vals_list=[
            {
                "product_id": order["product_id"],
                "bom_id": order["bom_id"],
                "product_qty": order["qty"],
            }
        ],
    )
    [row] = api("mrp.production", "read", ids=[mo_id], fields=["name"])
    # externalOrderId is "<MO name>#<MO id>" (core/keys.py).
    external_id = f"{row['name']}#{mo_id}"
    started = time.monotonic()
    api("mrp.production", "action_confirm", ids=[mo_id])
    confirmed = time.monotonic()

    def in_pico():
        orders = demo.sim.orders()
        count = sum(1 for o in orders if o["externalOrderId"] == external_id)
        return time.monotonic() if count >= order["qty"] else None

    seen = h.wait_until(in_pico, 60, 0.005, f"the orders of {row['name']}")
    units = api(
        "pico.work.order",
        "search_read",
        domain=[("production_id", "=", mo_id)],
        fields=["external_order_id"],
    )
    if len(units) != order["qty"] or units[0]["external_order_id"] != external_id:
        raise h.HarnessError(f"{row['name']}: unexpected Pico units {units}")
    order.update(
        mo_id=mo_id,
        name=row["name"],
        external_id=external_id,
        confirm_ms=(confirmed - started) * 1000,
        to_pico_ms=(seen - confirmed) * 1000,
    )


# --- Building -----------------------------------------------------------------------
def build(demo):
    used, serial_numbers = set(), Counter()
    demo.builds = []
    for label, index, door in BUILDS:
        order = demo.orders[label]
        if door == "mqtt" and not demo.mqtt_on:
            turn_mqtt_on(demo)
        text = f"Pico builds {order['external_id']} unit {index}"
        text += " over MQTT (webhook down)" if door == "mqtt" else " (webhook)"
        with demo.progress.step(text) as note:
            code = next(
                (
                    word
                    for word in ("DRONE", "ROVER", "WIDGET")
                    if word.lower() in order["product"].lower()
                ),
                "UNIT",
            )
            serial_numbers[code] += 1
            serial = f"{code}-{serial_numbers[code]:04d}"
            built, consumed = build_one(demo, label, index, door, serial, used)
            demo.builds.append(built)
            parts = ", ".join(c["value"] for c in consumed) or "no serial parts"
            note["text"] = (
                f"{built['mo']} done via {built['door']} in {built['ms']:.0f} ms; "
                f"serial {serial}; {parts}"
            )


def build_one(demo, label, index, door, serial, used):
    """Pico builds one unit with the serials Odoo kitted; wait until Odoo closed
    it. (What was built, the serials consumed.)"""
    order = demo.orders[label]
    unit = demo.unit(order, index)
    consumed = kitted_serials(demo, unit["production_id"][0], used)
    if door == "mqtt":
        # Every delivery attempt of this completion's webhook fails.
        tries = demo.sim.config()["webhook_max_tries"]
        demo.sim.faults(webhook_fail_next=tries)
    operator, station, minutes = BUILT_BY[label, index]
    started = time.monotonic()
    demo.sim.complete(
        externalOrderId=order["external_id"],
        orderIndex=index,
        producedSerial=serial,
        consumedSerials=consumed,
        operator=operator,
        station=station,
        cycleTime=round(minutes * 60000),
    )
    done = h.wait_until(
        lambda: closed(demo, order, index),
        60,
        0.02,
        f"Odoo to close unit {index} of {order['name']}",
    )
    elapsed = (time.monotonic() - started) * 1000
    event = demo.api(
        "pico.event",
        "search_read",
        domain=[*demo.of_unit(order, index), ("event_type", "=", "completion")],
        fields=["source", "state"],
    )[0]
    if event["source"] != door:
        raise h.HarnessError(f"the completion came by {event['source']}, not {door}")
    built = {
        "label": label,
        "index": index,
        "door": event["source"],
        "ms": elapsed,
        "mo": done["name"],
        "serial": serial,
        "external_id": order["external_id"],
    }
    return built, consumed


def kitted_serials(demo, production_id, used):
    """Component serials Odoo reserved for the order: what the operator scans."""
    lines = demo.api(
        "stock.move.line",
        "search_read",
        domain=[
            ("move_id.raw_material_production_id", "=", production_id),
            ("lot_id", "!=", False),
        ],
        fields=["product_id", "lot_id"],
    )
    codes = {
        row["id"]: row["default_code"]
        for row in demo.api(
            "product.product",
            "read",
            ids=sorted({line["product_id"][0] for line in lines}),
            fields=["default_code"],
        )
    }
    serials = {}
    for line in lines:
        code, lot = codes[line["product_id"][0]], line["lot_id"][1]
        if code not in serials and lot not in used:
            serials[code] = lot
            used.add(lot)
    return [{"externalId": code, "value": lot} for code, lot in serials.items()]


def closed(demo, order, index):
    unit = demo.unit(order, index)
    if unit["state"] != "done":
        return None
    [production] = demo.api(
        "mrp.production",
        "read",
        ids=[unit["production_id"][0]],
        fields=["name", "state"],
    )
    return production if production["state"] == "done" else None


def turn_mqtt_on(demo):
    with demo.progress.step("Turning MQTT on; waiting for Odoo's subscriber") as note:
        since = h.broker_log_size(RUN_DIR)
        demo.set_backend(mqtt_enabled=True)
        demo.backend_action("action_mqtt_receive_now")
        client = h.wait_for_subscriber(RUN_DIR, PREFIX, since, timeout=120)
        note["text"] = f"{client} subscribed to {PREFIX}/#"
    demo.mqtt_on = True


# --- The shop floor -----------------------------------------------------------------
def shop_floor(demo):
    """A failed inspection, a scrapped unit and a garbled station message."""
    drone = next(b for b in demo.builds if (b["label"], b["index"]) == ("C", 0))
    widget = next(b for b in demo.builds if (b["label"], b["index"]) == ("E", 1))
    # Quality stations stamp to the millisecond (the schema asks for it).
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    with demo.progress.step(
        "Shop floor over MQTT: a failed inspection, a scrap, a bad message"
    ) as note:
        rows = publish_and_settle(demo, floor_messages(drone, widget, now))
        note["text"] = ", ".join(
            f"{row['event_type']} {row['state']}" for row in reversed(rows)
        )
    operator_note(demo, drone, now)
    with demo.progress.step("Checking clock skew and integration health") as note:
        demo.backend_action("action_pico_check_health")
        [row] = demo.api(
            "pico.backend",
            "read",
            ids=[demo.backend_id],
            fields=["health_status", "clock_skew_ms", "health_reasons"],
        )
        note["text"] = (
            f"{row['health_status']}, skew {row['clock_skew_ms']:.0f} ms"
            + (f": {row['health_reasons']}" if row["health_reasons"] else "")
        ).replace("\n", "; ")


def floor_messages(drone, widget, now):
    """(kind, payload) of the shop floor's messages."""
    return [
        (
            "quality",
            {
                "serial": drone["serial"],
                "partNumber": "DRONE-100",
                "timestamp": now,
                "result": "fail",
                "defectClass": "SCRATCH",
                "defectLocation": "left arm",
                "station": "QC 1",
            },
        ),
        (
            "scrap",
            {
                "externalOrderId": widget["external_id"],
                "orderIndex": widget["index"],
                "partNumber": "WIDGET-1",
                "serial": widget["serial"],
                "quantity": 1,
                "reasonCode": "DROP",
                "at": now,
            },
        ),
        # A station sends a scrap without its quantity: refused, kept visible.
        ("scrap", {"partNumber": "WIDGET-1", "reasonCode": "DROP", "at": now}),
    ]


def publish_and_settle(demo, messages):
    """Publish the messages on the broker; the events once Odoo handled them."""
    since = demo.api("pico.event", "search_count", domain=[("source", "=", "mqtt")])
    for kind, payload in messages:
        demo.sim.control("publish", {"type": kind, "payload": payload})
    demo.backend_action("action_mqtt_receive_now")

    def settled():
        rows = demo.api(
            "pico.event",
            "search_read",
            domain=[("source", "=", "mqtt")],
            fields=["event_type", "state"],
        )
        fresh = rows[: len(rows) - since]
        if len(fresh) < len(messages):
            return None
        if any(row["state"] == "received" for row in fresh):
            return None
        return fresh

    return h.wait_until(settled, 120, 0.2, "the shop-floor events")


def operator_note(demo, drone, now):
    """An operator's note on the drone: by webhook where Pico offers notes,
    else relayed on the plant's broker (a topic mapped to operator notes)."""
    payload = {
        "kind": "quality_issue",
        "text": "Left arm scratched while fitting the guard; "
        "arm replaced, screws torqued twice.",
        "externalOrderId": drone["external_id"],
        "orderIndex": drone["index"],
        "operator": "Chen Wei",
        "station": "Line 1 / Station 3",
        "createdAt": now,
    }
    [backend] = demo.api(
        "pico.backend", "read", ids=[demo.backend_id], fields=["pico_notes_state"]
    )
    offered = backend["pico_notes_state"] == "registered"
    door = "webhook" if offered else "MQTT relay (Pico offers no notes)"
    with demo.progress.step(
        f"An operator's note on {drone['serial']} ({door})"
    ) as note:
        if offered:
            demo.sim.control("note", payload)
        else:
            relay_topic(demo)
            demo.sim.control("publish", {"type": "note", "payload": payload})
            demo.backend_action("action_mqtt_receive_now")

        def landed():
            return demo.api(
                "pico.unit.note",
                "search_read",
                domain=[("serial", "=", drone["serial"])],
                fields=["lot_id", "production_id"],
            )

        rows = h.wait_until(landed, 120, 0.2, "the operator's note")
        note["text"] = (
            f"on {rows[0]['lot_id'][1]} and {rows[0]['production_id'][1]}; "
            f"notes from Pico: {backend['pico_notes_state']}"
        )


def relay_topic(demo):
    """Map the broker's `note` topic to operator notes, and wait until Odoo's
    subscriber knows it: a subscriber run reads the topics when it starts, and
    one running now would take a note as a message of an unknown topic
    (counted, acknowledged, not stored)."""
    since = h.broker_log_size(RUN_DIR)
    demo.api(
        "pico.topic",
        "create",
        vals_list=[
            {"backend_id": demo.backend_id, "name": "note", "event_type": "note"}
        ],
    )
    demo.backend_action("action_mqtt_receive_now")
    h.wait_for_subscriber(RUN_DIR, PREFIX, since, timeout=120)
