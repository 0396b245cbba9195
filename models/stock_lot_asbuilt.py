# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The as-built record of a serial: the shop-floor story of the unit that produced
it, its genealogy (component serials down, assemblies up) and what Pico sent.

Nothing is stored: every figure is read from the records that already hold it
(pico.work.order, quality results, scraps, notes, Odoo's move lines), with the
user's rights, so a user sees only what their companies allow.
"""

from collections import Counter

import pytz

from odoo import api, fields, models
from odoo.tools.misc import format_datetime

from ..core import inbox
from .pico_backend_notes import NOTE_STATES

# Shop-floor fields of the lot: {lot field: field of its unit (pico.work.order)}.
UNIT_FIELDS = {
    "pico_station": "station",
    "pico_operator_id": "operator_id",
    "pico_operator_user_id": "operator_user_id",
    "pico_started_at": "started_at",
    "pico_completed_at": "completed_at",
    "pico_cycle_time": "cycle_time",
    "pico_standard_minutes": "standard_minutes",
    "pico_operation_id": "operation_id",
}


class StockLot(models.Model):
    _inherit = "stock.lot"

    pico_unit_id = fields.Many2one(
        "pico.work.order",
        string="Pico Unit",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
        help="The Pico unit that produced this serial.",
    )
    pico_production_id = fields.Many2one(
        "mrp.production",
        string="Built by Order",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_station = fields.Char(
        string="Station", compute="_compute_pico_asbuilt", compute_sudo=False
    )
    pico_operator_id = fields.Many2one(
        "pico.operator",
        string="Operator",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_operator_user_id = fields.Many2one(
        "res.users",
        string="Operator (Odoo User)",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_started_at = fields.Datetime(
        string="Started", compute="_compute_pico_asbuilt", compute_sudo=False
    )
    pico_completed_at = fields.Datetime(
        string="Completed", compute="_compute_pico_asbuilt", compute_sudo=False
    )
    pico_cycle_time = fields.Float(
        string="Cycle Time (min)",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_standard_minutes = fields.Float(
        string="Standard Time (min)",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_operation_id = fields.Many2one(
        "pico.operation",
        string="Pico Process",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_component_lot_ids = fields.Many2many(
        "stock.lot",
        string="Component Serials",
        compute="_compute_pico_genealogy",
        compute_sudo=False,
        help="Lots and serials consumed to build this one.",
    )
    pico_used_in_lot_ids = fields.Many2many(
        "stock.lot",
        string="Built Into",
        compute="_compute_pico_genealogy",
        compute_sudo=False,
        help="Lots and serials this one was consumed into.",
    )
    pico_quality_ids = fields.Many2many(
        "pico.quality.result",
        string="Quality Results",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_scrap_ids = fields.Many2many(
        "stock.scrap",
        string="Scrap",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_note_ids = fields.Many2many(
        "pico.unit.note",
        string="Operator Notes",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )
    pico_event_ids = fields.Many2many(
        "pico.event",
        string="Received from Pico",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
        help="Every event that carried this unit's story: completions of the unit "
        "and its processes, quality results, notes.",
    )
    pico_rework_count = fields.Integer(
        string="Reworked Processes",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
        help="Processes Pico reported completed more than once for this unit.",
    )
    pico_notes_state = fields.Selection(
        NOTE_STATES,
        string="Operator Notes from Pico",
        compute="_compute_pico_asbuilt",
        compute_sudo=False,
    )

    def _pico_may_read(self):
        return self.env["pico.work.order"].has_access("read")

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_pico_asbuilt(self):
        empty = {
            **dict.fromkeys(UNIT_FIELDS, False),
            "pico_notes_state": False,
            "pico_unit_id": False,
            "pico_production_id": False,
            "pico_quality_ids": False,
            "pico_scrap_ids": False,
            "pico_note_ids": False,
            "pico_event_ids": False,
            "pico_rework_count": 0,
        }
        if not self.ids or not self._pico_may_read():
            for lot in self:
                lot.update(empty)
            return
        units = self.env["pico.work.order"].search(
            [("produced_lot_id", "in", self.ids), ("state", "=", "done")],
            order="completed_at desc, id desc",
        )
        unit_of = {}
        for unit in units:
            unit_of.setdefault(unit.produced_lot_id.id, unit)
        qualities = self.env["pico.quality.result"].search([("lot_id", "in", self.ids)])
        scraps = self.env["stock.scrap"].search([("lot_id", "in", self.ids)])
        notes = self.env["pico.unit.note"].search(
            ["|", ("lot_id", "in", self.ids), ("work_order_id", "in", units.ids)]
        )
        for lot in self:
            unit = unit_of.get(lot.id, self.env["pico.work.order"])
            lot_notes = notes.filtered(
                lambda n, lot=lot, unit=unit: (
                    n.lot_id == lot or (unit and n.work_order_id == unit)
                )
            )
            lot_qualities = qualities.filtered(lambda q, lot=lot: q.lot_id == lot)
            completions = lot._pico_completion_events(unit)
            lot.update(
                {
                    **{name: unit[source] for name, source in UNIT_FIELDS.items()},
                    "pico_notes_state": unit.backend_id.pico_notes_state,
                    "pico_unit_id": unit.id,
                    "pico_production_id": (
                        unit.production_id or lot._pico_odoo_production()
                    ).id,
                    "pico_quality_ids": lot_qualities.ids,
                    "pico_scrap_ids": scraps.filtered(
                        lambda s, lot=lot: s.lot_id == lot
                    ).ids,
                    "pico_note_ids": lot_notes.ids,
                    "pico_event_ids": (
                        completions | lot_qualities.event_id | lot_notes.event_id
                    )
                    .sorted(lambda e: (e.mes_time or e.received_at, e.id))
                    .ids,
                    "pico_rework_count": lot._pico_reworks(completions),
                }
            )

    def _pico_completion_events(self, unit):
        """Completion events of the unit and of its processes."""
        if not unit:
            return self.env["pico.event"]
        return self.env["pico.event"].search(
            [
                ("backend_id", "=", unit.backend_id.id),
                ("event_type", "=", inbox.COMPLETION),
                ("external_order_id", "=", unit.external_order_id),
                ("order_index", "=", unit.order_index),
                ("state", "=", inbox.DONE),
            ]
        )

    @staticmethod
    def _pico_reworks(completions):
        """Processes completed more than once: each repeat is a rework."""
        counts = Counter(
            ((event.data or {}).get("operation") or {}).get("id")
            for event in completions
        )
        return sum(count - 1 for count in counts.values() if count > 1)

    def _pico_finished_lines(self):
        """Odoo's move lines that produced this lot (done, of a manufacturing order)."""
        return self.env["stock.move.line"].search(
            [
                ("lot_id", "in", self.ids),
                ("state", "=", "done"),
                ("move_id.production_id", "!=", False),
            ]
        )

    def _pico_odoo_production(self):
        self.ensure_one()
        return self._pico_finished_lines()[:1].move_id.production_id

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_pico_genealogy(self):
        lines = self.env["stock.move.line"]
        produced = self._pico_finished_lines() if self.ids else lines
        consumed = (
            lines.search(
                [
                    ("lot_id", "in", self.ids),
                    ("state", "=", "done"),
                    ("move_id.raw_material_production_id", "!=", False),
                ]
            )
            if self.ids
            else lines
        )
        for lot in self:
            lot.pico_component_lot_ids = produced.filtered(
                lambda ml, lot=lot: ml.lot_id == lot
            ).consume_line_ids.lot_id
            lot.pico_used_in_lot_ids = consumed.filtered(
                lambda ml, lot=lot: ml.lot_id == lot
            ).produce_line_ids.lot_id

    # --- The As-Built Record (report) ---------------------------------------------
    def _pico_genealogy_tree(self, depth=None, _seen=None):
        """[(level, lot)] of the component serials below this lot, `depth` levels
        deep (the company's setting by default); a serial is listed once."""
        self.ensure_one()
        if depth is None:
            depth = self._pico_asbuilt_depth()
        seen = _seen if _seen is not None else {self.id}
        rows = []
        if depth <= 0:
            return rows
        for component in self.pico_component_lot_ids.sorted("name"):
            if component.id in seen:
                continue
            seen.add(component.id)
            rows.append((1, component))
            rows += [
                (level + 1, lot)
                for level, lot in component._pico_genealogy_tree(depth - 1, seen)
            ]
        return rows

    def _pico_asbuilt_depth(self):
        """The genealogy depth of the unit's backend (of the company's, else 3)."""
        backend = self.pico_unit_id.backend_id or self.env["pico.backend"].search(
            [("company_id", "=", (self.company_id or self.env.company).id)], limit=1
        )
        return max(backend.asbuilt_depth, 1) if backend else 3

    def _pico_tz(self):
        """The company's time zone: its working calendar's, else its partner's."""
        company = self.company_id or self.env.company
        name = company.resource_calendar_id.tz or company.partner_id.tz or "UTC"
        return name if name in pytz.all_timezones_set else "UTC"

    def _pico_format_time(self, value):
        """A datetime as the record prints it: in the company's time zone."""
        if not value:
            return ""
        tz = self._pico_tz()
        return f"{format_datetime(self.env, value, tz=tz, dt_format='medium')} ({tz})"

    def _pico_printed_at(self):
        return self._pico_format_time(fields.Datetime.now())

    def action_print_asbuilt(self):
        """Print the serial's As-Built Record (Pico users)."""
        self.env["mrp.production"]._pico_check_asbuilt_access()
        self.check_access("read")
        return self.env.ref("mrp_pico_mes.action_report_asbuilt_lot").report_action(
            self
        )
