# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class MrpRoutingWorkcenter(models.Model):
    """A BOM operation may be routed to one Pico process of the BOM's operation."""

    _inherit = "mrp.routing.workcenter"

    pico_operation_id = fields.Many2one(
        "pico.operation",
        string="Pico Process",
        index="btree_not_null",
        domain="[('id', 'in', pico_allowed_operation_ids)]",
        help="Where the plant routes per operation: the Pico process (a "
        "sub-operation of the BOM's Pico operation) this operation runs as.",
    )
    # Computed as superuser, as stored computes are: Odoo computes it whenever a
    # form of the operation is read, also for users without a Pico group, who
    # may not read pico.operation (a Many2many value checks read access to it).
    pico_allowed_operation_ids = fields.Many2many(
        "pico.operation",
        compute="_compute_pico_allowed_operation_ids",
        compute_sudo=True,
    )

    @api.depends("bom_id.pico_operation_id")
    def _compute_pico_allowed_operation_ids(self):
        for step in self:
            step.pico_allowed_operation_ids = (
                step.bom_id.pico_operation_id._pico_descendants()
            )
