# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Which optional parts of Pico's API this backend's Pico has (core.features)."""

import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..core import features
from ..core.errors import PicoError

_logger = logging.getLogger(__name__)

FEATURE_STATES = [
    ("unknown", "Not checked yet"),
    (features.DETECTED, "Detected by introspection"),
    (features.REFUSED, "Introspection refused: documented minimum"),
]


# Saves per request unless the integrator sets another number (docs/BENCHMARK.md:
# the 500-unit release measured at 1, 10, 25, 50, 100 and 200).
DEFAULT_ORDER_BATCH_SIZE = 50
MAX_ORDER_BATCH_SIZE = 500
UNTRIED, BATCHED, SINGLE = "untried", "batched", "single"
ORDER_BATCH_STATES = [
    (UNTRIED, "Not tried yet"),
    (BATCHED, "Several saves per request"),
    (SINGLE, "One save per request (Pico refused batches)"),
]


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    pico_features = fields.Text(
        string="Pico API Features",
        readonly=True,
        copy=False,
        help="Optional fields of Pico's API found on this instance (Type.field, one "
        "per line). Odoo only asks for and sends these beyond the documented minimum.",
    )
    pico_features_state = fields.Selection(
        FEATURE_STATES,
        string="API Features",
        default="unknown",
        required=True,
        readonly=True,
        copy=False,
    )
    pico_features_message = fields.Text(
        string="Why the Minimum", readonly=True, copy=False
    )
    pico_features_checked_at = fields.Datetime(
        string="Features Checked", readonly=True, copy=False
    )
    pico_features_html = fields.Html(
        string="Features", compute="_compute_pico_features_html", sanitize=False
    )
    # --- Orders out in batches (core.order_batch) ------------------------------
    order_batch_size = fields.Integer(
        string="Orders per Request",
        default=DEFAULT_ORDER_BATCH_SIZE,
        help="How many unit orders (operationOrderSave) Odoo sends to Pico in one "
        "request, each under its own alias with its own answer. 1 sends one order "
        "per request.",
    )
    order_batch_state = fields.Selection(
        ORDER_BATCH_STATES,
        string="Batched Orders",
        default=UNTRIED,
        required=True,
        readonly=True,
        copy=False,
        help="Whether this Pico took a request with several orders. A Pico that "
        "refuses one gets one order per request from then on; Check API Features "
        "tries batches again.",
    )
    order_batch_message = fields.Text(
        string="Why One per Request", readonly=True, copy=False
    )

    @api.constrains("order_batch_size")
    def _check_order_batch_size(self):
        for backend in self:
            if not 1 <= backend.order_batch_size <= MAX_ORDER_BATCH_SIZE:
                raise ValidationError(
                    self.env._(
                        "Orders per Request must be between 1 and %(max)s "
                        "(%(backend)s has %(size)s).",
                        max=MAX_ORDER_BATCH_SIZE,
                        backend=backend.name,
                        size=backend.order_batch_size,
                    )
                )

    def _pico_order_batch_size(self):
        """Saves Odoo may put in one request to this Pico now (1: no batch)."""
        self.ensure_one()
        if self.order_batch_state == SINGLE:
            return 1
        return max(self.order_batch_size, 1)

    def _pico_order_batch_result(self, refusal=None):
        """Record what a batched request taught about this Pico: it took it
        (refusal None), or it refused the document itself (one per request from
        now on, and the reason shown on the backend)."""
        self.ensure_one()
        backend = self.sudo()
        if refusal is None:
            if backend.order_batch_state == UNTRIED:
                # Senders of two nodes, or the health cron, may write the backend
                # at this moment: a lost race leaves the flip to the next batch.
                backend._pico_write_status({"order_batch_state": BATCHED})
            return
        _logger.warning(
            "Pico backend %s refused a batch of orders, one per request from now "
            "on: %s",
            self.id,
            refusal,
        )
        backend.write(
            {
                "order_batch_state": SINGLE,
                "order_batch_message": str(refusal),
            }
        )
        backend.message_post(
            body=self.env._(
                "Pico refused a request carrying several orders (%(error)s). Odoo "
                "now sends one order per request to this Pico; Check API Features "
                "tries batches again.",
                error=refusal,
            )
        )

    @api.depends("pico_features", "pico_features_state")
    def _compute_pico_features_html(self):
        # Templates marked with core.features._lt, translated here.
        translate = self.env._
        for backend in self:
            found = backend._pico_feature_set()
            rows = []
            for feature in features.DISPLAYED:
                present = feature.key in found
                icon = "fa-check text-success" if present else "fa-times text-muted"
                rows.append(
                    Markup(
                        "<tr><td><i class='fa %s'/></td><td>%s</td>"
                        "<td><code>%s</code></td><td class='text-muted'>%s</td></tr>"
                    )
                    % (
                        icon,
                        translate(feature.title),
                        feature.key,
                        translate(feature.gives),
                    )
                )
            backend.pico_features_html = Markup(
                "<table class='table table-sm'><tbody>%s</tbody></table>"
            ) % Markup("").join(rows)

    def _pico_feature_set(self):
        """The features Odoo may use with this backend (minimum until detected)."""
        self.ensure_one()
        if self.pico_features_state != features.DETECTED:
            return features.MINIMUM
        return features.parse_stored(self.pico_features)

    def _get_client(self, detect=False):
        """A PicoClient using this backend's features; detect=True asks Pico first
        (and stores the answer), as before a sync, a registration or a catch-up."""
        client = super()._get_client()
        if detect:
            try:
                self._pico_detect_features(client)
            except Exception:
                client.close()
                raise
        else:
            client.features = self._pico_feature_set()
        return client

    def _pico_detect_features(self, client=None, always_write=False):
        """Ask Pico's schema which features it has; store and return the Detection.

        Raises PicoError when Pico cannot be reached (the features stay as they
        were). Writes the backend only when something changed, unless
        always_write (a user's explicit check), so frequent crons do not contend
        for the row.
        """
        self.ensure_one()
        own = client is None
        client = client or self._get_client()
        try:
            detection = client.detect_features()
        finally:
            if own:
                client.close()
        values = {
            "pico_features": features.to_stored(detection.features),
            "pico_features_state": detection.state,
            "pico_features_message": detection.message or False,
        }
        backend = self.sudo()
        changed = any(
            (backend[name] or False) != value for name, value in values.items()
        )
        if changed or always_write:
            values["pico_features_checked_at"] = fields.Datetime.now()
            backend.write(values)
        if changed:
            _logger.info(
                "Pico backend %s: API features %s (%s)",
                self.id,
                ", ".join(sorted(detection.features)) or "minimum",
                detection.state,
            )
        return detection

    def _pico_features_summary(self):
        """One sentence for notifications."""
        self.ensure_one()
        found = self._pico_feature_set()
        if self.pico_features_state == features.REFUSED:
            return self.env._(
                "Pico refused introspection; Odoo uses the documented minimum "
                "(no operator, station or cycle time on completions)."
            )
        translate = self.env._
        names = [
            translate(feature.title)
            for feature in features.FEATURES
            if feature.key in found
        ]
        return self.env._(
            "Pico API features: %(names)s.",
            names=", ".join(names) or self.env._("documented minimum only"),
        )

    # --- Buttons -------------------------------------------------------------
    def _pico_check_features_after_test(self, message):
        """After a working connection test (action_test_connection), ask Pico
        which optional features it has; return the message and its kind."""
        try:
            self._pico_detect_features(always_write=True)
        except PicoError as exc:
            message = self.env._(
                "%(message)s Checking the API features failed: %(error)s",
                message=message,
                error=exc,
            )
            return message, "warning"
        return f"{message} {self._pico_features_summary()}", "success"

    def action_pico_check_features(self):
        """The "Check API Features" button."""
        self._pico_check_rights("action_pico_check_features")
        self.ensure_one()
        if self.order_batch_state == SINGLE:
            # Asked again: the next batch is the test.
            self.sudo().write(
                {"order_batch_state": UNTRIED, "order_batch_message": False}
            )
        try:
            self._pico_detect_features(always_write=True)
        except PicoError as exc:
            return self._notify(
                self.env._("Pico API features not checked"), str(exc), "danger"
            )
        return self._notify(
            self.env._("Pico API features checked"),
            self._pico_features_summary(),
            "success" if self.pico_features_state == features.DETECTED else "warning",
        )

    # --- Configuration ---------------------------------------------------------
    # Checked after the write, not in a constraint: by then a destination changed
    # in the same write is marked for review, so the question never goes (with
    # the token) to an endpoint no administrator confirmed.
    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends._check_serial_source_supported()
        return backends

    def write(self, vals):
        result = super().write(vals)
        if vals.get("serial_source") == "odoo":
            self._check_serial_source_supported()
        return result

    def _check_serial_source_supported(self):
        """ "Odoo generates the serial" needs Pico to take reservedSerialNumber on
        OperationOrderSaveInput, an input pico-api.md only infers: ask Pico now
        rather than fail every release later."""
        for backend in self.filtered(lambda b: b.serial_source == "odoo"):
            try:
                detection = backend._pico_detect_features(always_write=True)
            except PicoError as exc:
                raise ValidationError(
                    self.env._(
                        "'Odoo generates the serial' needs Pico to accept the serial "
                        "with each order, and %(backend)s could not be asked: "
                        "%(error)s. Try again when Pico answers.",
                        backend=backend.name,
                        error=exc,
                    )
                ) from exc
            if features.RESERVED_SERIAL_INPUT in detection.features:
                continue
            if detection.state == features.REFUSED:
                why = self.env._(
                    "Pico refused to describe its API (introspection is off: "
                    "%(error)s), and its documentation does not list "
                    "reservedSerialNumber on OperationOrderSaveInput",
                    error=detection.message,
                )
            else:
                why = self.env._(
                    "Pico's OperationOrderSaveInput has no reservedSerialNumber field"
                )
            raise ValidationError(
                self.env._(
                    "%(backend)s cannot use 'Odoo generates the serial': %(why)s, so "
                    "every order carrying an Odoo serial would be refused. Keep "
                    "'Pico captures the serial', or ask Pico support to enable "
                    "reservedSerialNumber on orders.",
                    backend=backend.name,
                    why=why,
                )
            )
