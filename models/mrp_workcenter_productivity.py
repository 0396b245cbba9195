# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MrpWorkcenterProductivity(models.Model):
    _inherit = "mrp.workcenter.productivity"

    pico_stop_key = fields.Char(
        string="Pico Stop",
        readonly=True,
        copy=False,
        help="The stop Pico reported (backend, work center, start): one record "
        "per stop, however often and by however many workers it is reported.",
    )

    _pico_stop_key_uniq = models.UniqueIndex(
        "(pico_stop_key) WHERE pico_stop_key IS NOT NULL",
        "This Pico stop is recorded already.",
    )
