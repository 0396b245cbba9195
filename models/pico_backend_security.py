# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Secrets bound to their destinations.

A backend holds three secrets: the API token (sent to the GraphQL endpoint), the
webhook secret (sent to the endpoint when webhooks are registered, and then by
Pico to the public Odoo URL) and the MQTT password (sent to the broker). Only
system administrators read or write them. Pico managers configure the rest of the
backend, destinations included; but when someone who may not read a secret changes
where it goes, the secret is withheld from the new destination until a system
administrator confirms it (see `_pico_check_destination`, called by every path
that sends one: `_get_client` for the API, `_pico_mqtt_settings` for the broker,
webhook registration for the public URL). Who may press what is the table of
rights in pico_backend.py (`ACTION_GROUPS`), checked in each button's first line.
"""

from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..core.errors import PicoPermanentError
from .pico_backend import SYSTEM

# Destination -> (fields that choose it, secret fields bound to it).
DESTINATIONS = {
    "api": (("endpoint_url",), ("api_token",)),
    "webhook": (("webhook_base_url",), ()),
    "mqtt": (
        ("mqtt_host", "mqtt_port", "mqtt_tls", "mqtt_ca_file"),
        ("mqtt_password",),
    ),
}
REVIEW_FIELDS = {
    "api": "pico_review_api",
    "webhook": "pico_review_webhook",
    "mqtt": "pico_review_mqtt",
}


class PicoDestinationNotConfirmed(PicoPermanentError):
    """A secret would go to a destination no system administrator confirmed."""


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    mqtt_ca_file = fields.Char(groups=SYSTEM)
    pico_review_api = fields.Boolean(
        string="Endpoint to Confirm",
        readonly=True,
        copy=False,
        help="The GraphQL endpoint was changed by someone who may not read the API "
        "token: the token is not sent until a system administrator confirms it.",
    )
    pico_review_webhook = fields.Boolean(
        string="Public URL to Confirm",
        readonly=True,
        copy=False,
        help="The public Odoo URL was changed by someone who may not read the "
        "webhook secret: webhooks are not registered until a system administrator "
        "confirms it.",
    )
    pico_review_mqtt = fields.Boolean(
        string="Broker to Confirm",
        readonly=True,
        copy=False,
        help="The broker was changed by someone who may not read its password: the "
        "password is not sent until a system administrator confirms it.",
    )
    pico_review_needed = fields.Boolean(compute="_compute_pico_review_needed")

    @api.depends("pico_review_api", "pico_review_webhook", "pico_review_mqtt")
    def _compute_pico_review_needed(self):
        for backend in self:
            backend.pico_review_needed = (
                backend.pico_review_api
                or backend.pico_review_webhook
                or backend.pico_review_mqtt
            )

    # --- Destinations --------------------------------------------------------
    @api.model
    def _pico_changed_destinations(self, backend, vals):
        """Destinations of `backend` that `vals` changes (TLS only when turned off)."""
        changed = set()
        for name, (dest_fields, _secrets) in DESTINATIONS.items():
            for field in dest_fields:
                if field not in vals:
                    continue
                old = backend[field] if backend else False
                new = vals[field]
                if field == "mqtt_tls":
                    if old and not new:
                        changed.add(name)
                elif (old or False) != (new or False):
                    changed.add(name)
        return changed

    @api.model
    def _prepare_review_vals(self, changed, vals):
        """Review flags to write for destinations changed by the current user."""
        review = {}
        if self.env.is_system():
            # A system administrator chose (or re-entered) it: confirmed.
            for name, (_fields, secrets) in DESTINATIONS.items():
                if name in changed or set(secrets) & set(vals):
                    review[REVIEW_FIELDS[name]] = False
        else:
            for name in changed:
                review[REVIEW_FIELDS[name]] = True
        return review

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.is_system():
            for vals in vals_list:
                if set(REVIEW_FIELDS.values()) & set(vals):
                    raise AccessError(
                        self.env._("Only a system administrator confirms destinations.")
                    )
                # A new backend's destinations are chosen by its creator.
                vals.update(
                    self._prepare_review_vals(
                        self._pico_changed_destinations(None, vals), vals
                    )
                )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.is_system() and set(REVIEW_FIELDS.values()) & set(vals):
            raise AccessError(
                self.env._("Only a system administrator confirms destinations.")
            )
        watched = {f for dest, _s in DESTINATIONS.values() for f in dest}
        secrets = {s for _d, sec in DESTINATIONS.values() for s in sec}
        if not (watched | secrets) & set(vals):
            return super().write(vals)
        # Read the old destinations before they change (sudo: mqtt_ca_file), and
        # flag them before the write: its constraints may already call Pico.
        for backend in self.sudo():
            changed = self._pico_changed_destinations(backend, vals)
            review = self._prepare_review_vals(changed, vals)
            if review:
                super(PicoBackend, backend).write(review)
        return super().write(vals)

    def _pico_check_destination(self, name, strict=False):
        """Refuse to send a secret to a destination no administrator confirmed.

        Without `strict`, a destination whose own secret is empty passes (nothing
        to leak); registration is strict, as it sends the webhook secret.
        """
        self.ensure_one()
        backend = self.sudo()
        if not backend[REVIEW_FIELDS[name]]:
            return
        _fields, secrets = DESTINATIONS[name]
        if strict or any(backend[secret] for secret in secrets):
            labels = {
                "api": self.env._("the GraphQL endpoint"),
                "webhook": self.env._("the public Odoo URL"),
                "mqtt": self.env._("the MQTT broker"),
            }
            raise PicoDestinationNotConfirmed(
                self.env._(
                    "%(what)s of %(backend)s was changed by a user who may not read "
                    "its credentials: a system administrator must confirm it "
                    "(Confirm Destinations) before they are sent there.",
                    what=labels[name],
                    backend=backend.name,
                )
            )

    def action_pico_confirm_destinations(self):
        """A system administrator confirms the destinations as they are now."""
        self._pico_check_rights("action_pico_confirm_destinations")
        super(PicoBackend, self.sudo()).write(
            dict.fromkeys(REVIEW_FIELDS.values(), False)
        )
        for backend in self:
            backend.message_post(
                body=self.env._("Destinations confirmed by %s.", self.env.user.name)
            )
        return True
