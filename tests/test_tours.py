# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What planners do in the web client, in a real browser (headless Chromium).

Each test runs one or two Odoo tours (static/tests/tours/): clicks and form input
in the web client, each ending on something a person sees. The backend talks to a
Pico simulator. Without Chromium, Odoo skips these tests ("Chrome executable not
found") and dev/run-tests prints "TOURS SKIPPED:".

Crons do not run under tests: where a person would wait for the outbox's cron,
the test sends what is due between two tours.
"""

import contextlib
from unittest.mock import patch
from urllib.parse import quote

import odoo
from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import release_test_lock

from ..core import reachability
from .common import PicoHttpCase
from .test_bom_transfer import TransferMixin
from .test_setup_wizard import SetupMixin


@contextlib.contextmanager
def ping_lets_itself_in():
    """Let the assistant's ping (a request of the server to itself, made while the
    browser's request holds the test cursor) through, as Odoo lets wkhtmltopdf's
    requests through during a report: release the test lock while it runs."""
    send = reachability.send

    def send_released(*args, **kwargs):
        test = odoo.modules.module.current_test
        with patch.object(test, "http_request_allow_all", True), release_test_lock():
            return send(*args, **kwargs)

    with patch.object(reachability, "send", send_released):
        yield


class TourCase(PicoHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = cls.env.ref("base.user_admin")
        admin.group_ids = [
            Command.link(cls.env.ref(xmlid).id)
            for xmlid in (
                "mrp_pico_mes.group_pico_manager",
                "mrp.group_mrp_manager",
                "mrp.group_mrp_routings",
                "stock.group_production_lot",
            )
        ]

    def tour(self, url, name):
        self.start_tour(url, name, login="admin", timeout=120)
        self.env.invalidate_all()

    def send_due(self):
        self.env["pico.exchange"].sudo()._pico_run()
        self.env.invalidate_all()


@tagged("post_install", "-at_install", "pico_tour")
class TestSetupTour(SetupMixin, TourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone_bom()

    def test_setup_assistant(self):
        with ping_lets_itself_in():
            self.start_tour(
                "/odoo/action-mrp_pico_mes.pico_backend_action",
                "pico_tour_setup_assistant",
                login="admin",
                timeout=180,
                cookies={"pico_tour_endpoint": quote(self.simulator.url, safe="")},
            )
        self.env.invalidate_all()
        backend = self.env["pico.backend"].search([("name", "=", "Plant 2 Pico")])
        self.assertEqual(backend.pico_setup_state, "done")
        self.assertEqual(self.bom.pico_backend_id, backend)
        self.assertEqual(self.bom.pico_mapping_state, "valid")


@tagged("post_install", "-at_install", "pico_tour")
class TestBomMappingTour(TourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_catalogue()
        cls._setup_products()
        # The flight controller has no internal reference: Suggest Mapping cannot
        # match it to Pico's FC-330, and the planner picks it by hand.
        cls.fc.default_code = False
        cls.bom = cls._make_bom(
            cls.drone, [(cls.motor, 1, None), (cls.fc, 1, None), (cls.screw, 4, None)]
        )

    def test_bom_mapping(self):
        self.assertEqual(self.bom.pico_mapping_state, "attention")
        self.tour(
            f"/odoo/action-mrp.mrp_bom_form_action/{self.bom.id}",
            "pico_tour_bom_mapping",
        )
        self.assertEqual(self.bom.pico_operation_id, self._operation("op-drone"))
        self.assertEqual(self.bom.pico_mapping_state, "valid")
        lines = {
            line.product_id: line.pico_attribute_id.pico_id
            for line in self.bom.bom_line_ids
        }
        self.assertEqual(lines[self.fc], "attr-fc")
        self.assertEqual(lines[self.motor], "attr-motor")


class MappedDroneTour(TourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_catalogue()
        cls._setup_products()
        cls.bom = cls._make_bom(
            cls.drone,
            [
                (cls.motor, 1, "attr-motor"),
                (cls.fc, 1, "attr-fc"),
                (cls.screw, 4, None),
            ],
            operation=cls._operation("op-drone"),
        )
        cls._put_in_stock(cls.motor, lot_names=["M-1", "M-2"])
        cls._put_in_stock(cls.fc, lot_names=["F-1", "F-2"])
        cls._put_in_stock(cls.screw, 100)


@tagged("post_install", "-at_install", "pico_tour")
class TestProductionTours(MappedDroneTour):
    def test_mo_release(self):
        self.backend.action_register_webhooks()
        production = self.make_mo(qty=2, confirm=False)
        self.tour(
            f"/odoo/action-mrp.mrp_production_action/{production.id}",
            "pico_tour_mo_release",
        )
        units = production.pico_work_order_ids
        self.assertEqual(units.mapped("state"), ["queued", "queued"])
        # The outbox's cron sends them; Pico builds the first unit.
        self.send_due()
        self.assertEqual(units.mapped("state"), ["sent", "sent"])
        external_id = units[0].external_order_id
        self.deliver_completion(
            external_id,
            0,
            producedSerial="DRN-TOUR-1",
            consumedSerials=[
                {"externalId": "MOTOR-220", "value": "M-1"},
                {"externalId": "FC-330", "value": "F-1"},
            ],
            at="2026-11-22T10:00:00Z",
        )
        self.assertEqual(self.process_events(), 1)
        self.tour(
            f"/odoo/action-mrp.mrp_production_action/{production.id}",
            "pico_tour_mo_units_progress",
        )
        self.assertEqual(
            sorted(units.mapped("state")), ["done", "sent"], units.mapped("last_error")
        )
        self.assertEqual(production.state, "done")
        self.assertEqual(production.lot_producing_ids.name, "DRN-TOUR-1")

    def _failed_exchange(self):
        """An order whose first unit Pico refused (HTTP 400, one unit per
        request: a 400 to a batch would send both again alone)."""
        self.backend.order_batch_size = 1
        self.simulator.set_faults(fail_next=1, error_status=400)
        production = self.make_mo(qty=2)
        exchanges = production.pico_work_order_ids.exchange_ids
        self.assertEqual(sorted(exchanges.mapped("state")), ["done", "failed"])
        return production, exchanges.filtered(lambda e: e.state == "failed")

    def test_exchange_retry(self):
        production, failed = self._failed_exchange()
        self.tour(
            f"/odoo/action-mrp.mrp_production_action/{production.id}",
            "pico_tour_exchange_retry",
        )
        self.assertEqual(failed.state, "pending")
        self.send_due()
        self.assertEqual(failed.state, "done", failed.error)
        self.assertEqual(len(self.simulator.orders()), 2)

    def test_health_dashboard(self):
        _production, failed = self._failed_exchange()
        self.tour("/odoo/action-mrp_pico_mes.pico_health_action", "pico_tour_health")
        self.assertEqual(failed.state, "failed", "looking changes nothing")


@tagged("post_install", "-at_install", "pico_tour")
class TestBomTransferTour(TransferMixin, TourCase):
    simulator_options = {"work_instructions": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_rover()

    def test_bom_transfer(self):
        bom = self._rover_bom()
        bom.pico_backend_id = self.backend
        url = f"/odoo/action-mrp.mrp_bom_form_action/{bom.id}"
        self.tour(url, "pico_tour_bom_transfer")
        exchange = bom.pico_transfer_exchange_id
        self.assertEqual(exchange.state, "pending")
        # The outbox's cron sends it; the planner looks again.
        self.send_due()
        self.assertEqual(bom.pico_transfer_state, "done", exchange.error)
        self.tour(url, "pico_tour_bom_transfer_result")
        self.assertTrue(self._sent_documents())
