# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import inbox, shopfloor
from ..core.clock import parse_odoo_datetime


class PicoShopfloor(models.AbstractModel):
    """Applies shop-floor events (scrap, downtime, quality, consumption).

    Called by the inbox processor inside a savepoint: raise `inbox.EventHeld` when
    the order referred to is not known yet, `UserError` for what a person must fix
    (unknown product, unmapped reason code), and return a short result text.
    """

    _name = "pico.shopfloor"
    _description = "Pico MES Shop-Floor Events"

    @api.model
    def _pico_handle_event(self, event):
        handlers = {
            inbox.SCRAP: self._pico_apply_scrap,
            inbox.DOWNTIME: self._pico_apply_downtime,
            inbox.QUALITY: self._pico_apply_quality,
            inbox.CONSUMPTION: self._pico_apply_consumption,
        }
        handler = handlers.get(event.event_type)
        if handler is None:
            raise UserError(
                self.env._("No shop-floor processor for %s events.", event.event_type)
            )
        if not isinstance(event.data, dict):
            # Messages refused at the door keep no data: nothing to apply.
            raise UserError(
                event.error
                or self.env._("The event has no data: it was refused when received.")
            )
        return handler(event, event.data)

    # --- Lookups ---------------------------------------------------------------
    @api.model
    def _pico_production(self, event, data, required=True):
        """Return the MO an event is about; hold the event while it is unknown."""
        backend = event.backend_id
        reference = data.get("externalOrderId")
        name = data.get("productionRef")
        if not reference and not name:
            if required:
                raise UserError(self.env._("The event names no manufacturing order."))
            return self.env["mrp.production"]
        production = self._pico_production_by_reference(backend, reference, name)
        if not production:
            raise inbox.EventHeld(
                self.env._(
                    "Manufacturing order %s is not known yet.", reference or name
                )
            )
        if event.production_id != production:
            event.production_id = production
        return production

    @api.model
    def _pico_event_production(self, event):
        """The MO an event names, if known, without applying it (or empty).

        The inbox processor records it on the event outside the savepoint of the
        handler, so that a failure of the handler still shows on the order.
        """
        data = event.data if isinstance(event.data, dict) else {}
        reference = data.get("externalOrderId")
        name = data.get("productionRef")
        if not reference and not name:
            return self.env["mrp.production"]
        return self._pico_production_by_reference(
            event.backend_id, reference and str(reference), name and str(name)
        )

    @api.model
    def _pico_production_by_reference(self, backend, reference, name):
        productions = self.env["mrp.production"].with_context(active_test=False)
        if reference:
            unit = (
                self.env["pico.work.order"]
                .sudo()
                .search(
                    [
                        ("backend_id", "=", backend.id),
                        ("external_order_id", "=", reference),
                        ("production_id", "!=", False),
                    ],
                    limit=1,
                )
            )
            if unit:
                return unit.production_id
            # core.keys.external_order_id: "<MO name>#<MO id>".
            mo_name, sep, ident = reference.rpartition("#")
            if sep and ident.isdigit():
                production = productions.browse(int(ident)).exists()
                if (
                    production
                    and production.name == mo_name
                    and production.company_id == backend.company_id
                ):
                    return production
            return productions
        return productions.search(
            [("name", "=", name), ("company_id", "=", backend.company_id.id)], limit=1
        )

    @api.model
    def _pico_product(self, backend, part_number, production=None):
        """Return the product whose internal reference is the part number."""
        if production:
            candidates = (
                production.product_id
                | production.move_raw_ids.product_id
                | production.move_byproduct_ids.product_id
                | production.bom_id.bom_line_ids.product_id
            )
            match = candidates.filtered(lambda p: p.default_code == part_number)
            if match:
                return match[:1]
        products = self.env["product.product"].search(
            [
                ("default_code", "=", part_number),
                ("company_id", "in", [backend.company_id.id, False]),
            ],
            limit=2,
        )
        if not products:
            raise UserError(
                self.env._("No product has the internal reference %s.", part_number)
            )
        if len(products) > 1:
            raise UserError(
                self.env._(
                    "Several products have the internal reference %s.", part_number
                )
            )
        return products

    @api.model
    def _pico_uom(self, name, product):
        if not name:
            return product.uom_id
        uoms = self.env["uom.uom"].search([("name", "=ilike", name)])
        if not uoms:
            raise UserError(self.env._("Unknown unit of measure %s.", name))
        # Odoo 19 has no UoM categories: units convert when they share a reference.
        uom = uoms.filtered(lambda u: u._has_common_reference(product.uom_id))[:1]
        if not uom:
            raise UserError(
                self.env._(
                    "Unit of measure %(uom)s cannot measure %(product)s (counted "
                    "in %(product_uom)s).",
                    uom=name,
                    product=product.display_name,
                    product_uom=product.uom_id.name,
                )
            )
        return uom

    @api.model
    def _pico_lot(self, backend, name, product=None):
        if not name:
            return self.env["stock.lot"]
        domain = [
            ("name", "=", name),
            ("company_id", "in", [backend.company_id.id, False]),
        ]
        if product:
            domain.append(("product_id", "=", product.id))
        lots = self.env["stock.lot"].search(domain, limit=2)
        return lots if len(lots) == 1 else lots.browse()

    # --- Scrap -----------------------------------------------------------------
    @api.model
    def _pico_apply_scrap(self, event, data):
        """Scrap a component or the product of the MO, as reported."""
        backend = event.backend_id
        production = self._pico_production(event, data)
        product = self._pico_product(backend, data["partNumber"], production)
        uom = self._pico_uom(data.get("uom"), product)
        lot_name = data.get("serial") or data.get("lot")
        lot = self._pico_lot(backend, lot_name, product)
        check = shopfloor.scrap_lot_check(
            product.tracking, bool(lot), lot_name, product == production.product_id
        )
        if check == shopfloor.SCRAP_NAME_MISSING:
            raise UserError(
                self.env._(
                    "%s is tracked by lot or serial: the scrap must name it.",
                    product.display_name,
                )
            )
        if check == shopfloor.SCRAP_WAIT_FOR_SERIAL:
            # The completion that records this serial may not be applied yet.
            raise inbox.EventHeld(
                self.env._("Serial %s is not recorded yet.", lot_name)
            )
        if check == shopfloor.SCRAP_LOT_UNKNOWN:
            raise UserError(
                self.env._(
                    "No lot %(lot)s of %(product)s.",
                    lot=lot_name,
                    product=product.display_name,
                )
            )
        reason = self.env["pico.loss.reason"]._pico_find(backend, data["reasonCode"])
        workorder = production.workorder_ids.filtered(
            lambda w: (
                data.get("workcenterCode")
                and w.workcenter_id.code == data["workcenterCode"]
            )
        )[:1]
        scrap = self.env["stock.scrap"].create(
            {
                "production_id": production.id,
                "workorder_id": workorder.id,
                "product_id": product.id,
                "product_uom_id": uom.id,
                "scrap_qty": data["quantity"],
                "lot_id": lot.id,
                "company_id": production.company_id.id,
                "origin": production.name,
                "scrap_reason_tag_ids": [
                    fields.Command.set(reason.scrap_reason_tag_id.ids)
                ],
            }
        )
        # The material is already gone on the floor: record it even when Odoo's
        # stock figures disagree (what the insufficient-quantity wizard does too).
        scrap.do_scrap()
        result = self.env._(
            "Scrap %(scrap)s: %(qty)s %(uom)s %(product)s (reason %(reason)s)",
            scrap=scrap.name,
            qty=data["quantity"],
            uom=uom.name,
            product=product.display_name,
            reason=data["reasonCode"],
        )
        if not reason:
            result += self.env._("; reason code not mapped")
        return result

    # --- Downtime --------------------------------------------------------------
    @api.model
    def _pico_apply_downtime(self, event, data):
        """Open or close a productivity loss record on the work center."""
        backend = event.backend_id
        code = data["workcenterCode"]
        workcenter = self.env["mrp.workcenter"].search(
            [
                ("code", "=", code),
                ("company_id", "in", [backend.company_id.id, False]),
            ],
            limit=1,
        )
        if not workcenter:
            raise UserError(self.env._("No work center has the code %s.", code))
        reason = self.env["pico.loss.reason"]._pico_find(backend, data["reasonCode"])
        if not reason.loss_id:
            raise UserError(
                self.env._(
                    "Reason code %(code)s has no loss reason: map it under "
                    "Manufacturing > Configuration > Pico MES > Reason Codes, "
                    "then retry this event.",
                    code=data["reasonCode"],
                )
            )
        start = parse_odoo_datetime(data["start"], "start")
        end = parse_odoo_datetime(data.get("end"), "end")
        productivity = self.env["mrp.workcenter.productivity"]
        # A stop is reported when it starts and again when it ends: one record,
        # kept unique by its key. The inbox processor never applies two events of
        # one work center at once (see pico.event._pico_lock_keys).
        stop_key = f"{backend.id}:{workcenter.id}:{fields.Datetime.to_string(start)}"
        record = productivity.search([("pico_stop_key", "=", stop_key)], limit=1)
        if not record:
            # Opened before stops had a key.
            record = productivity.search(
                [
                    ("workcenter_id", "=", workcenter.id),
                    ("date_start", "=", start),
                    ("workorder_id", "=", False),
                    ("pico_stop_key", "=", False),
                ],
                limit=1,
            )
        vals = {"loss_id": reason.loss_id.id}
        if end:
            vals["date_end"] = end
        if data.get("note"):
            vals["description"] = data["note"]
        action = shopfloor.downtime_action(bool(record), bool(end))
        if record:
            record.write({**vals, "pico_stop_key": stop_key})
        else:
            record = productivity.create(
                {
                    **vals,
                    "workcenter_id": workcenter.id,
                    "company_id": workcenter.company_id.id or backend.company_id.id,
                    "date_start": start,
                    "pico_stop_key": stop_key,
                    "user_id": False,
                    "description": data.get("note")
                    or self.env._("Reported by Pico (%s)", data["reasonCode"]),
                }
            )
        labels = {
            shopfloor.DOWNTIME_OPENED: self.env._("opened"),
            shopfloor.DOWNTIME_RECORDED: self.env._("recorded"),
            shopfloor.DOWNTIME_UPDATED: self.env._("updated"),
            shopfloor.DOWNTIME_CLOSED: self.env._("closed"),
        }
        return self.env._(
            "Downtime of %(workcenter)s %(action)s: %(loss)s",
            workcenter=workcenter.display_name,
            action=labels[action],
            loss=reason.loss_id.display_name,
        )

    # --- Quality ---------------------------------------------------------------
    @api.model
    def _pico_apply_quality(self, event, data):
        """Record an inspection result and apply its defect class's consequence."""
        backend = event.backend_id
        production = self._pico_production(event, data, required=False)
        product = self.env["product.product"]
        if data.get("partNumber"):
            try:
                product = self._pico_product(backend, data["partNumber"], production)
            except UserError:
                product = self.env["product.product"]
        serial = data.get("serial")
        batch = data.get("batchId")
        lot = self._pico_lot(backend, serial or batch, product or production.product_id)
        if not lot and (product or production):
            lot = self._pico_lot(backend, serial or batch)
        if not production and lot:
            production = self.env["mrp.production"].search(
                [("lot_producing_ids", "in", lot.ids)], order="id desc", limit=1
            )
            if production:
                event.production_id = production
        result = data["result"]
        defect = self.env["pico.defect.class"]._pico_find(
            backend, data.get("defectClass")
        )
        consequence = shopfloor.quality_consequence(
            result, defect.consequence if defect else None, serial
        )
        quality = self.env["pico.quality.result"].create(
            {
                "backend_id": backend.id,
                "event_id": event.id,
                "production_id": production.id,
                "product_id": (product or lot.product_id or production.product_id).id,
                "lot_id": lot.id,
                "serial": serial,
                "batch_id": batch,
                "inspected_at": parse_odoo_datetime(data["timestamp"], "timestamp"),
                "timestamp": data["timestamp"],
                "result": result,
                "defect_class": data.get("defectClass"),
                "defect_class_id": defect.id,
                "defect_location": data.get("defectLocation"),
                "confidence": data.get("confidence") or 0.0,
                "station": data.get("station"),
            }
        )
        if consequence == shopfloor.SCRAP and not quality._pico_lot_quants():
            # Usually the completion recording the serial is not applied yet.
            raise inbox.EventHeld(
                self.env._(
                    "Serial %s is not in stock yet: it is scrapped once it is.", serial
                )
            )
        quality._pico_apply(consequence)
        return quality._pico_summary()

    # --- Consumption -----------------------------------------------------------
    @api.model
    def _pico_apply_consumption(self, event, data):
        """Register consumed component quantity on the MO (posted when it is done).

        The component's move becomes manual consumption, so that later completions
        do not backflush it again: what the floor reported is what is consumed.
        """
        backend = event.backend_id
        production = self._pico_production(event, data)
        if not shopfloor.consumption_allowed(production.state):
            raise UserError(
                self.env._(
                    "%s is closed: consumption can no longer be registered on it.",
                    production.name,
                )
            )
        product = self._pico_product(backend, data["partNumber"], production)
        uom = self._pico_uom(data.get("uom"), product)
        lot_name = data.get("serial") or data.get("lot")
        lot = self._pico_lot(backend, lot_name, product)
        if lot_name and not lot:
            raise UserError(
                self.env._(
                    "No lot %(lot)s of %(product)s.",
                    lot=lot_name,
                    product=product.display_name,
                )
            )
        move = production.move_raw_ids.filtered(
            lambda m: m.product_id == product and m.state not in ("done", "cancel")
        )[:1]
        if not move:
            # Not on the BOM: an extra component, as when added by hand on the MO.
            move = self.env["stock.move"].create(
                production._get_move_raw_values(product, 0.0, product.uom_id)
            )
            move._action_confirm()
        qty = uom._compute_quantity(data["quantity"], move.product_uom)
        already = move.quantity if move.picked else 0.0
        if not move.picked:
            # Reserved quantities are not consumed ones: start from zero.
            move._set_quantity_done(0.0)
        if lot:
            line = move.move_line_ids.filtered(lambda ml: ml.lot_id == lot)[:1]
            if line:
                line.quantity += qty
            else:
                quant = (
                    self.env["stock.quant"]
                    .sudo()
                    .search(
                        [
                            ("lot_id", "=", lot.id),
                            ("location_id", "child_of", move.location_id.id),
                            ("quantity", ">", 0),
                        ],
                        limit=1,
                    )
                )
                vals = move._prepare_move_line_vals(reserved_quant=quant or None)
                vals.update(lot_id=lot.id, quantity=qty)
                self.env["stock.move.line"].create(vals)
        else:
            move._set_quantity_done(already + qty)
        move.write({"picked": True, "manual_consumption": True})
        return self.env._(
            "Consumed %(qty)s %(uom)s %(product)s on %(production)s",
            qty=data["quantity"],
            uom=uom.name,
            product=product.display_name,
            production=production.name,
        )
