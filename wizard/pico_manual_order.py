# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import UserError


class PicoManualOrder(models.TransientModel):
    """Create a Pico work order by hand, without a manufacturing order (testing)."""

    _name = "pico.manual.order"
    _description = "Create a Pico Work Order by Hand"

    backend_id = fields.Many2one(
        "pico.backend",
        required=True,
        default=lambda self: self._default_backend(),
        domain="[('company_id', 'in', allowed_company_ids)]",
    )
    operation_id = fields.Many2one(
        "pico.operation",
        required=True,
        domain="[('backend_id', '=', backend_id)]",
    )
    external_order_id = fields.Char(
        string="External Order ID",
        required=True,
        default=lambda self: self._default_external_order_id(),
        help="The order id Pico shows; saving again with the same id and index "
        "changes nothing in Pico.",
    )
    quantity = fields.Integer(
        string="Units", default=1, required=True, help="One Pico order index per unit."
    )

    @api.model
    def _default_backend(self):
        return self.env["pico.backend"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )

    @api.model
    def _default_external_order_id(self):
        stamp = fields.Datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"MANUAL-{stamp}"

    @api.onchange("backend_id")
    def _onchange_backend_id(self):
        if self.operation_id.backend_id != self.backend_id:
            self.operation_id = False

    def action_create(self):
        """Create the units and queue their save; open them."""
        self.ensure_one()
        if not self.env.user.has_group("mrp_pico_mes.group_pico_manager"):
            raise UserError(
                self.env._("Only a Pico manager can create Pico work orders by hand.")
            )
        if self.quantity < 1:
            raise UserError(self.env._("Order at least one unit."))
        if self.operation_id.backend_id != self.backend_id:
            raise UserError(self.env._("The operation belongs to another backend."))
        external_order_id = self.external_order_id.strip()
        if not external_order_id:
            raise UserError(self.env._("Give an external order id."))
        units = self.env["pico.work.order"]._pico_create_units(
            self.backend_id, self.operation_id, external_order_id, self.quantity
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pico Work Orders"),
            "res_model": "pico.work.order",
            "view_mode": "list,form",
            "domain": [("id", "in", units.ids)],
        }
