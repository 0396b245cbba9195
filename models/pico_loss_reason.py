# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class PicoLossReason(models.Model):
    """A shop-floor reason code and what it means in Odoo.

    Downtime messages need the productivity loss (the work center's blocking
    reason); scrap messages use the scrap reason tag when one is set.
    """

    _name = "pico.loss.reason"
    _description = "Pico MES Reason Code"
    _inherit = ["pico.code.mixin"]

    code = fields.Char(
        required=True, help="The reasonCode the shop floor sends, matched exactly."
    )
    loss_id = fields.Many2one(
        "mrp.workcenter.productivity.loss",
        string="Loss Reason",
        ondelete="restrict",
        help="Blocking reason of the productivity record a downtime with this "
        "code creates. Downtime with a code that has none fails until it is set.",
    )
    scrap_reason_tag_id = fields.Many2one(
        "stock.scrap.reason.tag",
        string="Scrap Reason",
        ondelete="set null",
        help="Tag put on scraps reported with this code.",
    )

    _backend_code_uniq = models.Constraint(
        "UNIQUE(backend_id, code)", "This reason code is already mapped."
    )
