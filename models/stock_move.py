# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

# Context key: reserving moves of the backorders Odoo splits off a released order.
DEFER_SERIAL_LINES = "pico_defer_finished_serial_lines"


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_assign(self, force_qty=False):
        """No line per unit on the finished move of a released order's backorder.

        For a serial-tracked product Odoo makes one finished move line per unit
        when the move is assigned. Pico's completions post a released order one
        unit at a time, each splitting the rest off into a backorder, which Odoo
        would fill with all those lines again: every completion would cost more
        the bigger the order. Such a backorder's finished move stays without lines;
        the unit's own line is made when it is produced (set_qty_producing), with
        Pico's serial, as for any order.
        """
        moves = self
        if self.env.context.get(DEFER_SERIAL_LINES):
            moves = self.filtered(
                lambda move: not (move.production_id and move.has_tracking == "serial")
            )
        return super(StockMove, moves)._action_assign(force_qty=force_qty)
