# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..core.shopfloor import CONSEQUENCES, HOLD


class PicoDefectClass(models.Model):
    """A defect class a quality station reports, and what a failure of it does."""

    _name = "pico.defect.class"
    _description = "Pico MES Defect Class"
    _inherit = ["pico.code.mixin"]

    code = fields.Char(
        required=True, help="The defectClass the station sends, matched exactly."
    )
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
