# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from ..core import races

# Seconds the job engine waits before it rebuilds the days marked (one rebuild
# for the completions of those seconds).
REFRESH_JOB_DELAY = 5
# Ratio measures: computed from the sums of the rows grouped, never averaged
# averages (a day of one unit weighs one unit, not one day).
RATIOS = {
    "actual_minutes": "SUM({actual_total}) / NULLIF(SUM({units}), 0)",
    "standard_minutes": "SUM({standard_total}) / NULLIF(SUM({standard_units}), 0)",
    "variance_pct": "(SUM({actual_standard_total}) - SUM({standard_total})) * 100.0"
    " / NULLIF(SUM({standard_total}), 0)",
    "scrap_rate": "SUM({scrapped}) * 100.0 / NULLIF(SUM({units}), 0)",
    "first_pass_yield": "SUM({first_pass}) * 100.0 / NULLIF(SUM({units}), 0)",
}
SUMS = (
    "units",
    "actual_total",
    "standard_units",
    "standard_total",
    "actual_standard_total",
    "scrapped",
    "first_pass",
)


class PicoUnitReport(models.Model):
    """Units Pico built, per day, product, station and operator: the report table.

    One row sums the units of one day (UTC), product, station and operator, so a
    year of a busy line is a few thousand rows and any pivot of it answers at
    once; the ratios (average times, variance, scrap rate, first-pass yield) are
    computed from the sums of the rows grouped. Rows are rebuilt from the units'
    stored figures (pico.work.order) for the days of the units that changed: the
    step that changed them (the completion handler, a scrap or a quality result,
    `pico.work.order._pico_insight_touch`) marks the units, and the days marked
    are rebuilt after the work (`_pico_refresh_stale`).
    """

    _name = "pico.unit.report"
    _description = "Pico MES Units Built (report)"
    _order = "date desc, id desc"
    _rec_name = "date"

    date = fields.Date(string="Built On", readonly=True, index=True)
    backend_id = fields.Many2one("pico.backend", readonly=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    product_id = fields.Many2one("product.product", readonly=True, index=True)
    station = fields.Char(readonly=True)
    operator_id = fields.Many2one("pico.operator", readonly=True)
    units = fields.Integer(string="Units Built", readonly=True)
    actual_total = fields.Float(string="Actual (min, total)", readonly=True)
    standard_units = fields.Integer(string="Units with a Standard", readonly=True)
    standard_total = fields.Float(string="Standard (min, total)", readonly=True)
    actual_standard_total = fields.Float(
        string="Actual of Units with a Standard (min)", readonly=True
    )
    scrapped = fields.Integer(string="Units Scrapped", readonly=True)
    first_pass = fields.Integer(string="Units Right First Time", readonly=True)
    actual_minutes = fields.Float(
        string="Actual (min/unit)", readonly=True, aggregator="avg"
    )
    standard_minutes = fields.Float(
        string="Standard (min/unit)", readonly=True, aggregator="avg"
    )
    variance_pct = fields.Float(
        string="Variance (%)",
        readonly=True,
        aggregator="avg",
        help="(actual - standard) / standard over the units that have a standard. "
        "Positive: slower than standard.",
    )
    scrap_rate = fields.Float(string="Scrap Rate (%)", readonly=True, aggregator="avg")
    first_pass_yield = fields.Float(
        string="First-Pass Yield (%)", readonly=True, aggregator="avg"
    )

    def _read_group_select(self, aggregate_spec, query):
        name, _sep, _func = aggregate_spec.partition(":")
        if name not in RATIOS:
            return super()._read_group_select(aggregate_spec, query)
        columns = {
            column: self._field_to_sql(self._table, column, query) for column in SUMS
        }
        template = RATIOS[name].format(**{c: f"%({c})s" for c in SUMS})
        return SQL(template, **columns)

    # --- Refresh ----------------------------------------------------------------------
    @api.model
    def _pico_refresh_units(self, units):
        """Mark the days `units` were built on for a rebuild, done after this
        work by `_pico_refresh_stale`.

        Not here: a rebuild deletes and writes the rows of a whole day, so two
        completions of one day applied at the same time (two workers, two jobs)
        would wait for each other there, and the later one would lose its race.
        Each unit marks its own row instead; the queue rebuilds the days marked
        once its run ends (the scheduler, and a script or test), the job engine
        in a job of its own, and the insight cron every 15 minutes catches what
        a person changed (a scrap in the form).
        """
        units = units.filtered("completed_at")
        if not units:
            return
        # A completion marks its unit in the write that records it
        # (`_pico_record_completion`): no flush and no statement of its own.
        unmarked = units.filtered(lambda unit: not unit.report_stale)
        if unmarked:
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    "UPDATE pico_work_order SET report_stale = TRUE "
                    "WHERE id IN %s AND report_stale IS NOT TRUE",
                    tuple(unmarked.ids),
                )
            )
            unmarked.invalidate_recordset(["report_stale"])
        if any(unit.backend_id.executor == "queue_job" for unit in units):
            self._pico_refresh_job()

    @api.model
    def _pico_refresh_job(self):
        """One job of the job engine that rebuilds the days marked (none while
        one waits), due a few seconds from now: the completions of a burst are
        rebuilt together. A rebuild per completion rebuilt the whole day after
        every unit and took every other turn of the inbox's jobs (the drain of
        stored completions ran at half speed with one job worker)."""
        if "queue.job" not in self.env:
            return
        self.sudo().with_delay(
            eta=REFRESH_JOB_DELAY,
            channel="root.pico_inbox",
            identity_key="mrp_pico_mes:pico.unit.report",
            description=self.env._("Pico MES: rebuild the units report"),
            max_retries=0,
        )._pico_refresh_stale_job()

    def _pico_refresh_stale_job(self):
        """Job body: rebuild the days marked; another rebuild at work sends the
        job back to the engine a moment later."""
        from odoo.addons.queue_job.exception import RetryableJobError

        # A race lost to a unit's write sends the job back too (the engine
        # retries serialization failures): INFO, not ERROR (core/races.py).
        with races.retried_races("Pico units report rebuild"):
            rebuilt = self._pico_refresh_stale()
        if rebuilt is None:
            raise RetryableJobError("another rebuild is at work", seconds=2)
        return True

    @api.model
    def _pico_refresh_stale(self):
        """Rebuild the days of the units marked; return how many days (None when
        another transaction rebuilds now: it, or the next rebuild, takes them).

        One statement (after every queue run): the lock, the units marked, their
        days' rows deleted and built again from the units, the marks cleared. The
        parts of a WITH see one snapshot: the marks cleared are the marks read.
        """
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                """
            WITH locked AS (
                     SELECT pg_try_advisory_xact_lock(hashtextextended(%(lock)s, 0))
                            AS got),
                 marked AS (
                     SELECT u.id, (u.completed_at)::date AS date
                       FROM pico_work_order u, locked
                      WHERE locked.got AND u.report_stale
                        AND u.completed_at IS NOT NULL),
                 days AS (SELECT DISTINCT date FROM marked),
                 cleared AS (
                     UPDATE pico_work_order SET report_stale = FALSE
                      WHERE id IN (SELECT id FROM marked)),
                 deleted AS (
                     DELETE FROM pico_unit_report
                      WHERE date IN (SELECT date FROM days)),
                 inserted AS (%(insert)s)
            SELECT (SELECT got FROM locked), (SELECT count(*) FROM days)
            """,
                lock="mrp_pico_mes:unit-report",
                insert=self._pico_rows_sql(
                    SQL("(u.completed_at)::date IN (SELECT date FROM days)")
                ),
            )
        )
        got, days = cr.fetchone()
        if not got:
            return None
        if days:
            self.env["pico.work.order"].invalidate_model(["report_stale"])
            self.invalidate_model()
        return days

    @api.model
    def _pico_refresh(self, dates=None):
        """Rebuild the rows of `dates` (all days when None) from the units."""
        self.env.flush_all()
        where = SQL("TRUE") if dates is None else SQL("date IN %s", tuple(dates))
        unit_where = (
            SQL("TRUE")
            if dates is None
            else SQL("(u.completed_at)::date IN %s", tuple(dates))
        )
        cr = self.env.cr
        cr.execute(SQL("DELETE FROM pico_unit_report WHERE %s", where))
        cr.execute(self._pico_rows_sql(unit_where))
        self.invalidate_model()
        return True

    @api.model
    def _pico_rows_sql(self, unit_where):
        """INSERT of the report's rows summing the built units that `unit_where`
        (SQL on alias u, pico_work_order) selects."""
        return SQL(
            """
            INSERT INTO pico_unit_report (
                date, backend_id, company_id, product_id, station, operator_id,
                units, actual_total, standard_units, standard_total,
                actual_standard_total, scrapped, first_pass,
                actual_minutes, standard_minutes, variance_pct, scrap_rate,
                first_pass_yield, create_uid, write_uid, create_date, write_date)
            SELECT g.*,
                   g.actual_total / g.units,
                   COALESCE(g.standard_total / NULLIF(g.standard_units, 0), 0),
                   COALESCE((g.actual_standard_total - g.standard_total) * 100.0
                            / NULLIF(g.standard_total, 0), 0),
                   g.scrapped * 100.0 / g.units,
                   g.first_pass * 100.0 / g.units,
                   %(uid)s, %(uid)s, %(now)s, %(now)s
              FROM (
                SELECT (u.completed_at)::date, u.backend_id, u.company_id,
                       u.built_product_id, u.station, u.operator_id,
                       count(*),
                       SUM(u.actual_minutes),
                       count(*) FILTER (WHERE u.standard_minutes > 0),
                       COALESCE(SUM(u.standard_minutes)
                                FILTER (WHERE u.standard_minutes > 0), 0),
                       COALESCE(SUM(u.actual_minutes)
                                FILTER (WHERE u.standard_minutes > 0), 0),
                       count(*) FILTER (WHERE u.scrapped),
                       count(*) FILTER (WHERE NOT u.scrapped AND NOT u.quality_failed)
                  FROM pico_work_order u
                 WHERE u.state = 'done' AND u.completed_at IS NOT NULL
                   AND %(unit_where)s
              GROUP BY 1, 2, 3, 4, 5, 6
              ) AS g (date, backend_id, company_id, product_id, station,
                      operator_id, units, actual_total, standard_units,
                      standard_total, actual_standard_total, scrapped, first_pass)
            """,
            uid=self.env.uid,
            now=fields.Datetime.now(),
            unit_where=unit_where,
        )
