# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import secrets

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..core import inbox, mqtt_drain
from ..core.clock import odoo_datetime
from ..core.errors import PicoError
from .pico_queue import commit_default

# The subscriber cron runs every minute; a session must outlast the pause between
# two runs, with room for a late cron worker.
MQTT_MIN_SESSION_EXPIRY = 300
MQTT_STATES = [
    ("off", "Off"),
    ("waiting", "Not run yet"),
    ("ok", "Connected"),
    ("error", "Error"),
]

_logger = logging.getLogger(__name__)


class PicoBackend(models.Model):
    """The MQTT door of a backend: its broker settings and status, and the
    subscriber cron that drains the broker into the inbox."""

    _inherit = "pico.backend"

    # The MQTT door's fields are read together, by the subscriber and the form
    # only: a prefetch group of their own, so that reading a backend on each
    # order and completion does not fetch them (issue 24: with the insight
    # fields, half the columns, about 2,000 Python calls of every such read).
    mqtt_enabled = fields.Boolean(
        string="Use MQTT", tracking=True, prefetch="pico_mqtt"
    )
    mqtt_host = fields.Char(string="Broker Host", prefetch="pico_mqtt")
    mqtt_port = fields.Integer(string="Broker Port", default=1883, prefetch="pico_mqtt")
    mqtt_tls = fields.Boolean(string="TLS", prefetch="pico_mqtt")
    mqtt_username = fields.Char(string="Broker Username", prefetch="pico_mqtt")
    mqtt_password = fields.Char(
        string="Broker Password",
        groups="base.group_system",
        copy=False,
        prefetch="pico_mqtt",
    )
    mqtt_client_id = fields.Char(
        string="Client ID",
        copy=False,
        help="Fixed MQTT client id, so the broker keeps the session between runs. "
        "Empty: derived from the database and this backend.",
        prefetch="pico_mqtt",
    )
    mqtt_topic_prefix = fields.Char(
        string="Topic Prefix", default="pico/plant1", prefetch="pico_mqtt"
    )
    mqtt_protocol = fields.Selection(
        [(mqtt_drain.PROTOCOL_V5, "MQTT 5"), (mqtt_drain.PROTOCOL_V311, "MQTT 3.1.1")],
        string="Protocol",
        default=mqtt_drain.PROTOCOL_V5,
        required=True,
        prefetch="pico_mqtt",
    )
    mqtt_session_expiry = fields.Integer(
        string="Session Expiry (s)",
        default=7 * 24 * 3600,
        help="How long the broker keeps this subscriber's session, and the messages "
        "queued for it, while Odoo is not connected (MQTT 5). Must outlast any "
        "Odoo downtime you want to survive without losing messages.",
        prefetch="pico_mqtt",
    )
    mqtt_ca_file = fields.Char(
        string="CA Certificates File",
        help="Path, on the Odoo server, of the CA bundle that signed the broker's "
        "certificate. Empty: the system's CAs.",
        prefetch="pico_mqtt",
    )
    mqtt_run_seconds = fields.Integer(
        string="Receive Time per Run (s)",
        default=55,
        help="How long each run of the subscriber stays connected. Close to the "
        "cron interval (1 minute), so that messages are received within seconds.",
        prefetch="pico_mqtt",
    )
    mqtt_cron_id = fields.Many2one(
        "ir.cron",
        string="Subscriber Cron",
        readonly=True,
        copy=False,
        groups="base.group_system",
        prefetch="pico_mqtt",
    )
    mqtt_topic_ids = fields.One2many(
        "pico.topic",
        "backend_id",
        string="Topics",
        copy=True,
        context={"active_test": False},
    )
    # Connection status, written by the subscriber after each run.
    mqtt_state = fields.Selection(
        MQTT_STATES, string="MQTT Status", compute="_compute_mqtt_state"
    )
    mqtt_last_run_at = fields.Datetime(
        string="Last Run", readonly=True, copy=False, prefetch="pico_mqtt"
    )
    mqtt_last_connect_at = fields.Datetime(
        string="Last Connected",
        readonly=True,
        copy=False,
        prefetch="pico_mqtt",
    )
    mqtt_last_message_at = fields.Datetime(
        string="Last Message",
        readonly=True,
        copy=False,
        prefetch="pico_mqtt",
    )
    mqtt_count_date = fields.Date(readonly=True, copy=False, prefetch="pico_mqtt")
    mqtt_messages_today = fields.Integer(
        string="Messages Today",
        readonly=True,
        copy=False,
        prefetch="pico_mqtt",
    )
    mqtt_dropped_today = fields.Integer(
        string="Dropped Today",
        readonly=True,
        copy=False,
        help="Messages on unknown or ignored topics (telemetry): counted, not stored.",
        prefetch="pico_mqtt",
    )
    mqtt_rejected_today = fields.Integer(
        string="Refused Today",
        readonly=True,
        copy=False,
        help="Messages that were not JSON or broke their schema: stored as "
        "failed events.",
        prefetch="pico_mqtt",
    )
    mqtt_last_error = fields.Text(
        string="Last Error", readonly=True, copy=False, prefetch="pico_mqtt"
    )
    mqtt_last_error_at = fields.Datetime(
        string="Last Error At",
        readonly=True,
        copy=False,
        prefetch="pico_mqtt",
    )
    mqtt_last_run_ok = fields.Boolean(readonly=True, copy=False, prefetch="pico_mqtt")

    def _get_mqtt_client_id(self):
        """Fixed MQTT client id: the broker keeps the subscriber's session by it."""
        self.ensure_one()
        if self.mqtt_client_id:
            return self.mqtt_client_id
        # database.uuid changes when a database is duplicated, so a copy (staging)
        # never takes production's session over; at most 23 characters (MQTT 3.1.1).
        dbuuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return mqtt_drain.default_client_id(dbuuid or self.env.cr.dbname, self.id)

    # --- Subscriber ----------------------------------------------------------------
    @api.depends("mqtt_enabled", "mqtt_last_run_at", "mqtt_last_run_ok")
    def _compute_mqtt_state(self):
        for backend in self:
            if not backend.mqtt_enabled:
                backend.mqtt_state = "off"
            elif not backend.mqtt_last_run_at:
                backend.mqtt_state = "waiting"
            else:
                backend.mqtt_state = "ok" if backend.mqtt_last_run_ok else "error"

    @api.constrains("mqtt_session_expiry", "mqtt_run_seconds")
    def _check_mqtt_timing(self):
        for backend in self:
            if not 5 <= backend.mqtt_run_seconds <= 600:
                raise ValidationError(
                    self.env._("The receive time per run must be 5 to 600 seconds.")
                )
            if backend.mqtt_session_expiry < MQTT_MIN_SESSION_EXPIRY:
                # Shorter than the pause between two runs, the broker would drop
                # the session, and the messages queued for it, in between.
                raise ValidationError(
                    self.env._(
                        "The session expiry must be at least %s seconds.",
                        MQTT_MIN_SESSION_EXPIRY,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        self.env["pico.topic"].sudo()._pico_create_defaults(backends)
        backends._pico_mqtt_sync_cron()
        return backends

    def write(self, vals):
        result = super().write(vals)
        if {"mqtt_enabled", "active", "name"} & set(vals):
            self._pico_mqtt_sync_cron()
        return result

    def unlink(self):
        crons = self.sudo().mqtt_cron_id
        result = super().unlink()
        # A cron running right now cannot be deleted; its next run finds its
        # backend gone and deactivates itself.
        crons.try_lock_for_update().unlink()
        return result

    def _pico_mqtt_cron_name(self):
        return self.env._("Pico MES: MQTT subscriber (%s)", self.name)

    def _pico_mqtt_sync_cron(self):
        """Keep one subscriber cron per backend, active while it uses MQTT."""
        # As ir.cron.toggle does: a neutralized copy never starts a subscriber.
        neutralized = (
            self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized")
        )
        for backend in self.sudo():
            wanted = backend.active and backend.mqtt_enabled and not neutralized
            cron = backend.mqtt_cron_id
            if not cron:
                if wanted:
                    backend.mqtt_cron_id = (
                        self.env["ir.cron"]
                        .sudo()
                        .create(backend._prepare_mqtt_cron_vals())
                    )
                continue
            vals = {}
            if cron.active != wanted:
                vals["active"] = wanted
            if cron.name != backend._pico_mqtt_cron_name():
                vals["name"] = backend._pico_mqtt_cron_name()
            # A cron is locked while it runs, i.e. most of the time: leave it then,
            # its next run reads the backend and deactivates itself if need be.
            if vals and cron.try_lock_for_update(allow_referencing=True):
                cron.write(vals)

    def _prepare_mqtt_cron_vals(self):
        self.ensure_one()
        return {
            "name": self._pico_mqtt_cron_name(),
            "model_id": self.env["ir.model"]._get_id("pico.backend"),
            "state": "code",
            "code": f"model._cron_mqtt_subscribe({self.id})",
            "user_id": self.env.ref("base.user_root").id,
            "interval_number": 1,
            "interval_type": "minutes",
            # After the other jobs: a run keeps its worker busy for most of a minute.
            "priority": 20,
            "active": True,
        }

    @api.model
    def _cron_mqtt_subscribe(self, backend_id):
        """Subscriber cron of one backend: receive for one run."""
        backend = self.browse(backend_id).exists()
        if not backend or not backend.active or not backend.mqtt_enabled:
            # Turned off or deleted while this cron was running: stop calling it.
            if self.env.context.get("cron_id"):
                self.env["ir.cron"]._commit_progress(deactivate=True)
            return False
        stats = backend._pico_mqtt_drain()
        cron = backend.sudo().mqtt_cron_id
        if cron and stats.stopped_reason in (
            mqtt_drain.STOP_DEADLINE,
            mqtt_drain.STOP_MAX_MESSAGES,
        ):
            # Run again as soon as a cron worker is free, not at the next worker
            # wake-up (up to a minute later): coverage stays continuous. After an
            # error the regular interval applies, so a dead broker is not hammered.
            cron._trigger()
        return stats.ok

    def _pico_mqtt_settings(self):
        """Return the core MqttSettings of this backend."""
        self.ensure_one()
        # The broker's password goes nowhere an administrator did not confirm.
        try:
            self._pico_check_destination("mqtt")
        except PicoError as exc:
            raise UserError(exc.message) from exc
        backend = self.sudo()
        if not backend.mqtt_host:
            raise UserError(self.env._("Set the MQTT broker host of %s.", self.name))
        try:
            return mqtt_drain.MqttSettings(
                host=backend.mqtt_host.strip(),
                port=backend.mqtt_port or 1883,
                client_id=backend._get_mqtt_client_id(),
                username=backend.mqtt_username or None,
                password=backend.mqtt_password or None,
                tls=backend.mqtt_tls,
                ca_certs=backend.mqtt_ca_file or None,
                topic_prefix=backend.mqtt_topic_prefix or "",
                session_expiry=backend.mqtt_session_expiry
                or mqtt_drain.DEFAULT_SESSION_EXPIRY,
                protocol=backend.mqtt_protocol or mqtt_drain.PROTOCOL_V5,
            )
        except ValueError as exc:
            raise UserError(str(exc)) from exc

    def _pico_mqtt_drain(
        self, max_seconds=None, max_messages=None, idle_seconds=None, commit=None
    ):
        """Receive for one run: store each batch in the inbox, commit, then ack.

        Return the core DrainStats. Broker errors do not raise: they end the run
        and are shown on the backend. `commit` defaults to True except in tests.
        """
        self.ensure_one()
        if commit is None:
            commit = commit_default()
        backend = self.sudo()
        rejected = []
        try:
            settings = backend._pico_mqtt_settings()
        except UserError as exc:
            stats = mqtt_drain.DrainStats(
                errors=1,
                last_error=str(exc.args[0] if exc.args else exc),
                stopped_reason=mqtt_drain.STOP_CONNECT_FAILED,
            )
        else:
            topic_map = self.env["pico.topic"].sudo()._pico_topic_map(backend)
            stats = mqtt_drain.drain(
                settings,
                None,
                lambda messages: backend._pico_mqtt_store(messages, commit, rejected),
                max_seconds or backend.mqtt_run_seconds or 55,
                max_messages=max_messages,
                idle_seconds=idle_seconds,
                topic_map=topic_map,
            )
        backend._pico_mqtt_record(stats, len(rejected), commit)
        return stats

    def _pico_mqtt_store(self, messages, commit, rejected):
        """Store one batch of received messages in the inbox, then commit.

        Raising leaves the whole batch unacknowledged: the broker delivers it
        again, and the inbox's idempotency keys absorb what was stored before.
        """
        self.ensure_one()
        events = self.env["pico.event"].sudo().with_company(self.company_id)
        stored = events.browse()
        try:
            with self.env.cr.savepoint():
                for message in messages:
                    event, new, refused = events._pico_store_message(self, message)
                    if new and refused:
                        rejected.append(message.topic)
                    if new:
                        stored |= event
                # Refused messages are stored failed: nothing for the executor.
                stored.filtered(
                    lambda event: event.state != inbox.FAILED
                )._pico_dispatch()
        except Exception:
            if commit:
                self.env.cr.rollback()
            raise
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return len(stored)

    def _pico_mqtt_record(self, stats, rejected=0, commit=False):
        """Show what a run did on the backend: the connection status."""
        self.ensure_one()
        now = fields.Datetime.now()
        today = now.date()
        same_day = self.mqtt_count_date == today
        vals = {
            "mqtt_last_run_at": now,
            "mqtt_last_run_ok": stats.ok,
            "mqtt_count_date": today,
            "mqtt_messages_today": stats.received
            + (self.mqtt_messages_today if same_day else 0),
            "mqtt_dropped_today": stats.dropped_unknown
            + (self.mqtt_dropped_today if same_day else 0),
            "mqtt_rejected_today": rejected
            + (self.mqtt_rejected_today if same_day else 0),
        }
        if stats.connected_at:
            vals["mqtt_last_connect_at"] = odoo_datetime(stats.connected_at)
        if stats.last_message_at:
            vals["mqtt_last_message_at"] = odoo_datetime(stats.last_message_at)
        if not stats.ok:
            vals.update(mqtt_last_error=stats.last_error, mqtt_last_error_at=now)
            _logger.warning(
                "Pico backend %s: MQTT run ended with %s: %s",
                self.id,
                stats.stopped_reason,
                stats.last_error,
            )
        if commit:
            # A fresh snapshot: a user may have saved the backend during the run.
            self.env.cr.commit()  # pylint: disable=invalid-commit
        if not self._pico_write_status(vals):
            _logger.info(
                "Pico backend %s edited meanwhile: run status skipped", self.id
            )
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def action_mqtt_receive_now(self):
        """Run the subscriber cron now instead of at its next call."""
        self._pico_check_rights("action_mqtt_receive_now")
        self.ensure_one()
        cron = self.sudo().mqtt_cron_id
        if not (self.mqtt_enabled and cron):
            raise UserError(self.env._("Turn MQTT on first."))
        cron._trigger()
        return self._notify(
            self.env._("MQTT"),
            self.env._("The subscriber runs as soon as a cron worker is free."),
            "info",
        )

    def action_mqtt_test_connection(self):
        """Connect to the broker with this backend's settings and report."""
        self._pico_check_rights("action_mqtt_test_connection")
        self.ensure_one()
        try:
            settings = self._pico_mqtt_settings()
        except UserError as exc:
            return self._notify(
                self.env._("MQTT connection failed"), str(exc.args[0]), "danger"
            )
        stats, client_id = mqtt_drain.probe(settings, secrets.token_hex(2))
        if not stats.ok:
            return self._notify(
                self.env._("MQTT connection failed"), stats.last_error, "danger"
            )
        return self._notify(
            self.env._("MQTT connection works"),
            self.env._(
                "%(host)s:%(port)s accepted client %(client)s.",
                host=settings.host,
                port=settings.port,
                client=client_id,
            ),
            "success",
        )
