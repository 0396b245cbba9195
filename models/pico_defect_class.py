# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

NONE = "none"
SCRAP = "scrap"
HOLD = "hold"
CONSEQUENCES = [
    (NONE, "Record only"),
    (SCRAP, "Scrap the unit"),
    (HOLD, "Hold for review"),
]


class PicoDefectClass(models.Model):
    """A defect class a quality station reports, and what a failure of it does."""

    _name = "pico.defect.class"
    _description = "Pico MES Defect Class"
    _order = "backend_id, code"

    backend_id = fields.Many2one(
        "pico.backend", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    active = fields.Boolean(default=True)
    code = fields.Char(
        required=True, help="The defectClass the station sends, matched exactly."
    )
    name = fields.Char(string="Description")
    consequence = fields.Selection(
        CONSEQUENCES,
        default=HOLD,
        required=True,
        help="What a failed inspection with this defect does. Scrap applies to "
        "serials only; a failed batch is held so that someone decides what to scrap.",
    )
    scrap_reason_tag_id = fields.Many2one(
        "stock.scrap.reason.tag",
        string="Scrap Reason",
        ondelete="set null",
        help="Tag put on the scrap this defect causes.",
    )

    _backend_code_uniq = models.Constraint(
        "UNIQUE(backend_id, code)", "This defect class is already mapped."
    )

    @api.depends("code", "name")
    def _compute_display_name(self):
        for defect in self:
            defect.display_name = (
                f"{defect.code} - {defect.name}" if defect.name else defect.code
            )

    @api.model
    def _pico_find(self, backend, code):
        """Return the active mapping of a defect class for a backend (or nothing)."""
        if not code:
            return self.browse()
        return self.search(
            [("backend_id", "=", backend.id), ("code", "=", code)], limit=1
        )
