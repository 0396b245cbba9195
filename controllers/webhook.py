# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import time

from odoo import http
from odoo.http import request

from ..core import webhook
from ..models.pico_backend import WEBHOOK_ROUTE


class PicoWebhookController(http.Controller):
    """Pico's webhook door: authenticate, validate, store in the inbox, answer.

    It never applies an event: the inbox processor does, after the answer. The route
    is public because Pico has no Odoo session; the backend is found by the opaque
    key in the URL and the caller proven by the backend's shared secret, and only
    `pico.event._pico_accept` runs with elevated rights.
    """

    @http.route(
        f"{WEBHOOK_ROUTE}/<string:key>/<string:kind>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def pico_webhook(self, key, kind, **_kwargs):
        door = request.env["pico.backend"].sudo()._pico_door(key)
        if not door or kind not in webhook.KINDS:
            return self._answer(
                404, {"error": "not_found", "message": "unknown webhook"}
            )
        backend_id, company_id, secret, require_hmac = door
        httprequest = request.httprequest
        try:
            webhook.check_size(httprequest.content_length)
            body = webhook.read_body(httprequest.get_data)
            intake = webhook.accept(
                kind,
                httprequest.headers,
                body,
                secret,
                require_hmac,
                backend_id,
                time.time(),
            )
        except webhook.Rejection as rejection:
            return self._answer(rejection.status, rejection.body)
        events = request.env["pico.event"].sudo().with_company(company_id)
        event, created = events._pico_accept(
            events.env["pico.backend"].browse(backend_id),
            intake,
            "webhook",
            payload=body.decode("utf-8", "replace"),
            company_id=company_id,
        )
        return self._answer(
            202 if created else 200,
            {"status": "accepted" if created else "duplicate", "event_id": event.id},
        )

    def _answer(self, status, body):
        return request.make_json_response(body, status=status)
