# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models
from odoo.exceptions import UserError

from ..core import completion as completion_core


class StockLot(models.Model):
    """The serials a Pico completion names: the built unit's, its components'."""

    _inherit = "stock.lot"

    @api.model
    def _pico_built_lot(self, production, serial, unit):
        """The lot of the built unit: Odoo's reserved one, an existing one or new."""
        lots = self.env["stock.lot"]
        if not serial:
            return lots
        if unit.reserved_lot_id.name == serial:
            return unit.reserved_lot_id
        lot = lots.search(
            [
                ("product_id", "=", production.product_id.id),
                ("name", "=", serial),
                ("company_id", "in", [production.company_id.id, False]),
            ],
            limit=1,
        )
        return lot or lots.create(
            {
                "name": serial,
                "product_id": production.product_id.id,
                "company_id": production.company_id.id,
            }
        )

    @api.model
    def _pico_component_lots(self, production, plan):
        """{move id: [(lot, quantity, quant)]} of the serials Pico reported.

        A component serial must already be known and in stock where the order
        takes its components: consuming a serial Odoo never received would hide a
        missing receipt behind a negative quant. The event fails instead, saying
        what to fix; Retry applies it afterwards.
        """
        result = {}
        quants = self.env["stock.quant"]
        for consume in plan.consume:
            if consume.source != completion_core.FROM_SERIALS:
                continue
            move = self.env["stock.move"].browse(consume.key)
            product = move.product_id
            entries = result.setdefault(move.id, [])
            for name, qty in consume.lots:
                lot = self.env["stock.lot"].search(
                    [
                        ("product_id", "=", product.id),
                        ("name", "=", name),
                        ("company_id", "in", [production.company_id.id, False]),
                    ],
                    limit=1,
                )
                if not lot:
                    raise UserError(
                        self.env._(
                            "Pico reports that %(product)s %(serial)s was built into "
                            "%(order)s, but Odoo does not know that lot/serial number. "
                            "Receive it into stock, then retry this event.",
                            product=product.display_name,
                            serial=name,
                            order=production.display_name,
                        )
                    )
                here = quants.search(
                    [
                        ("product_id", "=", product.id),
                        ("lot_id", "=", lot.id),
                        ("location_id", "child_of", move.location_id.id),
                        ("quantity", ">", 0),
                    ],
                    order="quantity desc",
                    limit=1,
                )
                if not here and product.tracking == "serial":
                    raise UserError(
                        self._pico_serial_elsewhere(production, move, lot, name)
                    )
                entries.append((lot, qty, here))
        return result

    @api.model
    def _pico_serial_elsewhere(self, production, move, lot, name):
        """Why a reported component serial is not where the order takes it."""
        product = move.product_id
        elsewhere = self.env["stock.quant"].search(
            [
                ("product_id", "=", product.id),
                ("lot_id", "=", lot.id),
                ("location_id.usage", "=", "internal"),
                ("quantity", ">", 0),
            ],
            limit=1,
        )
        if elsewhere:
            return self.env._(
                "Serial %(serial)s of %(product)s is in %(location)s, not "
                "in %(source)s where %(order)s takes its components. Move "
                "it there, then retry this event.",
                serial=name,
                product=product.display_name,
                location=elsewhere.location_id.display_name,
                source=move.location_id.display_name,
                order=production.display_name,
            )
        return self.env._(
            "Serial %(serial)s of %(product)s is not in stock (already "
            "consumed, delivered or never received). Correct the "
            "stock, then retry this event.",
            serial=name,
            product=product.display_name,
        )
