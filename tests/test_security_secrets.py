# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Secrets bound to their destinations; rights checked before anything is sent."""

import contextlib
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.modules.module import get_module_path
from odoo.tests import new_test_user, tagged

from .common import PicoCase

ANSWERS = {
    "webhookSubscriptions": [],
    "operations": [],
    "subOperations": [],
    "operationOrderCompletes": [],
}


class Listener:
    """A local HTTP server that records every request it receives.

    It answers like a GraphQL server, or, with `echo`, with an error page that
    repeats the request's headers (as a debugging proxy would).
    """

    def __init__(self, echo=False):
        self.requests = []
        self.echo = echo
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                listener.requests.append((dict(self.headers), body))
                if listener.echo:
                    answer = json.dumps(dict(self.headers)).encode()
                    self.send_response(500)
                else:
                    answer = json.dumps({"data": ANSWERS}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/graph/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def seen(self, text):
        """Whether `text` appeared in any header or body received."""
        return any(
            text in json.dumps(headers) or text in body
            for headers, body in self.requests
        )


class TcpListener:
    """A bare TCP port that counts the connections made to it (a fake broker)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0

    def collect(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                return self.connections
            self.connections += 1
            conn.settimeout(0.5)
            with conn, contextlib.suppress(OSError):
                self.received += conn.recv(65536)

    def stop(self):
        self.sock.close()


@tagged("post_install", "-at_install", "pico_security")
class TestSecretsStayHome(PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="sec_manager", groups="mrp_pico_mes.group_pico_manager"
        )
        cls.pico_user = new_test_user(
            cls.env, login="sec_pico_user", groups="mrp_pico_mes.group_pico_user"
        )
        cls.admin = new_test_user(
            cls.env,
            login="sec_admin",
            groups="base.group_system,mrp_pico_mes.group_pico_manager",
        )
        cls.token = cls.backend.api_token
        cls.backend.mqtt_password = "broker-password-123"

    def setUp(self):
        super().setUp()
        self.listener = Listener()
        self.addCleanup(self.listener.stop)

    def as_manager(self):
        return self.backend.with_user(self.manager)

    def press_everything(self, backend):
        """Every button and cron that may send a credential; errors are answers."""
        for action in (
            "action_test_connection",
            "action_sync_operations",
            "action_register_webhooks",
            "action_pico_catch_up",
            "action_mqtt_test_connection",
        ):
            with contextlib.suppress(UserError):
                getattr(backend, action)()
        self.env["pico.backend"]._cron_reconcile()
        self.env["pico.operation"]._cron_pico_sync_catalogue()
        self.env["pico.exchange"]._pico_enqueue(
            [
                {
                    "backend_id": self.backend.id,
                    "kind": "save",
                    "operation_pico_id": "op-1",
                    "external_order_id": "WH/MO/1#1",
                    "order_index": 0,
                    "request": json.dumps(
                        {
                            "operationId": "op-1",
                            "externalOrderId": "WH/MO/1#1",
                            "orderIndex": 0,
                        }
                    ),
                }
            ]
        )
        self.env["pico.exchange"]._pico_run(commit=False)

    def test_manager_endpoint_change_never_sends_the_token(self):
        """A manager points the endpoint at a listener: it never gets the token."""
        self.as_manager().write({"endpoint_url": self.listener.url})
        self.assertTrue(self.backend.pico_review_api)
        self.press_everything(self.as_manager())
        self.assertFalse(self.listener.seen(self.token))
        self.assertFalse(self.listener.seen(self.backend.webhook_secret))
        self.assertEqual(self.listener.requests, [])
        exchange = self.env["pico.exchange"].search([], limit=1)
        self.assertEqual(exchange.state, "failed")
        self.assertIn("system administrator must confirm", exchange.error)
        # Once a system administrator confirms, the same listener gets it: the
        # check above was not vacuous.
        self.backend.with_user(self.admin).action_pico_confirm_destinations()
        self.assertFalse(self.backend.pico_review_api)
        self.as_manager().action_test_connection()
        self.assertTrue(self.listener.seen(self.token))

    def test_endpoint_change_checked_by_a_constraint_sends_nothing(self):
        """A write whose constraint asks Pico (serial source 'Odoo') is already
        bound: the manager's endpoint hears nothing."""
        self.env.cr.execute(
            "UPDATE pico_backend SET serial_source = 'odoo' WHERE id = %s",
            [self.backend.id],
        )
        self.backend.invalidate_recordset()
        with contextlib.suppress(UserError):
            self.as_manager().write({"endpoint_url": self.listener.url})
        self.assertEqual(self.listener.requests, [])

    def test_admin_endpoint_change_is_trusted(self):
        """A system administrator's change needs no confirmation."""
        self.backend.with_user(self.admin).write({"endpoint_url": self.listener.url})
        self.assertFalse(self.backend.pico_review_api)
        self.as_manager().action_test_connection()
        self.assertTrue(self.listener.seen(self.token))

    def test_flags_are_not_writable_by_managers(self):
        """A manager cannot confirm a destination by writing the flag."""
        self.as_manager().write({"endpoint_url": self.listener.url})
        with self.assertRaises(AccessError):
            self.as_manager().write({"pico_review_api": False})
        with self.assertRaises(AccessError):
            self.as_manager().action_pico_confirm_destinations()
        with self.assertRaises(AccessError):
            self.env["pico.backend"].with_user(self.manager).create(
                {"name": "x", "endpoint_url": "http://x", "pico_review_api": False}
            )
        self.assertTrue(self.backend.pico_review_api)

    def test_new_backend_of_a_manager_registers_nothing(self):
        """A backend created by a manager sends its webhook secret nowhere."""
        backend = (
            self.env["pico.backend"]
            .with_user(self.manager)
            .create({"name": "Mine", "endpoint_url": self.listener.url})
        )
        self.assertTrue(backend.pico_review_api)
        action = backend.action_register_webhooks()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertEqual(self.listener.requests, [])

    def test_public_url_change_blocks_registration(self):
        """Pico is not told to send the webhook secret to a manager's URL."""
        self.as_manager().write({"webhook_base_url": "https://evil.example.com"})
        self.assertTrue(self.backend.pico_review_webhook)
        action = self.as_manager().action_register_webhooks()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("public Odoo URL", action["params"]["message"])
        self.assertFalse(self.simulator.requests())
        # The token itself still goes to the unchanged endpoint.
        self.assertEqual(
            self.as_manager().action_test_connection()["params"]["type"], "success"
        )

    def test_broker_change_withholds_the_password(self):
        """A manager's broker gets no connection, let alone the password."""
        broker = TcpListener()
        self.addCleanup(broker.stop)
        self.as_manager().write(
            {
                "mqtt_enabled": True,
                "mqtt_host": "127.0.0.1",
                "mqtt_port": broker.port,
                "mqtt_username": "odoo",
            }
        )
        self.assertTrue(self.backend.pico_review_mqtt)
        action = self.as_manager().action_mqtt_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertFalse(self.env["pico.backend"]._cron_mqtt_subscribe(self.backend.id))
        self.assertIn("must confirm", self.backend.mqtt_last_error)
        self.assertEqual(broker.collect(), 0)
        # Confirmed, the broker is called with the password: the test can fail.
        self.backend.with_user(self.admin).action_pico_confirm_destinations()
        self.as_manager().action_mqtt_test_connection()
        self.assertEqual(broker.collect(), 1)
        self.assertIn(b"broker-password-123", broker.received)

    def test_tls_off_needs_confirmation_on_does_not(self):
        """Turning TLS off exposes the password; turning it on does not."""
        self.backend.write({"mqtt_tls": False})
        self.as_manager().write({"mqtt_tls": True})
        self.assertFalse(self.backend.pico_review_mqtt)
        self.as_manager().write({"mqtt_tls": False})
        self.assertTrue(self.backend.pico_review_mqtt)

    def test_rights_checked_before_anything_is_sent(self):
        """A Pico user's presses are refused and Pico hears nothing."""
        backend = self.backend.with_user(self.pico_user)
        for action in (
            "action_test_connection",
            "action_sync_operations",
            "action_register_webhooks",
            "action_pico_catch_up",
            "action_mqtt_test_connection",
            "action_mqtt_receive_now",
            "action_rotate_webhook_secret",
            "action_pico_check_features",
        ):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(backend, action)()
        self.assertEqual(self.simulator.requests(), [])
        with self.assertRaises(AccessError):
            self.as_manager().action_rotate_webhook_secret()

    def test_ca_file_is_for_system_administrators(self):
        """A manager can neither read nor set the path the server opens."""
        with self.assertRaises(AccessError):
            self.as_manager().write({"mqtt_ca_file": "/etc/shadow"})
        with self.assertRaises(AccessError):
            self.as_manager().read(["mqtt_ca_file"])
        self.backend.with_user(self.admin).write({"mqtt_ca_file": "/etc/ssl/ca.pem"})
        self.assertEqual(self.backend.mqtt_ca_file, "/etc/ssl/ca.pem")

    def test_process_now_is_gone(self):
        """Events are applied by the processor only, never with sudo on request."""
        self.assertFalse(hasattr(self.env["pico.event"], "action_process_now"))

    def test_token_in_nothing_stored_or_logged(self):
        """A server echoing the token: not on the exchange, in chatter or in logs."""
        echo = Listener(echo=True)
        self.addCleanup(echo.stop)
        self.backend.write({"endpoint_url": echo.url})
        self.backend.message_post(body="check")
        with self.assertLogs(level=logging.DEBUG) as logs:
            logging.getLogger("odoo").debug("start")
            self.press_everything(self.backend)
        self.assertTrue(echo.seen(self.token), "the echo server was called")
        exchange = self.env["pico.exchange"].search([], limit=1)
        self.assertTrue(exchange.error)
        stored = json.dumps(
            exchange.read(["request", "response", "error", "traceback"]), default=str
        )
        self.assertNotIn(self.token, stored)
        messages = self.env["mail.message"].search(
            [("model", "in", ["pico.backend", "pico.exchange"])]
        )
        tracked = self.env["mail.tracking.value"].search(
            [("mail_message_id", "in", messages.ids)]
        )
        texts = messages.mapped("body") + [
            str(v.old_value_char) + str(v.new_value_char) for v in tracked
        ]
        self.assertFalse([t for t in texts if self.token in str(t)])
        self.assertFalse([line for line in logs.output if self.token in line])

    def test_neutralize_blanks_every_secret(self):
        """data/neutralize.sql blanks every system-only text field of a backend."""
        secrets = {
            name
            for name, field in self.env["pico.backend"]._fields.items()
            if field.type == "char"
            and field.groups == "base.group_system"
            and re.search("token|secret|password", name)
        }
        self.assertEqual(secrets, {"api_token", "webhook_secret", "mqtt_password"})
        path = f"{get_module_path('mrp_pico_mes')}/data/neutralize.sql"
        with open(path, encoding="utf-8") as sql:
            self.env.cr.execute(sql.read())
        self.env.invalidate_all()
        for name in secrets:
            self.assertFalse(self.backend[name], name)

    def test_quality_scrap_stays_in_its_company(self):
        """A scrap decision takes stock of the event's company only."""
        other = self.env["res.company"].create({"name": "Sec Other Co"})
        product = self.env["product.product"].create(
            {"name": "Sec drone", "is_storable": True, "tracking": "serial"}
        )
        lot = self.env["stock.lot"].create(
            {"name": "SN-SEC", "product_id": product.id, "company_id": False}
        )
        here = self.env.ref("stock.stock_location_stock")
        there = (
            self.env["stock.warehouse"]
            .search([("company_id", "=", other.id)], limit=1)
            .lot_stock_id
        )
        quants = self.env["stock.quant"]
        quants._update_available_quantity(product, here, 1, lot_id=lot)
        quants.with_company(other)._update_available_quantity(
            product, there, 1, lot_id=lot
        )
        quality = self.env["pico.quality.result"].create(
            {
                "backend_id": self.backend.id,
                "product_id": product.id,
                "lot_id": lot.id,
                "serial": "SN-SEC",
                "inspected_at": fields.Datetime.now(),
                "result": "fail",
            }
        )
        scraps = quality._pico_scrap()
        self.assertEqual(scraps.location_id, here)
        self.assertEqual(
            quants.with_company(other)
            .search([("lot_id", "=", lot.id), ("location_id", "=", there.id)])
            .quantity,
            1,
        )

    def test_mqtt_unit_of_another_kind_is_refused(self):
        """Kilograms of a product counted in units are refused, grams of kg taken."""
        shop = self.env["pico.shopfloor"]
        unit_product = self.env["product.product"].create({"name": "Bolt"})
        with self.assertRaisesRegex(UserError, "cannot measure"):
            shop._pico_uom("kg", unit_product)
        kg_product = self.env["product.product"].create(
            {"name": "Glue", "uom_id": self.env.ref("uom.product_uom_kgm").id}
        )
        self.assertEqual(
            shop._pico_uom("g", kg_product), self.env.ref("uom.product_uom_gram")
        )
