# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class PicoWorkOrder(models.Model):
    _inherit = "pico.work.order"

    def _pico_asbuilt_version(self):
        """The last version of the unit's Pico process Odoo had received when the
        unit was completed: what it was built against."""
        self.ensure_one()
        domain = [("operation_id", "=", self.operation_id.id)]
        if self.completed_at:
            domain.append(("received_at", "<=", self.received_at or self.completed_at))
        return self.env["pico.operation.version"].search(
            domain, order="received_at desc, id desc", limit=1
        )

    def _pico_asbuilt_version_label(self):
        self.ensure_one()
        version = self._pico_asbuilt_version()
        if not version:
            return "-"
        updated = version.pico_updated_at or version.received_at
        return self.env._(
            "%(kind)s, updated in Pico %(updated)s (Odoo version record %(id)s)",
            kind=dict(version._fields["kind"]._description_selection(self.env)).get(
                version.kind
            ),
            updated=self.env["stock.lot"]._pico_format_time(updated),
            id=version.id,
        )
