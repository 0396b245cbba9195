# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.exceptions import AccessError


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    def _pico_asbuilt_lots(self):
        """Every unit's serial of these orders and of their backorders (Pico closes
        an order per unit and builds the rest on backorders)."""
        productions = self | self.production_group_id.production_ids
        return (
            self.env["stock.move.line"]
            .search(
                [
                    ("move_id.production_id", "in", productions.ids),
                    ("state", "=", "done"),
                    ("lot_id", "!=", False),
                ]
            )
            .lot_id.sorted("name")
        )

    def action_print_asbuilt(self):
        """Print every unit's As-Built Record (Pico users: it shows Pico's data)."""
        self._pico_check_asbuilt_access()
        return self.env.ref(
            "mrp_pico_mes.action_report_asbuilt_production"
        ).report_action(self)

    def _pico_check_asbuilt_access(self):
        self.check_access("read")
        if not self.env.user.has_group("mrp_pico_mes.group_pico_user"):
            raise AccessError(self.env._("Only Pico users can print As-Built Records."))
