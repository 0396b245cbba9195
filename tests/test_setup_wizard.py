# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The first-run assistant against the simulator: each step, its failures in a
planner's words, and a backend that says which step is missing when it is closed
midway. The same walk in a browser: test_tours.py."""

import json
import time

from odoo import Command
from odoo.tests import tagged

from ..core import reachability
from ..models.pico_backend import WEBHOOK_ROUTE
from .common import PicoHttpCase


class SetupMixin:
    @classmethod
    def _setup_drone_bom(cls):
        """The drone and its components, and a BOM not meant for any Pico yet."""
        cls._setup_products()
        cls.bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.drone.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": cls.motor.id, "product_qty": 1}),
                    Command.create({"product_id": cls.fc.id, "product_qty": 1}),
                    Command.create({"product_id": cls.screw.id, "product_qty": 4}),
                ],
            }
        )
        # The assistant proposes web.base.url as the public URL: this server's.
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", cls.base_url())


@tagged("post_install", "-at_install", "pico_setup")
class TestSetupWizard(SetupMixin, PicoHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone_bom()

    def _wizard(self, **vals):
        return self.env["pico.setup.wizard"].create(
            {
                "name": "Plant 2 Pico",
                "endpoint_url": self.simulator.url,
                "api_token": self.simulator.token,
                **vals,
            }
        )

    def _next(self, wizard):
        # The webhook step calls this server through its public URL: let it in.
        with self.allow_requests(all_requests=True):
            wizard.action_next()
        self.http_request_allow_all = False
        self.env.invalidate_all()

    def test_walk_to_a_mapped_bom(self):
        wizard = self._wizard()
        wizard.action_next()
        backend = wizard.backend_id
        self.assertEqual(backend.name, "Plant 2 Pico")
        self.assertEqual(backend.sudo().api_token, self.simulator.token)
        self.assertFalse(wizard.sudo().api_token, "the token stays on the backend only")
        self.assertEqual(wizard.step, "connection")
        self.assertTrue(wizard.ok, wizard.problem)
        self.assertIn("Pico answers at", wizard.result_message)
        self.assertEqual(backend.pico_setup_state, "catalogue")

        wizard.action_next()
        self.assertEqual(wizard.step, "catalogue")
        self.assertTrue(wizard.ok, wizard.problem)
        count = self.env["pico.operation"].search_count(
            [("backend_id", "=", backend.id)]
        )
        self.assertGreaterEqual(count, 4, "the fixture's drone, its processes, ...")
        self.assertEqual(wizard.process_count, count)
        self.assertIn(f"{count} Pico products and processes", wizard.result_message)

        wizard.action_next()
        self.assertEqual(wizard.step, "webhooks")
        self.assertFalse(wizard.ran, "registration waits for the public URL")
        self.assertEqual(wizard.webhook_base_url, self.base_url())
        self._next(wizard)
        self.assertTrue(wizard.ok, wizard.problem)
        self.assertIn("answered as this database", wizard.result_message)
        self.assertIn("private address", wizard.result_message)
        urls = {sub["webhookUrl"] for sub in self.simulator.subscriptions()}
        self.assertIn(backend.webhook_completion_url, urls)
        self.assertTrue(backend.pico_public_url_ok)
        self.assertEqual(backend.pico_setup_state, "mapping")

        wizard.action_next()
        self.assertEqual(wizard.step, "mapping")
        self.assertTrue(wizard.ok, wizard.problem)
        self.assertEqual(wizard.mapped_bom_ids, self.bom)
        self.assertFalse(wizard.attention_bom_ids)
        self.assertEqual(self.bom.pico_backend_id, backend)
        self.assertEqual(self.bom.pico_operation_id.pico_id, "op-drone")
        self.assertEqual(self.bom.pico_mapping_state, "valid")
        self.env.invalidate_all()
        self.assertEqual(backend.pico_setup_state, "done")

        wizard.action_next()
        self.assertEqual(wizard.step, "done")
        self.assertIn("Everything is set up", wizard.setup_message)

    def test_closed_midway_names_the_missing_step(self):
        wizard = self._wizard()
        wizard.action_next()
        wizard.action_next()
        backend = wizard.backend_id
        wizard.unlink()  # the user closes the assistant after the catalogue
        self.assertEqual(backend.pico_setup_state, "webhooks")
        self.assertIn("register the webhooks", backend.pico_setup_message)
        # Opening the assistant again starts where it stopped.
        action = backend.action_pico_setup()
        again = self.env["pico.setup.wizard"].browse(action["res_id"])
        self.assertEqual(again.step, "webhooks")
        # A new public URL undoes the registration and the check.
        self._next(again)
        self.assertEqual(backend.pico_setup_state, "mapping")
        backend.webhook_base_url = "https://erp.example.com"
        self.assertEqual(backend.pico_setup_state, "webhooks")

    def test_wrong_token_said_plainly(self):
        wizard = self._wizard(api_token="not-the-token")
        wizard.action_next()
        self.assertEqual(wizard.step, "connection")
        self.assertFalse(wizard.ok)
        self.assertIn("Pico refused the API token", wizard.problem)
        self.assertEqual(wizard.backend_id.pico_setup_state, "connection")
        # Back to the endpoint, the right token, and on.
        wizard.action_back()
        self.assertEqual(wizard.step, "endpoint")
        wizard.api_token = self.simulator.token
        wizard.action_next()
        self.assertEqual(wizard.step, "connection")
        self.assertTrue(wizard.ok, wizard.problem)

    def test_missing_endpoint_said_plainly(self):
        wizard = self._wizard(endpoint_url=False)
        wizard.action_next()
        self.assertEqual(wizard.step, "endpoint")
        self.assertFalse(wizard.backend_id, "nothing half-made")
        self.assertIn("address of Pico's API", wizard.problem)

    def test_unreachable_public_url(self):
        wizard = self._wizard()
        wizard.action_next()
        wizard.action_next()
        wizard.action_next()
        wizard.webhook_base_url = "http://127.0.0.1:9"
        self._next(wizard)
        self.assertFalse(wizard.ok)
        self.assertIn("could not open http://127.0.0.1:9", wizard.problem)
        backend = wizard.backend_id
        self.assertEqual(backend.pico_setup_state, "reachability")
        self.assertIn("did not answer as this database", backend.pico_setup_message)

    def test_bom_that_needs_a_person(self):
        """A component Pico serializes has no part number: listed, with why."""
        self.fc.default_code = False
        wizard = self._wizard()
        wizard.action_next()
        wizard.action_next()
        wizard.action_next()
        self._next(wizard)
        wizard.action_next()
        self.assertEqual(wizard.step, "mapping")
        self.assertEqual(wizard.attention_bom_ids, self.bom)
        self.assertFalse(wizard.ok)
        self.assertIn("need a person", wizard.problem)
        self.assertIn("FC-330", self.bom.pico_mapping_problems)
        self.assertEqual(wizard.backend_id.pico_setup_state, "mapping")


@tagged("post_install", "-at_install", "pico_setup")
class TestSetupPing(PicoHttpCase):
    """The door's answer to the assistant's ping (core.reachability)."""

    def _post(self, secret, key=None):
        url = reachability.ping_url(
            self.base_url(), WEBHOOK_ROUTE, key or self.backend.webhook_key
        )
        body, headers, nonce = reachability.make_ping(secret, time.time())
        return self.url_open(url, data=body, headers=headers), nonce

    def test_signed_ping_gets_proof(self):
        secret = self.backend.webhook_secret
        response, nonce = self._post(secret)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["proof"], reachability.proof(secret, nonce))
        self.assertFalse(self.env["pico.event"].search([]), "a ping stores nothing")

    def test_ping_signed_with_another_secret_refused(self):
        response, _nonce = self._post("another database's secret")
        self.assertEqual(response.status_code, 401)
        self.assertNotIn("proof", json.loads(response.content))

    def test_unknown_key(self):
        response, _nonce = self._post(self.backend.webhook_secret, key="nope")
        self.assertEqual(response.status_code, 404)
