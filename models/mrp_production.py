# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..core import units as unit_rules
from ..core.units import RELEASABLE_MO_STATES, STATES, UNSTARTED_STATES

# Context keys set and read in this file only.
# The close of `_pico_close_for_unit`: Pico built the unit, no planner's checks.
_CLOSE_FOR_UNIT = "pico_close_for_unit"
# Inside `_split_productions`: the split keeps the Pico units in line itself.
_SKIP_QTY_SYNC = "pico_skip_qty_sync"


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
            production.pico_state = unit_rules.summary(
                production.pico_work_order_ids.mapped("state")
            )

    @api.depends("state", "bom_id", "pico_work_order_ids.state")
    def _compute_pico_can_send(self):
        for production in self:
            production.pico_can_send = bool(
                production.state in RELEASABLE_MO_STATES
                and production._pico_backend()
                and not production.pico_parent_production_id
                and not production._pico_units()
            )

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
        """Odoo's close: a planner's waits for Pico (the backend's partial close
        policy); units Pico has not started are cancelled once the order is done."""
        if not self.env.context.get(_CLOSE_FOR_UNIT):
            self._pico_check_partial_close()
        res = super().button_mark_done()
        # Units Pico has not built when Odoo closes the order would be built twice.
        self.filtered(lambda p: p.state == "done")._pico_cancel_units(
            states=UNSTARTED_STATES
        )
        return res

    def _pico_close_for_unit(self, backorder):
        """Close the order for the one unit Pico built (a completion's close).

        Odoo's own close, without the planner's wizards and checks, which do not
        apply to what Pico reports: the consumption is what was posted and, when
        `backorder`, the quantity still to build is split off into a backorder
        (Odoo's split; `_split_productions` below hands it the units).
        """
        self.ensure_one()
        self.with_context(
            **{
                _CLOSE_FOR_UNIT: True,
                "skip_consumption": True,
                "skip_backorder": True,
                "skip_redirection": True,
                "mo_ids_to_backorder": self.ids if backorder else [],
            }
        ).button_mark_done()
        if self.state != "done":
            raise UserError(
                self.env._(
                    "Odoo did not close %s for the unit Pico built.", self.display_name
                )
            )

    def _pico_log_built(self, summary):
        """Pico's report of the unit just built (`summary`: unit, serial,
        station, operator, time, components) on the order's chatter.

        The close for the unit changed the order's status, which Odoo's tracking
        posts when the transaction commits, as its "MO Done" message: the report
        is that message's body, above the status it closed (one chatter entry per
        unit built instead of two, and no message of its own to look up and
        insert: 2 to 3 % of a completion). Where Odoo does not track that change
        (tracking turned off by a context key: imports, tests), the report is an
        internal note of its own, as before.
        """
        self.ensure_one()
        tracked = self.env.cr.precommit.data.get(f"mail.tracking.{self._name}", {})
        initial = tracked.get(self.id) or {}
        if "state" in initial and initial["state"] != self.state:
            self._track_set_log_message(summary)
        else:
            self.message_post(body=summary)

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
        sync = "product_qty" in vals and not self.env.context.get(_SKIP_QTY_SYNC)
        if sync:
            self.filtered(lambda p: p.sudo().pico_work_order_ids)._pico_lock_rows()
        res = super().write(vals)
        if sync:
            self.filtered(
                lambda p: (
                    p.state in RELEASABLE_MO_STATES and p.sudo().pico_work_order_ids
                )
            )._pico_sync_units()
        return res

    def _split_productions(
        self, amounts=False, cancel_remaining_qty=False, set_consumed_qty=False
    ):
        """Odoo's split into backorders; the Pico units of a released order follow.

        The split writes the quantities itself (no unit sync per write), and the
        backorders' finished moves get no line per serial (stock.move): the cost
        of a completion, which splits the rest off each time, must not grow with
        the size of the order. Then the units go to the backorders.
        """
        released = self.filtered(lambda p: p.sudo().pico_work_order_ids)
        if not released:
            return super()._split_productions(
                amounts=amounts,
                cancel_remaining_qty=cancel_remaining_qty,
                set_consumed_qty=set_consumed_qty,
            )
        split = self.env["stock.move"]._pico_without_serial_lines(self)
        result = super(
            MrpProduction, split.with_context(**{_SKIP_QTY_SYNC: True})
        )._split_productions(
            amounts=amounts,
            cancel_remaining_qty=cancel_remaining_qty,
            set_consumed_qty=set_consumed_qty,
        )
        result = result.with_env(self.env)
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
        """Move the units this order no longer needs to its backorders.

        After a completion closed the order for one unit, or a planner closed it
        with a backorder. The units keep their externalOrderId and orderIndex, so
        Pico is not told anything and completions still find them; only counts
        that do not match end in a save or a cancel.
        """
        self.ensure_one()
        units = self._pico_units()
        keep = self._pico_unit_count() if self.state != "done" else len(units)
        taken = unit_rules.hand_over(
            [(unit.id, unit.state, unit.order_index) for unit in units],
            keep,
            [backorder._pico_unit_count() for backorder in backorders],
        )
        for backorder, keys in zip(backorders, taken, strict=True):
            if keys:
                units.browse(keys).sudo().write({"production_id": backorder.id})
                backorder.message_post(
                    body=self.env._(
                        "%(count)s Pico unit(s) taken over from %(order)s.",
                        count=len(keys),
                        order=self.display_name,
                    )
                )
        (self | backorders)._pico_sync_units()

    # --- Buttons -----------------------------------------------------------------
    def action_pico_send(self):
        """Send to Pico now (the release trigger 'Send to Pico' button)."""
        self.check_access("write")
        for production in self:
            if production.state not in RELEASABLE_MO_STATES:
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
