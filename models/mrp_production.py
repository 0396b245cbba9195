# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import math

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..core import completion as completion_core
from ..core import keys
from .pico_work_order import (
    CANCELLED,
    DONE,
    ERROR,
    LIVE_STATES,
    PROGRESS,
    QUEUED,
    SENT,
    STATES,
    UNSTARTED_STATES,
    _naive,
)

# MO states in which Pico may hold units for the order.
RELEASABLE_STATES = ("confirmed", "progress", "to_close")
# Context key: the caller keeps the Pico units in line itself (splits).
SKIP_QTY_SYNC = "pico_skip_qty_sync"
# Context key: the completion processor closes the order; no planner checks.
PICO_COMPLETION = "pico_completion"
# Units Pico may be building: a planner's close waits for them ("wait" policy).
BUILDING_STATES = (QUEUED, SENT, PROGRESS)


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    pico_work_order_ids = fields.One2many(
        "pico.work.order", "production_id", string="Pico Work Orders", readonly=True
    )
    pico_work_order_count = fields.Integer(compute="_compute_pico_counts")
    pico_exchange_count = fields.Integer(compute="_compute_pico_counts")
    pico_state = fields.Selection(
        STATES,
        string="Pico Status",
        compute="_compute_pico_state",
        store=True,
        help="Summary of the Pico work orders of this manufacturing order.",
    )
    pico_parent_production_id = fields.Many2one(
        "mrp.production",
        string="Built in Pico by",
        readonly=True,
        copy=False,
        help="Pico builds this subassembly as part of that order's product "
        "(waterfall), so it is not sent on its own.",
    )
    pico_can_send = fields.Boolean(compute="_compute_pico_can_send")

    @api.depends("pico_work_order_ids")
    def _compute_pico_counts(self):
        exchanges = dict(
            self.env["pico.exchange"]
            .sudo()
            ._read_group(
                [("production_id", "in", self.ids)], ["production_id"], ["__count"]
            )
        )
        for production in self:
            production.pico_work_order_count = len(
                production.sudo().pico_work_order_ids
            )
            production.pico_exchange_count = exchanges.get(production._origin, 0)

    @api.depends("pico_work_order_ids.state")
    def _compute_pico_state(self):
        for production in self:
            states = set(production.pico_work_order_ids.mapped("state"))
            active = states - {CANCELLED}
            if not states:
                summary = False
            elif ERROR in states:
                summary = ERROR
            elif not active:
                summary = CANCELLED
            elif active == {DONE}:
                summary = DONE
            elif PROGRESS in active or DONE in active:
                summary = PROGRESS
            elif QUEUED in active:
                summary = QUEUED
            else:
                summary = SENT
            production.pico_state = summary

    @api.depends("state", "bom_id", "pico_work_order_ids.state")
    def _compute_pico_can_send(self):
        for production in self:
            production.pico_can_send = bool(
                production.state in RELEASABLE_STATES
                and production._pico_backend()
                and not production.pico_parent_production_id
                and not production._pico_units()
            )

    # --- Mapping -----------------------------------------------------------------
    def _pico_backend(self):
        """The Pico backend this order's BOM is meant for (empty: not for Pico)."""
        self.ensure_one()
        bom = self.bom_id.sudo()
        if not bom:
            return self.env["pico.backend"]
        backend = bom.pico_backend_id if "pico_backend_id" in bom._fields else None
        return backend or bom.pico_operation_id.backend_id

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
        if self.state not in RELEASABLE_STATES:
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
            if production.state not in RELEASABLE_STATES:
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

    # --- MO lifecycle hooks ------------------------------------------------------
    def action_confirm(self):
        to_release = self.filtered(
            lambda p: p.state == "draft" and p._pico_trigger_is("confirm")
        )._pico_check_release()
        res = super().action_confirm()
        to_release._pico_release()
        return res

    def button_plan(self):
        to_release = self.filtered(
            lambda p: p.state != "cancel" and p._pico_trigger_is("plan")
        )._pico_check_release()
        res = super().button_plan()
        to_release._pico_release()
        return res

    def _action_cancel(self):
        self.filtered(lambda p: p.sudo().pico_work_order_ids)._pico_lock_rows()
        res = super()._action_cancel()
        self._pico_cancel_units()
        return res

    def button_mark_done(self):
        if not self.env.context.get(PICO_COMPLETION):
            self._pico_check_partial_close()
        res = super().button_mark_done()
        # Units Pico has not built when Odoo closes the order would be built twice.
        self.filtered(lambda p: p.state == "done")._pico_cancel_units(
            states=UNSTARTED_STATES
        )
        return res

    def _pico_lock_rows(self):
        """Lock these orders' rows before changing their Pico units.

        Two changes of one order at the same time would both number new units
        from the same highest order index. The second waits here for the first;
        under REPEATABLE READ it then gets a serialization failure, which Odoo
        retries (a request) or the inbox processor retries (an event), instead of
        a unique violation shown to the user. Not logged: a lost race is normal.
        """
        if not self.ids:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM mrp_production WHERE id IN %s FOR NO KEY UPDATE",
                tuple(self.ids),
            ),
            log_exceptions=False,
        )

    def write(self, vals):
        if "product_qty" in vals and not self.env.context.get(SKIP_QTY_SYNC):
            self.filtered(lambda p: p.sudo().pico_work_order_ids)._pico_lock_rows()
        res = super().write(vals)
        if "product_qty" in vals and not self.env.context.get(SKIP_QTY_SYNC):
            self.filtered(
                lambda p: p.state in RELEASABLE_STATES and p.sudo().pico_work_order_ids
            )._pico_sync_units()
        return res

    def _split_productions(
        self, amounts=False, cancel_remaining_qty=False, set_consumed_qty=False
    ):
        released = self.filtered(lambda p: p.sudo().pico_work_order_ids)
        if not released:
            return super()._split_productions(
                amounts=amounts,
                cancel_remaining_qty=cancel_remaining_qty,
                set_consumed_qty=set_consumed_qty,
            )
        result = super(
            MrpProduction, self.with_context(**{SKIP_QTY_SYNC: True})
        )._split_productions(
            amounts=amounts,
            cancel_remaining_qty=cancel_remaining_qty,
            set_consumed_qty=set_consumed_qty,
        )
        result = result.with_context(**{SKIP_QTY_SYNC: False})
        # The result lists each original followed by its backorders.
        current, backorders = None, {}
        for production in result:
            if production in self:
                current = production
                backorders[current] = self.browse()
            elif current is not None:
                backorders[current] |= production
        for original in released:
            original._pico_hand_over_units(backorders.get(original, self.browse()))
        return result

    def _pico_hand_over_units(self, backorders):
        """Move units the original no longer needs to its backorders.

        The units keep their externalOrderId and orderIndex, so Pico is not told
        anything and completions still find them; only counts that do not match
        end in a save or a cancel.
        """
        self.ensure_one()
        units = self._pico_units()
        keep = self._pico_unit_count() if self.state != "done" else len(units)
        # Units Pico has built or started stay with the original first.
        ordered = units.sorted(
            lambda unit: (unit.state != DONE, unit.state != PROGRESS, unit.order_index)
        )
        spare = ordered[keep:].filtered(lambda unit: unit.state not in (DONE,))
        for backorder in backorders:
            take = spare[: backorder._pico_unit_count()]
            if take:
                take.sudo().write({"production_id": backorder.id})
                backorder.message_post(
                    body=self.env._(
                        "%(count)s Pico unit(s) taken over from %(order)s.",
                        count=len(take),
                        order=self.display_name,
                    )
                )
            spare -= take
        (self | backorders)._pico_sync_units()

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

    # --- Completions -------------------------------------------------------------
    def _pico_apply_completion(self, unit, completion, event, operator):
        """Post one unit Pico built: serial, components, time; return a summary.

        The unit is produced on its own: the order is closed for this one unit and
        Odoo's backorder takes the units still to build (see
        readme/DECISIONS_COMPLETIONS.md), so stock moves with every build.
        """
        self.ensure_one()
        production = self
        if production.state not in RELEASABLE_STATES:
            raise UserError(
                self.env._(
                    "%(order)s is %(state)s, so Pico's completion of unit %(unit)s "
                    "cannot be posted on it. Reopen or recreate the order for this "
                    "unit, then retry the event.",
                    order=production.display_name,
                    state=dict(
                        production._fields["state"]._description_selection(self.env)
                    ).get(production.state),
                    unit=unit.display_name,
                )
            )
        backend = unit.backend_id
        product = production.product_id
        units_left = production.product_uom_id._compute_quantity(
            production.product_qty - production.qty_produced,
            product.uom_id,
            round=False,
        )
        try:
            plan = completion_core.plan(
                completion,
                unit._pico_as_core(),
                production._pico_components(),
                units_left,
                product_tracking=product.tracking or "none",
                product_name=product.display_name,
                odoo_serials=backend.serial_source == "odoo",
            )
        except completion_core.CompletionError as exc:
            raise UserError(exc.render(self.env._)) from exc
        lot = production._pico_produced_lot(plan.produced_serial, unit)
        component_lots = production._pico_component_lots(plan)
        # The unit is done before the order closes: closing cancels in Pico the
        # units still open on it, and this one must not be among them.
        unit._pico_record_completion(
            completion, event, operator, plan.timing, plan.produced_serial, lot
        )
        production._pico_log_time(unit, completion)
        production._pico_post_unit(plan, lot, component_lots)
        summary = production._pico_completion_summary(
            unit, completion, plan, component_lots
        )
        production.message_post(body=summary)
        return summary

    def _pico_components(self):
        """The open component lines as core Components, per finished unit."""
        self.ensure_one()
        one_unit = self.product_id.uom_id._compute_quantity(
            1.0, self.product_uom_id, round=False
        )
        components = []
        for move in self.move_raw_ids.filtered(
            lambda m: m.state not in ("done", "cancel")
        ):
            attribute = move.bom_line_id.pico_attribute_id
            per_unit = move.product_uom._compute_quantity(
                move.unit_factor * one_unit, move.product_id.uom_id, round=False
            )
            components.append(
                completion_core.Component(
                    key=move.id,
                    name=move.product_id.display_name,
                    tracking=move.product_id.tracking or "none",
                    qty_per_unit=per_unit,
                    attribute_key=attribute.key or None,
                    part_number=attribute.external_id or None,
                    attribute_title=attribute.display_name or None,
                )
            )
        return components

    def _pico_produced_lot(self, serial, unit):
        """The lot of the built unit: Odoo's reserved one, an existing one or new."""
        self.ensure_one()
        lots = self.env["stock.lot"]
        if not serial:
            return lots
        if unit.reserved_lot_id.name == serial:
            return unit.reserved_lot_id
        lot = lots.search(
            [
                ("product_id", "=", self.product_id.id),
                ("name", "=", serial),
                ("company_id", "in", [self.company_id.id, False]),
            ],
            limit=1,
        )
        return lot or lots.create(
            {
                "name": serial,
                "product_id": self.product_id.id,
                "company_id": self.company_id.id,
            }
        )

    def _pico_component_lots(self, plan):
        """{move id: [(lot, quantity, quant)]} of the serials Pico reported.

        A component serial must already be known and in stock where the order
        takes its components: consuming a serial Odoo never received would hide a
        missing receipt behind a negative quant. The event fails instead, saying
        what to fix; Retry applies it afterwards.
        """
        self.ensure_one()
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
                        ("company_id", "in", [self.company_id.id, False]),
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
                            order=self.display_name,
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
                    elsewhere = quants.search(
                        [
                            ("product_id", "=", product.id),
                            ("lot_id", "=", lot.id),
                            ("location_id.usage", "=", "internal"),
                            ("quantity", ">", 0),
                        ],
                        limit=1,
                    )
                    if elsewhere:
                        message = self.env._(
                            "Serial %(serial)s of %(product)s is in %(location)s, not "
                            "in %(source)s where %(order)s takes its components. Move "
                            "it there, then retry this event.",
                            serial=name,
                            product=product.display_name,
                            location=elsewhere.location_id.display_name,
                            source=move.location_id.display_name,
                            order=self.display_name,
                        )
                    else:
                        message = self.env._(
                            "Serial %(serial)s of %(product)s is not in stock (already "
                            "consumed, delivered or never received). Correct the "
                            "stock, then retry this event.",
                            serial=name,
                            product=product.display_name,
                        )
                    raise UserError(message)
                entries.append((lot, qty, here))
        return result

    def _pico_post_unit(self, plan, lot, component_lots):
        """Produce one unit as the plan says and close the order for it."""
        self.ensure_one()
        production = self
        one_unit = production.product_id.uom_id._compute_quantity(
            1.0, production.product_uom_id, round=False
        )
        if lot:
            production.lot_producing_ids = [Command.set(lot.ids)]
        production.qty_producing = production.qty_produced + one_unit
        # What the form's "quantity producing" onchange does: components at the BOM
        # ratio, picked; the lines Pico reported serials for are redone below.
        production.set_qty_producing()
        moves = self.env["stock.move"]
        for consume in plan.consume:
            move = moves.browse(consume.key)
            if consume.source == completion_core.FROM_SERIALS:
                self._pico_set_component_lots(move, component_lots[move.id])
            elif move.manual_consumption and move.picked:
                # A consumption event registered what the floor used: keep it
                # (Odoo's set_qty_producing leaves such moves alone too).
                continue
            else:
                qty = move.product_uom.round(
                    move.product_id.uom_id._compute_quantity(
                        consume.qty, move.product_uom, round=False
                    )
                )
                # set_qty_producing has usually set exactly this already.
                if move.product_uom.compare(move.quantity, qty) or not move.picked:
                    move._set_quantity_done(qty)
            move.picked = True
        context = {
            PICO_COMPLETION: True,
            # Pico reports what was built; the planner's wizards do not apply.
            "skip_consumption": True,
            "skip_backorder": True,
            "skip_redirection": True,
            "mo_ids_to_backorder": [] if plan.last_unit else production.ids,
        }
        production.with_context(**context).button_mark_done()
        if production.state != "done":
            raise UserError(
                self.env._(
                    "Odoo did not close %s for the unit Pico built.",
                    production.display_name,
                )
            )

    def _pico_set_component_lots(self, move, wanted):
        """Make a serialized component's move lines carry exactly Pico's lots.

        `wanted` is [(lot, quantity, reserved quant)]. Lines Odoo reserved are kept
        when only their lots differ (a lot change moves the reservation), since
        removing and recreating them redoes the whole reservation.
        """
        lines = move.move_line_ids
        rounding = move.product_uom
        wanted_lots = [lot for lot, _qty, _quant in wanted]
        to_relot = lines.filtered(lambda ml: ml.lot_id not in wanted_lots)
        missing = [lot for lot in wanted_lots if lot not in lines.lot_id]
        same_shape = (
            len(lines) == len(wanted)
            and len(to_relot) == len(missing)
            and all(
                not rounding.compare(line.quantity, qty)
                for line, (_lot, qty, _quant) in zip(lines, wanted, strict=True)
            )
        )
        if not same_shape:
            lines.unlink()
            vals_list = []
            for component_lot, qty, quant in wanted:
                vals = move._prepare_move_line_vals(
                    quantity=qty, reserved_quant=quant or None
                )
                vals.update(lot_id=component_lot.id, picked=True)
                vals_list.append(vals)
            self.env["stock.move.line"].create(vals_list)
            return
        # Lines already holding a wanted lot keep it; the others take the rest.
        for line, lot in zip(to_relot, missing, strict=True):
            line.lot_id = lot

    def _pico_log_time(self, unit, completion):
        """Log the build's time on the work orders of the Pico processes.

        Each work order routed to a Pico process gets the time of that process's
        completion (recorded earlier, when Pico reported it); one routed to the
        ordered operation gets the unit's own time. When Pico's times fit no work
        order, the unit's time is shared among the work orders in their order, in
        proportion to their expected durations. Work orders left without time get
        Odoo's expected duration when the order closes, as usual.
        """
        self.ensure_one()
        workorders = self.workorder_ids.filtered(
            lambda wo: wo.state not in ("done", "cancel")
        )
        if not workorders:
            return self.env["mrp.workcenter.productivity"]

        def routed_to(operation_id):
            return workorders.filtered(
                lambda wo: (
                    operation_id
                    and wo.operation_id.pico_operation_id.pico_id == operation_id
                )
            )[:1]

        entries = []
        for child in unit._pico_child_completions():
            workorder = routed_to(child.operation_id)
            if workorder:
                entries.append((workorder, child, completion_core.timing(child)))
        workorder = routed_to(completion.operation_id)
        if workorder:
            entries.append((workorder, completion, completion_core.timing(completion)))
        elif not entries:
            entries = self._pico_share_time(workorders, completion)
        vals_list = []
        for workorder, done, timing in entries:
            if timing.start is None:
                continue
            operator = self.env["pico.operator"]._pico_get(
                unit.backend_id, done.operator
            )
            vals = workorder._prepare_timeline_vals(
                timing.minutes or 0.0, _naive(timing.start), _naive(timing.end)
            )
            vals.update(
                user_id=operator.user_id.id or False,
                description=self.env._(
                    "Pico, unit %(unit)s: %(operator)s at %(station)s",
                    unit=unit.order_index,
                    operator=done.operator or "-",
                    station=done.station or "-",
                ),
            )
            vals_list.append(vals)
        return self.env["mrp.workcenter.productivity"].create(vals_list)

    @api.model
    def _pico_share_time(self, workorders, completion):
        """[(work order, completion, Timing)] slicing the unit's time among them."""
        timing = completion_core.timing(completion)
        if timing.start is None:
            return []
        ordered = workorders.sorted(lambda wo: (wo.operation_id.sequence, wo.id))
        weights = [wo.duration_expected or 0.0 for wo in ordered]
        if not sum(weights):
            weights = [1.0] * len(ordered)
        shares = completion_core.shares(timing, weights)
        return [
            (workorder, completion, share)
            for workorder, share in zip(ordered, shares, strict=True)
        ]

    def _pico_completion_summary(self, unit, completion, plan, component_lots):
        """The chatter line (and event result) of an applied completion."""
        lots = ", ".join(
            f"{lot.product_id.display_name} {lot.name}"
            for entries in component_lots.values()
            for lot, _qty, _quant in entries
        )
        summary = self.env._(
            "Pico built unit %(unit)s: serial %(serial)s, station %(station)s, "
            "operator %(operator)s, %(minutes)s min. Components: %(lots)s.",
            unit=unit.display_name,
            serial=plan.produced_serial or "-",
            station=completion.station or "-",
            operator=completion.operator or "-",
            minutes=round(plan.timing.minutes or 0.0, 2),
            lots=lots or self.env._("at the BOM's ratio"),
        )
        if plan.unmatched:
            summary += " " + self.env._(
                "Serials reported for no component line (ignored): %s.",
                ", ".join(f"{s.external_id or s.id}={s.value}" for s in plan.unmatched),
            )
        return summary

    # --- Buttons -----------------------------------------------------------------
    def action_pico_send(self):
        """Send to Pico now (the release trigger 'Send to Pico' button)."""
        self.check_access("write")
        for production in self:
            if production.state not in RELEASABLE_STATES:
                raise UserError(
                    self.env._(
                        "%s must be confirmed and not finished to be sent to Pico.",
                        production.display_name,
                    )
                )
            if not production._pico_backend():
                raise UserError(
                    self.env._(
                        "The bill of materials of %s is not meant for Pico.",
                        production.display_name,
                    )
                )
        released = self._pico_check_release(always_refuse=True)._pico_release()
        skipped = self - released
        if len(self) == 1 and skipped.pico_parent_production_id:
            raise UserError(
                self.env._(
                    "Pico builds %(order)s within %(parent)s's order; "
                    "send that order instead.",
                    order=skipped.display_name,
                    parent=skipped.pico_parent_production_id.display_name,
                )
            )
        return True

    def action_view_pico_work_orders(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pico Work Orders"),
            "res_model": "pico.work.order",
            "view_mode": "list,form",
            "domain": [("production_id", "=", self.id)],
            "context": {"default_production_id": self.id},
        }

    def action_view_pico_exchanges(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pico Exchanges"),
            "res_model": "pico.exchange",
            "view_mode": "list,form",
            "domain": [("production_id", "=", self.id)],
        }
