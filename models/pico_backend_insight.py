# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from datetime import timedelta, timezone

from odoo import api, fields, models

from ..core import inbox, insight, outbox, races
from .pico_queue import TRANSIENT_DB_ERRORS

_logger = logging.getLogger(__name__)

SKEW_ACTIVITY = "mrp_pico_mes.mail_activity_type_pico_clock_skew"
HEALTH_ACTIVITY = "mrp_pico_mes.mail_activity_type_pico_health"
# Kanban colour index of each status (Odoo's palette: red, orange, green).
STATUS_COLOR = {insight.GREEN: 10, insight.AMBER: 2, insight.RED: 1}


class PicoBackend(models.Model):
    """Clock skew and integration health of one backend, with their alerts."""

    _name = "pico.backend"
    _inherit = ["pico.backend", "mail.activity.mixin"]

    # The skew and health fields are read together, by the insight crons, the
    # dashboard and the metrics only: a prefetch group of their own, so that
    # reading a backend on each order and completion does not fetch them (see
    # pico_backend_mqtt.py).
    # --- Clock skew -------------------------------------------------------------------
    clock_skew_ms = fields.Float(
        string="Clock Skew (ms)",
        readonly=True,
        copy=False,
        help="Pico's clock minus Odoo's, estimated from the lower envelope of "
        "(received - event time) of recent events; positive: Pico is ahead.",
        prefetch="pico_insight",
    )
    clock_skew_drift = fields.Float(
        string="Skew Trend (ms/h)",
        readonly=True,
        copy=False,
        prefetch="pico_insight",
    )
    clock_skew_samples = fields.Integer(
        string="Events Measured",
        readonly=True,
        copy=False,
        prefetch="pico_insight",
    )
    clock_skew_at = fields.Datetime(
        string="Skew Estimated", readonly=True, copy=False, prefetch="pico_insight"
    )
    clock_skew_alert = fields.Boolean(
        string="Skew Alert",
        readonly=True,
        copy=False,
        index=True,
        prefetch="pico_insight",
    )
    clock_skew_threshold_ms = fields.Integer(
        string="Skew Alert Threshold (ms)",
        default=500,
        help="An activity is given to the responsible when the estimated skew "
        "passes this, and closed when it is back under 80 % of it.",
        prefetch="pico_insight",
    )
    clock_skew_window_hours = fields.Integer(
        string="Skew Window (h)",
        default=6,
        help="How far back the skew estimate reads events.",
        prefetch="pico_insight",
    )
    clock_skew_ids = fields.One2many(
        "pico.clock.skew", "backend_id", string="Skew History", readonly=True
    )
    # --- Health thresholds (amber, red); 0 turns one off ------------------------------
    health_backlog_warn = fields.Integer(
        string="Outbox Backlog: Amber", default=50, prefetch="pico_insight"
    )
    health_backlog_crit = fields.Integer(
        string="Outbox Backlog: Red", default=500, prefetch="pico_insight"
    )
    health_oldest_warn = fields.Integer(
        string="Oldest Outbox Row (min): Amber",
        default=5,
        prefetch="pico_insight",
    )
    health_oldest_crit = fields.Integer(
        string="Oldest Outbox Row (min): Red",
        default=30,
        prefetch="pico_insight",
    )
    health_held_warn = fields.Integer(
        string="Held Events: Amber", default=20, prefetch="pico_insight"
    )
    health_held_crit = fields.Integer(
        string="Held Events: Red", default=200, prefetch="pico_insight"
    )
    health_failed_warn = fields.Integer(
        string="Failed and Dead Rows: Amber", default=1, prefetch="pico_insight"
    )
    health_failed_crit = fields.Integer(
        string="Failed and Dead Rows: Red", default=20, prefetch="pico_insight"
    )
    health_error_rate_warn = fields.Float(
        string="Error Rate Last Hour (%): Amber",
        default=5.0,
        prefetch="pico_insight",
    )
    health_error_rate_crit = fields.Float(
        string="Error Rate Last Hour (%): Red",
        default=25.0,
        prefetch="pico_insight",
    )
    health_latency_warn = fields.Float(
        string="Completion Latency p95 (s): Amber",
        default=5.0,
        prefetch="pico_insight",
    )
    health_latency_crit = fields.Float(
        string="Completion Latency p95 (s): Red",
        default=60.0,
        prefetch="pico_insight",
    )
    health_skew_crit = fields.Integer(
        string="Clock Skew (ms): Red", default=5000, prefetch="pico_insight"
    )
    # --- Health status, as the last check found it ------------------------------------
    health_status = fields.Selection(
        insight.STATUSES,
        default=insight.GREEN,
        readonly=True,
        copy=False,
        index=True,
        prefetch="pico_insight",
    )
    health_color = fields.Integer(compute="_compute_health_color")
    health_reasons = fields.Text(readonly=True, copy=False, prefetch="pico_insight")
    health_checked_at = fields.Datetime(
        readonly=True, copy=False, prefetch="pico_insight"
    )
    health_dashboard = fields.Json(compute="_compute_health_dashboard")

    @api.depends("health_status")
    def _compute_health_color(self):
        for backend in self:
            backend.health_color = STATUS_COLOR.get(backend.health_status, 0)

    def _compute_health_dashboard(self):
        now = fields.Datetime.now()
        for backend in self:
            figures = backend._pico_health_figures(now)
            status, checks = backend._pico_health_status(figures)
            figures["status"] = status
            figures["problems"] = [
                backend._pico_check_label(check)
                for check in checks
                if check.status != insight.GREEN
            ]
            figures["chart"] = backend._pico_events_chart(now)
            backend.health_dashboard = figures

    # --- Figures ----------------------------------------------------------------------
    def _pico_health_figures(self, now=None):
        """Every figure of the dashboard and of /pico/metrics, as plain values."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        self.env.flush_all()
        figures = self._pico_queue_figures(now)
        figures.update(self._pico_latency_figures(now))
        figures.update(
            {
                "mqtt_enabled": self.mqtt_enabled,
                "mqtt_connected": self.mqtt_enabled and self.mqtt_state == "ok",
                "mqtt_last_message_at": _iso(self.mqtt_last_message_at),
            }
        )
        skew = bool(self.clock_skew_samples)
        figures.update(
            {
                "clock_skew_ms": self.clock_skew_ms if skew else None,
                "clock_skew_abs_ms": abs(self.clock_skew_ms) if skew else None,
                "clock_skew_drift": self.clock_skew_drift if skew else None,
            }
        )
        return figures

    def _pico_queue_figures(self, now):
        """The outbox's backlog, both queues' rows by state and their error rates."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT count(*), min(create_date)
              FROM pico_exchange
             WHERE backend_id = %s AND state IN %s
            """,
            [self.id, outbox.OPEN_STATES],
        )
        backlog, oldest = cr.fetchone()
        cr.execute(
            "SELECT state, count(*) FROM pico_exchange WHERE backend_id = %s "
            "AND state IN %s GROUP BY state",
            [self.id, outbox.ERROR_STATES],
        )
        exchanges_by_state = dict(cr.fetchall())
        exchanges_failed = exchanges_by_state.get(outbox.FAILED, 0)
        exchanges_dead = exchanges_by_state.get(outbox.DEAD, 0)
        cr.execute(
            "SELECT state, count(*) FROM pico_event WHERE backend_id = %s "
            "GROUP BY state",
            [self.id],
        )
        events_by_state = {state: 0 for state, _label in inbox.STATES}
        events_by_state.update(cr.fetchall())
        return {
            "outbox_backlog": backlog,
            "outbox_oldest_minutes": (now - oldest).total_seconds() / 60.0
            if oldest
            else None,
            "exchanges_failed": exchanges_failed,
            "exchanges_dead": exchanges_dead,
            "events": events_by_state,
            "events_held": events_by_state[inbox.HELD],
            "events_failed": events_by_state[inbox.FAILED],
            "events_dead": events_by_state[inbox.DEAD],
            "failed_rows": events_by_state[inbox.FAILED]
            + events_by_state[inbox.DEAD]
            + exchanges_failed
            + exchanges_dead,
            "error_rate_hour": self._pico_error_rate(now - timedelta(hours=1)),
            "error_rate_day": self._pico_error_rate(now - timedelta(days=1)),
        }

    def _pico_error_rate(self, since):
        """Failed rows of both queues among those worked since `since`."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE state IN %(bad_out)s)
              FROM pico_exchange
             WHERE backend_id = %(backend)s AND last_attempt_at >= %(since)s
            """,
            {
                "backend": self.id,
                "since": since,
                "bad_out": (outbox.FAILED, outbox.DEAD, outbox.RETRY_WAIT),
            },
        )
        out_total, out_bad = cr.fetchone()
        cr.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE state IN %(bad_in)s)
              FROM pico_event
             WHERE backend_id = %(backend)s AND received_at >= %(since)s
            """,
            {"backend": self.id, "since": since, "bad_in": (inbox.FAILED, inbox.DEAD)},
        )
        in_total, in_bad = cr.fetchone()
        return insight.rate(out_bad + in_bad, out_total + in_total)

    def _pico_latency_figures(self, now):
        """Completion -> done latency over a day, and when Pico was last heard."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT EXTRACT(EPOCH FROM processed_at - received_at)
              FROM pico_event
             WHERE backend_id = %s AND event_type = %s AND state = %s
               AND processed_at >= %s AND processed_at >= received_at
            """,
            [self.id, inbox.COMPLETION, inbox.DONE, now - timedelta(days=1)],
        )
        latencies = [row[0] for row in cr.fetchall()]
        cr.execute(
            "SELECT max(done_at) FROM pico_exchange WHERE backend_id = %s "
            "AND state = %s",
            [self.id, outbox.DONE],
        )
        calls = [
            cr.fetchone()[0],
            self.catalogue_synced_at,
            self.completions_checked_at,
        ]
        cr.execute(
            "SELECT max(received_at) FROM pico_event WHERE backend_id = %s "
            "AND source = 'webhook'",
            [self.id],
        )
        last_webhook = cr.fetchone()[0]
        last_call = max((moment for moment in calls if moment), default=None)
        return {
            "latency_count": len(latencies),
            "latency_p50_s": insight.percentile(latencies, 50),
            "latency_p95_s": insight.percentile(latencies, 95),
            "last_call_at": _iso(last_call),
            "last_webhook_at": _iso(last_webhook),
        }

    def _pico_metrics_figures(self):
        """The dashboard's figures in Prometheus' units (seconds, ratios, 0/1)."""
        self.ensure_one()
        figures = self._pico_health_figures()
        status, _checks = self._pico_health_status(figures)

        def timestamp(value):
            moment = fields.Datetime.to_datetime(value)
            return moment.replace(tzinfo=timezone.utc).timestamp() if moment else None

        def ratio(value):
            return value / 100.0 if value is not None else None

        oldest = figures["outbox_oldest_minutes"]
        skew = figures["clock_skew_ms"]
        return {
            **figures,
            "outbox_oldest_seconds": oldest * 60.0 if oldest is not None else None,
            "error_rate_hour": ratio(figures["error_rate_hour"]),
            "error_rate_day": ratio(figures["error_rate_day"]),
            "last_call_ts": timestamp(figures["last_call_at"]),
            "last_webhook_ts": timestamp(figures["last_webhook_at"]),
            "mqtt_last_message_ts": timestamp(figures["mqtt_last_message_at"]),
            "mqtt_enabled": int(bool(figures["mqtt_enabled"])),
            "mqtt_connected": int(bool(figures["mqtt_connected"])),
            "clock_skew_s": skew / 1000.0 if skew is not None else None,
            "status_code": {insight.GREEN: 0, insight.AMBER: 1, insight.RED: 2}[status],
        }

    def _pico_health_thresholds(self):
        self.ensure_one()
        thresholds = {
            "outbox_backlog": (self.health_backlog_warn, self.health_backlog_crit),
            "outbox_oldest_minutes": (self.health_oldest_warn, self.health_oldest_crit),
            "events_held": (self.health_held_warn, self.health_held_crit),
            "failed_rows": (self.health_failed_warn, self.health_failed_crit),
            "error_rate_hour": (
                self.health_error_rate_warn,
                self.health_error_rate_crit,
            ),
            "latency_p95_s": (self.health_latency_warn, self.health_latency_crit),
            "clock_skew_abs_ms": (self.clock_skew_threshold_ms, self.health_skew_crit),
        }
        if self.mqtt_enabled:
            thresholds["mqtt_down"] = (None, 1)
        return thresholds

    def _pico_health_status(self, figures):
        self.ensure_one()
        figures = dict(figures)
        figures["mqtt_down"] = (
            1 if self.mqtt_enabled and self.mqtt_state == "error" else 0
        )
        return insight.health(figures, self._pico_health_thresholds())

    def _pico_check_label(self, check):
        labels = {
            "outbox_backlog": self.env._("Outbox backlog: %s rows"),
            "outbox_oldest_minutes": self.env._("Oldest outbox row: %s min"),
            "events_held": self.env._("Held events: %s"),
            "failed_rows": self.env._("Failed or dead-letter rows: %s"),
            "error_rate_hour": self.env._("Error rate last hour: %s %%"),
            "latency_p95_s": self.env._("Completion latency p95: %s s"),
            "clock_skew_abs_ms": self.env._("Clock skew: %s ms"),
            "mqtt_down": self.env._("MQTT subscriber in error (%s)"),
        }
        value = check.value
        shown = round(value, 1) if isinstance(value, float) else value
        return labels.get(check.name, check.name + ": %s") % shown

    def _pico_events_chart(self, now):
        """Events received per hour over the last 24 hours, for the card."""
        self.ensure_one()
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
        self.env.cr.execute(
            """
            SELECT date_trunc('hour', received_at) AS hour,
                   count(*),
                   count(*) FILTER (WHERE state IN %s)
              FROM pico_event
             WHERE backend_id = %s AND received_at >= %s
          GROUP BY 1
            """,
            [(inbox.FAILED, inbox.DEAD, inbox.HELD), self.id, start],
        )
        counts = {hour: (total, bad) for hour, total, bad in self.env.cr.fetchall()}
        peak = max((total for total, _bad in counts.values()), default=0) or 1
        bars = []
        for offset in range(24):
            hour = start + timedelta(hours=offset)
            total, bad = counts.get(hour, (0, 0))
            bars.append(
                {
                    "hour": hour.strftime("%H:00"),
                    "total": total,
                    "bad": bad,
                    "height": round(total * 100.0 / peak) if total else 2,
                }
            )
        return bars

    # --- Checks, run by the cron ------------------------------------------------------
    @api.model
    def _cron_insight(self):
        # Days marked by a person's change (a scrap in the form) or missed.
        self.env["pico.unit.report"].sudo()._pico_refresh_stale()
        for backend in self.search([]):
            # The backend's row is written by senders and subscribers too: a race
            # lost here leaves this backend's figures to the next run (15 min).
            try:
                with (
                    races.retried_races(f"Pico backend {backend.id} health"),
                    self.env.cr.savepoint(),
                ):
                    backend._pico_update_skew()
                    backend._pico_update_health()
            except TRANSIENT_DB_ERRORS as exc:
                _logger.info(
                    "Pico backend %s: health left for the next run (%s)",
                    backend.id,
                    exc,
                )
                backend.invalidate_recordset()

    def _pico_skew_samples(self, now=None):
        self.ensure_one()
        now = now or fields.Datetime.now()
        since = now - timedelta(hours=self.clock_skew_window_hours or 6)
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT EXTRACT(EPOCH FROM received_at), transit_ms
              FROM pico_event
             WHERE backend_id = %s AND transit_ms IS NOT NULL AND received_at >= %s
            """,
            [self.id, since],
        )
        return [
            (received - transit / 1000.0, received)
            for received, transit in self.env.cr.fetchall()
        ]

    def _pico_update_skew(self, now=None):
        """Estimate the skew, keep it in the history, raise or clear the alert."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        estimate = insight.estimate_skew(
            [(float(e), float(r)) for e, r in self._pico_skew_samples(now)]
        )
        vals = {"clock_skew_samples": estimate.samples, "clock_skew_at": now}
        if estimate.skew_ms is not None:
            vals.update(
                clock_skew_ms=estimate.skew_ms,
                clock_skew_drift=estimate.drift_ms_per_hour or 0.0,
            )
            self.env["pico.clock.skew"].sudo().create(
                {
                    "backend_id": self.id,
                    "measured_at": now,
                    "skew_ms": estimate.skew_ms,
                    "samples": estimate.samples,
                    "drift": estimate.drift_ms_per_hour or 0.0,
                }
            )
        alerting = insight.skew_alert(
            self.clock_skew_alert, estimate.skew_ms, self.clock_skew_threshold_ms
        )
        action = insight.alert_transition(self.clock_skew_alert, alerting)
        vals["clock_skew_alert"] = alerting
        self.sudo().write(vals)
        if action == "raise":
            self._pico_raise(
                SKEW_ACTIVITY,
                self.env._(
                    "Pico's clock is %(skew)s ms off Odoo's",
                    skew=round(estimate.skew_ms),
                ),
                self.env._(
                    "Estimated from %(count)s events over the last %(hours)s h "
                    "(threshold %(threshold)s ms). Check NTP on the Pico side or on "
                    "this server.",
                    count=estimate.samples,
                    hours=self.clock_skew_window_hours,
                    threshold=self.clock_skew_threshold_ms,
                ),
            )
        elif action == "clear":
            self._pico_clear(
                SKEW_ACTIVITY,
                self.env._(
                    "Clock skew back to %(skew)s ms.",
                    skew=round(estimate.skew_ms or 0.0),
                ),
            )
        return estimate

    def _pico_update_health(self, now=None):
        """Check the figures against the thresholds; one activity while not green."""
        self.ensure_one()
        figures = self._pico_health_figures(now)
        status, checks = self._pico_health_status(figures)
        problems = [self._pico_check_label(c) for c in checks if c.status != "green"]
        was_alerting = self.health_status != insight.GREEN
        action = insight.alert_transition(was_alerting, status != insight.GREEN)
        self.sudo().write(
            {
                "health_status": status,
                "health_reasons": "\n".join(problems) or False,
                "health_checked_at": now or fields.Datetime.now(),
            }
        )
        if action == "raise":
            self._pico_raise(
                HEALTH_ACTIVITY,
                self.env._("Pico integration needs attention: %s", self.name),
                "\n".join(problems),
            )
        elif action == "clear":
            self._pico_clear(HEALTH_ACTIVITY, self.env._("Integration healthy again."))
        return status, checks

    def _pico_raise(self, xmlid, summary, note):
        """Give the responsible one activity of this type (none if one is open)."""
        self.ensure_one()
        activity_type = self.env.ref(xmlid)
        if self.activity_ids.filtered(lambda a: a.activity_type_id == activity_type):
            return
        user = self.responsible_id or self.env.ref("base.user_admin", False)
        self.sudo().activity_schedule(
            xmlid, summary=summary, note=note, user_id=user.id if user else False
        )

    def _pico_clear(self, xmlid, feedback):
        self.ensure_one()
        self.sudo().activity_feedback([xmlid], feedback=feedback)

    # --- Buttons ----------------------------------------------------------------------
    def action_pico_check_health(self):
        self.check_access("read")
        for backend in self:
            backend._pico_update_skew()
            backend._pico_update_health()
        return True

    def action_view_clock_skew(self):
        self.check_access("read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mrp_pico_mes.pico_clock_skew_action"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        return action

    def _pico_open(self, res_model, name, domain, view_mode="list,form"):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": res_model,
            "view_mode": view_mode,
            "domain": domain,
        }

    def action_view_backlog(self):
        self.check_access("read")
        self.ensure_one()
        return self._pico_open(
            "pico.exchange",
            self.env._("Outbox backlog"),
            [("backend_id", "=", self.id), ("state", "in", outbox.OPEN_STATES)],
        )

    def action_view_held_events(self):
        self.check_access("read")
        self.ensure_one()
        return self._pico_open(
            "pico.event",
            self.env._("Held events"),
            [("backend_id", "=", self.id), ("state", "=", inbox.HELD)],
        )

    def action_view_failed_events(self):
        self.check_access("read")
        self.ensure_one()
        return self._pico_open(
            "pico.event",
            self.env._("Failed and dead-letter events"),
            [
                ("backend_id", "=", self.id),
                ("state", "in", (inbox.FAILED, inbox.DEAD)),
            ],
        )

    def action_view_failed_exchanges(self):
        self.check_access("read")
        self.ensure_one()
        return self._pico_open(
            "pico.exchange",
            self.env._("Failed and dead-letter exchanges"),
            [("backend_id", "=", self.id), ("state", "in", outbox.ERROR_STATES)],
        )

    def action_view_events_graph(self):
        self.check_access("read")
        self.ensure_one()
        action = self._pico_open(
            "pico.event",
            self.env._("Events of %s", self.name),
            [("backend_id", "=", self.id)],
            view_mode="graph,list,form",
        )
        action["context"] = {
            "graph_groupbys": ["received_at:day", "state"],
            "graph_mode": "bar",
            "graph_stacked": True,
        }
        return action


def _iso(moment):
    return fields.Datetime.to_string(moment) if moment else None
