# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..core import completion as completion_core
from ..core import outbox
from ..core import units as unit_rules
from ..core.clock import odoo_datetime
from ..core.units import (
    DONE,
    LIVE_STATES,
    PROGRESS,
    QUEUED,
    STATES,
)

# The units of `_pico_insert_units` and their saves, numbered after the last
# index of the order and operation, in one statement. The
# columns not named stay NULL, as the ORM's create left them.
_INSERT_UNITS = r"""
WITH start AS (
    SELECT COALESCE(MAX(order_index) + 1, 0) AS first
      FROM pico_work_order
     WHERE backend_id = %(backend)s AND external_order_id = %(order)s
       AND operation_pico_id = %(operation_pico_id)s
), units AS (
    INSERT INTO pico_work_order (
        backend_id, company_id, production_id, operation_id, operation_pico_id,
        external_order_id, order_index, manual, reserved_lot_id, reserved_serial,
        state, built_product_id, actual_minutes, standard_minutes,
        variance_minutes, variance_pct, slower_than_standard, scrapped,
        quality_failed, scrap_rate, first_pass_yield,
        create_uid, create_date, write_uid, write_date)
    SELECT %(backend)s, %(company)s, %(production)s, %(operation)s,
           %(operation_pico_id)s, %(order)s, start.first + new.pos - 1,
           %(manual)s, new.lot_id, new.serial, %(queued)s, NULL, 0, 0, 0, 0,
           FALSE, FALSE, FALSE, 0, 0, %(uid)s, %(now)s, %(uid)s, %(now)s
      FROM start,
           unnest(%(lot_ids)s::int[], %(serials)s::varchar[])
               WITH ORDINALITY AS new(lot_id, serial, pos)
  ORDER BY new.pos
 RETURNING id, order_index
), saves AS (
    INSERT INTO pico_exchange (
        backend_id, company_id, production_id, work_order_id, kind,
        operation_pico_id, external_order_id, order_index, request, state,
        create_uid, create_date, write_uid, write_date)
    SELECT %(backend)s, %(company)s, %(production)s, units.id, %(save)s,
           %(operation_pico_id)s, %(order)s, units.order_index,
           %(request_head)s || units.order_index
             || COALESCE(E',\n  "reservedSerialNumber": ' || new.serial_json, '')
             || E'\n}',
           %(pending)s, %(uid)s, %(now)s, %(uid)s, %(now)s
      FROM start
      JOIN units ON TRUE
 LEFT JOIN unnest(%(serials_json)s::varchar[]) WITH ORDINALITY AS new(serial_json, pos)
        ON new.pos = units.order_index - start.first + 1
  ORDER BY units.order_index
 RETURNING work_order_id, id
)
SELECT work_order_id, id FROM saves ORDER BY id
"""


class PicoWorkOrder(models.Model):
    """One unit of one Pico operation order: what Pico calls an operation order
    with an `orderIndex`. A manufacturing order of N units has N rows; a manual
    order (testing, no MO) has rows without a manufacturing order.

    The state follows the exchanges sent for the unit (queued -> sent, cancelled,
    error) and the completions received (progress, done).
    """

    _name = "pico.work.order"
    _description = "Pico MES Work Order"
    _order = "id desc"
    _rec_names_search = ("external_order_id", "production_id")

    # No index of its own on the backend, the order id or the operation: every
    # query of units by them (by order: the completions, the numbering of new
    # units, the shop floor; a backend's delete) names the backend and the order
    # id, which lead the unique key's index. Each index is written for every
    # unit a confirm inserts (issue 24); migrations/19.0.1.0.1 drops them.
    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    production_id = fields.Many2one(
        "mrp.production",
        string="Manufacturing Order",
        readonly=True,
        index="btree_not_null",
        ondelete="cascade",
    )
    product_id = fields.Many2one(related="production_id.product_id")
    operation_id = fields.Many2one(
        "pico.operation", required=True, readonly=True, ondelete="restrict"
    )
    operation_pico_id = fields.Char(
        string="Pico Operation ID", required=True, readonly=True
    )
    external_order_id = fields.Char(required=True, readonly=True)
    order_index = fields.Integer(required=True, readonly=True)
    manual = fields.Boolean(
        readonly=True, help="Created by hand in Odoo, without a manufacturing order."
    )
    reserved_lot_id = fields.Many2one(
        "stock.lot",
        string="Reserved Serial",
        readonly=True,
        help="Serial Odoo reserved for this unit and sent to Pico.",
    )
    reserved_serial = fields.Char(
        string="Reserved Serial Number",
        readonly=True,
        help="The reservedSerialNumber sent to Pico, if any.",
    )
    state = fields.Selection(
        STATES, default=QUEUED, required=True, readonly=True, index=True
    )
    cancel_requested = fields.Boolean(
        readonly=True, help="A cancel has been queued for this unit."
    )
    produced_lot_id = fields.Many2one("stock.lot", readonly=True)
    produced_serial = fields.Char(readonly=True, help="Serial captured by Pico.")
    started_at = fields.Datetime(readonly=True, help="By Pico's clock.")
    completed_at = fields.Datetime(
        readonly=True, help="When Pico completed the unit, by Pico's clock."
    )
    received_at = fields.Datetime(
        string="Completion Received",
        readonly=True,
        help="When Odoo received the completion, by Odoo's clock.",
    )
    station = fields.Char(readonly=True, help="Station that completed the unit.")
    operator_id = fields.Many2one(
        "pico.operator", readonly=True, index="btree_not_null"
    )
    operator_user_id = fields.Many2one(
        related="operator_id.user_id", string="Operator User"
    )
    cycle_time = fields.Float(
        string="Cycle Time (min)", readonly=True, help="As Pico measured it."
    )
    completion_event_id = fields.Many2one("pico.event", readonly=True)
    last_error = fields.Text(readonly=True)
    exchange_ids = fields.One2many("pico.exchange", "work_order_id", readonly=True)
    exchange_count = fields.Integer(compute="_compute_exchange_count")

    _unit_uniq = models.Constraint(
        "UNIQUE(backend_id, external_order_id, operation_pico_id, order_index)",
        "This Pico order unit exists already.",
    )

    @api.depends("external_order_id", "order_index", "operation_id.name")
    def _compute_display_name(self):
        for unit in self:
            unit.display_name = (
                f"{unit.external_order_id or ''}/{unit.order_index} "
                f"{unit.operation_id.name or ''}"
            ).strip()

    @api.depends("exchange_ids")
    def _compute_exchange_count(self):
        for unit in self:
            unit.exchange_count = len(unit.exchange_ids)

    # --- Creation ----------------------------------------------------------------
    @api.model
    def _pico_create_units(
        self, backend, operation, external_order_id, count, production=None, lots=None
    ):
        """Create `count` new units and queue their save; return them.

        Set-based: one statement inserts the units and their outbox rows
        (`_pico_insert_units`), what the ORM's create of both cost per unit
        (issue 24). Then the rows go to the executor and held completions of
        the order are woken, as for rows the ORM creates.
        """
        if count <= 0:
            return self.browse()
        unit_ids, exchange_ids = self._pico_insert_units(
            backend, operation, external_order_id, count, production, list(lots or [])
        )
        units = self.sudo().browse(unit_ids)
        exchanges = self.env["pico.exchange"].sudo().browse(exchange_ids)
        self._pico_inserted(production, units, exchanges)
        exchanges._pico_dispatch()
        # Completions that arrived before Odoo knew the order are retried at once.
        self.env["pico.event"].sudo()._pico_wake_held(backend, [external_order_id])
        return units

    @api.model
    def _pico_insert_units(
        self, backend, operation, external_order_id, count, production, lots
    ):
        """INSERT `count` units numbered after the order's last index, each with
        its save in the outbox, in one statement; ([unit ids], [exchange ids]),
        in the order of the indexes.

        The rows are those the ORM's create made (tests/test_cost.py compares
        every column with ORM-created ones): the values it was given, the
        defaults (`state` queued, pending), the log columns (the transaction's
        `cr.now()`), the stored computes of a unit not built yet
        (pico_work_order_insight.py: no product, zeros, False) and the request
        of `_prepare_pico_request` (the same JSON text, keys sorted, indent 2).
        Nothing else is owed to these models' create: no Python constraint,
        no default of another field, no chatter (the outbox row was created
        with tracking and logging off), and the ORM ran it as superuser.
        `_pico_inserted` tells the cache and the MO's computes.
        """
        self.flush_model(
            ["backend_id", "external_order_id", "operation_pico_id", "order_index"]
        )
        lots = lots[:count] + [None] * (count - len(lots[:count]))
        now, uid = self.env.cr.now(), self.env.uid
        rows = self.env.execute_query(
            SQL(
                _INSERT_UNITS,
                backend=backend.id,
                company=backend.company_id.id or None,
                production=production.id if production else None,
                operation=operation.id,
                operation_pico_id=operation.pico_id,
                order=external_order_id,
                manual=not production,
                queued=QUEUED,
                lot_ids=[lot.id if lot else None for lot in lots],
                serials=[lot.name if lot else None for lot in lots],
                serials_json=[json.dumps(lot.name) if lot else None for lot in lots],
                save=outbox.SAVE,
                pending=outbox.PENDING,
                request_head=(
                    f'{{\n  "externalOrderId": {json.dumps(external_order_id)},'
                    f'\n  "operationId": {json.dumps(operation.pico_id)},'
                    '\n  "orderIndex": '
                ),
                uid=uid,
                now=now,
            )
        )
        return [row[0] for row in rows], [row[1] for row in rows]

    @api.model
    def _pico_inserted(self, production, units, exchanges):
        """What the ORM's create would have told the cache: the MO's units
        changed (its one2many read again; its Pico status, counts and button
        recomputed). No other model holds a one2many of new units or rows, and
        the new rows are not in the cache: what is read next is fetched alone,
        not each row's every column (the executor of each outbox row; the
        units' states, which the MO's Pico status is recomputed from; the
        columns of each row's lane on the job engine and of its job's name)."""
        exchanges.fetch(
            [
                "backend_id",
                "kind",
                "production_id",
                "external_order_id",
                "order_index",
                "operation_pico_id",
            ]
        )
        if production:
            production.invalidate_recordset(["pico_work_order_ids"])
            production.modified(["pico_work_order_ids"])
            units.fetch(["state"])

    def _prepare_pico_request(self, kind):
        """The GraphQL input of a save or a cancel of this unit."""
        self.ensure_one()
        payload = {
            "operationId": self.operation_pico_id,
            "externalOrderId": self.external_order_id,
            "orderIndex": self.order_index,
        }
        if kind == outbox.SAVE and self.reserved_serial:
            payload["reservedSerialNumber"] = self.reserved_serial
        return json.dumps(payload, indent=2, sort_keys=True)

    def _pico_queue(self, kind):
        """Queue one exchange of `kind` per unit, in this transaction."""
        return self.env["pico.exchange"]._pico_enqueue(
            [
                {
                    "backend_id": unit.backend_id.id,
                    # The related field's value, given: not computed row by row.
                    "company_id": unit.backend_id.company_id.id,
                    "production_id": unit.production_id.id,
                    "work_order_id": unit.id,
                    "kind": kind,
                    "operation_pico_id": unit.operation_pico_id,
                    "external_order_id": unit.external_order_id,
                    "order_index": unit.order_index,
                    "request": unit._prepare_pico_request(kind),
                }
                for unit in self
            ]
        )

    def _pico_request_cancel(self):
        """Queue a cancel for every live unit; return the units concerned."""
        units = self.filtered(
            lambda unit: unit.state in LIVE_STATES and not unit.cancel_requested
        )
        if units:
            units.sudo().write({"cancel_requested": True})
            units._pico_queue(outbox.CANCEL)
        return units

    # --- Outcomes ----------------------------------------------------------------
    def _pico_after_exchange(self, exchange):
        """Update the unit after the sender recorded the outcome of `exchange`."""
        for unit in self.sudo():
            vals = unit_rules.after_exchange(
                unit.state,
                unit.cancel_requested,
                exchange.kind,
                exchange.state,
                exchange.error_code,
                exchange.error,
            )
            if vals:
                unit.write(vals)

    # --- Hooks for the completion processor --------------------------------------
    @api.model
    def _pico_find_units(
        self, backend, external_order_id, order_index=None, operation_pico_id=None
    ):
        """Units of an order id (one index, one operation when given), read in the
        same query as they are found (every caller reads them next)."""
        domain = [
            ("backend_id", "=", backend.id),
            ("external_order_id", "=", external_order_id),
        ]
        if order_index is not None:
            domain.append(("order_index", "=", order_index))
        if operation_pico_id:
            domain.append(("operation_pico_id", "=", operation_pico_id))
        return self.sudo().search_fetch(domain)

    def _pico_mark_progress(self, started_at=None):
        """Pico reported work on the unit (a child process completed)."""
        units = self.filtered(lambda unit: unit_rules.may_start(unit.state))
        vals = {"state": PROGRESS}
        if started_at:
            vals["started_at"] = started_at
        units.sudo().write(vals)
        return units

    # --- Completions ---------------------------------------------------------------
    def _pico_as_core(self):
        self.ensure_one()
        return completion_core.Unit(
            key=self.id,
            operation_id=self.operation_pico_id,
            state=self.state,
            order_index=self.order_index,
            reserved_serial=self.reserved_serial or None,
        )

    def _pico_record_completion(
        self, completion, event, operator, timing, serial, lot=None
    ):
        """Store what Pico reported on the unit and mark it done, in one write."""
        self.ensure_one()
        vals = {
            "state": DONE,
            "completed_at": odoo_datetime(completion.at),
            "produced_serial": serial or False,
            "produced_lot_id": lot.id if lot else False,
            "last_error": False,
            "station": completion.station or False,
            "operator_id": operator.id,
            # Pico's own measure only (cycleTime, an optional field): the span
            # from start to end includes pauses and is not a cycle time.
            "cycle_time": (completion.cycle_time_ms or 0) / 60000.0,
            "received_at": event.received_at,
            "completion_event_id": event.id,
            # The units report counts it at its next rebuild (pico_unit_report.py).
            "report_stale": True,
        }
        started_at = odoo_datetime(timing.start)
        if started_at:
            vals["started_at"] = started_at
        self.sudo().write(vals)

    # --- Buttons -----------------------------------------------------------------
    def action_cancel_in_pico(self):
        """Delete the units from Pico (cancel; Pico refuses started units)."""
        self.check_access("read")
        if not self.env.user.has_group("mrp_pico_mes.group_pico_manager"):
            raise UserError(self.env._("Only a Pico manager can cancel Pico orders."))
        units = self._pico_request_cancel()
        if not units:
            raise UserError(
                self.env._("These units are finished or already being cancelled.")
            )
        for production in units.production_id:
            production.message_post(
                body=self.env._(
                    "Cancel of %(count)s Pico unit(s) requested by hand.",
                    count=len(
                        units.filtered(lambda u, p=production: u.production_id == p)
                    ),
                )
            )
        return True

    def action_resend(self):
        """Queue the save again (idempotent in Pico), e.g. after fixing a mapping."""
        self.check_access("read")
        if not self.env.user.has_group("mrp_pico_mes.group_pico_manager"):
            raise UserError(self.env._("Only a Pico manager can resend Pico orders."))
        units = self.filtered(
            lambda unit: unit_rules.may_resend(unit.state, unit.cancel_requested)
        )
        if not units:
            raise UserError(self.env._("Only open units can be sent again."))
        units._pico_queue(outbox.SAVE)
        return True

    def action_view_exchanges(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Exchanges"),
            "res_model": "pico.exchange",
            "view_mode": "list,form",
            "domain": [("work_order_id", "=", self.id)],
        }

    def action_view_production(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mrp.production",
            "res_id": self.production_id.id,
            "view_mode": "form",
        }
