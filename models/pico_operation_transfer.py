# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The round trip of a BOM transfer: a deployed product maps its BOM by itself."""

from odoo import api, models


class PicoOperation(models.Model):
    _inherit = "pico.operation"

    @api.model
    def _pico_sync_from_rows(
        self, backend, operations, sub_operations, in_cron=False, deadline=None
    ):
        stats = super()._pico_sync_from_rows(
            backend, operations, sub_operations, in_cron=in_cron, deadline=deadline
        )
        if not stats["interrupted"]:
            self.env["mrp.bom"]._pico_transfer_auto_map(backend)
        return stats

    @api.model
    def _pico_handle_event(self, event):
        result = super()._pico_handle_event(event)
        self.env["mrp.bom"]._pico_transfer_auto_map(event.backend_id)
        return result
