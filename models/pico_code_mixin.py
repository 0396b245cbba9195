# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class PicoCodeMixin(models.AbstractModel):
    """A code the shop floor sends, per backend, mapped to what it means in Odoo."""

    _name = "pico.code.mixin"
    _description = "Pico MES code mapping"
    _order = "backend_id, code"

    backend_id = fields.Many2one(
        "pico.backend", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    active = fields.Boolean(default=True)
    code = fields.Char(required=True, help="The code as sent, matched exactly.")
    name = fields.Char(string="Description")

    @api.depends("code", "name")
    def _compute_display_name(self):
        for record in self:
            record.display_name = (
                f"{record.code} - {record.name}" if record.name else record.code
            )

    @api.model
    def _pico_find(self, backend, code):
        """Return the active mapping of a code for a backend (or nothing)."""
        if not code:
            return self.browse()
        return self.search(
            [("backend_id", "=", backend.id), ("code", "=", code)], limit=1
        )
