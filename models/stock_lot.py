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
        what to fix; Retry applies it afterwards. The lots and their quants are
        read in one look-up each, then checked in the order Pico reported them.
        """
        result = {}
        reported = []
        for consume in plan.consume:
            if consume.source != completion_core.FROM_SERIALS:
                continue
            move = self.env["stock.move"].browse(consume.key)
            result.setdefault(move.id, [])
            reported += [(move, name, qty) for name, qty in consume.lots]
        if not reported:
            return result
        lots = self._pico_lots_by_name(
            production, [(move.product_id, name) for move, name, _qty in reported]
        )
        quants = self._pico_quants_in_stock(
            [
                (move, lots.get((move.product_id.id, name)))
                for move, name, _qty in reported
            ]
        )
        for move, name, qty in reported:
            product = move.product_id
            lot = lots.get((product.id, name))
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
            here = quants.get((move.location_id.id, product.id, lot.id))
            if here is None:
                here = self.env["stock.quant"]
            if not here and product.tracking == "serial":
                raise UserError(
                    self._pico_serial_elsewhere(production, move, lot, name)
                )
            result[move.id].append((lot, qty, here))
        return result

    @api.model
    def _pico_lots_by_name(self, production, products_names):
        """{(product id, name): lot} of the order's company (or shared), the first
        by the lots' own order for each name; read whole (the close reads them)."""
        products = {product.id for product, _name in products_names}
        found = self.env["stock.lot"].search_fetch(
            [
                ("product_id", "in", list(products)),
                ("name", "in", list({name for _product, name in products_names})),
                ("company_id", "in", [production.company_id.id, False]),
            ]
        )
        lots = {}
        for lot in found:
            lots.setdefault((lot.product_id.id, lot.name), lot)
        return lots

    @api.model
    def _pico_quants_in_stock(self, moves_lots):
        """{(location id, product id, lot id): quant} holding the most of each lot
        under the move's source location (one look-up per source location, read
        whole: the close reads them)."""
        by_location = {}
        for move, lot in moves_lots:
            if lot:
                by_location.setdefault(move.location_id, []).append((move, lot))
        quants = {}
        for location, pairs in by_location.items():
            found = self.env["stock.quant"].search_fetch(
                [
                    ("product_id", "in", list({m.product_id.id for m, _l in pairs})),
                    ("lot_id", "in", list({lot.id for _m, lot in pairs})),
                    ("location_id", "child_of", location.id),
                    ("quantity", ">", 0),
                ],
                order="quantity desc, id",
            )
            for quant in found:
                key = (location.id, quant.product_id.id, quant.lot_id.id)
                quants.setdefault(key, quant)
        return quants

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
                "in %(source_location)s where %(order)s takes its components. "
                "Move it there, then retry this event.",
                serial=name,
                product=product.display_name,
                location=elsewhere.location_id.display_name,
                # Not `source`: the name of Environment._()'s own first argument.
                source_location=move.location_id.display_name,
                order=production.display_name,
            )
        return self.env._(
            "Serial %(serial)s of %(product)s is not in stock (already "
            "consumed, delivered or never received). Correct the "
            "stock, then retry this event.",
            serial=name,
            product=product.display_name,
        )
