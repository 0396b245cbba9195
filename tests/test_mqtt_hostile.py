# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The MQTT door against hostile messages, on a real Mosquitto broker."""

import json

from odoo.tests import tagged

from .common import BrokerMixin, PicoCase, publish

PREFIX = "pico/hostile"


@tagged("post_install", "-at_install", "pico_security")
class TestMqttHostile(BrokerMixin, PicoCase):
    mqtt_prefix = PREFIX
    simulator_publishes = False

    def events(self):
        return self.env["pico.event"].search([("backend_id", "=", self.backend.id)])

    def test_hostile_messages_are_counted_never_crash(self):
        """Malformed, oversized, unstorable and wrong-topic messages: one run takes
        them all, stores the refused ones as failed events, drops the others, and
        the good message behind them is stored too."""
        scrap = f"{PREFIX}/scrap"
        hostile = [
            b"not json",
            b"\xff\xfe\x00garbage",
            b"",
            b"[" * 50_000 + b"]" * 50_000,
            b'{"externalOrderId": "WH/MO/1#1", "quantity": NaN}',
            b'{"externalOrderId": "a\\u0000b", "partNumber": "X", "quantity": 1}',
            b'{"externalOrderId": "\\ud800", "partNumber": "X", "quantity": 1}',
            b'{"pad": "' + b"x" * (1024 * 1024 + 10) + b'"}',
            json.dumps({"quantity": "many"}).encode(),
            b"\x00" * 100,
        ]
        good = json.dumps(
            {
                "externalOrderId": "WH/MO/404#404",
                "partNumber": "MOTOR-220",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-22T10:00:00Z",
            }
        ).encode()
        publish(self.broker, scrap, [*hostile, good])
        publish(self.broker, f"{PREFIX}/telemetry/x", [b"\x00\x01", b"{}"])
        publish(self.broker, "elsewhere/scrap", [good])  # not subscribed
        before = self.backend.mqtt_rejected_today
        stats = self.backend._pico_mqtt_drain(
            max_seconds=20, max_messages=len(hostile) + 3
        )
        self.assertTrue(stats.ok, stats.last_error)
        self.assertEqual(stats.received, len(hostile) + 3)
        self.assertEqual(stats.dropped_unknown, 2)
        events = self.events()
        refused = events.filtered(lambda e: e.state == "failed")
        self.assertEqual(len(refused), len(hostile))
        self.assertEqual(self.backend.mqtt_rejected_today - before, len(hostile))
        self.assertTrue(all(len(e.payload or "") <= 64 * 1024 for e in refused))
        self.assertFalse([e for e in refused if "\x00" in (e.payload or "")])
        stored = events - refused
        self.assertEqual(stored.mapped("external_order_id"), ["WH/MO/404#404"])
        # Everything was acknowledged: nothing comes back.
        self.assertEqual(self.backend._pico_mqtt_drain(idle_seconds=0.5).received, 0)
