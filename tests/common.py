# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Test bases and shared fixtures, as Odoo's TestMrpCommon.

A Pico simulator per test class and a backend pointing at it (PicoCase,
PicoHttpCase); the simulator's catalogue synchronized into Odoo; the drone and its
components; BOMs mapped to Pico; stock; `make_mo`, `process_events`,
`deliver_completion` (through the real webhook) and `publish` (to a real broker).
"""

import copy
import json
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from odoo import Command
from odoo.tests import HttpCase, TransactionCase

from ..core.webhook import SECRET_HEADER
from ..simulator import PicoSimulator
from ..simulator.mosquitto import start_broker

FIXTURE = json.loads(
    (
        Path(__file__).resolve().parents[1] / "simulator" / "fixtures" / "default.json"
    ).read_text()
)


def fixture_operation(pico_id):
    """A copy of one operation of the simulator's default catalogue."""
    for operation in FIXTURE["operations"]:
        if operation["id"] == pico_id:
            return copy.deepcopy(operation)
    raise KeyError(pico_id)


def publish(broker, topic, payloads, timeout=5.0):
    """Publish raw payloads at QoS 1 and wait for the broker's PUBACKs."""
    connected = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}"
    )
    client.on_connect = lambda *args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert connected.wait(timeout), "no CONNACK from the test broker"
        for payload in payloads:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


class PicoFixtures:
    """Records most tests need, built once per class (call the _setup_* you need)."""

    @classmethod
    def _setup_catalogue(cls, backend=None):
        """Synchronize the simulator's default catalogue into `backend`."""
        cls.env["pico.operation"]._pico_sync_from_rows(
            backend or cls.backend, FIXTURE["operations"], FIXTURE["subOperations"]
        )

    @classmethod
    def _make_product(cls, name, code=None, tracking="none"):
        return cls.env["product.product"].create(
            {
                "name": name,
                "default_code": code,
                "type": "consu",
                "is_storable": True,
                "tracking": tracking,
            }
        )

    @classmethod
    def _setup_products(cls):
        """The drone of the fixture and its components; cls.stock is WH/Stock.

        The components carry the simulator's part numbers, as the addon's demo
        products do (demo/pico_catalogue_demo.xml), and the demo's names: a
        consumed serial is labelled with the name of a product whose internal
        reference is its part number, so on a database with demo data the label
        is the same whichever of the two products it finds.
        """
        cls.stock = cls.env.ref("stock.warehouse0").lot_stock_id
        cls.drone = cls._make_product("Drone", "DRONE-100", "serial")
        cls.motor = cls._make_product("Drone Motor", "MOTOR-220", "serial")
        cls.fc = cls._make_product("Flight Controller", "FC-330", "serial")
        cls.screw = cls._make_product("Screw")

    @classmethod
    def _operation(cls, pico_id, backend=None):
        return (
            cls.env["pico.operation"]
            .with_context(active_test=False)
            .search(
                [
                    ("backend_id", "=", (backend or cls.backend).id),
                    ("pico_id", "=", pico_id),
                ]
            )
        )

    @classmethod
    def _attribute(cls, operation, key):
        return operation.with_context(active_test=False).attribute_ids.filtered(
            lambda attribute: attribute.key == key
        )

    @classmethod
    def _make_bom(cls, product, lines, operation=None, **vals):
        """A BOM of `lines` [(product, quantity, attribute key or None)].

        With `operation` (a pico.operation) the BOM and the lines with a key are
        mapped to it; the BOM is for cls.backend either way.
        """
        return cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": product.product_tmpl_id.id,
                "product_qty": 1,
                "pico_backend_id": cls.backend.id,
                "pico_operation_id": operation.id if operation else False,
                "bom_line_ids": [
                    Command.create(
                        {
                            "product_id": line_product.id,
                            "product_qty": qty,
                            "pico_attribute_id": cls._attribute(operation, key).id
                            if operation and key
                            else False,
                        }
                    )
                    for line_product, qty, key in lines
                ],
                **vals,
            }
        )

    @classmethod
    def _put_in_stock(cls, product, qty=1, lot_names=()):
        """Put `qty` in WH/Stock, or one of each lot named; return {name: lot}."""
        quants = cls.env["stock.quant"]
        if not lot_names:
            quants._update_available_quantity(product, cls.stock, qty)
            return {}
        lots = {}
        for name in lot_names:
            lot = cls.env["stock.lot"].create({"name": name, "product_id": product.id})
            quants._update_available_quantity(product, cls.stock, 1, lot_id=lot)
            lots[name] = lot
        return lots

    def make_mo(self, qty=1, confirm=True, send=True, product=None, bom=None):
        """An MO of the class's drone (or `product`), confirmed and sent to Pico."""
        production = self.env["mrp.production"].create(
            {
                "product_id": (product or self.drone).id,
                "bom_id": (bom or self.bom).id,
                "product_qty": qty,
            }
        )
        if confirm:
            production.action_confirm()
            if send:
                self.env["pico.exchange"].sudo()._pico_run()
        return production

    def process_events(self):
        """Run the inbox processor once; return how many events it applied."""
        count = self.env["pico.event"]._pico_run()
        self.env.invalidate_all()
        return count


# Pico as its documentation describes it, refusing introspection as many production
# GraphQL servers do: the suite passes on the documented minimum, and a test that
# needs more says so (simulator_options, or use_pico_schema in the test).
DEFAULT_SIMULATOR_OPTIONS = {"schema_profile": "documented", "introspection": False}


class PicoSimulatorMixin:
    """Starts one simulator for the class; every test starts from its fixture."""

    simulator_options = {}

    @classmethod
    def _setup_pico(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = PicoSimulator(
            **{**DEFAULT_SIMULATOR_OPTIONS, **cls.simulator_options}
        )
        cls.simulator.start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Simulated Pico",
                "endpoint_url": cls.simulator.url,
                "api_token": cls.simulator.token,
                "connect_timeout": 2.0,
                "read_timeout": 5.0,
                "retry_base_delay": 1,
                "max_attempts": 4,
            }
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()
        self.simulator.set_faults(clear=True)

    def use_pico_schema(self, profile="full", introspection=True):
        """Serve another schema profile for this test (the default is Pico's
        documented schema); the backend sees it when it next detects features."""
        self.simulator.configure(schema_profile=profile, introspection=introspection)


class PicoCase(PicoFixtures, PicoSimulatorMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pico()


class PicoHttpCase(PicoFixtures, PicoSimulatorMixin, HttpCase):
    """For tests that go through Odoo's real HTTP server (webhooks)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pico()
        cls.backend.webhook_base_url = cls.base_url()

    def post_webhook(self, kind, body, secret=None, headers=None, backend=None):
        """POST a body (dict or bytes) to a backend's webhook; return the response."""
        backend = backend or self.backend
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        all_headers = {
            "Content-Type": "application/json",
            SECRET_HEADER: backend.webhook_secret if secret is None else secret,
        }
        all_headers.update(headers or {})
        url = getattr(backend, f"webhook_{kind}_url", None) or (
            f"{self.base_url()}/pico_mes/webhook/{backend.webhook_key}/{kind}"
        )
        return self.url_open(url, data=body, headers=all_headers)

    def deliver_completion(self, external_id, index, count=1, **fields_):
        """Complete a unit in Pico and wait for its webhook delivery to Odoo."""
        before = len(self.simulator.deliveries())
        # The simulator calls Odoo from its own thread, without the test's cookie:
        # let its requests in and release the test cursor while they run.
        with self.allow_requests(all_requests=True):
            completion = self.simulator.complete_order(external_id, index, **fields_)
            deadline = time.monotonic() + 10
            while len(self.simulator.deliveries()) < before + count:
                self.assertLess(time.monotonic(), deadline, "no webhook delivery")
                time.sleep(0.05)
            self.assertTrue(self.simulator.wait_idle(10))
        self.http_request_allow_all = False
        return completion


class BrokerMixin:
    """A real Mosquitto for the class, and the backend subscribed to it.

    Put it before the test case class. `simulator_publishes`: the simulator
    publishes completions and shop-floor events to the broker too. The first
    drain (`first_drain`) creates the persistent session: from then on the
    broker queues what is published while no run is connected.
    """

    mqtt_prefix = "pico/test"
    simulator_publishes = True
    backend_mqtt_vals = {}

    @classmethod
    def setUpClass(cls):
        cls.broker = start_broker()
        if cls.simulator_publishes:
            cls.simulator_options = {
                **cls.simulator_options,
                "mqtt_host": cls.broker.host,
                "mqtt_port": cls.broker.port,
                "mqtt_prefix": cls.mqtt_prefix,
            }
        try:
            super().setUpClass()
        finally:
            # Registered last so that it runs before Odoo's check for leftover
            # child processes.
            cls.addClassCleanup(cls.broker.stop)
        cls.backend.write(
            {
                **cls.backend_mqtt_vals,
                "mqtt_enabled": True,
                "mqtt_host": cls.broker.host,
                "mqtt_port": cls.broker.port,
                "mqtt_topic_prefix": cls.mqtt_prefix,
            }
        )
        cls.first_drain = cls.backend._pico_mqtt_drain(max_seconds=5, idle_seconds=0.2)
        assert cls.first_drain.ok, cls.first_drain.last_error
