# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models, tools


class PicoConsumptionReport(models.Model):
    """Component consumption against the bill of materials, per built order.

    One row per closed manufacturing order built in Pico and component: what the
    BOM expects for the quantity produced, what was consumed (serials Pico
    reported, backflush, consumption events) and what was scrapped. Where the
    quantities come from, and why completions alone never make them differ, is in
    docs/INSIGHT.md.
    """

    _name = "pico.consumption.report"
    _description = "Pico Consumption Variance"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "production_id"
    _depends = {
        "stock.move": [
            "raw_material_production_id",
            "product_id",
            "bom_line_id",
            "product_uom",
            "quantity",
            "state",
            "scrap_id",
        ],
        "mrp.production": [
            "product_id",
            "product_qty",
            "company_id",
            "date_finished",
            "state",
        ],
        "mrp.bom.line": ["product_qty", "bom_id"],
        "mrp.bom": ["product_qty"],
        "pico.work.order": ["production_id"],
    }

    production_id = fields.Many2one(
        "mrp.production", string="Manufacturing Order", readonly=True
    )
    product_id = fields.Many2one("product.product", readonly=True)
    component_id = fields.Many2one("product.product", readonly=True)
    uom_id = fields.Many2one("uom.uom", string="Unit", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Datetime(string="Closed On", readonly=True)
    on_bom = fields.Boolean(string="On the BOM", readonly=True)
    expected_qty = fields.Float(string="Expected", readonly=True)
    consumed_qty = fields.Float(string="Consumed", readonly=True)
    scrapped_qty = fields.Float(string="Scrapped", readonly=True)
    variance_qty = fields.Float(
        string="Variance",
        readonly=True,
        help="Consumed + scrapped - expected by the BOM.",
    )
    variance_pct = fields.Float(string="Variance (%)", readonly=True, aggregator="avg")
    differs = fields.Boolean(string="Differs from BOM", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE OR REPLACE VIEW {self._table} AS (
            WITH lines AS (
                SELECT MIN(m.id) AS id,
                       p.id AS production_id,
                       p.product_id,
                       p.company_id,
                       p.date_finished AS date,
                       m.product_id AS component_id,
                       m.product_uom AS uom_id,
                       bool_or(m.bom_line_id IS NOT NULL) AS on_bom,
                       COALESCE(
                           MAX(bl.product_qty / NULLIF(b.product_qty, 0))
                           * MAX(p.product_qty),
                           0
                       ) AS expected_qty,
                       SUM(CASE WHEN m.scrap_id IS NULL
                                THEN m.quantity ELSE 0 END) AS consumed_qty,
                       SUM(CASE WHEN m.scrap_id IS NOT NULL
                                THEN m.quantity ELSE 0 END) AS scrapped_qty
                  FROM stock_move m
                  JOIN mrp_production p ON p.id = m.raw_material_production_id
             LEFT JOIN mrp_bom_line bl ON bl.id = m.bom_line_id
             LEFT JOIN mrp_bom b ON b.id = bl.bom_id
                 WHERE m.state = 'done'
                   AND p.state = 'done'
                   AND EXISTS (
                       SELECT 1 FROM pico_work_order u WHERE u.production_id = p.id
                   )
              GROUP BY p.id, m.product_id, m.product_uom
            )
            SELECT lines.*,
                   consumed_qty + scrapped_qty - expected_qty AS variance_qty,
                   CASE WHEN expected_qty > 0
                        THEN (consumed_qty + scrapped_qty - expected_qty)
                             * 100.0 / expected_qty
                        ELSE 0 END AS variance_pct,
                   ABS(consumed_qty + scrapped_qty - expected_qty) > 0.00001
                       AS differs
              FROM lines
            )
            """
        )
