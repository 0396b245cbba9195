# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api, fields, models


class PicoClockSkew(models.Model):
    """One estimate of a backend's clock skew: the trend shown on the backend."""

    _name = "pico.clock.skew"
    _description = "Pico MES Clock Skew Estimate"
    _order = "measured_at desc, id desc"
    _rec_name = "measured_at"

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    measured_at = fields.Datetime(required=True, readonly=True, index=True)
    skew_ms = fields.Float(
        string="Skew (ms)",
        readonly=True,
        aggregator="avg",
        help="Pico's clock minus Odoo's; positive: Pico is ahead.",
    )
    drift = fields.Float(string="Trend (ms/h)", readonly=True, aggregator="avg")
    samples = fields.Integer(string="Events", readonly=True)

    @api.autovacuum
    def _gc_old_estimates(self):
        """Keep 90 days of estimates (every 15 minutes: 8,640 rows per backend)."""
        limit = fields.Datetime.now() - timedelta(days=90)
        self.sudo().search([("measured_at", "<", limit)]).unlink()
