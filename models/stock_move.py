# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

# Context key set and read in this file only (`_pico_without_serial_lines`).
_DEFER_SERIAL_LINES = "pico_defer_finished_serial_lines"


class StockMove(models.Model):
    _inherit = "stock.move"

    @api.model
    def _pico_without_serial_lines(self, records):
        """`records` in an environment where assigning the finished move of a
        serial-tracked product makes no line per unit (see `_action_assign`).

        For the split of an order released to Pico (mrp.production's
        `_split_productions`).
        """
        return records.with_context(**{_DEFER_SERIAL_LINES: True})

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
        if self.env.context.get(_DEFER_SERIAL_LINES):
            moves = self.filtered(
                lambda move: not (move.production_id and move.has_tracking == "serial")
            )
        return super(StockMove, moves)._action_assign(force_qty=force_qty)
