# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class ChangeProductionQty(models.TransientModel):
    _inherit = "change.production.qty"

    def change_prod_qty(self):
        # Before Odoo changes the component moves: two quantity changes of one
        # released order at once must be serialised on the order's row, or both
        # would number new Pico units from the same highest index
        # (mrp.production._pico_lock_rows explains how the loser is retried).
        self.mo_id.filtered(lambda p: p.sudo().pico_work_order_ids)._pico_lock_rows()
        return super().change_prod_qty()
