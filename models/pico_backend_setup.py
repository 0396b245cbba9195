# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""How far a backend's setup went: the step still missing, in a planner's words.

The setup assistant (wizard/pico_setup_wizard.py) walks the steps; the backend
form says which one is missing whenever the assistant was closed midway, or a
step was undone since (a new endpoint, a rotated secret, another public URL).
"""

import time

from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..core import reachability
from .pico_backend import WEBHOOK_ROUTE

SETUP_STATES = [
    ("endpoint", "Endpoint and token missing"),
    ("connection", "Connection not tested"),
    ("catalogue", "Processes not synchronized"),
    ("webhooks", "Webhooks not registered"),
    ("reachability", "Public URL not reachable"),
    ("mapping", "No bill of materials mapped"),
    ("done", "Ready"),
]
MANAGER = "mrp_pico_mes.group_pico_manager"


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    pico_webhooks_registered_url = fields.Char(
        string="Webhooks Registered For",
        readonly=True,
        copy=False,
        help="The completion URL Pico was last given by Register Webhooks; "
        "registration is to be done again when the public URL or the secret "
        "changes.",
    )
    pico_public_url_checked_at = fields.Datetime(
        string="Public URL Checked", readonly=True, copy=False
    )
    pico_public_url_ok = fields.Boolean(
        string="Public URL Reachable", readonly=True, copy=False
    )
    pico_public_url_message = fields.Text(
        string="Public URL Check", readonly=True, copy=False
    )
    pico_setup_state = fields.Selection(
        SETUP_STATES,
        string="Setup",
        compute="_compute_pico_setup_state",
        help="The first setup step still missing; the setup assistant does it.",
    )
    pico_setup_message = fields.Text(
        string="Setup Step Missing", compute="_compute_pico_setup_state"
    )

    @api.depends(
        "endpoint_url",
        "pico_features_checked_at",
        "catalogue_synced_at",
        "pico_webhooks_registered_url",
        "webhook_completion_url",
        "pico_public_url_ok",
    )
    def _compute_pico_setup_state(self):
        mapped = dict(
            self.env["mrp.bom"]
            .sudo()
            ._read_group(
                [
                    ("pico_backend_id", "in", self.ids),
                    ("pico_mapping_state", "=", "valid"),
                ],
                ["pico_backend_id"],
                ["__count"],
            )
        )
        messages = self._pico_setup_messages()
        for backend in self:
            sudo = backend.sudo()
            if not backend.endpoint_url or not sudo.api_token:
                state = "endpoint"
            elif not backend.pico_features_checked_at:
                state = "connection"
            elif not backend.catalogue_synced_at:
                state = "catalogue"
            elif backend.pico_webhooks_registered_url != backend.webhook_completion_url:
                state = "webhooks"
            elif not backend.pico_public_url_ok:
                state = "reachability"
            elif not mapped.get(backend._origin):
                state = "mapping"
            else:
                state = "done"
            backend.pico_setup_state = state
            backend.pico_setup_message = messages[state]

    def _pico_setup_messages(self):
        _ = self.env._
        return {
            "endpoint": _(
                "Enter the address of Pico's API and the API token Pico support "
                "gave you."
            ),
            "connection": _("Odoo has not talked to Pico yet: test the connection."),
            "catalogue": _(
                "Odoo does not know Pico's products and processes yet: "
                "synchronize them."
            ),
            "webhooks": _(
                "Pico has not been told where to send finished units (or the "
                "public URL or secret changed since): register the webhooks."
            ),
            "reachability": _(
                "The public URL given to Pico did not answer as this database: "
                "Pico's completions may never arrive. Check the public URL."
            ),
            "mapping": _(
                "No bill of materials is mapped to a Pico product yet: suggest "
                "mappings and fix those that need a person."
            ),
            "done": _("Everything is set up: orders of mapped products go to Pico."),
        }

    # --- Steps that are not buttons of their own --------------------------------
    def action_register_webhooks(self):
        result = super().action_register_webhooks()
        params = result.get("params", {}) if isinstance(result, dict) else {}
        if params.get("type") == "success":
            for backend in self:
                backend.sudo().pico_webhooks_registered_url = (
                    backend.webhook_completion_url
                )
        return result

    def action_rotate_webhook_secret(self):
        result = super().action_rotate_webhook_secret()
        self.sudo().write(
            {"pico_webhooks_registered_url": False, "pico_public_url_ok": False}
        )
        return result

    def write(self, vals):
        result = super().write(vals)
        if "webhook_base_url" in vals:
            # Another address: what was checked was the old one.
            self.sudo().with_context(tracking_disable=True).write(
                {"pico_public_url_ok": False, "pico_public_url_checked_at": False}
            )
        return result

    def _pico_ping_url(self):
        self.ensure_one()
        base = self.webhook_base_url or self.env[
            "ir.config_parameter"
        ].sudo().get_param("web.base.url")
        return reachability.ping_url(base, WEBHOOK_ROUTE, self.webhook_key)

    def _pico_check_public_url(self):
        """Ping this database through its public URL; store and return the result
        (a core.reachability.PingResult) with its message in a planner's words."""
        self.ensure_one()
        self.check_access("write")
        url = self._pico_ping_url()
        result = reachability.ping(url, self.sudo().webhook_secret or "", time.time())
        message = self._pico_ping_message(result)
        self.sudo().write(
            {
                "pico_public_url_ok": result.ok,
                "pico_public_url_checked_at": fields.Datetime.now(),
                "pico_public_url_message": message,
            }
        )
        return result, message

    def _pico_ping_message(self, result):
        _ = self.env._
        base = result.url.split(WEBHOOK_ROUTE)[0]
        if result.ok:
            text = _("%s answered as this database.", base)
            if "private" in result.warnings:
                text += " " + _(
                    "It is a private address: Pico's cloud cannot reach it unless "
                    "Pico runs in your network. Use the address the Internet knows "
                    "this Odoo by."
                )
            if "not_https" in result.warnings:
                text += " " + _(
                    "It is not https: the webhook secret would travel unencrypted."
                )
            return text
        words = {
            reachability.UNREACHABLE: _(
                "Odoo could not open %(url)s from its own server, so Pico cannot "
                "either. Set the Public Odoo URL to the address Pico reaches this "
                "Odoo by (e.g. https://erp.example.com), and ask IT to let Pico's "
                "calls in. (%(detail)s)"
            ),
            reachability.NOT_THIS_ADDON: _(
                "%(url)s answered, but not as this Odoo: the address leads to "
                "another server, or a proxy does not forward /pico_mes/ to Odoo. "
                "(%(detail)s)"
            ),
            reachability.OTHER_DATABASE: _(
                "%(url)s leads to an Odoo that does not know this backend: another "
                "database answers at that address. Check the Public Odoo URL and "
                "the server's database filter. (%(detail)s)"
            ),
            reachability.INVALID_URL: _(
                "%(url)s is not a web address: the Public Odoo URL starts with "
                "https:// (%(detail)s)"
            ),
        }
        template = words.get(
            result.status,
            _("%(url)s answered with an error: %(detail)s. Try again later."),
        )
        return template % {"url": base, "detail": result.detail}

    # --- The assistant ----------------------------------------------------------
    def action_pico_setup(self):
        """Open the setup assistant on this backend, at its first missing step."""
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only Pico managers set up Pico backends."))
        self.check_access("write")
        return self.env["pico.setup.wizard"]._pico_open_for(self)
