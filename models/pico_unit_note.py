# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import inbox, notes
from ..core.errors import PayloadError


class PicoUnitNote(models.Model):
    """An operator's note on a unit (Pico's noteEventsStream): a note, a quality
    issue or a ticket, as Pico sent it. Also the handler of `note` inbox events."""

    _name = "pico.unit.note"
    _description = "Pico MES Operator Note"
    _order = "noted_at desc, id desc"
    _rec_name = "text"

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    event_id = fields.Many2one(
        "pico.event", readonly=True, index="btree_not_null", ondelete="set null"
    )
    work_order_id = fields.Many2one(
        "pico.work.order", string="Unit", readonly=True, index="btree_not_null"
    )
    production_id = fields.Many2one(
        "mrp.production", string="Manufacturing Order", readonly=True
    )
    lot_id = fields.Many2one(
        "stock.lot", string="Lot/Serial", readonly=True, index="btree_not_null"
    )
    serial = fields.Char(readonly=True, help="Serial as Pico sent it.")
    pico_note_id = fields.Char(string="Pico Note ID", readonly=True)
    kind = fields.Char(readonly=True, help="Note, quality issue, ticket... as sent.")
    text = fields.Text(required=True, readonly=True)
    author = fields.Char(string="Written By", readonly=True, help="As Pico sent it.")
    operator_id = fields.Many2one("pico.operator", readonly=True)
    station = fields.Char(readonly=True)
    noted_at = fields.Datetime(
        string="Noted At",
        readonly=True,
        help="By Pico's clock when it sent one, else when Odoo received it.",
    )

    # --- Inbox handler ---------------------------------------------------------
    @api.model
    def _pico_read(self, event):
        try:
            return notes.read(event.data or {})
        except PayloadError as exc:
            raise UserError(
                self.env._("Pico's note cannot be read: %s", exc.message)
            ) from exc

    @api.model
    def _pico_event_unit(self, event, note):
        """The unit a note is about: by order and index, else by produced serial."""
        units = self.env["pico.work.order"]
        if note.external_order_id:
            return units._pico_find_units(
                event.backend_id, note.external_order_id, note.order_index or 0
            )[:1]
        if note.serial:
            return units.sudo().search(
                [
                    ("backend_id", "=", event.backend_id.id),
                    ("produced_serial", "=", note.serial),
                ],
                order="completed_at desc, id desc",
                limit=1,
            )
        return units

    @api.model
    def _pico_event_production(self, event):
        try:
            note = notes.read(event.data or {})
        except PayloadError:
            return self.env["mrp.production"]
        return self._pico_event_unit(event, note).production_id[:1]

    @api.model
    def _pico_handle_event(self, event):
        """Store one note on its unit, serial and order; post it on the order."""
        note = self._pico_read(event)
        unit = self._pico_event_unit(event, note)
        lot = unit.produced_lot_id
        if not lot and note.serial:
            lot = self.env["stock.lot"].search(
                [
                    ("name", "=", note.serial),
                    ("company_id", "in", [event.backend_id.company_id.id, False]),
                ],
                limit=1,
            )
        if not unit and not lot:
            # The unit may not be completed (or ordered) yet: try again later.
            raise inbox.EventHeld(
                self.env._(
                    "Odoo knows no Pico unit for this note yet (%s).",
                    note.external_order_id
                    and f"{note.external_order_id}/{note.order_index or 0}"
                    or note.serial,
                )
            )
        operator = (
            self.env["pico.operator"]._pico_get(event.backend_id, note.author)
            if note.author
            else self.env["pico.operator"]
        )
        record = self.sudo().create(
            {
                "backend_id": event.backend_id.id,
                "event_id": event.id,
                "work_order_id": unit.id,
                "production_id": unit.production_id.id,
                "lot_id": lot.id,
                "serial": note.serial or unit.produced_serial or False,
                "pico_note_id": note.note_id,
                "kind": note.kind,
                "text": note.text,
                "author": note.author,
                "operator_id": operator.id,
                "station": note.station,
                "noted_at": note.at or event.received_at,
            }
        )
        body = record._pico_chatter_body()
        for document in (unit.production_id, lot):
            if document:
                document.sudo().message_post(body=body)
        return self.env._(
            "Note on %(unit)s: %(text)s",
            unit=lot.name or unit.display_name,
            text=note.text[:80],
        )

    def _pico_chatter_body(self):
        self.ensure_one()
        return Markup("<p><b>%s</b> %s</p><p>%s</p>") % (
            self.env._("Pico operator note"),
            " · ".join(
                part
                for part in (self.kind, self.author, self.station, self.serial)
                if part
            ),
            self.text,
        )
