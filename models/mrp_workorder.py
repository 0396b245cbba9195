# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..core import completion as completion_core
from ..core.clock import odoo_datetime


class MrpWorkorder(models.Model):
    """Odoo's work orders (operations of an MO) get the time Pico measured.

    Not to be confused with pico.work.order, one unit of a Pico order (glossary).
    """

    _inherit = "mrp.workorder"

    def _pico_log_time(self, unit, completion, children):
        """Log the build's time on the work orders of the Pico processes.

        Each work order routed to a Pico process gets the time of that process's
        completion (recorded earlier, when Pico reported it); one routed to the
        ordered operation gets the unit's own time. When Pico's times fit no work
        order, the unit's time is shared among the work orders in their order, in
        proportion to their expected durations. Work orders left without time get
        Odoo's expected duration when the order closes, as usual. `children` are
        the completions of the unit's child processes already applied.
        """
        workorders = self

        def routed_to(operation_id):
            return workorders.filtered(
                lambda wo: (
                    operation_id
                    and wo.operation_id.pico_operation_id.pico_id == operation_id
                )
            )[:1]

        entries = []
        for child in children:
            workorder = routed_to(child.operation_id)
            if workorder:
                entries.append((workorder, child, completion_core.timing(child)))
        workorder = routed_to(completion.operation_id)
        if workorder:
            entries.append((workorder, completion, completion_core.timing(completion)))
        elif not entries:
            entries = workorders._pico_share_time(completion)
        vals_list = []
        for workorder, done, timing in entries:
            if timing.start is None:
                continue
            operator = self.env["pico.operator"]._pico_get(
                unit.backend_id, done.operator
            )
            vals = workorder._prepare_timeline_vals(
                timing.minutes or 0.0,
                odoo_datetime(timing.start),
                odoo_datetime(timing.end),
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

    def _pico_share_time(self, completion):
        """[(work order, completion, Timing)] slicing the unit's time among them."""
        timing = completion_core.timing(completion)
        if timing.start is None:
            return []
        ordered = self.sorted(lambda wo: (wo.operation_id.sequence, wo.id))
        weights = [wo.duration_expected or 0.0 for wo in ordered]
        if not sum(weights):
            weights = [1.0] * len(ordered)
        shares = completion_core.shares(timing, weights)
        return [
            (workorder, completion, share)
            for workorder, share in zip(ordered, shares, strict=True)
        ]
