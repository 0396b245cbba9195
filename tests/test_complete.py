# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Completions from Pico: webhook -> inbox -> production, serials, stock, catch-up."""

import threading
import time
from datetime import timedelta

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import UserError
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..core import inbox, keys
from .common import PicoFixtures, PicoHttpCase


class CompletionMixin(PicoFixtures):
    """A drone built by Pico: two serialized components, screws, two processes."""

    @classmethod
    def _setup_drone(cls):
        env = cls.env
        cls._setup_catalogue()
        cls._setup_products()
        cls.dana = new_test_user(
            env, login="pico_dana", name="Dana Ruiz", groups="mrp.group_mrp_user"
        )
        cls.bom = cls._make_bom(
            cls.drone,
            [
                (cls.motor, 1, "attr-motor"),
                (cls.fc, 1, "attr-fc"),
                (cls.screw, 4, None),
            ],
            operation=cls._operation("op-drone"),
        )
        workcenter = env["mrp.workcenter"].create({"name": "Pico drone line"})
        cls.frame_step, cls.flight_step = env["mrp.routing.workcenter"].create(
            [
                {
                    "name": "Frame assembly",
                    "bom_id": cls.bom.id,
                    "workcenter_id": workcenter.id,
                    "sequence": 10,
                    "pico_operation_id": cls._operation("op-frame").id,
                },
                {
                    "name": "Flight controller install",
                    "bom_id": cls.bom.id,
                    "workcenter_id": workcenter.id,
                    "sequence": 20,
                    "pico_operation_id": cls._operation("op-flight").id,
                },
            ]
        )
        assert cls.bom.pico_mapping_state == "valid", cls.bom.pico_mapping_problems
        cls.lots = {
            **cls._put_in_stock(cls.motor, lot_names=["M-1", "M-2", "M-3"]),
            **cls._put_in_stock(cls.fc, lot_names=["F-1", "F-2", "F-3"]),
        }
        cls._put_in_stock(cls.screw, 100)

    # --- Helpers -------------------------------------------------------------------
    def _external_id(self, production):
        return production.pico_work_order_ids[:1].external_order_id or (
            keys.external_order_id(production.name, production.id)
        )

    def _on_hand(self, product, lot=None):
        """Quantity on hand in WH/Stock (and below), from the quants."""
        domain = [
            ("product_id", "=", product.id),
            ("location_id", "child_of", self.stock.id),
        ]
        if lot is not None:
            domain.append(("lot_id", "=", lot.id))
        return sum(self.env["stock.quant"].search(domain).mapped("quantity"))

    def _stock_snapshot(self):
        return {
            "drone": self._on_hand(self.drone),
            "screw": self._on_hand(self.screw),
            **{
                name: self._on_hand(lot.product_id, lot)
                for name, lot in self.lots.items()
            },
        }

    def _completion_fields(self, serial, motor, fc, **extra):
        return {
            "producedSerial": serial,
            "consumedSerials": [
                {"externalId": "MOTOR-220", "value": motor},
                {"externalId": "FC-330", "value": fc},
            ],
            "operator": "Dana Ruiz",
            "station": "Line 1 / St 3",
            "startedAt": "2026-11-22T09:50:00Z",
            "at": "2026-11-22T10:00:00Z",
            "cycleTime": 600000,
            **extra,
        }

    def _events(self, **domain):
        self.env.invalidate_all()
        return self.env["pico.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id",
        )

    @staticmethod
    def _pico_times(workorders):
        """Time logged from Pico's completions (not Odoo's default durations)."""
        return workorders.time_ids.filtered(
            lambda time_: (time_.description or "").startswith("Pico")
        )

    def _group(self, production):
        """The order and its backorders, oldest first."""
        return production.production_group_id.production_ids.sorted("id")

    @staticmethod
    def _webhook_body(completion):
        """What Pico delivers for a completion (the simulator's control object)."""
        body = dict(completion)
        body.pop("eventId", None)
        return {"data": {"operationOrderCompletesStream": body}}


@tagged("post_install", "-at_install", "pico_complete")
class TestCompletion(CompletionMixin, PicoHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    # --- Production ----------------------------------------------------------------
    def test_completion_produces_unit_serial_and_exact_components(self):
        """A delivered completion builds the unit with its serial and its components.

        Station, operator and cycle time need fields Pico does not document: the
        `full` schema serves them and registration detects them."""
        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        production = self.make_mo(qty=2)
        external_id = self._external_id(production)
        before = self._stock_snapshot()
        self.assertEqual(before["drone"], 0)
        self.assertEqual(before["screw"], 100)

        self.deliver_completion(
            external_id, 0, **self._completion_fields("DR-0001", "M-2", "F-1")
        )
        delivery = self.simulator.deliveries()[-1]
        self.assertEqual(delivery["status"], 202, delivery)
        event = self._events()
        self.assertEqual((event.source, event.state), ("webhook", "received"))
        self.assertEqual(str(event.mes_time), "2026-11-22 10:00:00")
        # The door only stored it: nothing was produced in the request.
        self.assertEqual(self._on_hand(self.drone), 0)

        self.assertEqual(self.process_events(), 1)
        self.assertEqual(event.state, "done", event.error)
        built, backorder = self._group(production)
        self.assertEqual(built, production)
        self.assertEqual(built.state, "done")
        self.assertEqual(built.qty_produced, 1)
        self.assertEqual(built.lot_producing_ids.name, "DR-0001")
        after = self._stock_snapshot()
        self.assertEqual(after["drone"], 1)
        self.assertEqual(self._on_hand(self.drone, built.lot_producing_ids), 1)
        self.assertEqual(after["screw"], 96)
        self.assertEqual((after["M-2"], after["F-1"]), (0, 0))
        self.assertEqual(
            {
                name: qty
                for name, qty in after.items()
                if name not in ("drone", "screw")
            },
            {**{n: 1 for n in self.lots}, "M-2": 0, "F-1": 0},
        )
        motor_move = built.move_raw_ids.filtered(lambda m: m.product_id == self.motor)
        self.assertEqual(motor_move.state, "done")
        self.assertEqual(motor_move.move_line_ids.lot_id.name, "M-2")
        # The unit records what Pico reported.
        unit = built.pico_work_order_ids
        self.assertEqual(unit.order_index, 0)
        self.assertEqual(unit.state, "done")
        self.assertEqual(unit.produced_lot_id, built.lot_producing_ids)
        self.assertEqual(unit.station, "Line 1 / St 3")
        self.assertEqual(unit.operator_id.user_id, self.dana)
        self.assertEqual(unit.cycle_time, 10.0)
        self.assertEqual(str(unit.started_at), "2026-11-22 09:50:00")
        self.assertEqual(str(unit.completed_at), "2026-11-22 10:00:00")
        self.assertEqual(unit.received_at, event.received_at)
        self.assertEqual(event.production_id, built)
        self.assertIn("DR-0001", event.result)
        # The remaining unit waits on the backorder, still ordered in Pico.
        self.assertEqual(backorder.state, "confirmed")
        self.assertEqual(backorder.product_qty, 1)
        self.assertEqual(backorder.pico_work_order_ids.order_index, 1)
        self.assertEqual(backorder.pico_work_order_ids.external_order_id, external_id)
        # Work time: no process completion was reported, so the unit's 10 minutes
        # are shared by its two work orders, for the matched operator.
        times = self._pico_times(built.workorder_ids).sorted("date_start")
        self.assertEqual(
            times.workorder_id.operation_id, self.frame_step | self.flight_step
        )
        self.assertEqual(times.user_id, self.dana)
        self.assertAlmostEqual(sum(times.mapped("duration")), 10.0)
        self.assertEqual(str(times[0].date_start), "2026-11-22 09:50:00")
        self.assertEqual(str(times[-1].date_end), "2026-11-22 10:00:00")

        self.deliver_completion(
            external_id, 1, **self._completion_fields("DR-0002", "M-1", "F-2")
        )
        self.assertEqual(self.process_events(), 1)
        self.assertEqual(backorder.state, "done")
        self.assertEqual(backorder.lot_producing_ids.name, "DR-0002")
        final = self._stock_snapshot()
        self.assertEqual(final["drone"], 2)
        self.assertEqual(final["screw"], 92)
        self.assertEqual((final["M-1"], final["F-2"], final["M-3"]), (0, 0, 1))
        self.assertEqual(set(self._group(production).mapped("state")), {"done"})
        self.assertEqual(production.pico_state, "done")
        self.assertEqual(backorder.pico_state, "done")

    def test_reported_serial_replaces_odoo_reservation(self):
        """Odoo reserved a motor; the one Pico reports is the one consumed."""
        production = self.make_mo()
        motor_move = production.move_raw_ids.filtered(
            lambda m: m.product_id == self.motor
        )
        reserved = motor_move.move_line_ids.lot_id
        self.assertEqual(len(reserved), 1, "Odoo reserved a motor serial")
        other = self.lots["M-3"] if reserved.name != "M-3" else self.lots["M-2"]
        body = self._webhook_body(
            self.simulator.complete_order(
                self._external_id(production),
                0,
                **self._completion_fields("DR-0101", other.name, "F-3"),
            )
        )
        self.assertEqual(self.post_webhook("completion", body).status_code, 202)
        self.process_events()
        self.assertEqual(production.state, "done")
        self.assertEqual(motor_move.move_line_ids.lot_id, other)
        self.assertEqual(self._on_hand(self.motor, other), 0)
        self.assertEqual(self._on_hand(self.motor, reserved), 1)

    def test_same_delivery_twice_changes_nothing(self):
        """Pico delivering twice (and again later) applies the completion once."""
        self.backend.action_register_webhooks()
        self.simulator.set_faults(duplicate_webhooks=True)
        production = self.make_mo()
        self.deliver_completion(
            self._external_id(production),
            0,
            count=2,
            **self._completion_fields("DR-0201", "M-1", "F-1"),
        )
        statuses = sorted(d["status"] for d in self.simulator.deliveries())
        self.assertEqual(statuses, [200, 202])
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(self.process_events(), 1)
        snapshot = self._stock_snapshot()
        self.assertEqual(snapshot["drone"], 1)
        # Later: the same body again, and the processor run again.
        again = self.post_webhook("completion", self.simulator.deliveries()[0]["body"])
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["status"], "duplicate")
        self.assertEqual(self.process_events(), 0)
        self.assertEqual(self._stock_snapshot(), snapshot)
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(len(self._group(production)), 1)

    def test_recompletion_of_done_unit_has_no_effect(self):
        """A second completion of a built unit (new time) is recorded, not applied."""
        production = self.make_mo()
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields("DR-0301", "M-1", "F-1"),
        )
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        snapshot = self._stock_snapshot()
        rework = dict(completion, at="2026-11-22T11:00:00Z")
        self.assertEqual(
            self.post_webhook("completion", self._webhook_body(rework)).status_code, 202
        )
        self.process_events()
        second = self._events()[-1]
        self.assertEqual(second.state, "done")
        self.assertIn("already completed", second.result)
        self.assertEqual(self._stock_snapshot(), snapshot)

    def test_child_process_completion_is_recorded_only(self):
        """Completions of Pico's processes produce nothing; their time is logged
        (operator and cycle time: `full` schema, detected at registration)."""
        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        production = self.make_mo()
        external_id = self._external_id(production)
        snapshot = self._stock_snapshot()
        self.deliver_completion(
            external_id,
            0,
            operationId="op-frame",
            wip=True,
            operator="Zed Unknown",
            startedAt="2026-11-22T09:00:00Z",
            at="2026-11-22T09:20:00Z",
            cycleTime=1200000,
        )
        self.process_events()
        child = self._events()
        self.assertEqual(child.state, "done", child.error)
        self.assertIn("Nothing is produced", child.result)
        self.assertEqual(production.state, "confirmed")
        self.assertEqual(production.pico_work_order_ids.state, "progress")
        self.assertEqual(self._stock_snapshot(), snapshot)
        self.assertIn("Frame assembly", production.message_ids.mapped("body")[0])
        # The operator nobody in Odoo matches waits for review.
        zed = self.env["pico.operator"].search([("name", "=", "Zed Unknown")])
        self.assertEqual(zed.state, "unmatched")

        self.deliver_completion(
            external_id, 0, **self._completion_fields("DR-0401", "M-1", "F-1")
        )
        self.process_events()
        self.assertEqual(production.state, "done")
        frame_wo = production.workorder_ids.filtered(
            lambda wo: wo.operation_id == self.frame_step
        )
        frame_time = self._pico_times(frame_wo)
        self.assertEqual(len(frame_time), 1)
        self.assertAlmostEqual(frame_time.duration, 20.0)
        self.assertEqual(str(frame_time.date_start), "2026-11-22 09:00:00")
        self.assertFalse(frame_time.user_id, "unmatched operator: no user")
        self.assertIn("Zed Unknown", frame_time.description)
        # The unit's own time is not added on top of its processes' times; the
        # flight work order, which Pico reported nothing for, gets Odoo's usual
        # expected duration.
        flight_wo = production.workorder_ids - frame_wo
        self.assertFalse(self._pico_times(flight_wo))

    # --- Doors -----------------------------------------------------------------------
    def test_bad_secret_is_refused(self):
        """Deliveries with a wrong secret are 401 and store nothing."""
        self.backend.action_register_webhooks()
        self.backend.action_rotate_webhook_secret()
        self.simulator.configure(webhook_max_tries=1)
        production = self.make_mo()
        self.deliver_completion(
            self._external_id(production),
            0,
            **self._completion_fields("DR-0501", "M-1", "F-1"),
        )
        self.assertEqual(self.simulator.deliveries()[-1]["status"], 401)
        self.assertFalse(self._events())
        self.assertEqual(production.state, "confirmed")

    def test_malformed_body_is_400_and_stores_nothing(self):
        """A body breaking the schema is 400 naming the field; nothing is stored."""
        production = self.make_mo()
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields("DR-0601", "M-1", "F-1"),
        )
        body = self._webhook_body(completion)
        body["data"]["operationOrderCompletesStream"]["orderIndex"] = "first"
        response = self.post_webhook("completion", body)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "orderIndex")
        body = self._webhook_body(completion)
        del body["data"]["operationOrderCompletesStream"]["at"]
        response = self.post_webhook("completion", body)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "at")
        self.assertFalse(self._events())
        self.assertEqual(self.process_events(), 0)

    # --- Held, dead, replay ------------------------------------------------------
    def test_completion_before_order_is_held_then_applied(self):
        """A completion for an order Odoo does not know yet waits, then applies."""
        # Not due again by the clock inside one run, however slow the machine.
        self.backend.retry_base_delay = 600
        production = self.make_mo(confirm=False)
        external_id = self._external_id(production)
        completion = self.simulator.complete_order(
            external_id,
            0,
            operationId="op-drone",
            **self._completion_fields("DR-0701", "M-1", "F-1"),
        )
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        event = self._events()
        self.assertEqual(event.state, "held")
        self.assertEqual(event.attempts, 1)
        self.assertIn(external_id, event.error)
        self.assertTrue(event.next_attempt_at)
        self.assertEqual(self.process_events(), 0, "not due yet")

        production.action_confirm()
        self.assertEqual(production.pico_work_order_ids.external_order_id, external_id)
        self.assertEqual(self.process_events(), 1)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")
        self.assertEqual(production.lot_producing_ids.name, "DR-0701")
        self.assertEqual(self._on_hand(self.drone), 1)

    def test_dead_letter_then_replay(self):
        """Held past its tries an event is dead and shown; Retry applies it later."""
        self.backend.max_attempts = 2
        production = self.make_mo(confirm=False)
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            operationId="op-drone",
            **self._completion_fields("DR-0801", "M-1", "F-1"),
        )
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        event = self._events()
        event.sudo().next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.process_events()
        self.assertEqual(event.state, "dead")
        self.assertTrue(event.activity_ids, "someone is told")
        production.action_confirm()
        self.assertEqual(self.process_events(), 0, "a dead letter waits for a person")
        event.action_retry()
        self.assertEqual(self.process_events(), 1)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")

    def test_odoo_serial_mismatch_fails_visibly(self):
        """With Odoo serials, another serial from Pico fails, shown on the MO."""
        self.use_pico_schema("full")
        self.backend.serial_source = "odoo"
        production = self.make_mo()
        reserved = production.pico_work_order_ids.reserved_lot_id
        self.assertTrue(reserved)
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields("WRONG-1", "M-1", "F-1"),
        )
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        event = self._events()
        self.assertEqual(event.state, "failed")
        self.assertIn("WRONG-1", event.error)
        self.assertIn(reserved.name, event.error)
        self.assertEqual(event.production_id, production)
        self.assertTrue(
            any("WRONG-1" in message.body for message in production.message_ids)
        )
        self.assertTrue(production.activity_ids, "the planner is told")
        self.assertEqual(production.state, "confirmed")
        self.assertEqual(production.pico_work_order_ids.state, "sent")
        self.assertEqual(self._on_hand(self.motor), 3, "nothing consumed")

    def test_odoo_serial_used_for_the_unit(self):
        """With Odoo serials, the reserved lot is the one produced."""
        self.use_pico_schema("full")
        self.backend.serial_source = "odoo"
        production = self.make_mo()
        reserved = production.pico_work_order_ids.reserved_lot_id
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields(None, "M-1", "F-1"),
        )
        self.assertEqual(completion["endState"]["producedSerial"], reserved.name)
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        self.assertEqual(production.lot_producing_ids, reserved)
        self.assertEqual(self._on_hand(self.drone, reserved), 1)

    def test_unknown_component_serial_fails_then_retry(self):
        """A component serial Odoo never received fails; after receiving, Retry."""
        production = self.make_mo()
        completion = self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields("DR-0901", "M-99", "F-1"),
        )
        self.post_webhook("completion", self._webhook_body(completion))
        self.process_events()
        event = self._events()
        self.assertEqual(event.state, "failed")
        self.assertIn("M-99", event.error)
        self.assertEqual(self._on_hand(self.drone), 0)
        lot = self.env["stock.lot"].create(
            {"name": "M-99", "product_id": self.motor.id}
        )
        self.env["stock.quant"]._update_available_quantity(
            self.motor, self.stock, 1, lot_id=lot
        )
        event.action_retry()
        self.process_events()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self._on_hand(self.motor, lot), 0)
        self.assertEqual(self._on_hand(self.drone), 1)

    # --- Catch-up --------------------------------------------------------------------
    def test_missed_webhook_caught_up_once(self):
        """A completion whose webhook never arrived is applied once by catch-up."""
        self.backend.action_register_webhooks()
        self.simulator.configure(webhook_max_tries=1)
        self.simulator.set_faults(webhook_fail_next=1)
        production = self.make_mo()
        self.deliver_completion(
            self._external_id(production),
            0,
            **self._completion_fields("DR-1001", "M-1", "F-1"),
        )
        self.assertTrue(self.simulator.deliveries()[-1]["gaveUp"])
        self.assertFalse(self._events())

        self.env["pico.backend"]._cron_reconcile()
        event = self._events()
        self.assertEqual((len(event), event.source), (1, "poll"))
        self.assertTrue(self.backend.completions_checked_at)
        self.process_events()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")
        snapshot = self._stock_snapshot()
        # Again (cron and button): nothing new; a late webhook is a duplicate.
        self.env["pico.backend"]._cron_reconcile()
        action = self.backend.action_pico_catch_up()
        self.assertIn("0 missed", action["params"]["message"])
        late = self.post_webhook("completion", self.simulator.deliveries()[-1]["body"])
        self.assertEqual(late.status_code, 200)
        self.assertEqual(self.process_events(), 0)
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(self._stock_snapshot(), snapshot)

    # --- Planner closing --------------------------------------------------------------
    def test_planner_close_waits_for_pico(self):
        """With 'wait', closing an order Pico is building is refused."""
        self.backend.partial_close = "wait"
        production = self.make_mo(qty=2)
        with self.assertRaisesRegex(UserError, "still has 2 unit"):
            production.button_mark_done()
        self.backend.partial_close = "backorder"
        production.qty_producing = 1
        production.lot_producing_ids = [
            Command.create({"name": "HAND-1", "product_id": self.drone.id})
        ]
        production.set_qty_producing()
        action = production.with_context(
            skip_backorder=True, mo_ids_to_backorder=production.ids
        ).button_mark_done()
        self.assertTrue(action)
        self.assertEqual(production.state, "done")
        backorder = self._group(production) - production
        self.assertEqual(len(backorder.pico_work_order_ids), 1)


@tagged("post_install", "-at_install", "pico_complete")
class TestConcurrentProcessors(TransactionCase):
    """Two processors in parallel, on real committed rows and real connections."""

    UNITS_PER_ORDER = 2
    ORDERS = 3

    def _setup_committed(self, env):
        """Backend, widget, orders with units and one event per unit; return ids."""
        backend = env["pico.backend"].create(
            {
                "name": "Concurrency Pico",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "release_trigger": "manual",
                "max_attempts": 10,
            }
        )
        operation = env["pico.operation"].create(
            {"backend_id": backend.id, "pico_id": "op-cc", "name": "CC widget"}
        )
        widget = env["product.product"].create(
            {
                "name": "CC widget",
                "type": "consu",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        part = env["product.product"].create(
            {"name": "CC part", "type": "consu", "is_storable": True}
        )
        bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": widget.product_tmpl_id.id,
                "product_qty": 1,
                "pico_backend_id": backend.id,
                "pico_operation_id": operation.id,
                "bom_line_ids": [
                    Command.create({"product_id": part.id, "product_qty": 2})
                ],
            }
        )
        stock = env.ref("stock.warehouse0").lot_stock_id
        env["stock.quant"]._update_available_quantity(part, stock, 100)
        events = env["pico.event"]
        for number in range(self.ORDERS):
            production = env["mrp.production"].create(
                {
                    "product_id": widget.id,
                    "bom_id": bom.id,
                    "product_qty": self.UNITS_PER_ORDER,
                }
            )
            production.action_confirm()
            external_id = keys.external_order_id(production.name, production.id)
            env["pico.work.order"].create(
                [
                    {
                        "backend_id": backend.id,
                        "production_id": production.id,
                        "operation_id": operation.id,
                        "operation_pico_id": "op-cc",
                        "external_order_id": external_id,
                        "order_index": index,
                        "state": "sent",
                    }
                    for index in range(self.UNITS_PER_ORDER)
                ]
            )
            for index in range(self.UNITS_PER_ORDER):
                payload = {
                    "externalOrderId": external_id,
                    "orderIndex": index,
                    "at": f"2026-11-22T10:0{index}:00Z",
                    "operation": {"id": "op-cc"},
                    "operationSummary": {"cycleTime": 60000},
                    "endState": {"producedSerial": f"CC-{number}-{index}"},
                }
                intake = inbox.intake(inbox.COMPLETION, payload, backend.id)
                events |= events._pico_store(backend, intake, "webhook")[0]
        return {
            "backend": backend.id,
            "products": (widget | part).ids,
            "templates": (widget | part).product_tmpl_id.ids,
            "bom": bom.id,
            "events": events.ids,
            "stock": stock.id,
        }

    def _cleanup(self, ids):
        """Remove the committed rows (raw SQL: done stock cannot be unlinked)."""
        products = tuple(ids["products"])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id FROM mrp_production WHERE product_id IN %s", [products]
            )
            productions = tuple(row[0] for row in cr.fetchall()) or (0,)
            cr.execute(
                "SELECT production_group_id FROM mrp_production WHERE id IN %s",
                [productions],
            )
            groups = tuple(row[0] for row in cr.fetchall() if row[0]) or (0,)
            cr.execute(
                "SELECT reference_id FROM stock_reference_production_rel "
                "WHERE production_id IN %s",
                [productions],
            )
            references = tuple(row[0] for row in cr.fetchall()) or (0,)
            statements = [
                ("DELETE FROM stock_move_line WHERE product_id IN %s", products),
                ("DELETE FROM stock_move WHERE product_id IN %s", products),
                ("DELETE FROM stock_quant WHERE product_id IN %s", products),
                ("DELETE FROM pico_backend WHERE id = %s", ids["backend"]),
                ("DELETE FROM mrp_production WHERE id IN %s", productions),
                ("DELETE FROM mrp_production_group WHERE id IN %s", groups),
                ("DELETE FROM stock_reference WHERE id IN %s", references),
                ("DELETE FROM stock_lot WHERE product_id IN %s", products),
                ("DELETE FROM mrp_bom WHERE id = %s", ids["bom"]),
                ("DELETE FROM product_product WHERE id IN %s", products),
                (
                    "DELETE FROM product_template WHERE id IN %s",
                    tuple(ids["templates"]),
                ),
                (
                    (
                        "DELETE FROM mail_message WHERE model = 'mrp.production' "
                        "AND res_id IN %s"
                    ),
                    productions,
                ),
                (
                    (
                        "DELETE FROM mail_followers "
                        "WHERE res_model = 'mrp.production' AND res_id IN %s"
                    ),
                    productions,
                ),
            ]
            for query, param in statements:
                cr.execute(query, [param])

    def _process(self, event_ids, barrier, errors, counts):
        try:
            with self.registry.cursor() as cr:
                # A deadlock between the two must fail the test, not hang it.
                cr.execute("SET lock_timeout = '30s'")
                # The test runner holds the registry class lock while it runs the
                # tests: give the cursor its transaction without asking for it.
                cr.transaction = Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait(timeout=30)
                counts.append(env["pico.event"]._pico_run(ids=event_ids, commit=True))
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    def test_two_processors_apply_each_event_once(self):
        """Two workers at once: every event is applied exactly once."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            ids = self._setup_committed(env)
            # Real rows for two real connections; _cleanup removes them.
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, ids)
        event_ids = ids["events"]
        barrier = threading.Barrier(2)
        errors, counts = [], []
        workers = [
            threading.Thread(
                target=self._process, args=(event_ids, barrier, errors, counts)
            )
            for _worker in range(2)
        ]
        # Odoo logs each lost race (serialization failure) as a bad query: expected.
        with mute_logger("odoo.sql_db"):
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(120)
        self.assertFalse(errors)
        self.assertFalse(any(worker.is_alive() for worker in workers))
        self.assertEqual(len(counts), 2)
        # The orders share their component's stock: work on them is serialised
        # (pico.event._pico_lock_keys), so one worker may have left all to the other.
        self.assertTrue(any(counts), f"events were applied: {counts}")
        # An event that lost a race on its order (the other worker was splitting
        # it) comes due again a moment later; run until nothing is left.
        deadline = time.monotonic() + 60
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            events = env["pico.event"].browse(event_ids)
            while time.monotonic() < deadline:
                env.invalidate_all()
                if all(event.state == "done" for event in events):
                    break
                time.sleep(0.5)
                with mute_logger("odoo.sql_db"):
                    env["pico.event"]._pico_run(ids=event_ids, commit=True)
            env.invalidate_all()
            self.assertEqual(
                events.mapped("state"),
                ["done"] * len(event_ids),
                events.mapped("error"),
            )
            widget, part = env["product.product"].browse(ids["products"])
            stock = env["stock.location"].browse(ids["stock"])
            productions = env["mrp.production"].search([("product_id", "=", widget.id)])
            units = self.ORDERS * self.UNITS_PER_ORDER
            self.assertEqual(len(productions), units, "one closed order per unit")
            self.assertEqual(set(productions.mapped("state")), {"done"})
            self.assertEqual(sum(productions.mapped("qty_produced")), units)
            quants = env["stock.quant"].search([("location_id", "=", stock.id)])
            widget_quants = quants.filtered(lambda q: q.product_id == widget)
            self.assertEqual(sum(widget_quants.mapped("quantity")), units)
            self.assertEqual(len(widget_quants.lot_id), units, "each serial once")
            part_qty = sum(
                quants.filtered(lambda q: q.product_id == part).mapped("quantity")
            )
            self.assertEqual(part_qty, 100 - 2 * units)
            done_moves = env["stock.move"].search(
                [("product_id", "=", part.id), ("state", "=", "done")]
            )
            self.assertEqual(sum(done_moves.mapped("quantity")), 2 * units)
