# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What keeps the cost of the work flat (backorders of big orders), and what the
cheaper paths still do exactly (issue 24: processing at Odoo's own cost)."""

import markupsafe

from odoo.tests import tagged
from odoo.tools import SQL

from ..core import inbox, outbox
from .common import PicoCase
from .test_complete import CompletionMixin

PROCESSOR = "mrp_pico_mes.ir_cron_pico_event_process"
SENDER = "mrp_pico_mes.ir_cron_pico_exchange_send"
REPORT_LOCK = "mrp_pico_mes:unit-report"


class _RolledBack(Exception):
    pass


class CostMixin(CompletionMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    def _mo(self, qty=1):
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": qty}
        )
        production.action_confirm()
        self.env["pico.exchange"].sudo()._pico_run()
        return production

    def _process(self):
        count = self.env["pico.event"]._pico_run()
        self.env.invalidate_all()
        return count

    def _store(self, production, index, serial, motor, fc, **extra):
        """Store Pico's completion of one unit of `production`; return the event."""
        completion = self.simulator.complete_order(
            self._external_id(production),
            index,
            operationId="op-drone",
            **self._completion_fields(serial, motor, fc, **extra),
        )
        body = self._webhook_body(completion)
        intake = inbox.intake(inbox.COMPLETION, body, self.backend.id)
        event, _created = (
            self.env["pico.event"].sudo()._pico_store(self.backend, intake, "webhook")
        )
        return event


@tagged("post_install", "-at_install", "pico_cost")
class TestBigOrderBackorders(CostMixin, PicoCase):
    def _complete(self, production, index, serial, motor, fc):
        self._store(production, index, serial, motor, fc)
        self.assertEqual(self._process(), 1)

    def test_backorders_get_no_line_per_serial_and_still_produce(self):
        """Each completion splits the rest off without one move line per unit."""
        production = self._mo(qty=3)
        finished = production.move_finished_ids.filtered(
            lambda m: m.product_id == self.drone
        )
        self.assertEqual(len(finished.move_line_ids), 3, "Odoo's own at confirm")

        self._complete(production, 0, "DR-3001", "M-1", "F-1")
        backorder = self._group(production) - production
        self.assertEqual(backorder.product_qty, 2)
        backorder_finished = backorder.move_finished_ids.filtered(
            lambda m: m.product_id == self.drone
        )
        self.assertFalse(backorder_finished.move_line_ids)

        self._complete(production, 1, "DR-3002", "M-2", "F-2")
        self._complete(production, 2, "DR-3003", "M-3", "F-3")
        group = self._group(production)
        self.assertEqual(len(group), 3)
        self.assertEqual(set(group.mapped("state")), {"done"})
        self.assertEqual(
            sorted(group.lot_producing_ids.mapped("name")),
            ["DR-3001", "DR-3002", "DR-3003"],
        )
        for lot in group.lot_producing_ids:
            self.assertEqual(self._on_hand(self.drone, lot), 1)
        self.assertEqual(self._on_hand(self.drone), 3)


@tagged("post_install", "-at_install", "pico_cost", "pico_scale")
class TestSameEffectsCheaper(CostMixin, PicoCase):
    """The processing and the confirm cost less (issue 24) and do the same."""

    def test_a_refused_count_names_the_line_and_its_consumed_serial(self):
        """The names of a refusal are looked up for it alone, and still there."""
        production = self._mo()
        serials = [
            {"externalId": "MOTOR-220", "value": "M-1"},
            {"externalId": "MOTOR-220", "value": "M-2"},
            {"externalId": "FC-330", "value": "F-1"},
        ]
        event = self._store(
            production, 0, "DR-4001", "M-1", "F-1", consumedSerials=serials
        )
        self._process()
        self.assertEqual(event.state, "failed")
        attribute = self._attribute(self._operation("op-drone"), "attr-motor")
        self.assertIn(
            f"Component {self.motor.display_name} needs 1 serial number(s) per "
            f"build, but Pico reported 2 for consumed serial "
            f"{attribute.display_name}.",
            event.error,
        )
        self.assertEqual(production.state, "confirmed")

    def test_the_first_reported_serial_at_fault_is_the_one_named(self):
        """Serials are checked in Pico's order, whatever the look-ups' order."""
        quarantine = self.env["stock.location"].create(
            {
                "name": "Quarantine",
                "usage": "internal",
                "location_id": self.stock.location_id.id,
            }
        )
        quants = self.env["stock.quant"]
        motor = self.lots["M-1"]
        quants._update_available_quantity(self.motor, self.stock, -1, lot_id=motor)
        quants._update_available_quantity(self.motor, quarantine, 1, lot_id=motor)
        production = self._mo()
        event = self._store(production, 0, "DR-4002", "M-1", "F-99")
        self._process()
        self.assertEqual(event.state, "failed")
        self.assertIn(f"is in {quarantine.display_name}", event.error)
        self.assertIn("M-1", event.error)
        self.assertNotIn("F-99", event.error)
        # Back in stock: the next serial at fault is the unknown controller.
        quants._update_available_quantity(self.motor, quarantine, -1, lot_id=motor)
        quants._update_available_quantity(self.motor, self.stock, 1, lot_id=motor)
        event.action_retry()
        self._process()
        self.assertEqual(event.state, "failed")
        self.assertIn("does not know that lot/serial number", event.error)
        self.assertIn("F-99", event.error)
        controller = self._put_in_stock(self.fc, lot_names=["F-99"])["F-99"]
        event.action_retry()
        self._process()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(
            (self._on_hand(self.motor, motor), self._on_hand(self.fc, controller)),
            (0, 0),
        )
        self.assertEqual(self._on_hand(self.drone), 1)

    def test_a_completion_marks_the_order_and_its_report_day(self):
        """The event names its order, the unit is recorded, the day is counted."""
        production = self._mo()
        event = self._store(production, 0, "DR-4003", "M-1", "F-1")
        self.assertEqual(self._process(), 1)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(event.production_id, production)
        unit = production.pico_work_order_ids
        self.assertEqual(
            (unit.state, unit.produced_serial, unit.station, unit.cycle_time),
            ("done", "DR-4003", "Line 1 / St 3", 10.0),
        )
        self.assertEqual(unit.operator_id.name, "Dana Ruiz")
        self.assertEqual(unit.completion_event_id, event)
        self.assertEqual(str(unit.started_at), "2026-11-22 09:50:00")
        self.assertFalse(unit.report_stale)
        row = self.env["pico.unit.report"].search([("product_id", "=", self.drone.id)])
        self.assertEqual((row.units, row.actual_minutes), (1, 10.0))
        self.assertTrue(
            any(
                "Pico built unit" in body
                for body in production.message_ids.mapped("body")
            )
        )

    def test_the_report_is_the_body_of_odoos_done_message(self):
        """With Odoo's tracking on, what Pico reported is the body of the MO's
        "MO Done" message (one chatter entry per unit built), not a note apart."""
        context = dict(self.env.context)
        context.pop("tracking_disable", None)
        env = self.env(context=context)
        production = self._mo().with_env(env)
        event = self._store(production, 0, "DR-4006", "M-1", "F-1")
        before = production.message_ids
        self.assertEqual(env["pico.event"]._pico_run(), 1)
        # What the commit does: Odoo's tracking posts its messages.
        env.flush_all()
        env.cr.precommit.run()
        production.invalidate_recordset()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")
        reports = (production.message_ids - before).filtered(
            lambda message: "Pico built unit" in message.body
        )
        self.assertEqual(len(reports), 1)
        self.assertEqual(reports.subtype_id, self.env.ref("mrp.mrp_mo_in_done"))
        self.assertIn(
            "state",
            reports.tracking_value_ids.field_id.mapped("name"),
            "the status it closed",
        )
        for reported in ("DR-4006", "Line 1 / St 3", "Dana Ruiz", "M-1", "F-1"):
            self.assertIn(reported, reports.body)
        self.assertIn(str(markupsafe.escape(event.result)), str(reports.body))

    def test_a_confirm_queues_each_unit_in_the_backends_company(self):
        """Units and their saves: one each, numbered, of the backend's company."""
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": 3}
        )
        production.action_confirm()
        units = production.pico_work_order_ids.sorted("order_index")
        self.assertEqual(units.mapped("order_index"), [0, 1, 2])
        self.assertEqual(units.company_id, self.backend.company_id)
        saves = units.exchange_ids
        self.assertEqual(len(saves), 3)
        self.assertEqual(saves.company_id, self.backend.company_id)
        self.assertEqual(saves.work_order_id, units)
        # Not built yet: no figures.
        self.assertEqual(
            {
                (
                    bool(unit.built_product_id),
                    unit.actual_minutes,
                    unit.standard_minutes,
                    unit.variance_pct,
                    unit.slower_than_standard,
                    unit.scrapped,
                    unit.first_pass_yield,
                )
                for unit in units
            },
            {(False, 0.0, 0.0, 0.0, False, False, 0.0)},
        )


@tagged("post_install", "-at_install", "pico_cost", "pico_scale")
class TestUnitsInsertedAsTheOrmMadeThem(CostMixin, PicoCase):
    """Units and their saves are inserted in one statement (issue 24): every
    column of every row is what the ORM's create of the same values made, the
    cache and the MO's computes follow, the executor and held completions are
    woken."""

    def _columns(self, table, column, ids):
        """Every column of the rows whose `column` is in `ids`, in the order of
        the units, with the ids of the new rows left out."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT * FROM %s WHERE %s IN %s ORDER BY order_index",
                SQL.identifier(table),
                SQL.identifier(column),
                tuple(ids),
            )
        )
        return [
            {key: value for key, value in row.items() if key not in ("id", column)}
            for row in self.env.cr.dictfetchall()
        ]

    def _rows(self, units):
        return (
            self._columns("pico_work_order", "id", units.ids),
            self._columns("pico_exchange", "work_order_id", units.ids),
        )

    def _orm_units(self, order, count, production, lots):
        """The reference: the ORM's create of the units, then of their saves,
        with the values the creation gave them before it was set-based."""
        operation = self._operation("op-drone")
        units = (
            self.env["pico.work.order"]
            .sudo()
            .create(
                [
                    {
                        "backend_id": self.backend.id,
                        "production_id": production.id if production else False,
                        "operation_id": operation.id,
                        "operation_pico_id": operation.pico_id,
                        "external_order_id": order,
                        "order_index": index,
                        "manual": not production,
                        "reserved_lot_id": lot.id if lot else False,
                        "reserved_serial": lot.name if lot else False,
                    }
                    for index, lot in enumerate(lots + [None] * (count - len(lots)))
                ]
            )
        )
        units._pico_queue(outbox.SAVE)
        return units

    def _both_ways(self, count, production=None, lots=()):
        """(rows inserted, rows the ORM made) for the same units."""
        # A name JSON must escape: the request is the same text either way.
        order = 'ORDER-"\u00e9"\\1'
        try:
            with self.env.cr.savepoint():
                units = self.env["pico.work.order"]._pico_create_units(
                    self.backend,
                    self._operation("op-drone"),
                    order,
                    count,
                    production=production,
                    lots=list(lots),
                )
                self.assertEqual(units.mapped("order_index"), list(range(count)))
                for unit in units:
                    self.assertEqual(
                        unit.exchange_ids.request,
                        unit._prepare_pico_request(outbox.SAVE),
                    )
                inserted = self._rows(units)
                raise _RolledBack
        except _RolledBack:
            self.env.invalidate_all(flush=False)
        reference = self._rows(self._orm_units(order, count, production, list(lots)))
        return inserted, reference

    def test_every_column_is_the_orms_for_an_mo_with_reserved_serials(self):
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": 3}
        )
        lots = self.env["stock.lot"].create(
            [
                {"name": name, "product_id": self.drone.id}
                for name in ('SN-"1"-\u00e9', "SN-2")
            ]
        )
        inserted, reference = self._both_ways(3, production, lots)
        self.assertEqual(len(inserted[0]), 3)
        self.assertEqual(inserted, reference)
        self.assertIn(
            '"reservedSerialNumber": "SN-\\"1\\"-\\u00e9"', inserted[1][0]["request"]
        )

    def test_every_column_is_the_orms_for_a_manual_order(self):
        inserted, reference = self._both_ways(2)
        self.assertEqual(len(inserted[1]), 2)
        self.assertEqual(inserted, reference)

    def test_the_mo_sees_its_new_units_and_more_are_numbered_after(self):
        """Read before, the MO's units, status and counts are new after, without
        an invalidation; a second creation numbers after the first."""
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": 3}
        )
        self.assertEqual(
            (production.pico_work_order_count, production.pico_state),
            (0, False),
        )
        self.assertFalse(production.pico_work_order_ids)
        model = self.env["pico.work.order"]
        operation = self._operation("op-drone")
        first = model._pico_create_units(
            self.backend, operation, "ORDER-2", 2, production=production
        )
        second = model._pico_create_units(
            self.backend, operation, "ORDER-2", 1, production=production
        )
        self.assertEqual(production.pico_work_order_ids, first | second)
        self.assertEqual((second.order_index, second.state), (2, "queued"))
        self.assertEqual(
            (
                production.pico_work_order_count,
                production.pico_exchange_count,
                production.pico_state,
            ),
            (3, 3, "queued"),
        )
        self.assertEqual(second.exchange_ids.state, "pending")

    def test_a_confirm_wakes_the_sender_and_the_held_completions(self):
        """The rows inserted are dispatched (the sender's trigger) and the held
        completions of the order are due at once, then applied."""
        self.backend.retry_base_delay = 600
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": 1}
        )
        event = self._store(production, 0, "DR-4005", "M-1", "F-1")
        self._process()
        self.assertEqual(event.state, "held")
        self.assertTrue(event.next_attempt_at)
        triggers = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref(SENDER).id)]
        )
        production.action_confirm()
        self.assertTrue(
            self.env["ir.cron.trigger"].search(
                [("cron_id", "=", self.env.ref(SENDER).id)]
            )
            - triggers,
            "the sender is woken up at once",
        )
        self.assertFalse(event.next_attempt_at)
        self.env["pico.exchange"].sudo()._pico_run()
        self.assertEqual(production.pico_work_order_ids.state, "sent")
        self.assertEqual(self._process(), 1)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")


@tagged("post_install", "-at_install", "pico_cost", "pico_scale")
class TestReportRebuiltElsewhere(CostMixin, PicoCase):
    """A class of its own: a rebuild's lock lasts until its transaction ends, and
    the tests of a class share one (each rolls back to a savepoint)."""

    def test_a_rebuild_at_work_elsewhere_leaves_the_marks_for_the_next(self):
        """While another transaction rebuilds the report, the days stay marked."""
        production = self._mo()
        self._store(production, 0, "DR-4004", "M-1", "F-1")
        report = self.env["pico.unit.report"].sudo()
        with self.registry.cursor() as other:
            other.execute(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
                [REPORT_LOCK],
            )
            self.assertTrue(other.fetchone()[0], "no rebuild ran in this class yet")
            self.assertEqual(self._process(), 1)
            unit = production.pico_work_order_ids
            self.assertEqual(unit.state, "done")
            self.assertTrue(unit.report_stale)
            self.assertIsNone(report._pico_refresh_stale())
            self.assertFalse(report.search([("product_id", "=", self.drone.id)]))
        self.assertEqual(report._pico_refresh_stale(), 1)
        unit.invalidate_recordset()
        self.assertFalse(unit.report_stale)
        row = report.search([("product_id", "=", self.drone.id)])
        self.assertEqual((row.units, row.actual_minutes), (1, 10.0))
