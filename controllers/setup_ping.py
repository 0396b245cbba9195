# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import time

from odoo import http
from odoo.http import request

from ..core import reachability
from ..models.pico_backend import WEBHOOK_ROUTE


class PicoSetupPingController(http.Controller):
    """Answers the setup assistant's signed ping (core.reachability).

    Beside the webhook door, under the same path prefix, so that a proxy that
    forwards Pico's deliveries forwards the ping too. It stores nothing: it checks
    the signature with the backend's webhook secret and answers with a proof.
    """

    @http.route(
        f"{WEBHOOK_ROUTE}/<string:key>/{reachability.PING_KIND}",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def pico_webhook_ping(self, key, **_kwargs):
        door = request.env["pico.backend"].sudo()._pico_door(key)
        if not door:
            return request.make_json_response(
                {"error": "not_found", "message": "unknown webhook"}, status=404
            )
        _backend_id, _company_id, secret, _require_hmac = door
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > 4096:
            return request.make_json_response(
                {"error": "too_large", "message": "a ping is small"}, status=413
            )
        status, body = reachability.answer_ping(
            httprequest.headers, httprequest.get_data(), secret, time.time()
        )
        return request.make_json_response(body, status=status)
