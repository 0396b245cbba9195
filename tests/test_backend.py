# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PicoCase


@tagged("post_install", "-at_install", "pico_foundation")
class TestBackend(PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pico_manager = new_test_user(
            cls.env, login="pico_manager", groups="mrp_pico_mes.group_pico_manager"
        )
        cls.pico_user = new_test_user(
            cls.env, login="pico_user", groups="mrp_pico_mes.group_pico_user"
        )

    def _notification(self, action):
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    def test_connection_ok(self):
        """Test Connection runs a real query and reports the subscriptions found."""
        params = self._notification(self.backend.action_test_connection())
        self.assertEqual(params["type"], "success")
        self.assertIn("0 webhook subscription", params["message"])
        queries = [r["query"] for r in self.simulator.requests()]
        self.assertTrue(any("webhookSubscriptions" in q for q in queries))

    def test_connection_bad_token(self):
        """A refused token is reported with Pico's status and message."""
        self.backend.api_token = "wrong"
        params = self._notification(self.backend.action_test_connection())
        self.assertEqual(params["type"], "danger")
        self.assertIn("401", params["message"])

    def test_connection_server_error(self):
        """A 5xx answer is reported, not swallowed."""
        self.simulator.set_faults(fail_next=1, error_status=503)
        params = self._notification(self.backend.action_test_connection())
        self.assertEqual(params["type"], "danger")
        self.assertIn("503", params["message"])

    def test_connection_unreachable(self):
        """A closed port gives a connection error in the notification."""
        self.backend.endpoint_url = "http://127.0.0.1:9/graph/v2"
        params = self._notification(self.backend.action_test_connection())
        self.assertEqual(params["type"], "danger")
        self.assertTrue(params["message"])

    def test_webhook_urls(self):
        """The form shows one URL per webhook kind, under the backend's key."""
        self.backend.webhook_base_url = "https://erp.example.com/"
        key = self.backend.webhook_key
        self.assertEqual(
            self.backend.webhook_completion_url,
            f"https://erp.example.com/pico_mes/webhook/{key}/completion",
        )
        self.assertTrue(self.backend.webhook_version_url.endswith(f"{key}/version"))

    def test_rotate_secret(self):
        """Rotating the secret changes it and says so in the chatter."""
        old = self.backend.webhook_secret
        self.backend.action_rotate_webhook_secret()
        self.assertNotEqual(self.backend.webhook_secret, old)
        self.assertGreaterEqual(len(self.backend.webhook_secret), 32)
        self.assertIn("rotated", self.backend.message_ids[0].body)

    def test_secrets_only_for_system_admins(self):
        """A Pico manager manages backends but cannot read the token or secrets."""
        backend = self.backend.with_user(self.pico_manager)
        self.assertEqual(backend.name, "Simulated Pico")
        for field in ("api_token", "webhook_secret", "mqtt_password"):
            with self.assertRaises(AccessError):
                backend.read([field])
        backend.write({"name": "Renamed"})
        self.assertEqual(self.backend.name, "Renamed")

    def test_user_cannot_configure(self):
        """A Pico user reads backends but cannot change or create them."""
        backend = self.backend.with_user(self.pico_user)
        self.assertTrue(backend.read(["name"]))
        with self.assertRaises(AccessError):
            backend.write({"name": "x"})
        with self.assertRaises(AccessError):
            self.env["pico.backend"].with_user(self.pico_user).create(
                {"name": "x", "endpoint_url": "http://x"}
            )

    def test_multi_company(self):
        """A backend of another company is invisible to that company's users."""
        other = self.env["res.company"].create({"name": "Plant 2"})
        foreign = self.env["pico.backend"].create(
            {"name": "Plant 2 Pico", "endpoint_url": "http://x", "company_id": other.id}
        )
        visible = (
            self.env["pico.backend"]
            .with_user(self.pico_manager)
            .search([("id", "in", (foreign | self.backend).ids)])
        )
        self.assertEqual(visible, self.backend)

    def test_client_built_from_backend(self):
        """The core client uses the backend's endpoint, token and timeouts."""
        client = self.backend._get_client()
        self.assertEqual(client.endpoint, self.simulator.url)
        self.assertEqual(len(client.operations()), len(self.simulator.operations()))
