"""What the demo's parts share: the scenario (orders, builds, standards) and the
state of a run (`Demo`)."""

import os
from pathlib import Path

import harness as h

RUN_DIR = Path(os.environ.get("DEMO_RUN_DIR") or h.REPO / ".run" / "demo")
DB = os.environ.get("DEMO_DB") or "pico_demo"
PORT = int(os.environ.get("DEMO_PORT") or 8069)
WORKERS = int(os.environ.get("DEMO_WORKERS") or 0)
PREFIX = "pico/sim"
M = h.MODULE
# (label, product, bill of materials, quantity) of the orders released.
ORDERS = [
    ("A", "product_pico_drone", "mrp_bom_pico_drone", 1),
    ("B", "product_pico_widget", "mrp_bom_pico_widget", 1),
    ("C", "product_pico_drone", "mrp_bom_pico_drone", 2),
    # Not in Pico at first: sent with "Send to Pico", deployed, mapped by itself.
    ("D", "product_pico_rover", "mrp_bom_pico_rover", 1),
    ("E", "product_pico_widget", "mrp_bom_pico_widget", 2),
]
TRANSFERRED = "D"
ORDERS_BY_LABEL = {order[0]: order for order in ORDERS}
# The units Pico builds, in this order, and the door their completion should use.
BUILDS = [
    ("A", 0, "webhook"),
    ("B", 0, "webhook"),
    ("C", 0, "webhook"),
    ("D", 0, "webhook"),
    ("E", 0, "webhook"),
    ("E", 1, "webhook"),
    ("C", 1, "mqtt"),
]
# Who built each unit, where, in how many minutes (Pico's cycle time): material
# for Manufacturing > Reporting > Pico. C/1 is the slow build.
BUILT_BY = {
    ("A", 0): ("Ana Lima", "Line 1 / Station 2", 10.5),
    ("B", 0): ("Ben Okafor", "Line 2 / Station 1", 4.2),
    ("C", 0): ("Chen Wei", "Line 1 / Station 3", 9.4),
    ("D", 0): ("Ana Lima", "Line 2 / Station 1", 9.8),
    ("E", 0): ("Chen Wei", "Line 2 / Station 2", 3.9),
    ("E", 1): ("Ana Lima", "Line 2 / Station 1", 5.1),
    ("C", 1): ("Ben Okafor", "Line 1 / Station 2", 17.5),
}
# Standard minutes per unit of the demo routings (BOM operations), by BOM.
ROUTINGS = {
    "mrp_bom_pico_drone": [
        ("Frame and motors", "ASM-1", 7.0),
        ("Flight test", "TEST-1", 3.0),
    ],
    "mrp_bom_pico_widget": [("Assembly", "ASM-1", 4.0)],
}
ROVER_STANDARDS = {
    "mrp_routing_pico_rover_drive": 4.0,
    "mrp_routing_pico_rover_electronics": 3.0,
    "mrp_routing_pico_rover_check": 2.0,
}
# Set-up, standards, transfer, catalogue, releases, MQTT on, builds, shop floor,
# operator's note, health, stock check.
STEPS = 9 + 1 + 3 + 1 + len(ORDERS) + 1 + len(BUILDS) + 1 + 1 + 1 + 1


class Demo:
    """One demo run: its options, the Odoo API, the simulator, the orders and
    what was built; the parts (setup.py, catalogue.py, floor.py, report.py)
    play it."""

    def __init__(
        self, reset, schema_profile="documented", introspection=False, executor="cron"
    ):
        self.reset = reset
        self.schema_profile = schema_profile
        self.introspection = introspection
        self.executor = executor
        self.progress = h.Progress(STEPS)
        self.api = None
        self.sim = None
        self.odoo = self.odoo_run = None
        self.mqtt_port = self.backend_id = None
        self.mqtt_on = False
        self.orders = {}  # label -> dict of what we know about the MO
        self.bom_lines, self.component_ids = [], []
        self.names, self.stock_before = {}, {}
        self.builds = []
        self.problems = []

    def on_hand(self, product_ids):
        rows = self.api(
            "product.product", "read", ids=product_ids, fields=["qty_available"]
        )
        return {row["id"]: row["qty_available"] for row in rows}

    @staticmethod
    def of_unit(order, index):
        """The domain of what belongs to a unit of an order (its Pico order)."""
        return [
            ("external_order_id", "=", order["external_id"]),
            ("order_index", "=", index),
        ]

    def unit(self, order, index):
        rows = self.api(
            "pico.work.order",
            "search_read",
            domain=self.of_unit(order, index),
            fields=["state", "production_id", "produced_serial"],
        )
        return rows[0]

    def backend_action(self, action):
        """Press a button of the demo backend."""
        return self.api("pico.backend", action, ids=[self.backend_id])

    def set_backend(self, **vals):
        self.api("pico.backend", "write", ids=[self.backend_id], vals=vals)
