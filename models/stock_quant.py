# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model_create_multi
    def create(self, vals_list):
        """Odoo 19's create, without a `quants_cache` of None in the context.

        `stock.move.line._action_done` frees the reservations a negative quant
        needs with `quants_cache=None`; when the quant to reserve from is locked
        by another transaction, `_update_available_quantity` creates a new one,
        and create's cache bookkeeping tests only that the key is present, then
        indexes None (TypeError). Two orders consuming the same component at the
        same moment meet it (dev/chaos.py on the job engine, 13 completions in
        200); without the key, create does what Odoo intends.
        """
        quants = self
        context = self.env.context
        if "quants_cache" in context and context["quants_cache"] is None:
            context = {k: v for k, v in context.items() if k != "quants_cache"}
            quants = self.with_env(self.env(context=context))
        return super(StockQuant, quants).create(vals_list)
