# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What keeps the cost of the work flat: backorders of big orders."""

from odoo.tests import tagged

from ..core import inbox
from .common import PicoCase
from .test_complete import CompletionMixin

PROCESSOR = "mrp_pico_mes.ir_cron_pico_event_process"


@tagged("post_install", "-at_install", "pico_cost")
class TestBigOrderBackorders(CompletionMixin, PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    def _mo(self, qty=1):
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": qty}
        )
        production.action_confirm()
        self.env["pico.exchange"].sudo()._send_due()
        return production

    def _process(self):
        count = self.env["pico.event"]._process_events()
        self.env.invalidate_all()
        return count

    def _complete(self, production, index, serial, motor, fc):
        completion = self.simulator.complete_order(
            self._external_id(production),
            index,
            operationId="op-drone",
            **self._completion_fields(serial, motor, fc),
        )
        self.post_completion(completion)
        self.assertEqual(self._process(), 1)

    def post_completion(self, completion):
        body = self._webhook_body(completion)
        intake = inbox.intake(inbox.COMPLETION, body, self.backend.id)
        self.env["pico.event"].sudo()._pico_store(self.backend, intake, "webhook")

    def test_backorders_get_no_line_per_serial_and_still_produce(self):
        """Each completion splits the rest off without one move line per unit."""
        production = self._mo(qty=3)
        finished = production.move_finished_ids.filtered(
            lambda m: m.product_id == self.drone
        )
        self.assertEqual(len(finished.move_line_ids), 3, "Odoo's own at confirm")

        self._complete(production, 0, "DR-3001", "M-1", "F-1")
        backorder = self._group(production) - production
        self.assertEqual(backorder.product_qty, 2)
        backorder_finished = backorder.move_finished_ids.filtered(
            lambda m: m.product_id == self.drone
        )
        self.assertFalse(backorder_finished.move_line_ids)

        self._complete(production, 1, "DR-3002", "M-2", "F-2")
        self._complete(production, 2, "DR-3003", "M-3", "F-3")
        group = self._group(production)
        self.assertEqual(len(group), 3)
        self.assertEqual(set(group.mapped("state")), {"done"})
        self.assertEqual(
            sorted(group.lot_producing_ids.mapped("name")),
            ["DR-3001", "DR-3002", "DR-3003"],
        )
        for lot in group.lot_producing_ids:
            self.assertEqual(self._on_hand(self.drone, lot), 1)
        self.assertEqual(self._on_hand(self.drone), 3)
