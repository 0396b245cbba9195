# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models
from odoo.tools import SQL


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model
    def _pico_connected(self, companies):
        """Whether any of `companies` has a Pico backend (its processor at work)."""
        return bool(
            companies
            and self.env["pico.backend"]
            .sudo()
            .search_count([("company_id", "in", companies.ids)], limit=1)
        )

    @api.model
    def _pico_lock_products(self, products):
        """Lock the quants of `products` before working their stock, quietly.

        The inbox processor consumes components while planners confirm, change
        or cancel orders that reserve the same ones. Under REPEATABLE READ the
        transaction that comes second meets a quant the other committed after it
        began, and Odoo's own reservation query (FOR NO KEY UPDATE SKIP LOCKED)
        fails there with a serialization failure that Odoo logs as an ERROR before
        retrying. Taking the quants' row locks first turns that same lost race into
        a serialization failure here, which is not logged: Odoo retries a request,
        the processor retries an event. Locks are taken in id order (no deadlock
        between two such callers) and held until the transaction ends.
        """
        products = products.filtered("is_storable")
        if not products:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM stock_quant WHERE product_id IN %s "
                "ORDER BY id FOR NO KEY UPDATE",
                tuple(products.ids),
            ),
            log_exceptions=False,
        )
