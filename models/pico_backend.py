# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import secrets
import uuid

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..core import documents
from ..core.client import PicoClient
from ..core.errors import PicoError
from ..core.webhook import SECRET_HEADER

WEBHOOK_ROUTE = "/pico_mes/webhook"

MANAGER = "mrp_pico_mes.group_pico_manager"
SYSTEM = "base.group_system"
# The one table of rights: every button of pico.backend that talks to Pico (or to
# the broker) or confirms where secrets go, and the group it needs. Each of them
# checks it in its first line (`_pico_check_rights`), whichever file it is in.
ACTION_GROUPS = {
    "action_test_connection": MANAGER,
    "action_sync_operations": MANAGER,
    "action_register_webhooks": MANAGER,
    "action_pico_catch_up": MANAGER,
    "action_mqtt_test_connection": MANAGER,
    "action_mqtt_receive_now": MANAGER,
    "action_pico_check_features": MANAGER,
    "action_rotate_webhook_secret": SYSTEM,
    "action_pico_confirm_destinations": SYSTEM,
}


def _new_secret(_records=None):
    return secrets.token_urlsafe(32)


def _new_key(_records=None):
    return uuid.uuid4().hex


class PicoBackend(models.Model):
    """One Pico instance (tenant) that this database talks to: its configuration.

    The doors that bring events in live beside it: the MQTT subscriber
    (pico_backend_mqtt.py) and the completions catch-up (pico_backend_reconcile.py);
    the webhook door is controllers/webhook.py.
    """

    _name = "pico.backend"
    _description = "Pico MES Backend"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
        tracking=True,
    )
    # --- GraphQL API -------------------------------------------------------
    endpoint_url = fields.Char(
        string="GraphQL Endpoint",
        required=True,
        tracking=True,
        help="Full URL of the tenant's GraphQL API, "
        "e.g. https://yourcompany.picomes.com/graph/v2",
    )
    api_token = fields.Char(
        string="API Token",
        groups="base.group_system",
        copy=False,
        help="Sent as the x-pico-api-org header. Pico support issues one per instance.",
    )
    connect_timeout = fields.Float(default=5.0, help="Seconds to open a connection.")
    read_timeout = fields.Float(default=30.0, help="Seconds to wait for an answer.")
    # --- Webhooks ----------------------------------------------------------
    webhook_key = fields.Char(
        required=True,
        copy=False,
        default=_new_key,
        readonly=True,
        help="Opaque part of the webhook URLs that identifies this backend.",
    )
    webhook_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        default=_new_secret,
        help="Shared secret Pico sends back in the X-Pico-Webhook-Secret header.",
    )
    webhook_require_hmac = fields.Boolean(
        string="Require HMAC Signature",
        help="Also require an X-Pico-Signature header (HMAC-SHA256 of the body "
        "with a timestamp, valid for 300 seconds). Use it when a relay in "
        "front of Odoo signs Pico's deliveries.",
    )
    webhook_base_url = fields.Char(
        string="Public Odoo URL",
        help="Base URL Pico reaches this database at. Empty: web.base.url.",
    )
    webhook_completion_url = fields.Char(compute="_compute_webhook_urls")
    webhook_version_url = fields.Char(compute="_compute_webhook_urls")
    loss_reason_ids = fields.One2many(
        "pico.loss.reason", "backend_id", string="Reason Codes", copy=True
    )
    defect_class_ids = fields.One2many(
        "pico.defect.class", "backend_id", string="Defect Classes", copy=True
    )
    # MQTT settings and status: pico_backend_mqtt.py.
    # --- Orders and processing policies ------------------------------------
    release_trigger = fields.Selection(
        [
            ("confirm", "When the MO is confirmed"),
            ("plan", "When the MO is planned"),
            ("manual", "Only with the Send to Pico button"),
        ],
        default="confirm",
        required=True,
        tracking=True,
        help="When a manufacturing order with a mapped BOM becomes Pico work orders.",
    )
    serial_source = fields.Selection(
        [
            ("pico", "Pico captures the serial"),
            ("odoo", "Odoo generates the serial"),
        ],
        default="pico",
        required=True,
        tracking=True,
        help="With 'Odoo generates', a serial is reserved in Odoo for every unit "
        "and sent to Pico with the order.",
    )
    invalid_mapping_policy = fields.Selection(
        [
            ("refuse", "Refuse the confirmation"),
            ("warn", "Confirm, warn and do not send"),
        ],
        default="refuse",
        required=True,
        help="What confirming a manufacturing order whose Pico mapping has "
        "problems does.",
    )
    partial_close = fields.Selection(
        [
            ("backorder", "Close what is built, backorder the rest"),
            ("wait", "Keep the MO open until every unit is built"),
        ],
        default="wait",
        required=True,
        help="How a manufacturing order closes when Pico reports some units only "
        "and the planner marks it done.",
    )
    responsible_id = fields.Many2one(
        "res.users",
        default=lambda self: self.env.user,
        help="Gets an activity when an exchange or event fails and the "
        "manufacturing order has no responsible of its own.",
    )
    max_attempts = fields.Integer(
        default=8,
        help="Tries for a retryable exchange or a held event before it is "
        "dead-lettered.",
    )
    retry_base_delay = fields.Integer(
        string="First Retry After (s)",
        default=10,
        help="Delay before the first retry; it doubles on each try, with jitter.",
    )
    retry_max_delay = fields.Integer(string="Longest Retry Delay (s)", default=3600)
    executor = fields.Selection(
        [
            ("cron", "Odoo scheduler"),
            ("queue_job", "OCA Job Queue"),
        ],
        string="Run Events and Exchanges With",
        default="cron",
        required=True,
        help="Odoo scheduler: the connector's cron jobs apply received events and "
        "send exchanges; nothing else to install.\n"
        "OCA Job Queue: one job per event or exchange, run in parallel by the "
        "queue_job engine (module queue_job, loaded server-wide) in the channels "
        "root.pico_inbox and root.pico_outbox. Events of one order keep their "
        "order on both.",
    )
    # --- Catalogue (process mapping) ---------------------------------------
    catalogue_synced_at = fields.Datetime(
        string="Processes Synchronized", readonly=True, copy=False
    )
    operation_count = fields.Integer(compute="_compute_operation_count")
    # --- Completions catch-up ----------------------------------------------
    completions_checked_at = fields.Datetime(
        string="Completions Checked",
        readonly=True,
        copy=False,
        help="Last time Odoo compared Pico's list of completions with its inbox.",
    )

    _webhook_key_uniq = models.Constraint(
        "UNIQUE(webhook_key)", "The webhook key must be unique."
    )

    @api.depends("webhook_key", "webhook_base_url")
    def _compute_webhook_urls(self):
        default_base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        for backend in self:
            base = (backend.webhook_base_url or default_base or "").rstrip("/")
            prefix = f"{base}{WEBHOOK_ROUTE}/{backend.webhook_key}"
            backend.webhook_completion_url = f"{prefix}/completion"
            backend.webhook_version_url = f"{prefix}/version"

    # --- Core glue ---------------------------------------------------------
    def _get_client(self):
        """Return a core PicoClient configured from this backend."""
        self.ensure_one()
        # The API token goes nowhere an administrator did not confirm.
        self._pico_check_destination("api")
        backend = self.sudo()
        if not backend.endpoint_url:
            raise UserError(self.env._("Set the GraphQL endpoint of %s.", self.name))
        return PicoClient(
            backend.endpoint_url,
            backend.api_token or "",
            connect_timeout=backend.connect_timeout or 5.0,
            read_timeout=backend.read_timeout or 30.0,
        )

    # --- Rights --------------------------------------------------------------
    def _pico_check_rights(self, action):
        """Refuse `action` on these backends before anything is sent anywhere."""
        group = ACTION_GROUPS[action]
        if not self.env.su and not self.env.user.has_group(group):
            raise AccessError(
                self.env._(
                    "You are not allowed to run %(action)s on Pico backends.",
                    action=action,
                )
            )
        # Record rules (company), as the write that the action amounts to.
        self.check_access("write")

    # --- Buttons -----------------------------------------------------------
    def action_test_connection(self):
        """Run a real GraphQL query, then ask Pico which optional features it has
        (pico_backend_features.py); report both in a notification."""
        self._pico_check_rights("action_test_connection")
        self.ensure_one()
        try:
            subscriptions = self._get_client().webhook_subscriptions()
        except PicoError as exc:
            return self._notify(
                self.env._("Connection to Pico failed"),
                self.env._("%(error)s", error=exc),
                "danger",
            )
        message = self.env._(
            "%(url)s answered; %(count)s webhook subscription(s) registered.",
            url=self.endpoint_url,
            count=len(subscriptions),
        )
        message, kind = self._pico_check_features_after_test(message)
        return self._notify(self.env._("Connection to Pico works"), message, kind)

    @api.model
    def _pico_door(self, key):
        """What the webhook door needs of the active backend `key` names: a row
        (id, company id, secret, HMAC required), or None.

        One plain query: the door is measured against Odoo's floor, and an ORM
        search and read cost it more than the query itself. Callers are sudo.
        """
        self.flush_model(
            ["active", "webhook_key", "webhook_secret", "webhook_require_hmac"]
        )
        self.env.cr.execute(
            "SELECT id, company_id, webhook_secret, webhook_require_hmac "
            "FROM pico_backend WHERE webhook_key = %s AND active LIMIT 1",
            [key],
        )
        return self.env.cr.fetchone()

    @api.constrains("executor")
    def _check_executor(self):
        if self.env["pico.queue"]._pico_queue_job_available():
            return
        if any(backend.executor == "queue_job" for backend in self):
            raise ValidationError(
                self.env._(
                    "Run Events and Exchanges With: the OCA Job Queue needs the "
                    "module queue_job installed (and loaded server-wide, see the "
                    "README). Install it first, or keep the Odoo scheduler."
                )
            )

    def write(self, vals):
        result = super().write(vals)
        if "executor" in vals:
            # The rows waiting now go to the executor just chosen.
            for model in ("pico.event", "pico.exchange"):
                queue = self.env[model].sudo()
                queue.search(
                    [
                        ("backend_id", "in", self.ids),
                        ("state", "in", list(queue._pico_due_states())),
                    ]
                )._pico_dispatch()
        return result

    def action_rotate_webhook_secret(self):
        """Generate a new shared secret; Pico must be re-registered with it."""
        self._pico_check_rights("action_rotate_webhook_secret")
        for backend in self:
            backend.sudo().webhook_secret = _new_secret()
            backend.message_post(
                body=self.env._("Webhook secret rotated; register the webhooks again.")
            )
        return True

    def _compute_operation_count(self):
        counts = dict(
            self.env["pico.operation"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.operation_count = counts.get(backend, 0)

    def action_sync_operations(self):
        """Fetch Pico's operations and structure into the process catalogue."""
        self._pico_check_rights("action_sync_operations")
        self.ensure_one()
        return self.env["pico.operation"]._pico_sync_action(self)

    def action_view_operations(self):
        self.check_access("read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mrp_pico_mes.pico_operation_action"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        return action

    def _webhook_subscription_id(self, kind):
        """Stable, URL-safe subscription id: one per database, backend and kind."""
        self.ensure_one()
        dbuuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"odoo-{dbuuid}-{self.id}-{kind}"

    def action_register_webhooks(self):
        """Register (or replace) the completion and version webhooks in Pico."""
        self._pico_check_rights("action_register_webhooks")
        self.ensure_one()
        # Registration sends the webhook secret: both destinations must be
        # confirmed, whether or not a secret is set (pico_backend_security.py).
        try:
            self._pico_check_destination("api", strict=True)
            self._pico_check_destination("webhook", strict=True)
        except PicoError as exc:
            return self._notify(
                self.env._("Webhook registration refused"), exc.message, "danger"
            )
        backend = self.sudo()
        if not backend.webhook_secret:
            raise UserError(
                self.env._(
                    "%s has no webhook secret: a system administrator must "
                    "rotate it first.",
                    self.name,
                )
            )
        headers = {SECRET_HEADER: backend.webhook_secret}
        # The fragments select the optional fields Pico was just found to have.
        subscriptions = [
            ("completion", documents.COMPLETION_STREAM, self.webhook_completion_url),
            ("version", documents.OPERATION_STREAM, self.webhook_version_url),
        ]
        try:
            with self._get_client(detect=True) as client:
                for kind, stream, url in subscriptions:
                    client.subscribe_webhook(
                        self._webhook_subscription_id(kind),
                        client.fragment(stream),
                        url,
                        headers,
                    )
        except PicoError as exc:
            return self._notify(
                self.env._("Webhook registration failed"), str(exc), "danger"
            )
        urls = ", ".join(url for _kind, _fragment, url in subscriptions)
        self.message_post(body=self.env._("Webhooks registered in Pico: %s", urls))
        return self._notify(
            self.env._("Webhooks registered"),
            self.env._("Pico will call %s.", urls),
            "success",
        )

    def _notify(self, title, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": kind,
                "sticky": kind == "danger",
            },
        }
