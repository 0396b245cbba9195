# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hmac

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from odoo import http
from odoo.http import request

METRICS_ROUTE = "/pico/metrics"
# System parameter holding the token monitoring tools send (Authorization: Bearer).
TOKEN_PARAM = "mrp_pico_mes.metrics_token"

# (metric name, help, figure key in pico.backend._pico_health_figures)
GAUGES = [
    ("pico_outbox_backlog", "Outbox rows not delivered yet.", "outbox_backlog"),
    (
        "pico_outbox_oldest_age_seconds",
        "Age of the oldest undelivered outbox row.",
        "outbox_oldest_seconds",
    ),
    ("pico_exchanges_failed", "Exchanges failed for good.", "exchanges_failed"),
    ("pico_exchanges_dead", "Exchanges dead-lettered.", "exchanges_dead"),
    ("pico_error_rate_hour_ratio", "Failing share, last hour.", "error_rate_hour"),
    ("pico_error_rate_day_ratio", "Failing share, last day.", "error_rate_day"),
    (
        "pico_completion_latency_p50_seconds",
        "Completion received -> MO done, median over the last day.",
        "latency_p50_s",
    ),
    (
        "pico_completion_latency_p95_seconds",
        "Completion received -> MO done, 95th percentile over the last day.",
        "latency_p95_s",
    ),
    (
        "pico_last_call_timestamp_seconds",
        "Last successful call to Pico (Unix time).",
        "last_call_ts",
    ),
    (
        "pico_last_webhook_timestamp_seconds",
        "Last webhook received (Unix time).",
        "last_webhook_ts",
    ),
    ("pico_mqtt_enabled", "1 when the backend uses MQTT.", "mqtt_enabled"),
    (
        "pico_mqtt_connected",
        "1 when the MQTT subscriber's last run was ok.",
        "mqtt_connected",
    ),
    (
        "pico_mqtt_last_message_timestamp_seconds",
        "Last MQTT message received (Unix time).",
        "mqtt_last_message_ts",
    ),
    (
        "pico_clock_skew_seconds",
        "Pico's clock minus Odoo's (positive: Pico ahead).",
        "clock_skew_s",
    ),
    ("pico_health_status", "0 healthy, 1 warning, 2 critical.", "status_code"),
]


class PicoMetricsController(http.Controller):
    """The integration's figures for Prometheus, labelled by backend.

    Authenticated by its own token (system parameter mrp_pico_mes.metrics_token,
    sent as `Authorization: Bearer <token>`), not by a Pico secret: a monitoring
    tool that can read it learns nothing it could send to Pico. No token set: the
    endpoint answers 401 to everyone.
    """

    @http.route(
        METRICS_ROUTE,
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def pico_metrics(self, **_kwargs):
        expected = (
            request.env["ir.config_parameter"].sudo().get_param(TOKEN_PARAM) or ""
        )
        header = request.httprequest.headers.get("Authorization", "")
        scheme, _sep, given = header.partition(" ")
        if not (
            expected
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), expected.encode())
        ):
            return request.make_response(
                "401 Unauthorized: send Authorization: Bearer <metrics token>\n",
                headers=[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", 'Bearer realm="pico-metrics"'),
                ],
                status=401,
            )
        backends = request.env["pico.backend"].sudo()
        registry = CollectorRegistry()
        gauges = [
            (Gauge(name, text, ["backend"], registry=registry), key)
            for name, text, key in GAUGES
        ]
        events = Gauge(
            "pico_events",
            "Inbox events by state.",
            ["backend", "state"],
            registry=registry,
        )
        for backend in backends.search([]):
            figures = backend._pico_metrics_figures()
            for gauge, key in gauges:
                value = figures.get(key)
                if value is not None:
                    gauge.labels(backend=backend.name).set(value)
            for state, count in figures["events"].items():
                events.labels(backend=backend.name, state=state).set(count)
        return request.make_response(
            generate_latest(registry),
            headers=[("Content-Type", CONTENT_TYPE_LATEST)],
        )
