# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import time

from odoo import fields
from odoo.tests import tagged

from ..core.signature import SIGNATURE_HEADER, sign
from ..core.webhook import MAX_BODY_BYTES
from .common import PicoHttpCase


def completion(external_order_id="WH/MO/00001#1", index=0, at="2026-11-22T10:00:00Z"):
    return {
        "externalOrderId": external_order_id,
        "orderIndex": index,
        "at": at,
        "operation": {"id": "op-widget", "externalId": "WIDGET-1"},
        "operationSummary": {
            "startedAt": "2026-11-22T09:50:00Z",
            "cycleTime": 600000,
            "consumedSerials": [],
        },
        "endState": {"producedSerial": "SN-1", "operator": {"name": "Dana Ruiz"}},
    }


@tagged("post_install", "-at_install", "pico_foundation", "pico_complete")
class TestWebhookDoor(PicoHttpCase):
    def _events(self):
        self.env.invalidate_all()
        return self.env["pico.event"].search([("backend_id", "=", self.backend.id)])

    def test_accept_then_duplicate(self):
        """A new completion is stored (202); the same delivery again is a 200 no-op."""
        body = {"data": {"operationOrderCompletesStream": completion()}}
        first = self.post_webhook("completion", body)
        self.assertEqual(first.status_code, 202, first.text)
        self.assertEqual(first.json()["status"], "accepted")
        second = self.post_webhook("completion", body)
        self.assertEqual(second.status_code, 200, second.text)
        self.assertEqual(
            second.json(), {"status": "duplicate", "event_id": first.json()["event_id"]}
        )
        events = self._events()
        self.assertEqual(len(events), 1)
        self.assertEqual(events.event_type, "completion")
        self.assertEqual(events.external_order_id, "WH/MO/00001#1")
        self.assertEqual(events.data["endState"]["producedSerial"], "SN-1")
        self.assertEqual(str(events.mes_time), "2026-11-22 10:00:00")

    def test_accepted_event_wakes_the_processor(self):
        """An accepted event wakes the processor through Odoo's own trigger, due
        now; a duplicate wakes nobody (on the default executor, the scheduler)."""
        cron = self.env.ref("mrp_pico_mes.ir_cron_pico_event_process")
        triggers = self.env["ir.cron.trigger"]
        triggers.search([("cron_id", "=", cron.id)]).unlink()
        self.env.flush_all()
        first = {"data": {"operationOrderCompletesStream": completion()}}
        self.assertEqual(self.post_webhook("completion", first).status_code, 202)
        self.env.invalidate_all()
        added = triggers.search([("cron_id", "=", cron.id)])
        self.assertEqual(len(added), 1)
        self.assertLessEqual(added.call_at, fields.Datetime.now())
        self.assertEqual(self.post_webhook("completion", first).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(triggers.search([("cron_id", "=", cron.id)]), added)
        second = completion("WH/MO/00002#1")
        self.assertEqual(self.post_webhook("completion", second).status_code, 202)
        self.env.invalidate_all()
        self.assertEqual(triggers.search_count([("cron_id", "=", cron.id)]), 2)
        self.assertEqual(len(self._events()), 2)

    def test_bare_body_same_event(self):
        """Bare and wrapped bodies of one event are the same event."""
        self.assertEqual(self.post_webhook("completion", completion()).status_code, 202)
        wrapped = {"data": {"operationOrderCompletesStream": completion()}}
        self.assertEqual(self.post_webhook("completion", wrapped).status_code, 200)
        self.assertEqual(len(self._events()), 1)

    def test_bad_secret(self):
        """A wrong or missing secret is 401 and stores nothing."""
        response = self.post_webhook("completion", completion(), secret="nope")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["field"], "X-Pico-Webhook-Secret")
        response = self.post_webhook("completion", completion(), secret="")
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._events())

    def test_unknown_backend(self):
        """An unknown webhook key is a JSON 404."""
        response = self.url_open(
            f"{self.base_url()}/pico_mes/webhook/nosuchkey/completion",
            data=json.dumps(completion()),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json()["error"], "not_found")

    def test_malformed_bodies(self):
        """Bad bodies are 400 naming the field, and nothing is stored."""
        response = self.post_webhook("completion", b"{not json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "body")
        missing = completion()
        del missing["externalOrderId"]
        response = self.post_webhook("completion", missing)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "externalOrderId")
        wrong = completion(at="yesterday")
        response = self.post_webhook("completion", wrong)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "at")
        self.assertFalse(self._events())

    def test_too_large(self):
        """A body over the limit is 413 and is not stored."""
        body = json.dumps(completion()) + " " * MAX_BODY_BYTES
        response = self.post_webhook("completion", body)
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self._events())

    def test_hmac_required(self):
        """With HMAC required, only fresh correct signatures are accepted."""
        self.backend.webhook_require_hmac = True
        body = json.dumps(completion()).encode()
        secret = self.backend.webhook_secret
        self.assertEqual(self.post_webhook("completion", body).status_code, 401)
        old = int(time.time()) - 301
        stale = {SIGNATURE_HEADER: f"t={old},v1={sign(secret, old, body)}"}
        self.assertEqual(
            self.post_webhook("completion", body, headers=stale).status_code, 401
        )
        now = int(time.time())
        fresh = {SIGNATURE_HEADER: f"t={now},v1={sign(secret, now, body)}"}
        self.assertEqual(
            self.post_webhook("completion", body, headers=fresh).status_code, 202
        )
