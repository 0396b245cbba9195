# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.fields import Domain

from ..core import insight

QUALITY_NOT_PASSED = ("fail", "review")


class PicoWorkOrder(models.Model):
    """Actual against standard, per built unit: the figures of the Pico report.

    Every figure is stored (and the ones reports group or filter by are indexed),
    so a pivot over a year of units reads one table. The standard is taken from
    the bill of materials when the unit is built and kept: editing a routing later
    does not rewrite history (see docs/INSIGHT.md).
    """

    _inherit = "pico.work.order"

    report_stale = fields.Boolean(
        readonly=True,
        copy=False,
        help="Built or changed since the units report last counted it.",
    )
    _report_stale_idx = models.Index("(id) WHERE report_stale")
    built_product_id = fields.Many2one(
        "product.product",
        string="Product Built",
        compute="_compute_insight_standard",
        store=True,
        index="btree_not_null",
        readonly=True,
    )
    actual_minutes = fields.Float(
        string="Actual (min)",
        compute="_compute_insight_actual",
        store=True,
        aggregator="avg",
        readonly=True,
        help="Pico's cycle time, or started -> completed when Pico gave none.",
    )
    standard_minutes = fields.Float(
        string="Standard (min)",
        compute="_compute_insight_standard",
        store=True,
        aggregator="avg",
        readonly=True,
        help="Time per unit of the bill of materials' operations when the unit was "
        "built: cycle time per work-centre capacity, at its efficiency.",
    )
    variance_minutes = fields.Float(
        string="Variance (min)",
        compute="_compute_insight_variance",
        store=True,
        aggregator="avg",
        readonly=True,
    )
    variance_pct = fields.Float(
        string="Variance (%)",
        compute="_compute_insight_variance",
        store=True,
        aggregator="avg",
        readonly=True,
        help="(actual - standard) / standard. Positive: slower than standard.",
    )
    slower_than_standard = fields.Boolean(
        compute="_compute_insight_variance", store=True, readonly=True
    )
    scrapped = fields.Boolean(
        compute="_compute_insight_quality",
        store=True,
        readonly=True,
        help="The built unit (its serial) was scrapped.",
    )
    quality_failed = fields.Boolean(
        compute="_compute_insight_quality",
        store=True,
        readonly=True,
        help="An inspection of the unit failed or asked for a review.",
    )
    scrap_rate = fields.Float(
        string="Scrap Rate (%)",
        compute="_compute_insight_quality",
        store=True,
        aggregator="avg",
        readonly=True,
    )
    first_pass_yield = fields.Float(
        string="First-Pass Yield (%)",
        compute="_compute_insight_quality",
        store=True,
        aggregator="avg",
        readonly=True,
        help="Built units neither scrapped nor failed at inspection, in %.",
    )

    def init(self):
        res = super().init()
        # The report's default grouping: built units of a product, by date.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS pico_work_order_insight_idx
                ON pico_work_order (built_product_id, completed_at)
             WHERE state = 'done'
            """
        )
        return res

    # The units not built yet get their values in one assignment each: an order
    # of many units creates them all at once.
    @api.depends("state", "cycle_time", "started_at", "completed_at")
    def _compute_insight_actual(self):
        done = self.filtered(lambda unit: unit.state == "done")
        (self - done).actual_minutes = 0.0
        for unit in done:
            actual = insight.actual_minutes(
                unit.cycle_time, unit.started_at, unit.completed_at
            )
            unit.actual_minutes = actual or 0.0

    # Only the state: the standard in force when the unit was built is kept.
    @api.depends("state")
    def _compute_insight_standard(self):
        built = self.filtered(lambda unit: unit.state == "done" and unit.production_id)
        kept = (self - built).grouped(
            lambda unit: (unit.built_product_id, unit.standard_minutes or 0.0)
        )
        for (product, minutes), units in kept.items():
            units.update({"built_product_id": product, "standard_minutes": minutes})
        for unit in built:
            production = unit.production_id
            unit.built_product_id = production.product_id
            unit.standard_minutes = insight.standard_minutes(
                unit._pico_standard_operations()
            )

    def _pico_standard_operations(self):
        """The unit's BOM operations as core Operations (Odoo's own figures)."""
        self.ensure_one()
        production = self.production_id
        bom = production.bom_id
        product = production.product_id
        operations = []
        for operation in bom.operation_ids:
            if operation._skip_operation_line(product):
                continue
            workcenter = operation.workcenter_id
            capacity, _setup, _cleanup = workcenter._get_capacity(
                product, bom.product_uom_id, bom.product_qty or 1.0
            )
            operations.append(
                insight.Operation(
                    time_cycle=operation.time_cycle,
                    efficiency=workcenter.time_efficiency,
                    capacity=capacity,
                )
            )
        return operations

    @api.depends("actual_minutes", "standard_minutes")
    def _compute_insight_variance(self):
        # Without an actual time there is no variance (the loop below gives the
        # same values one unit at a time).
        unknown = self.filtered(lambda unit: not unit.actual_minutes)
        unknown.update(
            {
                "variance_minutes": 0.0,
                "variance_pct": 0.0,
                "slower_than_standard": False,
            }
        )
        for unit in self - unknown:
            actual = unit.actual_minutes
            diff, pct = insight.variance(actual, unit.standard_minutes)
            unit.variance_minutes = diff if actual and unit.standard_minutes else 0.0
            unit.variance_pct = pct or 0.0
            unit.slower_than_standard = bool(pct and pct > 0)

    @api.depends("state", "produced_lot_id", "produced_serial")
    def _compute_insight_quality(self):
        done = self.filtered(lambda unit: unit.state == "done")
        (self - done).update(
            {
                "scrapped": False,
                "quality_failed": False,
                "scrap_rate": 0.0,
                "first_pass_yield": 0.0,
            }
        )
        if not done:
            return
        lots = done.produced_lot_id
        scrapped_lots = set()
        failed_lots = set()
        failed_serials = set()
        if lots:
            scraps = (
                self.env["stock.scrap"]
                .sudo()
                .search([("lot_id", "in", lots.ids), ("state", "=", "done")])
            )
            scrapped_lots = set(scraps.lot_id.ids)
        serials = [s for s in done.mapped("produced_serial") if s]
        if lots or serials:
            results = (
                self.env["pico.quality.result"]
                .sudo()
                .search(
                    [
                        ("result", "in", QUALITY_NOT_PASSED),
                        "|",
                        ("lot_id", "in", lots.ids),
                        ("serial", "in", serials),
                    ]
                )
            )
            failed_lots = set(results.lot_id.ids)
            failed_serials = {
                (result.backend_id.id, result.serial)
                for result in results
                if result.serial
            }
        for unit in done:
            lot = unit.produced_lot_id.id
            scrapped = bool(lot and lot in scrapped_lots)
            failed = bool(lot and lot in failed_lots) or (
                (unit.backend_id.id, unit.produced_serial) in failed_serials
            )
            unit.scrapped = scrapped
            unit.quality_failed = failed
            unit.scrap_rate = 100.0 if scrapped else 0.0
            unit.first_pass_yield = 0.0 if scrapped or failed else 100.0

    @api.model
    def _pico_insight_touch(self, lots=None, serials=None, productions=None):
        """Recompute scrap and quality figures of the built units concerned, and
        rebuild the report's rows of their days."""
        alternatives = []
        if lots:
            alternatives.append([("produced_lot_id", "in", lots.ids)])
        if serials:
            alternatives.append([("produced_serial", "in", list(serials))])
        if productions:
            alternatives.append([("production_id", "in", productions.ids)])
        if not alternatives:
            return self.browse()
        units = self.sudo().search(
            Domain("state", "=", "done") & Domain.OR(alternatives)
        )
        for name in ("scrapped", "quality_failed", "scrap_rate", "first_pass_yield"):
            self.env.add_to_compute(self._fields[name], units)
        self.env["pico.unit.report"].sudo()._pico_refresh_units(units)
        return units
