"""The demo's end: the stock checked against the bills of materials, the tables
of orders and components, and where everything runs."""
# pylint: disable=print-used

import os
from collections import Counter

import harness as h

from .state import DB, PORT, PREFIX, RUN_DIR

ORDER_HEADERS = [
    "Manufacturing order(s)",
    "Built",
    "State",
    "Pico orders [index:state]",
    "Serials produced",
    "Confirm -> in Pico",
    "Completion -> MO done",
    "Components = BOM x units",
]


def table(headers, rows):
    """Rows as a plain text table."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in cells
    ]
    out.insert(1, line)
    return "\n".join(out)


def report(demo):
    with demo.progress.step(
        "Checking the stock against the bills of materials"
    ) as note:
        demo.problems = []
        for order in demo.orders.values():
            check_order(demo, order)
        stock_rows = check_stock(demo)
        note["text"] = (
            "all match" if not demo.problems else f"MISMATCH: {demo.problems}"
        )
    print()
    print(table(ORDER_HEADERS, [order["row"] for order in demo.orders.values()]))
    print()
    print(
        "Component stock on hand. Per MO and in total: taken = expected "
        "(BOM quantity x units built)."
    )
    print(
        table(
            [
                "Component",
                "Before",
                *(f"MO {label}" for label in demo.orders),
                "After",
                "Taken = expected",
                "Check",
            ],
            stock_rows,
        )
    )


def check_stock(demo):
    """Per component: taken = expected, per MO and in total; the table's rows."""
    after = demo.on_hand(demo.component_ids)
    rows = []
    for product_id in demo.component_ids:
        taken = demo.stock_before[product_id] - after[product_id]
        expected = sum(o["expected"][product_id] for o in demo.orders.values())
        per_mo = [
            f"{o['consumed'][product_id]:g} = {o['expected'][product_id]:g}"
            if o["expected"][product_id] or o["consumed"][product_id]
            else "-"
            for o in demo.orders.values()
        ]
        ok = abs(taken - expected) < 1e-6
        if not ok:
            demo.problems.append(demo.names[product_id])
        rows.append(
            [
                demo.names[product_id],
                f"{demo.stock_before[product_id]:g}",
                *per_mo,
                f"{after[product_id]:g}",
                f"{taken:g} = {expected:g}",
                "ok" if ok else "MISMATCH",
            ]
        )
    return rows


def check_order(demo, order):
    """Read what an order (and its backorders) consumed; build its table row."""
    api = demo.api
    units = api(
        "pico.work.order",
        "search_read",
        domain=[("external_order_id", "=", order["external_id"])],
        fields=["order_index", "state", "production_id", "produced_serial"],
        order="order_index",
    )
    mo_ids = sorted({u["production_id"][0] for u in units})
    mos = api("mrp.production", "read", ids=mo_ids, fields=["name", "state"])
    moves = api(
        "stock.move",
        "search_read",
        domain=[
            ("raw_material_production_id", "in", mo_ids),
            ("state", "=", "done"),
        ],
        fields=["product_id", "quantity"],
    )
    consumed, expected = Counter(), Counter()
    for move in moves:
        consumed[move["product_id"][0]] += move["quantity"]
    for line in demo.bom_lines:
        if line["bom_id"][0] == order["bom_id"]:
            expected[line["product_id"][0]] += line["product_qty"] * order["qty"]
    ok = set(consumed) <= set(expected) and all(
        abs(consumed[p] - q) < 1e-6 for p, q in expected.items()
    )
    if not ok:
        demo.problems.append(order["name"])
    builds = [b for b in demo.builds if b["label"] == order["label"]]
    order.update(consumed=consumed, expected=expected)
    order["row"] = [
        f"{order['label']}: " + " + ".join(m["name"] for m in mos),
        f"{order['qty']:g} x {order['product']}",
        "/".join(sorted({m["state"] for m in mos})),
        order["external_id"]
        + " ["
        + " ".join(f"{u['order_index']}:{u['state']}" for u in units)
        + "]",
        ", ".join(u["produced_serial"] or "-" for u in units),
        f"{order['to_pico_ms']:.0f} ms",
        ", ".join(f"{b['ms']:.0f} ms ({b['door']})" for b in builds),
        "yes" if ok else "NO",
    ]


def goodbye(demo):
    url = f"http://{h.HOST}:{PORT}"
    stop_cmd = "dev/demo --stop"
    if os.environ.get("DEMO_RUN_DIR"):
        stop_cmd = f"DEMO_RUN_DIR={RUN_DIR} {stop_cmd}"
    print(
        f"""
Odoo is running at {url} (database {DB}); log in as admin / admin.
  Manufacturing > Pico MES: integration health, work orders, events (inbox) and
  exchanges (outbox); Manufacturing > Reporting > Pico: actual vs standard.
The Pico simulator runs at {demo.sim.base_url} (control API /_control/)
and Mosquitto at {h.HOST}:{demo.mqtt_port} (topics {PREFIX}/#).
Logs and pid files: {RUN_DIR}
Stop everything with: {stop_cmd}"""
    )
