# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Who may see and change what: queues, secrets, companies."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..core import inbox


def completion(external_order_id="WH/MO/00001#1"):
    return {
        "externalOrderId": external_order_id,
        "orderIndex": 0,
        "at": "2026-11-22T10:00:00Z",
        "operation": {"id": "op-widget"},
        "operationSummary": {"consumedSerials": []},
    }


@tagged("post_install", "-at_install", "pico_foundation")
class TestSecurity(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls.env["pico.backend"].create(
            {"name": "Plant 1", "endpoint_url": "http://127.0.0.1:9/graph/v2"}
        )
        cls.user = new_test_user(
            cls.env, login="pico_sec_user", groups="mrp_pico_mes.group_pico_user"
        )
        cls.planner = new_test_user(
            cls.env, login="pico_sec_planner", groups="mrp.group_mrp_user"
        )
        cls.event = cls._store(cls.backend, completion())

    @classmethod
    def _store(cls, backend, body):
        intake = inbox.intake(inbox.COMPLETION, body, backend.id)
        return cls.env["pico.event"]._pico_store(backend, intake, "webhook")[0]

    def test_queues_cannot_be_forged(self):
        """Users read the inbox and outbox but cannot create or rewrite rows."""
        events = self.env["pico.event"].with_user(self.user)
        self.assertEqual(events.search([]), self.event)
        with self.assertRaises(AccessError):
            self.event.with_user(self.user).write({"state": "done"})
        with self.assertRaises(AccessError):
            events.create(
                {
                    "backend_id": self.backend.id,
                    "event_type": "completion",
                    "source": "manual",
                    "idempotency_key": "forged",
                }
            )
        with self.assertRaises(AccessError):
            self.env["pico.exchange"].with_user(self.user).create(
                {"backend_id": self.backend.id, "kind": "save"}
            )

    def test_retry_goes_through_the_model(self):
        """A Pico user may send a failed event back, though not write it."""
        self.event.write({"state": inbox.FAILED, "error": "boom"})
        self.event.with_user(self.user).action_retry()
        self.assertEqual(self.event.state, inbox.RECEIVED)
        self.assertEqual(self.event.attempts, 0)
        self.assertIn("Sent back", self.event.message_ids[0].body)

    def test_no_pico_rights_no_pico_rows(self):
        """A manufacturing user without a Pico group sees no events or backends."""
        with self.assertRaises(AccessError):
            self.env["pico.event"].with_user(self.planner).search([])
        with self.assertRaises(AccessError):
            self.env["pico.backend"].with_user(self.planner).search([])

    def test_other_company_events_are_invisible(self):
        """Events follow their backend's company."""
        other = self.env["res.company"].create({"name": "Plant 2 Co"})
        backend2 = self.env["pico.backend"].create(
            {
                "name": "Plant 2",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "company_id": other.id,
            }
        )
        foreign = self._store(backend2, completion("WH/MO/00002#2"))
        self.assertEqual(foreign.company_id, other)
        visible = self.env["pico.event"].with_user(self.user).search([])
        self.assertIn(self.event, visible)
        self.assertNotIn(foreign, visible)

    def test_secrets_not_in_the_form_for_non_admins(self):
        """Token and secrets are not even described to non-administrators."""
        fields = (
            self.env["pico.backend"]
            .with_user(self.user)
            .fields_get(attributes=["type"])
        )
        self.assertIn("endpoint_url", fields)
        for secret in ("api_token", "webhook_secret", "mqtt_password"):
            self.assertNotIn(secret, fields)
