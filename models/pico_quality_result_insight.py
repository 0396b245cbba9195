# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class PicoQualityResult(models.Model):
    _inherit = "pico.quality.result"

    @api.model_create_multi
    def create(self, vals_list):
        results = super().create(vals_list)
        # An inspection that did not pass takes the unit out of first-pass yield.
        failed = results.filtered(lambda r: r.result != "pass")
        if failed:
            self.env["pico.work.order"]._pico_insight_touch(
                lots=failed.lot_id, serials={s for s in failed.mapped("serial") if s}
            )
        return results
