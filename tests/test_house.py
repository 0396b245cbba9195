# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo's own flows, done by a manufacturing user without a Pico group.

Odoo's own tests (dev/peer-tests) never meet a BOM mapped to Pico; these do: a
planner who never touches Pico works on the BOMs, operations, orders, work
orders, lots and scraps the addon adds fields to, and Odoo does what it does
without the addon.
"""

import json

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import PicoCase, PicoHttpCase
from .test_complete import CompletionMixin
from .test_webhook import completion


@tagged("post_install", "-at_install", "pico_house")
class TestOdooUsersUnharmed(CompletionMixin, PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()
        cls.planner = new_test_user(
            cls.env,
            login="pico_house_planner",
            groups="mrp.group_mrp_user,mrp.group_mrp_routings,"
            "stock.group_production_lot",
        )
        # Odoo's manufacturing administrator (BOMs), without a Pico group either.
        cls.engineer = new_test_user(
            cls.env,
            login="pico_house_engineer",
            groups="mrp.group_mrp_manager,mrp.group_mrp_routings,"
            "stock.group_production_lot",
        )

    def test_planner_is_not_a_pico_user(self):
        """The premise: these users may not read any Pico record."""
        for user in (self.planner, self.engineer):
            with self.assertRaises(AccessError):
                self.env["pico.operation"].with_user(user).search([])

    def test_engineer_edits_copies_and_archives_a_mapped_bom(self):
        """Edit, copy, archive: the BOM keeps its Pico mapping, untouched."""
        bom = self.bom.with_user(self.engineer)
        with Form(bom) as form:
            form.code = "Planner's"
            with form.bom_line_ids.new() as line:
                line.product_id = self.screw
                line.product_qty = 2
        with Form(self.frame_step.with_user(self.engineer)) as form:
            form.name = "Frame assembly, v2"
        self.assertEqual(self.frame_step.name, "Frame assembly, v2")
        self.assertEqual(self.frame_step.pico_operation_id, self._operation("op-frame"))

        copy = bom.copy().sudo()
        self.assertEqual(copy.pico_operation_id, self.bom.pico_operation_id)
        self.assertEqual(
            copy.operation_ids.mapped("pico_operation_id"),
            self.bom.operation_ids.mapped("pico_operation_id"),
        )

        bom.operation_ids.action_archive()
        self.assertFalse(self.bom.operation_ids)
        self.env["mrp.routing.workcenter"].with_user(self.engineer).browse(
            (self.frame_step | self.flight_step).ids
        ).action_unarchive()
        self.assertEqual(len(self.bom.operation_ids), 2)

    def test_planner_orders_updates_and_closes_from_a_mapped_bom(self):
        """Odoo's MO form, BOM update and close, on a BOM Pico builds."""
        form = Form(self.env["mrp.production"].with_user(self.planner))
        form.product_id = self.drone
        form.product_qty = 1
        form.bom_id = self.bom
        production = form.save()
        production.action_confirm()
        # Released to Pico as for a Pico user: the planner need not know.
        self.assertEqual(len(production.sudo().pico_work_order_ids), 1)
        self.assertEqual(len(production.workorder_ids), 2)

        self.bom.with_user(self.engineer).operation_ids[:1].write(
            {"name": "Frame assembly, v3"}
        )
        self.assertTrue(production.is_outdated_bom)
        production.with_user(self.planner).action_update_bom()
        self.assertIn("Frame assembly, v3", production.workorder_ids.mapped("name"))

        Form(production.workorder_ids[0].with_user(self.planner))
        Form(production.with_user(self.planner))
        # Closed from Odoo, as a planner does when the plant reports on paper
        # (the backend lets a planner close an order Pico still builds).
        self.backend.partial_close = "backorder"
        mine = production.with_user(self.planner)
        mine.lot_producing_ids = self.env["stock.lot"].create(
            {"name": "DR-HOUSE", "product_id": self.drone.id}
        )
        mine.qty_producing = 1
        mine.set_qty_producing()
        for move in production.move_raw_ids.filtered(
            lambda m: m.has_tracking != "none"
        ):
            lot = self.lots["M-1" if move.product_id == self.motor else "F-1"]
            move.move_line_ids.unlink()
            move.move_line_ids = [
                Command.create(
                    {
                        "product_id": move.product_id.id,
                        "lot_id": lot.id,
                        "quantity": 1,
                        "location_id": self.stock.id,
                        "location_dest_id": move.location_dest_id.id,
                    }
                )
            ]
            move.picked = True
        production.with_user(self.planner).button_mark_done()
        self.assertEqual(production.state, "done")
        # The unit Pico had not started is cancelled there, as for a Pico user.
        self.assertIn(
            "Cancel of 1 Pico unit(s) queued.",
            " ".join(production.message_ids.mapped("body")),
        )
        self.assertEqual(
            self._on_hand(self.lots["M-1"].product_id, self.lots["M-1"]), 0
        )

    def test_planner_scraps_a_component_serial(self):
        """Scrapping a lot (the addon counts it for insight) and opening it."""
        lot = self.lots["M-2"]
        Form(lot.with_user(self.planner))
        scrap = (
            self.env["stock.scrap"]
            .with_user(self.planner)
            .create(
                {
                    "product_id": self.motor.id,
                    "lot_id": lot.id,
                    "scrap_qty": 1,
                    "location_id": self.stock.id,
                }
            )
        )
        scrap.do_scrap()
        self.assertEqual(scrap.state, "done")
        self.assertEqual(self._on_hand(self.motor, lot), 0)


@tagged("post_install", "-at_install", "pico_house")
class TestDoorEncodings(PicoHttpCase):
    """A webhook body is UTF-8 JSON (RFC 8259); other encodings get a 4xx."""

    def _events(self):
        self.env.invalidate_all()
        return self.env["pico.event"].search([("backend_id", "=", self.backend.id)])

    def test_utf16_body_is_refused_by_name(self):
        """Python's parser reads UTF-16; the door answers 415 and stores nothing."""
        text = json.dumps({"data": {"operationOrderCompletesStream": completion()}})
        for body, content_type in [
            (text.encode("utf-16"), "application/json; charset=utf-16"),
            (text.encode("utf-16-le"), "application/json"),
        ]:
            answer = self.post_webhook(
                "completion", body, headers={"Content-Type": content_type}
            )
            self.assertEqual(answer.status_code, 415, answer.text)
            self.assertEqual(answer.json()["error"], "unsupported_charset")
            self.assertIn("utf-16", answer.json()["message"])
        self.assertFalse(self._events())

    def test_utf8_body_with_bom_is_stored_as_sent(self):
        """UTF-8, with a byte order mark and a charset, is accepted."""
        body = {"data": {"operationOrderCompletesStream": completion("WH/MO/é#1")}}
        answer = self.post_webhook(
            "completion",
            b"\xef\xbb\xbf" + json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=UTF-8"},
        )
        self.assertEqual(answer.status_code, 202, answer.text)
        event = self._events()
        self.assertEqual(event.external_order_id, "WH/MO/é#1")
        self.assertEqual(json.loads(event.payload.removeprefix("\ufeff")), body)
