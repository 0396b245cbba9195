# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import math

from odoo import models
from odoo.exceptions import UserError

from ..core import keys
from ..core.units import (
    BUILDING_STATES,
    DONE,
    LIVE_STATES,
    PROGRESS,
    RELEASABLE_MO_STATES,
    UNSTARTED_STATES,
)


class MrpProduction(models.Model):
    """Orders out: which manufacturing orders go to Pico, and their units.

    The mapping checks run when an order is confirmed or planned (the backend's
    release trigger); the units (pico.work.order, one per product unit) follow the
    order's quantity, splits and cancels, each change queued in the outbox.
    """

    _inherit = "mrp.production"

    # --- Mapping -----------------------------------------------------------------
    def _pico_backend(self):
        """The Pico backend this order's BOM is meant for (empty: not for Pico)."""
        self.ensure_one()
        bom = self.bom_id.sudo()
        return bom.pico_backend_id or bom.pico_operation_id.backend_id

    def _pico_operation(self):
        """The Pico operation this order's BOM is mapped to (empty if none)."""
        self.ensure_one()
        return self.bom_id.sudo().pico_operation_id

    def _pico_mapping_problems(self):
        """Why this order cannot be sent to Pico, as a list of messages."""
        self.ensure_one()
        bom = self.bom_id.sudo()
        problems = []
        if bom.pico_mapping_state != "valid":
            # The stored state follows every field the rules read, so a valid BOM
            # is not checked again on each confirmation; the rules only run to
            # name the problems.
            problems += list(bom._pico_mapping_problems() or [])
        if not bom.pico_operation_id and not problems:
            problems.append(
                self.env._("%s is not mapped to a Pico operation.", bom.display_name)
            )
        backend = self._pico_backend()
        if not backend.active:
            problems.append(
                self.env._("The Pico backend %s is archived.", backend.display_name)
            )
        elif backend.company_id != self.company_id:
            problems.append(
                self.env._(
                    "The Pico backend %(backend)s belongs to %(company)s.",
                    backend=backend.display_name,
                    company=backend.company_id.display_name,
                )
            )
        return problems

    def _pico_trigger_is(self, trigger):
        """Whether this order is mapped and its backend releases on `trigger`."""
        self.ensure_one()
        return self._pico_backend().release_trigger == trigger

    def _pico_check_release(self, always_refuse=False):
        """Return the orders whose mapping is sound; refuse or warn about others."""
        sound = self.browse()
        for production in self:
            if not production._pico_backend():
                continue
            if production._pico_waterfall_parent():
                # Not sent on its own; _pico_release records why.
                sound |= production
                continue
            problems = production._pico_mapping_problems()
            if not problems:
                sound |= production
                continue
            message = self.env._(
                "%(order)s cannot be sent to Pico:\n%(problems)s",
                order=production.display_name,
                problems="\n".join(f"- {problem}" for problem in problems),
            )
            policy = production._pico_backend().invalid_mapping_policy
            if always_refuse or policy == "refuse":
                raise UserError(message)
            production.message_post(body=message)
        return sound

    def _pico_waterfall_parent(self):
        """The order whose Pico product already builds this one, if any.

        Pico spawns the orders of a product's subassemblies and processes itself
        (waterfall), so a child MO whose operation lies under the operation of an
        MO it supplies must not be ordered a second time.
        """
        self.ensure_one()
        operation = self._pico_operation()
        # Only an operation that sits under another one in Pico can be spawned by
        # it; a top-level product (the usual case) needs no look at the sources.
        if not operation or not operation.parent_link_ids:
            return self.browse()
        sources = (
            self._get_sources()
            | self.move_finished_ids.move_dest_ids.raw_material_production_id
        )
        for source in sources - self:
            parent_operation = source._pico_operation()
            if (
                parent_operation
                and parent_operation.backend_id == operation.backend_id
                and parent_operation != operation
                and operation in parent_operation._pico_descendants()
            ):
                return source
        return self.browse()

    # --- Units -------------------------------------------------------------------
    def _pico_units(self):
        """Units that stand for (part of) this order's quantity in Pico."""
        # Planners confirm orders without reading Pico's tables: units are
        # handled here on their behalf.
        return self.sudo().pico_work_order_ids.filtered(
            lambda unit: (
                unit.state in (*LIVE_STATES, DONE) and not unit.cancel_requested
            )
        )

    def _pico_unit_count(self):
        """Pico units wanted for this order: one per product unit, rounded up."""
        self.ensure_one()
        if self.state not in RELEASABLE_MO_STATES:
            return 0
        qty = self.product_uom_id._compute_quantity(
            self.product_qty, self.product_id.uom_id
        )
        # Rounding noise (2.0000001 units) must not order an extra unit.
        return max(math.ceil(round(qty, 6)), 0)

    def _pico_external_order_id(self):
        """The order id Pico knows this MO by; stable once units exist."""
        self.ensure_one()
        existing = self.sudo().pico_work_order_ids.sorted("id")[:1]
        if existing:
            return existing.external_order_id
        return keys.external_order_id(self.name, self.id)

    def _pico_reserve_lots(self, backend, count):
        """Reserve `count` serials in Odoo when the backend has Odoo generate them."""
        self.ensure_one()
        if (
            not count
            or backend.serial_source != "odoo"
            or self.product_id.tracking != "serial"
        ):
            return []
        lots = self.env["stock.lot"]
        production = self.sudo()
        for _unit in range(count):
            vals = production._prepare_stock_lot_values()
            vals["company_id"] = self.company_id.id
            lots |= lots.sudo().create(vals)
        return list(lots)

    def _pico_sync_units(self):
        """Create or cancel units so that Pico holds one per unit to build."""
        for production in self:
            units = production._pico_units()
            wanted = production._pico_unit_count()
            if len(units) < wanted:
                operation = units[:1].operation_id or production._pico_operation()
                if not operation:
                    continue
                backend = operation.backend_id
                count = wanted - len(units)
                self.env["pico.work.order"]._pico_create_units(
                    backend,
                    operation,
                    production._pico_external_order_id(),
                    count,
                    production=production,
                    lots=production._pico_reserve_lots(backend, count),
                )
                # No chatter note here: the units (Pico smart button) and their
                # exchanges are the record, and a note costs a tenth of a confirm.
            elif len(units) > wanted:
                # Withdraw what Pico has not started first, the last units first;
                # started ones are asked too, so that Pico's refusal shows.
                candidates = units.filtered(
                    lambda unit: unit.state in UNSTARTED_STATES
                ).sorted("order_index", reverse=True) + units.filtered(
                    lambda unit: unit.state == PROGRESS
                ).sorted("order_index", reverse=True)
                withdrawn = candidates[: len(units) - wanted]._pico_request_cancel()
                if withdrawn:
                    production.message_post(
                        body=self.env._(
                            "Cancel of %(count)s Pico unit(s) queued.",
                            count=len(withdrawn),
                        )
                    )

    def _pico_release(self):
        """Send the orders' units to Pico (through the outbox); return those sent."""
        released = self.browse()
        for production in self:
            if production.state not in RELEASABLE_MO_STATES:
                continue
            if not production._pico_operation():
                continue
            parent = production._pico_waterfall_parent()
            if parent:
                if production.pico_parent_production_id != parent:
                    production.pico_parent_production_id = parent
                    production.message_post(
                        body=self.env._(
                            "Not sent to Pico: Pico builds it within %s's order.",
                            parent.display_name,
                        )
                    )
                continue
            production._pico_sync_units()
            released |= production
        return released

    def _pico_cancel_units(self, states=LIVE_STATES, reason=None):
        """Queue a cancel of the order's units in `states`; return them."""
        cancelled = self.env["pico.work.order"]
        for production in self:
            units = production._pico_units().filtered(lambda unit: unit.state in states)
            units = units._pico_request_cancel()
            if units:
                production.message_post(
                    body=reason
                    or self.env._(
                        "Cancel of %(count)s Pico unit(s) queued.", count=len(units)
                    )
                )
            cancelled |= units
        return cancelled

    def _pico_check_partial_close(self):
        """Refuse a planner's close while Pico builds units, if the backend waits."""
        for production in self:
            building = production._pico_units().filtered(
                lambda unit: unit.state in BUILDING_STATES
            )
            if not building or building.backend_id[:1].partial_close != "wait":
                continue
            raise UserError(
                self.env._(
                    "%(order)s still has %(count)s unit(s) in Pico (%(units)s). Each "
                    "unit is produced in Odoo when Pico reports it built, and the last "
                    "one closes the order. To close it now, cancel those units in Pico "
                    "first, or set the backend's partial close policy to backorder.",
                    order=production.display_name,
                    count=len(building),
                    units=", ".join(building.mapped("display_name")),
                )
            )
