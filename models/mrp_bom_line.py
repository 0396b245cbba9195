# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MrpBomLine(models.Model):
    """A component line may stand for a serial the Pico operation captures."""

    _inherit = "mrp.bom.line"

    pico_operation_id = fields.Many2one(
        related="bom_id.pico_operation_id", string="BOM's Pico Operation"
    )
    pico_attribute_id = fields.Many2one(
        "pico.operation.attribute",
        string="Pico Serial",
        index="btree_not_null",
        domain="[('operation_id', '=', pico_operation_id)]",
        help="The consumed serial of the BOM's Pico operation that records which "
        "unit of this component was built in.",
    )
