# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The as-built record of a serial: Shop floor page, genealogy, PDF, notes."""

import time

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .common import BrokerMixin, PicoHttpCase
from .test_complete import CompletionMixin

MQTT_PREFIX = "pico/asbuilt"


class AsBuiltMixin(CompletionMixin):
    """The drone of the completion tests, plus a motor Odoo builds from a coil."""

    @classmethod
    def _setup_asbuilt(cls):
        cls._setup_drone()
        cls.pico_user = new_test_user(
            cls.env,
            login="pico_asbuilt_reader",
            groups="mrp_pico_mes.group_pico_user,stock.group_stock_user",
        )

    def _build(self, serial="DR-0001", motor="M-2", fc="F-1", door="webhook"):
        """One drone built by Pico through `door`; return (production, lot)."""
        production = self.make_mo()
        external_id = self._external_id(production)
        fields_ = self._completion_fields(serial, motor, fc)
        if door == "webhook":
            self.deliver_completion(external_id, 0, **fields_)
        else:
            self.simulator.complete_order(external_id, 0, **fields_)
            stats = self.backend._pico_mqtt_drain(max_seconds=10, max_messages=1)
            self.assertEqual(stats.received, 1, stats.last_error)
        self.process_events()
        self.assertEqual(production.state, "done")
        return production, production.lot_producing_ids

    def _assert_record(self, lot, door):
        """What the Shop floor page shows of a drone built by `_build`."""
        lot = lot.with_user(self.pico_user)
        self.assertEqual(lot.pico_unit_id.state, "done")
        self.assertEqual(lot.pico_station, "Line 1 / St 3")
        self.assertEqual(lot.pico_operator_id.name, "Dana Ruiz")
        self.assertEqual(lot.pico_operator_user_id, self.dana)
        self.assertEqual(str(lot.pico_started_at), "2026-11-22 09:50:00")
        self.assertEqual(str(lot.pico_completed_at), "2026-11-22 10:00:00")
        self.assertEqual(lot.pico_cycle_time, 10.0)
        self.assertEqual(
            sorted(lot.pico_component_lot_ids.mapped("name")), ["F-1", "M-2"]
        )
        self.assertEqual(lot.pico_production_id, lot.pico_unit_id.production_id)
        completion = lot.pico_event_ids.filtered(lambda e: e.event_type == "completion")
        self.assertEqual(completion.mapped("source"), [door])
        self.assertEqual(completion, lot.pico_unit_id.completion_event_id)


@tagged("post_install", "-at_install", "pico_asbuilt")
class TestAsBuilt(AsBuiltMixin, PicoHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_asbuilt()

    def test_serial_record_after_webhook_completion(self):
        """A drone completed by webhook: its serial shows who, where, when, what."""
        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        production, lot = self._build()
        self._assert_record(lot, "webhook")
        # Down and up: the motor knows which drone it went into.
        motor = self.lots["M-2"].with_user(self.pico_user)
        self.assertEqual(motor.pico_used_in_lot_ids, lot)
        self.assertFalse(motor.pico_unit_id)
        # The order's exchange with Pico is on the record too.
        self.assertIn("save", lot.pico_unit_id.exchange_ids.mapped("kind"))
        # Odoo's traceability report: the production line carries the context.
        lines = (
            self.env["stock.traceability.report"]
            .with_context(active_id=production.id, model="mrp.production")
            .get_lines()
        )
        self.assertEqual(len(lines), 1)
        self.assertIn("Line 1 / St 3", lines[0]["columns"][0])
        self.assertIn("Dana Ruiz", lines[0]["columns"][0])
        self.assertIn("10.0 min", lines[0]["columns"][0])

    def test_genealogy_two_levels_down_one_up(self):
        """A coil built into a motor (by Odoo) built into a drone (by Pico)."""
        coil = self._make_product("Coil", "COIL-9", "serial")
        self._put_in_stock(coil, lot_names=["C-1"])
        motor_bom = self._make_bom(self.motor, [(coil, 1, None)], pico_backend_id=False)
        motor_mo = self.env["mrp.production"].create(
            {"product_id": self.motor.id, "bom_id": motor_bom.id, "product_qty": 1}
        )
        motor_mo.action_confirm()
        motor_lot = self.env["stock.lot"].create(
            {"name": "M-9", "product_id": self.motor.id}
        )
        motor_mo.lot_producing_ids = [Command.set(motor_lot.ids)]
        motor_mo.qty_producing = 1
        motor_mo.set_qty_producing()
        motor_mo.move_raw_ids.move_line_ids.lot_id = self.env["stock.lot"].search(
            [("name", "=", "C-1")]
        )
        motor_mo.move_raw_ids.picked = True
        motor_mo.button_mark_done()
        self.assertEqual(motor_mo.state, "done")

        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        _production, drone = self._build(serial="DR-0002", motor="M-9", fc="F-2")
        drone = drone.with_user(self.pico_user)
        self.assertEqual(
            [(level, lot.name) for level, lot in drone._pico_genealogy_tree()],
            [(1, "F-2"), (1, "M-9"), (2, "C-1")],
        )
        self.assertEqual(
            [(level, lot.name) for level, lot in drone._pico_genealogy_tree(depth=1)],
            [(1, "F-2"), (1, "M-9")],
        )
        coil_lot = self.env["stock.lot"].search([("name", "=", "C-1")])
        self.assertEqual(
            coil_lot.with_user(self.pico_user).pico_used_in_lot_ids, motor_lot
        )
        self.assertEqual(
            motor_lot.with_user(self.pico_user).pico_used_in_lot_ids, drone
        )
        # The motor Odoo built has its order, but no Pico unit.
        motor_lot = motor_lot.with_user(self.pico_user)
        self.assertEqual(motor_lot.pico_production_id, motor_mo)
        self.assertFalse(motor_lot.pico_unit_id)
        html = self._html("mrp_pico_mes.report_asbuilt_lot", drone)
        self.assertIn("C-1", html)

    def _html(self, report, records):
        html, _kind = (
            self.env["ir.actions.report"]
            .with_user(self.pico_user)
            ._render_qweb_html(report, records.ids)
        )
        return html.decode()

    def test_pdf_shows_the_unit(self):
        """The As-Built Record's HTML: station, operator, cycle time, serials, QC."""
        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        production, lot = self._build()
        self.env["pico.quality.result"].sudo().create(
            {
                "backend_id": self.backend.id,
                "lot_id": lot.id,
                "serial": lot.name,
                "production_id": production.id,
                "inspected_at": "2026-11-22 10:05:00",
                "result": "fail",
                "defect_class": "SCRATCH",
                "defect_location": "left arm",
                "station": "QC 1",
            }
        )
        self.env.company.partner_id.tz = "Europe/Brussels"
        self.env.company.resource_calendar_id.tz = "Europe/Brussels"
        html = self._html("mrp_pico_mes.report_asbuilt_lot", lot)
        for text in (
            "As-Built Record",
            "DR-0001",
            "Line 1 / St 3",
            "Dana Ruiz",
            "10.0</span> min",
            "M-2",
            "F-1",
            "SCRATCH",
            "left arm",
            "QC 1",
            "Fail",
            production.name,
            "Europe/Brussels",
            # 10:00 UTC, printed in the company's time zone.
            "11:00:00",
            f"IN-{lot.pico_unit_id.completion_event_id.id}",
        ):
            self.assertIn(text, html)
        # One per order: every unit of the order (and its backorders).
        html = self._html("mrp_pico_mes.report_asbuilt_production", production)
        self.assertIn("DR-0001", html)
        self.assertIn("Line 1 / St 3", html)
        action = production.with_user(self.pico_user).action_print_asbuilt()
        self.assertEqual(
            action["report_name"], "mrp_pico_mes.report_asbuilt_production"
        )

    def test_notes_offered_arrive_on_the_unit(self):
        """A Pico offering noteEventsStream: detected, webhook registered, a note
        lands on the unit's record and the order's chatter."""
        self.use_pico_schema("full")
        self.backend.action_register_webhooks()
        self.assertEqual(self.backend.pico_notes_state, "registered")
        self.assertIn("on NoteEvent", self.backend.pico_note_fragment)
        hooks = {s["subscriptionId"]: s for s in self.simulator.subscriptions()}
        self.assertIn(self.backend._webhook_subscription_id("note"), hooks)
        production, lot = self._build()
        before = len(self.simulator.deliveries())
        with self.allow_requests(all_requests=True):
            self.simulator.note(
                {
                    "kind": "quality_issue",
                    "text": "Left arm screw needed a second torque pass",
                    "externalOrderId": self._external_id(production),
                    "orderIndex": 0,
                    "operator": "Dana Ruiz",
                    "station": "Line 1 / St 3",
                    "createdAt": "2026-11-22T09:58:00Z",
                }
            )
            deadline = time.monotonic() + 10
            while len(self.simulator.deliveries()) <= before:
                self.assertLess(time.monotonic(), deadline, "no note delivery")
                time.sleep(0.05)
            self.assertTrue(self.simulator.wait_idle(10))
        self.assertEqual(self.simulator.deliveries()[-1]["status"], 202)
        self.process_events()
        event = self._events(event_type="note")
        self.assertEqual(event.state, "done", event.error)
        note = lot.with_user(self.pico_user).pico_note_ids
        self.assertEqual(note.text, "Left arm screw needed a second torque pass")
        self.assertEqual(note.kind, "quality_issue")
        self.assertEqual(note.author, "Dana Ruiz")
        self.assertEqual(str(note.noted_at), "2026-11-22 09:58:00")
        self.assertEqual(note.production_id, production)
        self.assertIn(event, lot.with_user(self.pico_user).pico_event_ids)
        self.assertIn("second torque pass", production.message_ids[0].body)
        self.assertIn(
            "second torque pass", self._html("mrp_pico_mes.report_asbuilt_lot", lot)
        )

    def test_notes_not_offered(self):
        """Pico's documented schema has no noteEventsStream: said, nothing breaks."""
        self.use_pico_schema("documented", introspection=True)
        self.backend.action_register_webhooks()
        self.assertEqual(self.backend.pico_features_state, "detected")
        self.assertEqual(self.backend.pico_notes_state, "not_offered")
        self.assertFalse(self.backend.pico_note_fragment)
        hooks = {s["subscriptionId"] for s in self.simulator.subscriptions()}
        self.assertEqual(
            hooks,
            {
                self.backend._webhook_subscription_id("completion"),
                self.backend._webhook_subscription_id("version"),
            },
        )
        self.assertIn("does not offer operator notes", self.backend.message_ids[0].body)
        _production, lot = self._build()
        lot = lot.with_user(self.pico_user)
        self.assertEqual(lot.pico_notes_state, "not_offered")
        self.assertFalse(lot.pico_note_ids)
        self.assertIn(
            "does not offer operator notes",
            self._html("mrp_pico_mes.report_asbuilt_lot", lot),
        )
        # Introspection refused: the documented minimum, notes not offered either.
        self.use_pico_schema("full", introspection=False)
        self.backend.action_register_webhooks()
        self.assertEqual(self.backend.pico_features_state, "refused")
        self.assertEqual(self.backend.pico_notes_state, "not_offered")

    def test_serial_produced_outside_pico(self):
        """A serial received, never built here: an empty Shop floor, no error."""
        lot = self.lots["F-3"].with_user(self.pico_user)
        self.assertFalse(lot.pico_unit_id)
        self.assertFalse(lot.pico_production_id)
        self.assertFalse(lot.pico_component_lot_ids)
        self.assertFalse(lot.pico_used_in_lot_ids)
        self.assertFalse(lot.pico_quality_ids)
        self.assertFalse(lot.pico_event_ids)
        self.assertFalse(lot.pico_note_ids)
        # The form as the browser loads it (every field of the view).
        view = self.env.ref("stock.view_production_lot_form")
        names = lot.get_views([(view.id, "form")])["models"]["stock.lot"]["fields"]
        lot.web_read({name: {} for name in names})
        html = self._html("mrp_pico_mes.report_asbuilt_lot", lot)
        self.assertIn("No shop-floor record", html)
        self.assertIn("F-3", html)

    def test_multi_company_user_sees_own_company_only(self):
        """Company B's unit, quality result and note on a shared serial are not
        shown to company A's user, and the other way round."""
        company_b = self.env["res.company"].create({"name": "Pico B"})
        backend_b = self.env["pico.backend"].create(
            {
                "name": "Pico B",
                "endpoint_url": "http://127.0.0.1:9/x",
                "company_id": company_b.id,
            }
        )
        shared = self.env["stock.lot"].create(
            {"name": "SHARED-1", "product_id": self.drone.id, "company_id": False}
        )
        for backend, text in ((self.backend, "A note"), (backend_b, "B note")):
            self.env["pico.unit.note"].create(
                {"backend_id": backend.id, "lot_id": shared.id, "text": text}
            )
            self.env["pico.quality.result"].create(
                {
                    "backend_id": backend.id,
                    "lot_id": shared.id,
                    "inspected_at": fields.Datetime.now(),
                    "result": "pass",
                    "station": f"QC {text[0]}",
                }
            )
        user_b = new_test_user(
            self.env,
            login="pico_asbuilt_b",
            groups="mrp_pico_mes.group_pico_user,stock.group_stock_user",
            company_id=company_b.id,
            company_ids=[Command.set(company_b.ids)],
        )
        for user, letter in ((self.pico_user, "A"), (user_b, "B")):
            lot = shared.with_user(user)
            self.assertEqual(lot.pico_note_ids.mapped("text"), [f"{letter} note"])
            self.assertEqual(lot.pico_quality_ids.mapped("station"), [f"QC {letter}"])
            html = self._html_as(user, lot)
            self.assertIn(f"QC {letter}", html)
            self.assertNotIn(f"QC {'B' if letter == 'A' else 'A'}", html)

    def _html_as(self, user, records):
        html, _kind = (
            self.env["ir.actions.report"]
            .with_user(user)
            ._render_qweb_html("mrp_pico_mes.report_asbuilt_lot", records.ids)
        )
        return html.decode()


@tagged("post_install", "-at_install", "pico_asbuilt")
class TestAsBuiltMqtt(BrokerMixin, AsBuiltMixin, PicoHttpCase):
    """The same record when the completion came over MQTT."""

    mqtt_prefix = MQTT_PREFIX
    simulator_options = {"schema_profile": "full", "introspection": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_asbuilt()

    def test_serial_record_after_mqtt_completion(self):
        """A drone completed over MQTT has the same Shop floor record."""
        self.backend._pico_detect_features()
        _production, lot = self._build(door="mqtt")
        self._assert_record(lot, "mqtt")
