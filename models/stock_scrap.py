# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockScrap(models.Model):
    _inherit = "stock.scrap"

    def do_scrap(self):
        res = super().do_scrap()
        # A scrapped serial of a unit Pico built counts against its scrap rate.
        lots = self.lot_id
        if lots:
            self.env["pico.work.order"]._pico_insight_touch(lots=lots)
        return res
