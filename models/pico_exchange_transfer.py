# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox carries BOM transfers like every other call to Pico."""

import json

from odoo import api, fields, models

from ..core import bom_transfer, features
from ..core.errors import PicoPermanentError

TRANSFER_KIND = "bom_transfer"
FEATURE_MISSING = "FEATURE_MISSING"


class PicoExchange(models.Model):
    _inherit = "pico.exchange"

    kind = fields.Selection(
        selection_add=[(TRANSFER_KIND, "BOM transfer")],
        ondelete={TRANSFER_KIND: "cascade"},
    )
    bom_id = fields.Many2one(
        "mrp.bom",
        string="Bill of Materials",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )

    @api.depends("bom_id")
    def _compute_display_name(self):
        res = super()._compute_display_name()
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for exchange in self.filtered(lambda e: e.kind == TRANSFER_KIND):
            exchange.display_name = (
                f"{kinds[TRANSFER_KIND]} {exchange.operation_pico_id or ''}"
            )
        return res

    def _pico_calls(self):
        return {**super()._pico_calls(), TRANSFER_KIND: self._pico_call_transfer}

    def _pico_call_transfer(self, client):
        self._pico_check_work_instructions(client)
        documents = json.loads(self.request)["documents"]
        results = []
        for document in documents:
            name = document["mutation"]
            data = client.execute(
                bom_transfer.DOCUMENTS[name], {"input": document["input"]}
            )
            if name not in data:
                raise PicoPermanentError(f"Pico's answer has no {name!r} field")
            results.append(
                {
                    "mutation": name,
                    "id": bom_transfer.document_id(document),
                    "answer": json.dumps(data[name]),
                }
            )
        return bom_transfer.summary(results)

    def _pico_check_work_instructions(self, client):
        """Refuse to send when Pico's schema says the mutations do not exist.

        The backend's feature detection (introspection, stored on its Pico API
        Features tab) runs before every transfer. A Pico that refuses
        introspection is taken at its documentation: the names are documented, so
        the transfer goes ahead and any refusal shows as its error.
        """
        detection = self.backend_id._pico_detect_features(client)
        if detection.state != features.DETECTED:
            return
        missing = bom_transfer.missing_mutations(detection.features)
        if missing:
            raise PicoPermanentError(
                self.backend_id._pico_transfer_missing_message(missing),
                code=FEATURE_MISSING,
            )

    def _pico_after_outcome(self):
        res = super()._pico_after_outcome()
        if self.kind == TRANSFER_KIND and self.bom_id:
            self.bom_id._pico_transfer_after_send(self)
        return res

    def _pico_failure_texts(self):
        if self.kind != TRANSFER_KIND:
            return super()._pico_failure_texts()
        body = self.env._(
            "Pico refused or did not receive the transfer of %(bom)s: %(error)s",
            bom=self.bom_id.display_name or self.operation_pico_id,
            error=self.error,
        )
        return body, self.env._("Pico BOM transfer failed")

    def action_view_bom(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mrp.bom",
            "res_id": self.bom_id.id,
            "view_mode": "form",
        }
