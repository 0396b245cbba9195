# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core.shopfloor import (
    CONSEQUENCES,
    HELD,
    HOLD,
    NONE,
    QUALITY_STATES,
    RECORDED,
    RELEASED,
    RESULTS,
    SCRAP,
    SCRAPPED,
    may_move_quality,
)


class PicoQualityResult(models.Model):
    """One inspection result reported by a quality station, on an MO and a lot."""

    _name = "pico.quality.result"
    _description = "Pico MES Quality Result"
    _inherit = ("mail.thread", "mail.activity.mixin")
    _order = "inspected_at desc, id desc"
    _mail_post_access = "read"

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    event_id = fields.Many2one(
        "pico.event", readonly=True, index="btree_not_null", ondelete="set null"
    )
    production_id = fields.Many2one(
        "mrp.production",
        string="Manufacturing Order",
        readonly=True,
        index="btree_not_null",
    )
    product_id = fields.Many2one("product.product", readonly=True)
    lot_id = fields.Many2one(
        "stock.lot", string="Lot/Serial", readonly=True, index="btree_not_null"
    )
    serial = fields.Char(readonly=True, index=True, help="Serial as reported.")
    batch_id = fields.Char(readonly=True, index=True)
    inspected_at = fields.Datetime(required=True, readonly=True)
    timestamp = fields.Char(
        readonly=True, help="The station's timestamp as sent, to the millisecond."
    )
    result = fields.Selection(RESULTS, required=True, readonly=True, index=True)
    defect_class = fields.Char(
        string="Reported Defect", readonly=True, help="Defect class as reported."
    )
    defect_class_id = fields.Many2one("pico.defect.class", readonly=True)
    defect_location = fields.Char(readonly=True)
    confidence = fields.Float(readonly=True, digits=(3, 3))
    station = fields.Char(readonly=True)
    consequence = fields.Selection(CONSEQUENCES, readonly=True)
    state = fields.Selection(
        QUALITY_STATES, default=RECORDED, required=True, readonly=True, index=True
    )
    scrap_id = fields.Many2one("stock.scrap", readonly=True)
    note = fields.Text(readonly=True)

    @api.depends("serial", "batch_id", "result")
    def _compute_display_name(self):
        labels = dict(RESULTS)
        for quality in self:
            unit = quality.serial or quality.batch_id or ""
            quality.display_name = f"{unit} {labels.get(quality.result, '')}".strip()

    # --- Consequences --------------------------------------------------------
    def _pico_apply(self, consequence, scrap_reason=None):
        """Apply what the inspection asks for: nothing, a hold or a scrap."""
        self.ensure_one()
        self.consequence = consequence
        if consequence == SCRAP:
            self._pico_scrap(scrap_reason)
        elif consequence == HOLD:
            self._pico_hold()
        if self.result != "pass":
            self._pico_post_on_documents()

    def _pico_scrap(self, scrap_reason=None):
        """Scrap what is in stock of the inspected lot; return the scraps."""
        self.ensure_one()
        quants = self._pico_lot_quants()
        if not quants:
            raise UserError(
                self.env._(
                    "Serial %s is not in stock, so it cannot be scrapped.",
                    self.lot_id.name or self.serial or self.batch_id,
                )
            )
        scraps = self.env["stock.scrap"]
        reason = scrap_reason or self.defect_class_id.scrap_reason_tag_id
        for quant in quants:
            scraps |= scraps.create(
                {
                    "product_id": quant.product_id.id,
                    "lot_id": quant.lot_id.id,
                    "scrap_qty": quant.quantity,
                    "product_uom_id": quant.product_id.uom_id.id,
                    "location_id": quant.location_id.id,
                    "production_id": self.production_id.id,
                    "company_id": quant.company_id.id,
                    "origin": self.production_id.name or self.display_name,
                    "scrap_reason_tag_ids": [fields.Command.set(reason.ids)],
                }
            )
        # The unit failed its inspection: it is scrapped even if Odoo's stock
        # figures disagree (as the insufficient-quantity wizard would do).
        scraps.do_scrap()
        self.write({"state": SCRAPPED, "scrap_id": scraps[:1].id})
        return scraps

    def _pico_lot_quants(self):
        if not self.lot_id:
            return self.env["stock.quant"]
        # Only the event's company: a serial of the same name elsewhere is not
        # this unit, and another company's stock is none of this event's business.
        return self.env["stock.quant"].search(
            [
                ("lot_id", "=", self.lot_id.id),
                ("company_id", "=", self.company_id.id),
                ("location_id.usage", "=", "internal"),
                ("quantity", ">", 0),
            ]
        )

    def _pico_hold(self):
        """Put the unit on hold and ask someone to decide."""
        self.ensure_one()
        self.state = HELD
        user = (
            self.production_id.user_id
            or self.backend_id.responsible_id
            or self.env.ref("base.user_admin", False)
        )
        if user:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Quality hold: %s", self.display_name),
                note=self._pico_summary(),
                user_id=user.id,
            )

    def _pico_summary(self):
        defect = self.defect_class or self.env._("no defect class")
        parts = [
            self.env._(
                "Quality %(result)s for %(unit)s (%(defect)s)",
                result=dict(RESULTS).get(self.result),
                unit=self.serial or self.batch_id,
                defect=defect,
            )
        ]
        if self.defect_location:
            parts.append(self.env._("at %s", self.defect_location))
        if self.station:
            parts.append(self.env._("station %s", self.station))
        if self.consequence and self.consequence != NONE:
            parts.append(f"-> {dict(CONSEQUENCES)[self.consequence]}")
        return " ".join(parts)

    def _pico_post_on_documents(self):
        """Leave a trace on the MO and the serial, where people look for it."""
        body = self._pico_summary()
        for document in (self.production_id, self.lot_id):
            if document:
                document.message_post(body=body)

    # --- Buttons -------------------------------------------------------------
    def action_release(self):
        """Release units on hold: they go on as good."""
        for quality in self.filtered(lambda q: may_move_quality(q.state, RELEASED)):
            quality.state = RELEASED
            quality.activity_feedback(
                ["mail.mail_activity_data_todo"], feedback=self.env._("Released")
            )
            quality.message_post(body=self.env._("Released from quality hold."))
        return True

    def action_scrap(self):
        """Scrap units on hold."""
        for quality in self.filtered(lambda q: q.state == HELD):
            quality._pico_scrap()
            quality.activity_feedback(
                ["mail.mail_activity_data_todo"], feedback=self.env._("Scrapped")
            )
            quality.message_post(body=self.env._("Scrapped: %s", quality.scrap_id.name))
        return True

    def action_view_scrap(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stock.scrap",
            "res_id": self.scrap_id.id,
            "view_mode": "form",
        }
