# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shop-floor events over MQTT, against a real Mosquitto broker."""

import json
from unittest.mock import patch

from odoo import fields
from odoo.tests import new_test_user, tagged

from ..core import inbox
from ..core.keys import external_order_id
from ..core.mqtt_drain import STOP_HANDLER_ERROR
from .common import BrokerMixin, PicoHttpCase, publish

PREFIX = "pico/test"


@tagged("post_install", "-at_install", "pico_mqtt")
class TestMqttSubscriber(BrokerMixin, PicoHttpCase):
    mqtt_prefix = PREFIX
    backend_mqtt_vals = {"release_trigger": "manual"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.first_drain.session_present is False

        cls.stock = cls.env.ref("stock.stock_location_stock")
        cls.motor = cls._make_product("Motor", "MOTOR-220")
        cls.drone = cls._make_product("Drone", "DRONE-100", "serial")
        # Not mapped to Pico: the MOs are built by hand, Pico reports shop-floor
        # events about them.
        cls.bom = cls._make_bom(
            cls.drone, [(cls.motor, 2, None)], pico_backend_id=False
        )
        cls._put_in_stock(cls.motor, 20)
        cls.workcenter = cls.env["mrp.workcenter"].create(
            {"name": "Assembly", "code": "WC-ASM"}
        )
        cls.tag_drop = cls.env["stock.scrap.reason.tag"].create({"name": "Dropped"})
        cls.tag_defect = cls.env["stock.scrap.reason.tag"].create({"name": "Defect"})
        cls.env["pico.loss.reason"].create(
            [
                {
                    "backend_id": cls.backend.id,
                    "code": "JAM",
                    "name": "Feeder jam",
                    "loss_id": cls.env.ref("mrp.block_reason1").id,
                },
                {
                    "backend_id": cls.backend.id,
                    "code": "DROP",
                    "scrap_reason_tag_id": cls.tag_drop.id,
                },
            ]
        )
        cls.env["pico.defect.class"].create(
            [
                {
                    "backend_id": cls.backend.id,
                    "code": "CRACK",
                    "consequence": "scrap",
                    "scrap_reason_tag_id": cls.tag_defect.id,
                },
                {
                    "backend_id": cls.backend.id,
                    "code": "SCRATCH",
                    "consequence": "none",
                },
            ]
        )

    # --- helpers ---------------------------------------------------------------
    def drain(self, expect=None):
        """One subscriber run, ended as soon as `expect` messages arrived."""
        stats = self.backend._pico_mqtt_drain(
            max_seconds=10,
            max_messages=expect,
            idle_seconds=None if expect else 0.5,
        )
        if expect is not None:
            self.assertEqual(stats.received, expect, stats.last_error)
        return stats

    def events(self, event_type=None):
        domain = [("backend_id", "=", self.backend.id)]
        if event_type:
            domain.append(("event_type", "=", event_type))
        return self.env["pico.event"].search(domain)

    def process(self):
        self.env["pico.event"]._pico_run()
        self.env.invalidate_all()

    def make_production(self, qty=1):
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": qty}
        )
        production.action_confirm()
        return production

    @staticmethod
    def order_ref(production):
        return external_order_id(production.name, production.id)

    def publish_scrap(self, production):
        """Publish the scrap of one motor of `production` through the simulator."""
        self.simulator.publish(
            "scrap",
            {
                "externalOrderId": self.order_ref(production),
                "partNumber": "MOTOR-220",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-22T10:00:00Z",
            },
        )

    # --- tests -----------------------------------------------------------------
    def test_scrap_message_creates_scrap(self):
        """A scrap message becomes a done stock.scrap of the component on the MO."""
        production = self.make_production()
        self.publish_scrap(production)
        self.assertTrue(self.drain(expect=1).ok)
        event = self.events("scrap")
        self.assertEqual(len(event), 1)
        self.assertEqual(
            (event.source, event.topic, event.state),
            ("mqtt", f"{PREFIX}/scrap", "received"),
        )
        self.process()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(event.production_id, production)
        scrap = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual(len(scrap), 1)
        self.assertEqual(scrap.product_id, self.motor)
        self.assertEqual(scrap.scrap_qty, 1)
        self.assertEqual(scrap.state, "done")
        self.assertEqual(scrap.scrap_reason_tag_ids, self.tag_drop)
        self.assertEqual(
            self.motor.with_context(location=self.stock.id).qty_available, 19
        )
        self.assertIn(scrap.name, event.result)

    def test_scrap_for_unknown_order_is_held(self):
        """A scrap for an order Odoo does not know yet waits, visibly."""
        self.simulator.publish(
            "scrap",
            {
                "externalOrderId": "WH/MO/99999#999999",
                "partNumber": "MOTOR-220",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-22T10:00:00Z",
            },
        )
        self.drain(expect=1)
        self.process()
        event = self.events("scrap")
        self.assertEqual(event.state, "held")
        self.assertIn("not known yet", event.error)
        self.assertTrue(event.next_attempt_at)

    def test_downtime_opens_then_closes_productivity(self):
        """Downtime start opens a loss record on the work center; its end closes it."""
        # A Tuesday morning, inside the work center's working hours.
        stop = {
            "workcenterCode": "WC-ASM",
            "reasonCode": "JAM",
            "start": "2026-11-24T09:00:00Z",
        }
        self.simulator.publish("downtime", stop)
        self.drain(expect=1)
        self.process()
        records = self.env["mrp.workcenter.productivity"].search(
            [("workcenter_id", "=", self.workcenter.id)]
        )
        self.assertEqual(len(records), 1)
        self.assertEqual(records.loss_id, self.env.ref("mrp.block_reason1"))
        self.assertEqual(str(records.date_start), "2026-11-24 09:00:00")
        self.assertFalse(records.date_end)
        self.assertEqual(self.workcenter.working_state, "blocked")

        self.simulator.publish("downtime", {**stop, "end": "2026-11-24T09:12:00Z"})
        self.drain(expect=1)
        self.process()
        self.assertEqual(self.events("downtime").mapped("state"), ["done", "done"])
        records = self.env["mrp.workcenter.productivity"].search(
            [("workcenter_id", "=", self.workcenter.id)]
        )
        self.assertEqual(len(records), 1)
        self.assertEqual(str(records.date_end), "2026-11-24 09:12:00")
        self.assertEqual(records.duration, 12.0)
        self.workcenter.invalidate_recordset(["working_state"])
        self.assertEqual(self.workcenter.working_state, "normal")

    def test_downtime_with_unmapped_reason_fails_visibly(self):
        """An unmapped reason code fails the event with what to do about it."""
        self.simulator.publish(
            "downtime",
            {
                "workcenterCode": "WC-ASM",
                "reasonCode": "NOPE",
                "start": "2026-11-22T10:00:00Z",
            },
        )
        self.drain(expect=1)
        self.process()
        event = self.events("downtime")
        self.assertEqual(event.state, "failed")
        self.assertIn("NOPE", event.error)

    def test_malformed_messages_become_failed_events(self):
        """Not JSON or against the schema: stored failed with the reason, and acked."""
        publish(self.broker, f"{PREFIX}/scrap", [b"{not json"])
        publish(
            self.broker,
            f"{PREFIX}/downtime",
            [json.dumps({"workcenterCode": "WC-ASM", "start": "now"}).encode()],
        )
        stats = self.drain(expect=2)
        self.assertTrue(stats.ok, stats.last_error)
        events = self.events()
        self.assertEqual(len(events), 2)
        self.assertEqual(set(events.mapped("state")), {"failed"})
        self.assertEqual(set(events.mapped("source")), {"mqtt"})
        scrap = events.filtered(lambda e: e.event_type == "scrap")
        self.assertIn("not JSON", scrap.error)
        self.assertEqual(scrap.payload, "{not json")
        self.assertEqual(scrap.topic, f"{PREFIX}/scrap")
        downtime = events.filtered(lambda e: e.event_type == "downtime")
        self.assertIn("reasonCode", downtime.error)
        self.assertEqual(self.backend.mqtt_rejected_today, 2)
        # Acknowledged: the broker does not offer them again, and the processor
        # leaves them alone.
        self.assertEqual(self.drain().received, 0)
        self.assertEqual(self.env["pico.event"]._pico_run(), 0)
        # The same bytes again are the same refused event.
        publish(self.broker, f"{PREFIX}/scrap", [b"{not json"])
        self.drain(expect=1)
        self.assertEqual(len(self.events()), 2)

    def test_completion_over_mqtt_is_the_webhook_event(self):
        """A completion over MQTT has the webhook's key: the other door is a repeat."""
        completion = self.simulator.complete_order(
            "WH/MO/00042#42", 0, operation_id="op-widget", at="2026-11-22T10:00:00Z"
        )
        self.assertTrue(self.drain(expect=1).ok)
        event = self.events("completion")
        self.assertEqual(len(event), 1)
        self.assertEqual((event.source, event.topic), ("mqtt", f"{PREFIX}/completion"))
        self.assertEqual(event.external_order_id, "WH/MO/00042#42")
        self.assertEqual(str(event.mes_time), "2026-11-22 10:00:00")
        expected = inbox.intake(
            inbox.COMPLETION,
            {"data": {"operationOrderCompletesStream": completion}},
            self.backend.id,
        )
        self.assertEqual(event.idempotency_key, expected.key)
        # The same completion by webhook (without the MQTT eventId) is a duplicate.
        webhook_body = {k: v for k, v in completion.items() if k != "eventId"}
        response = self.post_webhook(
            "completion", {"data": {"operationOrderCompletesStream": webhook_body}}
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "duplicate", "event_id": event.id})
        self.assertEqual(len(self.events("completion")), 1)

    def test_completion_over_mqtt_has_the_webhook_effect(self):
        """An MO unit completed over MQTT ends like one completed by webhook."""
        self.backend.release_trigger = "confirm"
        operation = self.env["pico.operation"].create(
            {
                "backend_id": self.backend.id,
                "pico_id": "op-widget",
                "name": "Widget",
                "external_id": "WIDGET-1",
                "external_revision": "A",
            }
        )
        widget = self.env["product.product"].create(
            {
                "name": "Widget",
                "default_code": "WIDGET-1",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": widget.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    fields.Command.create(
                        {"product_id": self.motor.id, "product_qty": 1}
                    )
                ],
            }
        )
        bom.pico_operation_id = operation
        by_mqtt, by_webhook = self.env["mrp.production"].create(
            [
                {"product_id": widget.id, "bom_id": bom.id, "product_qty": 1},
                {"product_id": widget.id, "bom_id": bom.id, "product_qty": 1},
            ]
        )
        (by_mqtt | by_webhook).action_confirm()
        ref_mqtt = by_mqtt._pico_external_order_id()
        ref_webhook = by_webhook._pico_external_order_id()
        completion = self.simulator.complete_order(
            ref_mqtt,
            0,
            operation_id="op-widget",
            producedSerial="SN-MQTT-1",
            at="2026-11-22T10:00:00Z",
        )
        self.drain(expect=1)
        body = {
            **{k: v for k, v in completion.items() if k != "eventId"},
            "externalOrderId": ref_webhook,
            "endState": {**completion["endState"], "producedSerial": "SN-HOOK-1"},
        }
        body["operationSummary"] = {
            **completion["operationSummary"],
            "endState": body["endState"],
        }
        response = self.post_webhook(
            "completion", {"data": {"operationOrderCompletesStream": body}}
        )
        self.assertEqual(response.status_code, 202, response.text)
        self.process()
        events = self.events("completion")
        self.assertEqual(sorted(events.mapped("source")), ["mqtt", "webhook"])
        self.assertEqual(
            events.mapped("state"), ["done", "done"], events.mapped("error")
        )
        for production, serial in ((by_mqtt, "SN-MQTT-1"), (by_webhook, "SN-HOOK-1")):
            production.invalidate_recordset()
            lot = self.env["stock.lot"].search(
                [("name", "=", serial), ("product_id", "=", widget.id)]
            )
            self.assertEqual(lot.product_qty, 1, serial)
            self.assertEqual(production.qty_produced, 1)
        self.assertEqual(by_mqtt.state, by_webhook.state)
        self.assertEqual(
            by_mqtt.pico_work_order_ids.mapped("state"),
            by_webhook.pico_work_order_ids.mapped("state"),
        )

    def test_quality_fail_scraps_the_serial(self):
        """A failed inspection with a scrap defect class scraps the serial in stock."""
        lot = self.env["stock.lot"].create(
            {"name": "SN-Q1", "product_id": self.drone.id}
        )
        self.env["stock.quant"]._update_available_quantity(
            self.drone, self.stock, 1, lot_id=lot
        )
        self.simulator.publish(
            "quality",
            {
                "serial": "SN-Q1",
                "timestamp": "2026-11-22T10:00:00.123Z",
                "result": "fail",
                "defectClass": "CRACK",
                "defectLocation": "arm-2",
                "confidence": 0.93,
                "station": "Vision 1",
            },
        )
        self.drain(expect=1)
        self.process()
        event = self.events("quality")
        self.assertEqual(event.state, "done", event.error)
        quality = self.env["pico.quality.result"].search([("event_id", "=", event.id)])
        self.assertEqual(quality.lot_id, lot)
        self.assertEqual(quality.result, "fail")
        self.assertEqual(quality.timestamp, "2026-11-22T10:00:00.123Z")
        self.assertEqual(quality.consequence, "scrap")
        self.assertEqual(quality.state, "scrapped")
        self.assertEqual(quality.scrap_id.lot_id, lot)
        self.assertEqual(quality.scrap_id.scrap_reason_tag_ids, self.tag_defect)
        self.assertEqual(lot.product_qty, 0)
        self.assertIn("CRACK", lot.message_ids[0].body)

    def test_quality_unknown_defect_is_held(self):
        """An unmapped defect class holds the unit until someone releases it."""
        production = self.make_production()
        self.simulator.publish(
            "quality",
            {
                "serial": "SN-Q2",
                "externalOrderId": self.order_ref(production),
                "timestamp": "2026-11-22T10:00:00.500Z",
                "result": "fail",
                "defectClass": "WOBBLE",
            },
        )
        self.simulator.publish(
            "quality",
            {
                "serial": "SN-Q3",
                "externalOrderId": self.order_ref(production),
                "timestamp": "2026-11-22T10:00:01.000Z",
                "result": "pass",
            },
        )
        self.drain(expect=2)
        self.process()
        results = self.env["pico.quality.result"].search(
            [("production_id", "=", production.id)]
        )
        held = results.filtered(lambda q: q.serial == "SN-Q2")
        passed = results.filtered(lambda q: q.serial == "SN-Q3")
        self.assertEqual((held.state, held.consequence), ("hold", "hold"))
        self.assertTrue(held.activity_ids)
        self.assertIn("WOBBLE", production.message_ids[0].body)
        self.assertEqual((passed.state, passed.consequence), ("recorded", "none"))
        held.action_release()
        self.assertEqual(held.state, "released")
        self.assertFalse(held.activity_ids)

    def test_consumption_registers_component_quantity(self):
        """Consumption is picked on the component move, and no longer backflushed."""
        production = self.make_production(qty=2)
        for _count in range(2):
            self.simulator.publish(
                "consumption",
                {
                    "externalOrderId": self.order_ref(production),
                    "partNumber": "MOTOR-220",
                    "quantity": 1.5,
                },
            )
        self.drain(expect=2)
        self.process()
        self.assertEqual(self.events("consumption").mapped("state"), ["done", "done"])
        move = production.move_raw_ids.filtered(lambda m: m.product_id == self.motor)
        self.assertEqual(move.quantity, 3)
        self.assertTrue(move.picked)
        self.assertTrue(move.manual_consumption)

    def test_unknown_topics_are_counted_and_dropped(self):
        """Telemetry and unknown topics are counted on the backend, never stored."""
        publish(self.broker, f"{PREFIX}/telemetry/temp", [b"21.5"] * 3)
        publish(self.broker, f"{PREFIX}/whatever", [b"{}"])
        before = self.backend.mqtt_messages_today
        stats = self.drain(expect=4)
        self.assertEqual(stats.dropped_unknown, 4)
        self.assertFalse(self.events())
        self.assertEqual(self.backend.mqtt_messages_today, before + 4)
        self.assertGreaterEqual(self.backend.mqtt_dropped_today, 4)
        self.assertEqual(self.backend.mqtt_state, "ok")
        self.assertTrue(self.backend.mqtt_last_connect_at)
        self.assertTrue(self.backend.mqtt_last_message_at)
        self.assertEqual(self.drain().received, 0)

    def test_run_failing_before_commit_gets_the_message_again(self):
        """A run that fails storing acks nothing; the next run stores it, once."""
        production = self.make_production()
        self.publish_scrap(production)
        with (
            patch.object(
                self.registry["pico.event"],
                "_pico_store",
                side_effect=RuntimeError("database is gone"),
            ),
            self.assertLogs(
                "odoo.addons.mrp_pico_mes.models.pico_backend_mqtt", "WARNING"
            ),
        ):
            failed = self.drain(expect=1)
        self.assertEqual(failed.stopped_reason, STOP_HANDLER_ERROR)
        self.assertEqual(failed.acked, 0)
        self.assertFalse(self.events())
        self.assertEqual(self.backend.mqtt_state, "error")
        self.assertIn("database is gone", self.backend.mqtt_last_error)

        again = self.drain(expect=1)
        self.assertTrue(again.ok, again.last_error)
        self.assertEqual(again.redelivered, 1)
        self.assertEqual(len(self.events("scrap")), 1)
        self.assertEqual(self.backend.mqtt_state, "ok")
        self.assertEqual(self.drain().received, 0)

    def test_subscriber_cron_follows_the_backend(self):
        """A backend using MQTT gets its own active cron and default topics."""
        backend = self.env["pico.backend"].create(
            {"name": "Plant 2", "endpoint_url": "http://127.0.0.1:9/graph/v2"}
        )
        self.assertEqual(
            sorted(backend.mqtt_topic_ids.mapped("event_type")),
            ["completion", "consumption", "downtime", "ignore", "quality", "scrap"],
        )
        self.assertFalse(backend.mqtt_cron_id)
        backend.write({"mqtt_enabled": True, "mqtt_host": "127.0.0.1"})
        cron = backend.mqtt_cron_id
        self.assertTrue(cron.active)
        self.assertEqual(cron.code, f"model._cron_mqtt_subscribe({backend.id})")
        backend.mqtt_enabled = False
        self.assertFalse(cron.active)
        # A run of a cron whose backend no longer uses MQTT connects to nothing.
        self.assertFalse(self.env["pico.backend"]._cron_mqtt_subscribe(backend.id))
        self.assertFalse(backend.mqtt_last_run_at)
        backend.unlink()
        self.assertFalse(cron.exists())

    def test_connection_buttons(self):
        """Test Connection reports what the broker said; Receive Now runs the cron."""
        action = self.backend.action_mqtt_test_connection()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        # The probe used a client id of its own: the subscriber's session is intact.
        self.assertIn("-t", action["params"]["message"])
        self.assertEqual(self.drain().session_present, True)
        self.backend.mqtt_port = 9
        action = self.backend.action_mqtt_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("cannot connect", action["params"]["message"])

        cron = self.backend.mqtt_cron_id
        self.assertTrue(cron.active)
        self.backend.action_mqtt_receive_now()
        self.assertTrue(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        )

    def test_backend_form_for_a_pico_manager(self):
        """A Pico manager (no system rights) opens the backend form and its tables."""
        manager = new_test_user(
            self.env, login="mqtt_manager", groups="mrp_pico_mes.group_pico_manager"
        )
        backends = self.env["pico.backend"].with_user(manager)
        views = backends.get_views([(False, "form")])
        fields_in_form = views["models"]["pico.backend"]["fields"]
        self.assertIn("mqtt_topic_ids", fields_in_form)
        self.assertNotIn("mqtt_cron_id", fields_in_form)
        spec = {name: {} for name in fields_in_form if name != "mqtt_password"}
        for name in ("mqtt_topic_ids", "loss_reason_ids", "defect_class_ids"):
            spec[name] = {"fields": {"display_name": {}}}
        values = backends.browse(self.backend.id).web_read(spec)[0]
        self.assertEqual(len(values["mqtt_topic_ids"]), 6)
        self.assertEqual(len(values["loss_reason_ids"]), 2)
        # Planners edit the mapping tables.
        backends.browse(self.backend.id).write(
            {
                "loss_reason_ids": [
                    fields.Command.create({"code": "SETUP", "name": "Changeover"})
                ]
            }
        )
        self.assertEqual(len(self.backend.loss_reason_ids), 3)
