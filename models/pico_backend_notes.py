# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Operator notes (noteEventsStream): offered or not by this backend's Pico, and
their webhook (docs/DECISIONS_ASBUILT.md)."""

from odoo import api, fields, models

from ..core import features
from ..core.errors import PicoError
from ..core.webhook import SECRET_HEADER
from .pico_backend import WEBHOOK_ROUTE

NOTE_STATES = [
    ("unknown", "Not checked yet"),
    ("not_offered", "Not offered by this Pico"),
    ("offered", "Offered, webhook not registered"),
    ("registered", "Webhook registered"),
    ("refused", "Offered, webhook refused by Pico"),
]


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    pico_note_fragment = fields.Text(
        string="Note Fragment",
        readonly=True,
        copy=False,
        help="The webhook fragment of Pico's note type, built from its schema.",
    )
    pico_notes_webhook = fields.Selection(
        [("registered", "Registered"), ("refused", "Refused")],
        readonly=True,
        copy=False,
    )
    pico_notes_error = fields.Char(string="Why Refused", readonly=True, copy=False)
    pico_notes_state = fields.Selection(
        NOTE_STATES,
        string="Operator Notes",
        compute="_compute_pico_notes_state",
        help="Whether this Pico offers operator notes (noteEventsStream), found by "
        "introspection of its schema when features are checked.",
    )
    webhook_note_url = fields.Char(
        string="Note Webhook URL", compute="_compute_webhook_note_url"
    )
    asbuilt_depth = fields.Integer(
        string="As-Built Genealogy Depth",
        default=3,
        help="How many levels of component serials the As-Built Record prints "
        "below a unit (1: only the serials built into it).",
    )

    @api.depends("webhook_key", "webhook_base_url")
    def _compute_webhook_note_url(self):
        default_base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        for backend in self:
            base = (backend.webhook_base_url or default_base or "").rstrip("/")
            backend.webhook_note_url = (
                f"{base}{WEBHOOK_ROUTE}/{backend.webhook_key}/note"
            )

    @api.depends(
        "pico_features",
        "pico_features_state",
        "pico_note_fragment",
        "pico_notes_webhook",
    )
    def _compute_pico_notes_state(self):
        for backend in self:
            if backend.pico_features_state == "unknown":
                state = "unknown"
            elif not backend._pico_notes_offered():
                state = "not_offered"
            else:
                state = backend.pico_notes_webhook or "offered"
            backend.pico_notes_state = state

    def _pico_notes_offered(self):
        self.ensure_one()
        return features.NOTES in self._pico_feature_set() and bool(
            self.sudo().pico_note_fragment
        )

    def _pico_detect_features(self, client=None, always_write=False):
        detection = super()._pico_detect_features(client, always_write)
        fragment = detection.note_fragment or False
        backend = self.sudo()
        if (backend.pico_note_fragment or False) != fragment:
            # Another shape (or none): a webhook registered before is stale.
            backend.write(
                {
                    "pico_note_fragment": fragment,
                    "pico_notes_webhook": False,
                    "pico_notes_error": False,
                }
            )
        return detection

    def action_register_webhooks(self):
        """Register the note webhook too, where this Pico offers notes.

        Its own try: a Pico that lists the stream but refuses its webhook keeps
        the completion and version webhooks, and says why on the form.
        """
        result = super().action_register_webhooks()
        self.ensure_one()
        backend = self.sudo()
        if (result or {}).get("params", {}).get("type") == "danger":
            return result
        if not self._pico_notes_offered():
            if backend.pico_features_state != "unknown":
                self.message_post(
                    body=self.env._(
                        "This Pico does not offer operator notes (noteEventsStream): "
                        "no note webhook registered."
                    )
                )
            return result
        try:
            with self._get_client() as client:
                client.subscribe_webhook(
                    self._webhook_subscription_id("note"),
                    backend.pico_note_fragment,
                    self.webhook_note_url,
                    {SECRET_HEADER: backend.webhook_secret},
                )
        except PicoError as exc:
            backend.write(
                {"pico_notes_webhook": "refused", "pico_notes_error": str(exc)}
            )
            self.message_post(
                body=self.env._("Pico refused the operator-note webhook: %s", exc)
            )
            return result
        backend.write({"pico_notes_webhook": "registered", "pico_notes_error": False})
        self.message_post(
            body=self.env._(
                "Operator-note webhook registered in Pico: %s", self.webhook_note_url
            )
        )
        return result
