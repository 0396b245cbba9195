# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged

from ..core import keys
from .common import PicoCase


class _Rollback(Exception):
    """Raised to roll a savepoint back."""


@tagged("post_install", "-at_install", "pico_push")
class TestPush(PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.planner = new_test_user(
            cls.env,
            login="pico_planner",
            groups="mrp.group_mrp_user,stock.group_production_lot",
        )
        cls.pico_manager = new_test_user(
            cls.env,
            login="pico_push_manager",
            groups="mrp_pico_mes.group_pico_manager,mrp.group_mrp_manager",
        )
        cls.backend.responsible_id = cls.pico_manager
        cls.op_widget = cls._pico_operation("op-widget", "Widget", "WIDGET-1")
        cls.op_missing = cls._pico_operation("op-gone", "Gone", "GONE-1")
        cls.component = cls.env["product.product"].create(
            {"name": "Widget body", "type": "consu", "is_storable": True}
        )
        cls.widget = cls.env["product.product"].create(
            {
                "name": "Widget",
                "default_code": "WIDGET-1",
                "type": "consu",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        cls.widget_bom = cls._bom(cls.widget, cls.op_widget)

    @classmethod
    def _pico_operation(cls, pico_id, name, part_number):
        return cls.env["pico.operation"].create(
            {
                "backend_id": cls.backend.id,
                "pico_id": pico_id,
                "name": name,
                "external_id": part_number,
                "external_revision": "A",
            }
        )

    @classmethod
    def _bom(cls, product, operation, lines=None):
        bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": product.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": line.id, "product_qty": 1})
                    for line in (lines or cls.component)
                ],
            }
        )
        bom.pico_operation_id = operation
        return bom

    def _mo(self, qty=1, product=None, bom=None, user=None):
        production = (
            self.env["mrp.production"]
            .with_user(user or self.planner)
            .create(
                {
                    "product_id": (product or self.widget).id,
                    "bom_id": (bom or self.widget_bom).id,
                    "product_qty": qty,
                }
            )
        )
        self.assertEqual(len(production.move_raw_ids), 1)
        return production.with_user(self.env.user)

    def _confirm(self, production):
        """Confirm as the planner, who has no access to Pico's tables."""
        production.with_user(self.planner).action_confirm()
        production.invalidate_recordset()

    def _send(self):
        """Run the sender as the cron would (without its commits)."""
        return self.env["pico.exchange"].sudo()._pico_run()

    def _orders(self, state=None):
        """The simulator's orders, by index."""
        orders = self.simulator.orders()
        if state:
            orders = [o for o in orders if o["state"] == state]
        return sorted(orders, key=lambda o: (o["externalOrderId"], o["orderIndex"]))

    def _make_due(self, exchanges):
        """Time travel: the waiting retries come due now."""
        exchanges.sudo().write(
            {"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)}
        )

    # --- Release -----------------------------------------------------------------
    def test_confirm_queues_without_network(self):
        """Confirming writes the requests in the outbox; nothing reaches Pico yet."""
        production = self._mo(qty=3)
        self._confirm(production)
        units = production.pico_work_order_ids
        self.assertEqual(len(units), 3)
        self.assertEqual(units.mapped("state"), ["queued"] * 3)
        self.assertEqual(sorted(units.mapped("order_index")), [0, 1, 2])
        self.assertEqual(
            set(units.mapped("external_order_id")),
            {keys.external_order_id(production.name, production.id)},
        )
        exchanges = self.env["pico.exchange"].search(
            [("production_id", "=", production.id)]
        )
        self.assertEqual(exchanges.mapped("state"), ["pending"] * 3)
        self.assertEqual(production.pico_state, "queued")
        self.assertEqual(self.simulator.requests(), [])
        trigger = self.env["ir.cron.trigger"].search(
            [
                (
                    "cron_id",
                    "=",
                    self.env.ref("mrp_pico_mes.ir_cron_pico_exchange_send").id,
                )
            ]
        )
        self.assertTrue(trigger, "the sender is woken up at once")

    def test_confirm_then_send_one_order_per_unit(self):
        """After the sender runs, Pico holds exactly one order per unit."""
        production = self._mo(qty=3)
        self._confirm(production)
        self.assertEqual(self._send(), 3)
        # The three saves went in one request (tests/test_order_batch.py).
        self.assertEqual(len(self.simulator.requests()), 1)
        external_id = production.pico_work_order_ids[0].external_order_id
        orders = self._orders()
        self.assertEqual(len(orders), 3)
        self.assertEqual([o["orderIndex"] for o in orders], [0, 1, 2])
        self.assertEqual({o["externalOrderId"] for o in orders}, {external_id})
        self.assertEqual({o["operationId"] for o in orders}, {"op-widget"})
        self.assertEqual({o["state"] for o in orders}, {"created"})
        self.assertEqual(production.pico_work_order_ids.mapped("state"), ["sent"] * 3)
        self.assertEqual(production.pico_state, "sent")
        exchanges = production.pico_work_order_ids.exchange_ids
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertEqual(set(exchanges.mapped("response")), {"created"})
        # Nothing is due any more: a second run sends nothing.
        self.assertEqual(self._send(), 0)
        self.assertEqual(len(self.simulator.requests()), 1)

    def test_retry_on_5xx_then_exactly_one_order(self):
        """A Pico failing with 503 for a while gets retries, then one order."""
        # Due only when the test says so: a slow machine must not make the row
        # due again inside one send loop.
        self.backend.retry_base_delay = 600
        self.simulator.set_faults(fail_next=2, error_status=503)
        production = self._mo()
        self._confirm(production)
        exchange = production.pico_work_order_ids.exchange_ids
        before = fields.Datetime.now()
        self._send()
        self.assertEqual(exchange.state, "retry_wait")
        self.assertEqual(exchange.attempts, 1)
        self.assertEqual(exchange.http_status, 503)
        self.assertGreater(exchange.next_attempt_at, before)
        self.assertIn("503", exchange.error)
        self.assertEqual(production.pico_work_order_ids.state, "queued")
        # Not due yet: the sender leaves it alone.
        self.assertEqual(self._send(), 0)
        self._make_due(exchange)
        self._send()
        self.assertEqual(exchange.state, "retry_wait")
        self.assertEqual(exchange.attempts, 2)
        self._make_due(exchange)
        self._send()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exchange.attempts, 3)
        self.assertFalse(exchange.error)
        self.assertEqual(len(self._orders()), 1)
        self.assertEqual(production.pico_work_order_ids.state, "sent")

    def test_retries_spent_dead_letter(self):
        """When the retries are spent the exchange is dead-lettered and shown."""
        self.simulator.set_faults(error_rate=1.0, error_status=502)
        production = self._mo()
        self._confirm(production)
        exchange = production.pico_work_order_ids.exchange_ids
        for _attempt in range(self.backend.max_attempts):
            self._make_due(exchange)
            self._send()
        self.assertEqual(exchange.state, "dead")
        self.assertEqual(exchange.attempts, self.backend.max_attempts)
        self.assertEqual(production.pico_work_order_ids.state, "error")
        self.assertEqual(production.pico_state, "error")
        self.assertEqual(self._orders(), [])
        self._assert_failure_shown(production, "502")
        # Pico is back: Retry sends it with a fresh budget.
        self.simulator.set_faults(clear=True)
        exchange.with_user(self.pico_manager).action_retry()
        self.assertEqual(exchange.state, "pending")
        self.assertEqual(exchange.attempts, 0)
        self._send()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(production.pico_work_order_ids.state, "sent")
        self.assertEqual(len(self._orders()), 1)

    def _assert_failure_shown(self, production, text):
        messages = production.message_ids.filtered(
            lambda m: text in (m.body or "") and "Pico" in (m.body or "")
        )
        self.assertTrue(messages, "the failure is posted on the MO's chatter")
        activities = production.activity_ids.filtered(
            lambda a: (
                a.activity_type_id == self.env.ref("mail.mail_activity_data_warning")
            )
        )
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, production.user_id or self.pico_manager)

    def test_permanent_error_at_once(self):
        """A GraphQL error (unknown operation) fails at once with Pico's message."""
        bom = self._bom(self.widget, self.op_missing)
        production = self._mo(bom=bom)
        self._confirm(production)
        exchange = production.pico_work_order_ids.exchange_ids
        self._send()
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.attempts, 1)
        self.assertEqual(exchange.error_code, "NOT_FOUND")
        self.assertIn("unknown operation 'op-gone'", exchange.error)
        self.assertFalse(exchange.next_attempt_at)
        unit = production.pico_work_order_ids
        self.assertEqual(unit.state, "error")
        self.assertIn("op-gone", unit.last_error)
        self._assert_failure_shown(production, "op-gone")

    def test_http_4xx_at_once(self):
        """An HTTP 400 to a save sent alone is permanent: no retry is scheduled.
        (A 400 to several saves in one request: tests/test_order_batch.py.)"""
        self.backend.order_batch_size = 1
        self.simulator.set_faults(fail_next=1, error_status=400)
        production = self._mo(qty=2)
        self._confirm(production)
        self._send()
        exchanges = production.pico_work_order_ids.exchange_ids.sorted("id")
        self.assertEqual(exchanges.mapped("state"), ["failed", "done"])
        self.assertEqual(exchanges[0].http_status, 400)
        self.assertEqual(len(self._orders()), 1)

    def test_rolled_back_confirm_sends_nothing(self):
        """A confirmation rolled back leaves no request behind."""
        production = self._mo(qty=2)
        with self.assertRaises(_Rollback), self.env.cr.savepoint():
            self._confirm(production)
            self.assertEqual(len(production.pico_work_order_ids), 2)
            raise _Rollback
        self.env.invalidate_all()
        self.assertEqual(production.state, "draft")
        self.assertFalse(self.env["pico.exchange"].search([]))
        self.assertEqual(self._send(), 0)
        self.assertEqual(self.simulator.orders(), [])
        self.assertEqual(self.simulator.requests(), [])

    def test_crash_after_send_no_duplicate(self):
        """A worker dying after Pico answered resends; Pico still holds one order."""
        production = self._mo()
        self._confirm(production)
        exchange = production.pico_work_order_ids.exchange_ids
        self._send()
        self.assertEqual(self._orders()[0]["saveCount"], 1)
        # What a crash between the HTTP answer and the commit leaves: the claim.
        exchange.sudo().write(
            {
                "state": "sending",
                "sending_since": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        self._send()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exchange.response, "updated")
        orders = self._orders()
        self.assertEqual(len(orders), 1)
        self.assertEqual(orders[0]["saveCount"], 2)

    def test_recent_sending_row_is_left_alone(self):
        """A row another worker is sending right now is not swept."""
        production = self._mo()
        self._confirm(production)
        exchange = production.pico_work_order_ids.exchange_ids
        exchange.sudo().write(
            {"state": "sending", "sending_since": fields.Datetime.now()}
        )
        self.assertEqual(self._send(), 0)
        self.assertEqual(exchange.state, "sending")

    # --- Lifecycle ---------------------------------------------------------------
    def test_cancel_mo_cancels_in_pico(self):
        """Cancelling the MO cancels its units in Pico."""
        production = self._mo(qty=2)
        self._confirm(production)
        self._send()
        production.with_user(self.planner).action_cancel()
        self.assertEqual(
            production.pico_work_order_ids.mapped("cancel_requested"), [True, True]
        )
        self._send()
        self.assertEqual([o["state"] for o in self._orders()], ["canceled"] * 2)
        self.assertEqual(
            production.pico_work_order_ids.mapped("state"), ["cancelled"] * 2
        )
        self.assertEqual(production.pico_state, "cancelled")

    def test_cancel_before_send_keeps_order(self):
        """A cancel queued behind its save waits for it: Pico ends cancelled."""
        production = self._mo()
        self._confirm(production)
        production.action_cancel()
        self.assertEqual(self._send(), 2)
        requests = [r["query"] for r in self.simulator.requests()]
        self.assertIn("operationOrderSave", requests[0])
        self.assertIn("operationOrderCancel", requests[1])
        self.assertEqual([o["state"] for o in self._orders()], ["canceled"])
        self.assertEqual(production.pico_work_order_ids.state, "cancelled")

    def test_cancel_refused_for_started_unit(self):
        """Pico's refusal to cancel a started unit is shown, not swallowed."""
        production = self._mo(qty=2)
        self._confirm(production)
        self._send()
        external_id = production.pico_work_order_ids[0].external_order_id
        self.simulator.start_order(external_id, 1)
        production.action_cancel()
        self._send()
        by_index = {o["orderIndex"]: o["state"] for o in self._orders()}
        self.assertEqual(by_index, {0: "canceled", 1: "started"})
        units = production.pico_work_order_ids.sorted("order_index")
        self.assertEqual(units.mapped("state"), ["cancelled", "progress"])
        self.assertIn("already started", units[1].last_error)
        refused = units[1].exchange_ids.filtered(lambda e: e.kind == "cancel")
        self.assertEqual(refused.state, "failed")
        self.assertEqual(refused.error_code, "ORDER_STARTED")
        self._assert_failure_shown(production, "already started")

    def test_quantity_change_adds_and_cancels_indexes(self):
        """Raising the quantity adds indexes; lowering it cancels the last ones."""
        production = self._mo(qty=2)
        self._confirm(production)
        self._send()
        self.env["change.production.qty"].create(
            {"mo_id": production.id, "product_qty": 4}
        ).change_prod_qty()
        self._send()
        self.assertEqual([o["orderIndex"] for o in self._orders()], [0, 1, 2, 3])
        self.assertEqual(len(production.pico_work_order_ids), 4)
        self.env["change.production.qty"].create(
            {"mo_id": production.id, "product_qty": 1}
        ).change_prod_qty()
        self._send()
        states = {o["orderIndex"]: o["state"] for o in self._orders()}
        self.assertEqual(
            states, {0: "created", 1: "canceled", 2: "canceled", 3: "canceled"}
        )
        self.assertEqual(
            production.pico_work_order_ids.sorted("order_index").mapped("state"),
            ["sent", "cancelled", "cancelled", "cancelled"],
        )
        # Raising it again orders new indexes; cancelled ones are not reused.
        self.env["change.production.qty"].create(
            {"mo_id": production.id, "product_qty": 2}
        ).change_prod_qty()
        self._send()
        live = [o["orderIndex"] for o in self._orders(state="created")]
        self.assertEqual(live, [0, 4])

    def test_backorder_takes_over_units(self):
        """Closing part of an MO hands the unbuilt units to the backorder."""
        # With the default "wait" policy a planner cannot close an order Pico is
        # building (tests/test_complete.py); "backorder" lets them.
        self.backend.partial_close = "backorder"
        production = self._mo(qty=3)
        self._confirm(production)
        self._send()
        production.qty_producing = 1
        production.lot_producing_ids = [
            Command.create({"name": "SN-BO-1", "product_id": self.widget.id})
        ]
        production.set_qty_producing()
        action = production.button_mark_done()
        Form(
            self.env[action["res_model"]].with_context(**action["context"])
        ).save().action_backorder()
        backorder = production.production_group_id.production_ids - production
        self.assertEqual(production.state, "done")
        self.assertEqual(
            backorder.pico_work_order_ids.sorted("order_index").mapped("order_index"),
            [1, 2],
        )
        self.assertEqual(set(backorder.pico_work_order_ids.mapped("state")), {"sent"})
        # Odoo closed unit 0 without Pico: Pico must not build it again.
        self._send()
        states = {o["orderIndex"]: o["state"] for o in self._orders()}
        self.assertEqual(states, {0: "canceled", 1: "created", 2: "created"})

    # --- Triggers and mapping ----------------------------------------------------
    def test_manual_trigger_sends_on_button_only(self):
        """With the 'Send to Pico' trigger, confirming sends nothing."""
        self.backend.release_trigger = "manual"
        production = self._mo(qty=2)
        self._confirm(production)
        self.assertFalse(production.pico_work_order_ids)
        self.assertTrue(production.pico_can_send)
        production.action_pico_send()
        self.assertEqual(len(production.pico_work_order_ids), 2)
        self.assertFalse(production.pico_can_send)
        # Pressing it again (another tab) adds nothing.
        production.action_pico_send()
        self.assertEqual(len(production.pico_work_order_ids), 2)
        self._send()
        self.assertEqual(len(self._orders()), 2)

    def test_plan_trigger(self):
        """With the 'plan' trigger, units are created when the MO is planned."""
        self.backend.release_trigger = "plan"
        workcenter = self.env["mrp.workcenter"].create({"name": "Pico line"})
        bom = self._bom(self.widget, self.op_widget)
        bom.operation_ids = [
            Command.create({"name": "Assemble", "workcenter_id": workcenter.id})
        ]
        production = self._mo(bom=bom)
        self._confirm(production)
        self.assertFalse(production.pico_work_order_ids)
        production.button_plan()
        self.assertEqual(len(production.pico_work_order_ids), 1)

    def test_unmapped_bom_is_ignored(self):
        """An MO whose BOM is not mapped never produces Pico traffic."""
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.widget.product_tmpl_id.id,
                "bom_line_ids": [
                    Command.create({"product_id": self.component.id, "product_qty": 1})
                ],
            }
        )
        production = self._mo(bom=bom)
        self._confirm(production)
        self.assertFalse(production.pico_work_order_ids)
        self.assertFalse(production.pico_can_send)
        with self.assertRaises(UserError):
            production.action_pico_send()

    def test_subassembly_mo_left_to_pico_waterfall(self):
        """A child MO built inside its parent's Pico product is not sent again."""
        self.simulator.deploy_operation({"id": "op-kit", "name": "Kit"})
        self.simulator.deploy_operation({"id": "op-sub", "name": "Sub"})
        self.simulator.add_sub_operation("op-kit", "op-sub")
        op_kit = self._pico_operation("op-kit", "Kit", "KIT-1")
        op_sub = self._pico_operation("op-sub", "Sub", "SUB-1")
        self.env["pico.operation.link"].create(
            {"parent_id": op_kit.id, "child_id": op_sub.id}
        )
        self.env.ref("stock.route_warehouse0_mto").active = True
        sub = self.env["product.product"].create(
            {
                "name": "Sub",
                "default_code": "SUB-1",
                "type": "consu",
                "is_storable": True,
                "route_ids": [
                    Command.set(
                        [
                            self.env.ref("stock.route_warehouse0_mto").id,
                            self.env.ref("mrp.route_warehouse0_manufacture").id,
                        ]
                    )
                ],
            }
        )
        kit = self.env["product.product"].create(
            {
                "name": "Kit",
                "default_code": "KIT-1",
                "type": "consu",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        self._bom(sub, op_sub)
        kit_bom = self._bom(kit, op_kit, lines=sub)
        production = self.env["mrp.production"].create(
            {"product_id": kit.id, "bom_id": kit_bom.id, "product_qty": 2}
        )
        self._confirm(production)
        child = production._get_children()
        self.assertEqual(len(child), 1)
        self.assertEqual(child.state, "confirmed")
        self.assertFalse(child.pico_work_order_ids)
        self.assertEqual(child.pico_parent_production_id, production)
        self.assertFalse(child.pico_can_send)
        with self.assertRaises(UserError):
            child.action_pico_send()
        self._send()
        self.assertEqual(
            [(o["operationId"], o["orderIndex"]) for o in self._orders()],
            [("op-kit", 0), ("op-kit", 1)],
        )

    # --- Serials -----------------------------------------------------------------
    def test_odoo_serials_are_reserved_and_sent(self):
        """With Odoo serials each unit has a lot, sent as its reservedSerialNumber
        (an input only the `full` schema has; the backend detects it)."""
        self.use_pico_schema("full")
        self.backend.serial_source = "odoo"
        tracked = self.env["product.product"].create(
            {
                "name": "Serial widget",
                "default_code": "WIDGET-1",
                "type": "consu",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        bom = self._bom(tracked, self.op_widget)
        production = self._mo(qty=2, product=tracked, bom=bom)
        self._confirm(production)
        units = production.pico_work_order_ids.sorted("order_index")
        lots = units.reserved_lot_id
        self.assertEqual(len(lots), 2)
        self.assertEqual(lots.product_id, tracked)
        self._send()
        sent = [o["reservedSerialNumber"] for o in self._orders()]
        self.assertEqual(sent, units.mapped("reserved_lot_id.name"))

    def test_pico_serials_send_none(self):
        """With Pico serials, no serial is reserved or sent."""
        production = self._mo()
        self._confirm(production)
        self.assertFalse(production.pico_work_order_ids.reserved_lot_id)
        self._send()
        self.assertIsNone(self._orders()[0]["reservedSerialNumber"])

    # --- Manual work orders ------------------------------------------------------
    def test_manual_create_and_delete(self):
        """A Pico manager creates a work order without MO, then deletes it."""
        wizard = Form(self.env["pico.manual.order"].with_user(self.pico_manager))
        wizard.backend_id = self.backend
        wizard.operation_id = self.op_widget
        wizard.external_order_id = "TEST-RUN-1"
        wizard.quantity = 2
        action = wizard.save().action_create()
        units = self.env["pico.work.order"].search(
            action["domain"], order="order_index"
        )
        self.assertEqual(len(units), 2)
        self.assertTrue(all(units.mapped("manual")))
        self.assertFalse(units.production_id)
        self._send()
        orders = self._orders()
        self.assertEqual(
            [(o["externalOrderId"], o["orderIndex"]) for o in orders],
            [("TEST-RUN-1", 0), ("TEST-RUN-1", 1)],
        )
        units[:1].with_user(self.pico_manager).action_cancel_in_pico()
        self._send()
        states = {o["orderIndex"]: o["state"] for o in self._orders()}
        self.assertEqual(states, {0: "canceled", 1: "created"})
        self.assertEqual(units[0].state, "cancelled")

    def test_manual_orders_need_a_manager(self):
        """A Pico user may neither create nor cancel Pico orders by hand."""
        user = new_test_user(
            self.env, login="pico_plain_user", groups="mrp_pico_mes.group_pico_user"
        )
        wizard = self.env["pico.manual.order"].create(
            {
                "backend_id": self.backend.id,
                "operation_id": self.op_widget.id,
                "external_order_id": "TEST-RUN-2",
            }
        )
        with self.assertRaises(UserError):
            wizard.with_user(user).action_create()
        production = self._mo()
        self._confirm(production)
        with self.assertRaises(UserError):
            production.pico_work_order_ids.with_user(user).action_cancel_in_pico()

    def test_retry_refused_for_cancelled_unit(self):
        """Retrying a failed save of a unit cancelled since would resurrect it."""
        self.simulator.set_faults(fail_next=1, error_status=400)
        production = self._mo()
        self._confirm(production)
        self._send()
        save = production.pico_work_order_ids.exchange_ids
        self.assertEqual(save.state, "failed")
        production.action_cancel()
        with self.assertRaises(UserError):
            save.action_retry()
