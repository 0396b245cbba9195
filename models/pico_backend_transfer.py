# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Backend side of BOM transfer: the alpha API switch."""

from odoo import fields, models
from odoo.exceptions import UserError

from ..core import bom_transfer, features


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    work_instructions_enabled = fields.Boolean(
        string="Send BOMs to Pico (alpha)",
        help="Lets Pico managers send bills of materials to Pico with the Work "
        "Instructions API, which Pico marks alpha (it may change) and which "
        "overwrites edits made in Pico's UI of the processes it creates.",
    )
    pico_transfer_bom_count = fields.Integer(
        string="BOMs Sent", compute="_compute_pico_transfer_bom_count"
    )

    def _compute_pico_transfer_bom_count(self):
        counts = dict(
            self.env["mrp.bom"]
            .sudo()
            ._read_group(
                [("pico_transfer_backend_id", "in", self.ids)],
                ["pico_transfer_backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.pico_transfer_bom_count = counts.get(backend, 0)

    def _pico_transfer_missing_message(self, missing):
        return self.env._(
            "This Pico instance does not offer the Work Instructions API (alpha): "
            "its schema has no %(missing)s. Ask Pico support to enable it, then "
            "Check API Features on the backend and Retry.",
            missing=", ".join(missing),
        )

    def _pico_transfer_check_features(self):
        """Refuse at once when the last feature check found no such mutations."""
        self.ensure_one()
        if self.pico_features_state != features.DETECTED:
            return
        missing = bom_transfer.missing_mutations(self._pico_feature_set())
        if missing:
            raise UserError(self._pico_transfer_missing_message(missing))

    def action_view_pico_transfer_boms(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Bills of Materials Sent to Pico"),
            "res_model": "mrp.bom",
            "view_mode": "list,form",
            "domain": [("pico_transfer_backend_id", "=", self.id)],
        }
