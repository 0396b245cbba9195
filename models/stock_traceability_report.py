# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class StockTraceabilityReport(models.TransientModel):
    """Odoo's traceability report: the lines of a unit Pico built say where, by
    whom and in how long, next to the order that produced it."""

    _inherit = "stock.traceability.report"

    @api.model
    def _make_dict_move(self, level, parent_id, move_line, unfoldable=False):
        data = super()._make_dict_move(level, parent_id, move_line, unfoldable)
        context = self._pico_shopfloor_context(move_line)
        if context:
            for row in data:
                row["reference_id"] = " · ".join(
                    part for part in (row.get("reference_id"), context) if part
                )
        return data

    @api.model
    def _pico_shopfloor_context(self, move_line):
        """'station · operator · N min' of the unit a finished line produced."""
        if not (
            move_line.lot_id
            and move_line.move_id.production_id
            and self.env["pico.work.order"].has_access("read")
        ):
            return ""
        unit = self.env["pico.work.order"].search(
            [("produced_lot_id", "=", move_line.lot_id.id), ("state", "=", "done")],
            order="completed_at desc, id desc",
            limit=1,
        )
        if not unit:
            return ""
        parts = [
            unit.station,
            unit.operator_user_id.name or unit.operator_id.name,
            unit.cycle_time
            and self.env._("%(minutes)s min", minutes=round(unit.cycle_time, 1)),
        ]
        return " · ".join(part for part in parts if part)
