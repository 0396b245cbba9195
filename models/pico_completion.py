# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import Command, api, models
from odoo.exceptions import UserError

from ..core import completion as completion_core
from ..core import inbox
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError
from ..core.payloads import parse_completion
from ..core.units import RELEASABLE_MO_STATES


class PicoCompletion(models.AbstractModel):
    """The completion handler: applies one `completion` event of the inbox.

    Reads top to bottom (map: docs/DEVELOP.md, "The completion path"):
    (1) the event finds its unit (pico.work.order), the one look-up of the event,
    or is held until Odoo knows it; a child process only marks progress; (2) the
    core plans the unit's own completion (core/completion.py: serial, components,
    time); (3) the unit is produced alone on its manufacturing order, and (4) the
    order is closed for it (`mrp.production._pico_close_for_unit`): Odoo's
    backorder takes the quantity still to build and Odoo's split, overridden in
    mrp_production.py, hands it the units (docs/DECISIONS_COMPLETIONS.md);
    (5) the insight report's rows of the unit's day are rebuilt.
    """

    _name = "pico.completion"
    _description = "Pico MES completion handler"

    # --- 1. The work order event ---------------------------------------------------
    @api.model
    def _pico_event_units(self, event):
        """Units a completion event refers to; empty when unknown or unreadable."""
        data = event.data  # a copy at each read of the field: read once
        if not isinstance(data, dict):
            data = {}
        external_order_id = data.get("externalOrderId")
        index = data.get("orderIndex")
        if not external_order_id:
            return self.env["pico.work.order"]
        return self._pico_order_units(
            event,
            str(external_order_id),
            index if isinstance(index, int) and not isinstance(index, bool) else 0,
        )

    @api.model
    def _pico_order_units(self, event, external_order_id, order_index):
        """The units of one index of an order, looked up once per attempt of
        `event` (the locks, the attempt and this handler ask for them)."""
        found = event._pico_attempt_found()
        key = ("units", external_order_id, order_index)
        if key not in found:
            found[key] = (
                self.env["pico.work.order"]
                ._pico_find_units(event.backend_id, external_order_id, order_index)
                .ids
            )
        return self.env["pico.work.order"].sudo().browse(found[key])

    @api.model
    def _pico_event_production(self, event):
        """The manufacturing order an event is about, for its chatter and filters."""
        return self._pico_event_units(event).production_id[:1]

    @api.model
    def _pico_handle_event(self, event):
        """Apply one completion event (the inbox processor calls it)."""
        completion = parse_completion(event.data or {})
        units = self._pico_order_units(
            event, completion.external_order_id, completion.order_index or 0
        )
        decision = completion_core.decide(
            completion, [unit._pico_as_core() for unit in units]
        )
        if decision.kind == completion_core.HOLD:
            raise inbox.EventHeld(
                self.env._(
                    "Odoo knows no Pico work order %(order)s/%(index)s yet.",
                    order=completion.external_order_id,
                    index=completion.order_index or 0,
                )
            )
        unit = units.browse(decision.unit.key)
        if decision.kind == completion_core.CHILD:
            return self._pico_apply_child(unit, completion)
        if decision.kind == completion_core.ALREADY_DONE:
            return self.env._(
                "Unit %s was already completed: this completion has no effect.",
                unit.display_name,
            )
        if decision.kind == completion_core.REFUSED:
            raise UserError(
                completion_core.CompletionError(
                    "unit_cancelled", unit=unit.display_name
                ).render(self.env._)
            )
        return self._pico_apply(unit, completion, event)

    def _pico_apply_child(self, unit, completion):
        """Record the completion of a process Pico spawned for `unit`."""
        self.env["pico.operator"]._pico_get(unit.backend_id, completion.operator)
        timing = completion_core.timing(completion)
        unit._pico_mark_progress(started_at=odoo_datetime(timing.start or timing.end))
        message = self.env._(
            "Pico completed %(operation)s for unit %(unit)s (station: %(station)s, "
            "operator: %(operator)s, %(minutes)s min). Nothing is produced until the "
            "unit itself is completed.",
            operation=completion.operation_name or completion.operation_id or "?",
            unit=unit.display_name,
            station=completion.station or "-",
            operator=completion.operator or "-",
            minutes=round(timing.minutes or 0.0, 2),
        )
        if unit.production_id:
            unit.production_id.message_post(body=message)
        return message

    def _pico_apply(self, unit, completion, event):
        """Apply the completion of the unit's ordered operation; return a summary."""
        operator = self.env["pico.operator"]._pico_get(
            unit.backend_id, completion.operator
        )
        if unit.production_id:
            summary = self._pico_post(unit, completion, event, operator)
        else:
            timing = completion_core.timing(completion)
            unit._pico_record_completion(
                completion, event, operator, timing, completion.produced_serial
            )
            summary = self.env._(
                "Unit %s has no manufacturing order: marked done, nothing produced.",
                unit.display_name,
            )
        # 5. The report's rows of the unit's day, from the figures just stored.
        self.env["pico.unit.report"].sudo()._pico_refresh_units(unit)
        return summary

    # --- 2. The plan ---------------------------------------------------------------
    def _pico_plan(self, production, unit, completion):
        """The core's plan for the unit: serial, components to consume, time."""
        if production.state not in RELEASABLE_MO_STATES:
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
        product = production.product_id
        units_left = production.product_uom_id._compute_quantity(
            production.product_qty - production.qty_produced,
            product.uom_id,
            round=False,
        )
        core_unit = unit._pico_as_core()
        options = {
            "product_tracking": product.tracking or "none",
            "odoo_serials": unit.backend_id.serial_source == "odoo",
        }
        try:
            return completion_core.plan(
                completion,
                core_unit,
                self._pico_components(production),
                units_left,
                **options,
            )
        except completion_core.CompletionError:
            # Names serve only the message, and a plan does not depend on them:
            # the lines' and attributes' names are looked up for it alone.
            pass
        try:
            return completion_core.plan(
                completion,
                core_unit,
                self._pico_components(production, named=True),
                units_left,
                product_name=product.display_name,
                **options,
            )
        except completion_core.CompletionError as exc:
            raise UserError(exc.render(self.env._)) from exc

    def _pico_components(self, production, named=False):
        """The open component lines as core Components, per finished unit (with
        the names a message shows when `named`)."""
        one_unit = production.product_id.uom_id._compute_quantity(
            1.0, production.product_uom_id, round=False
        )
        components = []
        for move in production.move_raw_ids.filtered(
            lambda m: m.state not in ("done", "cancel")
        ):
            attribute = move.bom_line_id.pico_attribute_id
            per_unit = move.product_uom._compute_quantity(
                move.unit_factor * one_unit, move.product_id.uom_id, round=False
            )
            components.append(
                completion_core.Component(
                    key=move.id,
                    name=move.product_id.display_name if named else "",
                    tracking=move.product_id.tracking or "none",
                    qty_per_unit=per_unit,
                    attribute_key=attribute.key or None,
                    part_number=attribute.external_id or None,
                    attribute_title=(attribute.display_name or None) if named else None,
                )
            )
        return components

    # --- 3. Post the unit ----------------------------------------------------------
    def _pico_post(self, unit, completion, event, operator):
        """Post one unit Pico built on its order: serial, components, time."""
        production = unit.production_id
        plan = self._pico_plan(production, unit, completion)
        lots = self.env["stock.lot"]
        lot = lots._pico_built_lot(production, plan.produced_serial, unit)
        component_lots = lots._pico_component_lots(production, plan)
        # The unit is done before the order closes: closing cancels in Pico the
        # units still open on it, and this one must not be among them.
        unit._pico_record_completion(
            completion, event, operator, plan.timing, plan.produced_serial, lot
        )
        self._pico_log_time(production, unit, completion)
        self._pico_produce(production, plan, lot, component_lots)
        # 4. Close the order for this unit; a backorder takes the rest (and units).
        production._pico_close_for_unit(backorder=not plan.last_unit)
        summary = self._pico_summary(unit, completion, plan, component_lots)
        production._pico_log_built(summary)
        return summary

    def _pico_produce(self, production, plan, lot, component_lots):
        """Produce one unit on the order as the plan says: serial, components."""
        one_unit = production.product_id.uom_id._compute_quantity(
            1.0, production.product_uom_id, round=False
        )
        # One write of the order for both (each write of an order is a full pass of
        # Odoo's MO write and its recomputations).
        vals = {"qty_producing": production.qty_produced + one_unit}
        if lot:
            vals["lot_producing_ids"] = [Command.set(lot.ids)]
        production.write(vals)
        # What the form's "quantity producing" onchange does: components at the BOM
        # ratio, picked; the lines Pico reported serials for are redone below.
        production.set_qty_producing()
        moves = self.env["stock.move"]
        to_pick = moves
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
            to_pick |= move
        # One write for the lines to mark picked; set_qty_producing has picked most
        # of them already, and writing that again would change nothing.
        to_pick.filtered(
            lambda move: not (move.picked and all(move.move_line_ids.mapped("picked")))
        ).picked = True

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

    def _pico_log_time(self, production, unit, completion):
        """Log the build's time on the order's open work orders (mrp.workorder)."""
        workorders = production.workorder_ids.filtered(
            lambda wo: wo.state not in ("done", "cancel")
        )
        if not workorders:
            return self.env["mrp.workcenter.productivity"]
        return workorders._pico_log_time(
            unit, completion, self._pico_child_completions(unit)
        )

    def _pico_child_completions(self, unit):
        """Completions of the unit's child processes already applied, by operation."""
        events = (
            self.env["pico.event"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", unit.backend_id.id),
                    ("event_type", "=", inbox.COMPLETION),
                    ("external_order_id", "=", unit.external_order_id),
                    ("order_index", "=", unit.order_index),
                    ("state", "=", inbox.DONE),
                ],
                order="mes_time, id",
            )
        )
        children = {}
        for event in events:
            try:
                completion = parse_completion(event.data or {})
            except PayloadError:
                continue
            if completion.wip or completion.operation_id != unit.operation_pico_id:
                # The latest completion of a process stands (a rework replaces it).
                children[completion.operation_id] = completion
        return list(children.values())

    def _pico_summary(self, unit, completion, plan, component_lots):
        """The chatter line (and event result) of an applied completion."""
        # The product's name, not its display name: the plan has read it, while
        # the display name is a computation of its own (about 1 % of a completion).
        lots = ", ".join(
            f"{lot.product_id.name} {lot.name}"
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
