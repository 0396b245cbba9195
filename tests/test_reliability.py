# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Races between workers and nodes, and a restart: what dev/chaos.py found.

The concurrency tests work on committed rows through real connections (two
threads, each with its own cursor), as two Odoo workers or nodes would; each
removes its rows afterwards.
"""

import threading
import time
from functools import partial
from unittest.mock import patch

import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from ..core import inbox
from . import test_complete

TAGS = ("post_install", "-at_install", "pico_reliability")


class CommittedMixin:
    """Committed rows for real concurrent connections (from the completion tests)."""

    UNITS_PER_ORDER = 3
    ORDERS = 1

    _setup_committed = test_complete.TestConcurrentProcessors._setup_committed
    _cleanup = test_complete.TestConcurrentProcessors._cleanup

    def _committed(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            ids = self._setup_committed(env)
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, ids)
        return ids

    def _in_threads(self, targets, timeout=120):
        """Run each callable(env) in its own thread and cursor; return errors."""
        barrier = threading.Barrier(len(targets))
        errors = []

        def run(target):
            try:
                with self.registry.cursor() as cr:
                    # A deadlock between the two must fail the test, not hang it.
                    cr.execute("SET lock_timeout = '30s'")
                    # The runner holds the registry lock while tests run: give the
                    # cursor its transaction without asking for it.
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                    barrier.wait(timeout=30)
                    target(env)
            except Exception as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        self.assertFalse(any(thread.is_alive() for thread in threads), "hung")
        return errors

    def _drain(self, env, event_ids, seconds=60):
        """Process until every event is done (an event left to the other worker)."""
        events = env["pico.event"].browse(event_ids)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            env.invalidate_all()
            if all(event.state == "done" for event in events):
                break
            env["pico.event"]._pico_run(ids=event_ids, commit=True)
            time.sleep(0.2)
        env.invalidate_all()
        return events


@tagged(*TAGS)
class TestRaces(CommittedMixin, TransactionCase):
    def test_two_processors_on_one_order_log_nothing_above_info(self):
        """Two workers on the units of one MO: applied once each, no ERROR line.

        Work on one order is serialised by an advisory lock taken before the
        work; the other worker leaves that order's events and moves on.
        """
        ids = self._committed()
        event_ids = ids["events"]
        counts = []

        def process(env):
            counts.append(env["pico.event"]._pico_run(ids=event_ids, commit=True))

        with self.assertNoLogs("odoo", level="WARNING"):
            errors = self._in_threads([process, process])
            self.assertFalse(errors)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                events = self._drain(env, event_ids)
                self.assertEqual(set(events.mapped("state")), {"done"})
                widget = env["product.product"].browse(ids["products"][0])
                productions = env["mrp.production"].search(
                    [("product_id", "=", widget.id)]
                )
                self.assertEqual(set(productions.mapped("state")), {"done"})
                self.assertEqual(
                    sum(productions.mapped("qty_produced")), self.UNITS_PER_ORDER
                )
                # Each event applied once: no attempt lost a race and was retried.
                self.assertEqual(events.mapped("attempts"), [1] * len(events))

    def _cursor(self):
        cr = self.registry.cursor()
        cr.transaction = Transaction(self.registry)
        return cr, api.Environment(cr, SUPERUSER_ID, {})

    def test_concurrent_quantity_changes_of_one_order(self):
        """Two planners change one released MO's quantity at the same moment.

        Both would number new units from the same highest order index; the one
        that loses waits on the order's row and is retried by Odoo (as a request
        would be), never an integrity error shown to the user nor an ERROR line.
        """
        ids = self._committed()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            production = env["mrp.production"].search(
                [("product_id", "=", ids["products"][0])]
            )
            production_id = production.id
        tries = []

        def change(qty, env):
            # What Odoo does with a request (odoo.service.model.retrying), minus
            # the registry reload a test thread cannot do: a serialization failure
            # is rolled back and tried again; an integrity error is the user's.
            for _try in range(5):
                try:
                    wizard = env["change.production.qty"].create(
                        {"mo_id": production_id, "product_qty": qty}
                    )
                    wizard.change_prod_qty()
                    env.flush_all()
                    env.cr.commit()  # pylint: disable=invalid-commit
                    return
                except psycopg2.errors.SerializationFailure:
                    env.cr.rollback()
                    env.transaction.clear()
                    tries.append(qty)
                    time.sleep(0.2)
            raise AssertionError(f"quantity {qty} never applied")

        with self.assertNoLogs("odoo.sql_db", level="ERROR"):
            errors = self._in_threads([partial(change, 5), partial(change, 6)])
        self.assertFalse(errors, errors)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            production = env["mrp.production"].browse(production_id)
            self.assertIn(production.product_qty, (5, 6))
            units = production._pico_units()
            self.assertEqual(len(units), int(production.product_qty))
            indexes = production.pico_work_order_ids.mapped("order_index")
            self.assertEqual(len(indexes), len(set(indexes)))
        self.assertTrue(tries, "one change waited for the other and was retried")

    def test_concurrent_duplicate_deliveries_log_no_error(self):
        """The same completion stored by two nodes at once: one row, no ERROR."""
        ids = self._committed()
        payload = {
            "externalOrderId": "DUP#1",
            "orderIndex": 0,
            "at": "2026-11-22T11:00:00Z",
            "operation": {"id": "op-cc"},
            "operationSummary": {"cycleTime": 60000},
            "endState": {"producedSerial": "DUP-1"},
        }
        stored = threading.Event()
        results = []

        def first(env):
            backend = env["pico.backend"].browse(ids["backend"])
            intake = inbox.intake(inbox.COMPLETION, payload, backend.id)
            results.append(env["pico.event"]._pico_store(backend, intake, "webhook"))
            stored.set()
            # The second delivery now waits on this uncommitted row.
            time.sleep(1.0)
            env.cr.commit()  # pylint: disable=invalid-commit

        def second(env):
            backend = env["pico.backend"].browse(ids["backend"])
            intake = inbox.intake(inbox.COMPLETION, payload, backend.id)
            env["pico.event"].search_count([])  # this transaction's snapshot
            stored.wait(30)
            result = env["pico.event"]._pico_store(backend, intake, "webhook")
            results.append((result[0].id, result[1]))
            env.cr.commit()  # pylint: disable=invalid-commit

        with self.assertNoLogs("odoo.sql_db", level="ERROR"):
            errors = self._in_threads([first, second])
        self.assertFalse(errors, errors)
        (event, created), (other_id, other_created) = results
        self.assertTrue(created)
        self.assertFalse(other_created, "the second delivery is a duplicate")
        self.assertEqual(other_id, event.id, "answered with the stored event")
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM pico_event WHERE external_order_id = 'DUP#1'"
            )
            self.assertEqual(cr.fetchone()[0], 1)

    def test_downtime_reported_to_two_workers_is_one_stop(self):
        """A stop's start and end reports applied by two workers at once: one
        productivity record, closed, under the unique key of the stop."""
        ids = self._committed()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            backend = env["pico.backend"].browse(ids["backend"])
            workcenter = env["mrp.workcenter"].create(
                {"name": "Reliability press", "code": "REL-PRESS"}
            )
            loss = env["mrp.workcenter.productivity.loss"].search(
                [("loss_type", "=", "availability")], limit=1
            )
            env["pico.loss.reason"].create(
                {"backend_id": backend.id, "code": "JAM", "loss_id": loss.id}
            )
            start = {
                "eventId": "stop-1-start",
                "workcenterCode": "REL-PRESS",
                "reasonCode": "JAM",
                "start": "2026-11-22T09:00:00Z",
            }
            end = dict(start, eventId="stop-1-end", end="2026-11-22T09:12:00Z")
            events = env["pico.event"]
            for data in (start, end):
                intake = inbox.intake(inbox.DOWNTIME, data, backend.id)
                events |= events._pico_store(backend, intake, "mqtt")[0]
            event_ids = events.ids
            workcenter_id = workcenter.id
            cr.commit()  # pylint: disable=invalid-commit

        def cleanup():
            with self.registry.cursor() as cr:
                cr.execute(
                    "DELETE FROM mrp_workcenter_productivity WHERE workcenter_id = %s",
                    [workcenter_id],
                )
                cr.execute("DELETE FROM mrp_workcenter WHERE id = %s", [workcenter_id])

        self.addCleanup(cleanup)
        productivity = self.registry["mrp.workcenter.productivity"]
        create = productivity.create

        def slow_create(model, vals):
            # Widens the window between looking for the stop and recording it.
            time.sleep(0.5)
            return create(model, vals)

        def process(env):
            env["pico.event"]._pico_run(ids=event_ids, commit=True)

        with (
            patch.object(productivity, "create", slow_create),
            self.assertNoLogs("odoo", level="WARNING"),
        ):
            errors = self._in_threads([process, process])
            self.assertFalse(errors, errors)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                events = self._drain(env, event_ids)
                self.assertEqual(events.mapped("state"), ["done", "done"])
                stops = env["mrp.workcenter.productivity"].search(
                    [("workcenter_id", "=", workcenter_id)]
                )
                self.assertEqual(len(stops), 1, "one record per stop")
                self.assertEqual(
                    stops.date_end, fields.Datetime.to_datetime("2026-11-22 09:12")
                )

    def test_status_written_by_two_crons_logs_no_error(self):
        """The catch-up and the MQTT subscriber (two nodes) write the backend's
        run status at once: the later one skips it, without an ERROR line."""
        ids = self._committed()
        with self.registry.cursor() as mqtt_cr, self.registry.cursor() as catch_cr:
            catch_env = api.Environment(catch_cr, SUPERUSER_ID, {})
            catch_up = catch_env["pico.backend"].browse(ids["backend"])
            # This transaction's snapshot starts with its first query.
            catch_up.fetch(["name"])
            mqtt_env = api.Environment(mqtt_cr, SUPERUSER_ID, {})
            subscriber = mqtt_env["pico.backend"].browse(ids["backend"])
            self.assertTrue(
                subscriber._pico_write_status(
                    {"mqtt_last_run_at": fields.Datetime.now()}
                )
            )
            mqtt_cr.commit()  # pylint: disable=invalid-commit
            with self.assertNoLogs("odoo.sql_db", level="ERROR"):
                written = catch_up._pico_write_status(
                    {"completions_checked_at": fields.Datetime.now()}
                )
            self.assertFalse(written, "skipped: the row changed since the snapshot")
            catch_cr.rollback()
            self.assertTrue(
                catch_up._pico_write_status(
                    {"completions_checked_at": fields.Datetime.now()}
                )
            )

    def test_send_outcome_racing_a_planner_updates_the_unit_after_all(self):
        """A planner changes a unit while the sender records a send of it: the
        unit's follow-up is done again on fresh data, without an ERROR line."""
        ids = self._committed()
        with (
            self.registry.cursor() as sender_cr,
            self.registry.cursor() as planner_cr,
        ):
            sender_env = api.Environment(sender_cr, SUPERUSER_ID, {})
            unit = sender_env["pico.work.order"].search(
                [("backend_id", "=", ids["backend"])], limit=1
            )
            exchange = sender_env["pico.exchange"]._pico_enqueue(
                [
                    {
                        "backend_id": ids["backend"],
                        "work_order_id": unit.id,
                        "kind": "save",
                        "operation_pico_id": unit.operation_pico_id,
                        "external_order_id": unit.external_order_id,
                        "order_index": unit.order_index,
                        "request": "{}",
                    }
                ]
            )
            sender_cr.commit()  # pylint: disable=invalid-commit
            # The sender's snapshot starts with its first query.
            unit.fetch(["last_error"])
            planner = api.Environment(planner_cr, SUPERUSER_ID, {})
            planner["pico.work.order"].browse(unit.id).write({"station": "Line 9"})
            planner_cr.commit()  # pylint: disable=invalid-commit
            exchange.write({"state": "retry_wait", "error": "Pico answered 503"})
            with self.assertNoLogs("odoo", level="ERROR"):
                self.assertFalse(exchange._pico_follow_up(), "to do again")
            sender_cr.commit()  # pylint: disable=invalid-commit
            self.assertTrue(exchange._pico_follow_up())
            sender_cr.commit()  # pylint: disable=invalid-commit
            unit.invalidate_recordset()
            self.assertEqual(unit.last_error, "Pico answered 503")
            self.assertEqual(unit.station, "Line 9")

    def test_one_cron_run_applies_the_backlog_not_one_event(self):
        """Odoo 19 tells a cron run the time left of a 10 s budget: the run keeps
        applying events while some is left, instead of one event per run (each
        next run waiting for a wake-up)."""
        ids = self._committed()
        cron_model = type(self.env["ir.cron"])
        with (
            self.registry.cursor() as cr,
            # What ir.cron._commit_progress answers early in a run under Odoo 19.
            patch.object(cron_model, "_commit_progress", return_value=9.5),
        ):
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            # As the cron runs it, committing after each event.
            applied = env["pico.event"]._pico_run(commit=True)
            self.assertEqual(applied, len(ids["events"]))
            events = env["pico.event"].browse(ids["events"])
            self.assertEqual(set(events.mapped("state")), {"done"})

    def test_stop_key_is_unique(self):
        """Whoever records a stop, the database keeps one record per stop key."""
        workcenter = self.env["mrp.workcenter"].create(
            {"name": "Key press", "code": "KEY-PRESS"}
        )
        loss = self.env["mrp.workcenter.productivity.loss"].search([], limit=1)
        vals = {
            "workcenter_id": workcenter.id,
            "loss_id": loss.id,
            "date_start": "2026-11-22 09:00:00",
            "pico_stop_key": f"1:{workcenter.id}:2026-11-22 09:00:00",
        }
        self.env["mrp.workcenter.productivity"].create(vals)
        with (
            self.assertRaises(psycopg2.errors.UniqueViolation),
            self.cr.savepoint(),
            mute_logger("odoo.sql_db"),
        ):
            self.env["mrp.workcenter.productivity"].create(vals)


@tagged(*TAGS)
class TestRestartAndFailures(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Restart Pico",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "release_trigger": "manual",
            }
        )
        cls.cron = cls.env.ref("mrp_pico_mes.ir_cron_pico_event_process")

    def _triggers(self):
        return self.env["ir.cron.trigger"].search(
            [
                ("cron_id", "=", self.cron.id),
                ("call_at", "<=", fields.Datetime.now()),
            ]
        )

    def test_processor_run_stops_in_time_and_triggers_the_next(self):
        """A processor cron run ends after its time budget, however long the
        backlog, and triggers the next run: Odoo restarts a server whose cron
        thread exceeds limit_time_real (found by dev/chaos.py on a slow machine)."""
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        events = self.env["pico.event"]
        for number in range(3):
            intake = inbox.intake(
                inbox.DOWNTIME,
                {
                    "workcenterCode": "NONE",
                    "reasonCode": "Y",
                    "start": f"2026-11-22T09:0{number}:00Z",
                },
                self.backend.id,
            )
            events |= events._pico_store(self.backend, intake, "mqtt")[0]
        self.assertEqual(events._cron_process_events(seconds=0), 0)
        self.assertEqual(set(events.mapped("state")), {"received"})
        self.assertTrue(self._triggers(), "the next run is due at once")
        self.assertEqual(events._cron_process_events(), 3)

    def _sending(self, number):
        exchange = self.env["pico.exchange"]._pico_enqueue(
            [
                {
                    "backend_id": self.backend.id,
                    "kind": "save",
                    "operation_pico_id": "op-x",
                    "external_order_id": f"KILLED#{number}",
                    "order_index": 0,
                    "request": "{}",
                }
            ]
        )
        self.env.flush_all()
        # As a sender killed during the call left it, 30 s ago.
        self.env.cr.execute(
            "UPDATE pico_exchange SET state = 'sending', attempts = 1, "
            "sending_since = (now() AT TIME ZONE 'UTC') - interval '30 seconds' "
            "WHERE id = %s",
            [exchange.id],
        )
        exchange.invalidate_recordset()
        return exchange

    def test_send_of_a_killed_node_is_taken_up_at_once(self):
        """A `sending` row whose sender died goes back to the queue within
        seconds, not after stuck_after (10 minutes); one a live sender holds
        (its advisory lock) stays where it is."""
        orphan, live = self._sending(1), self._sending(2)
        events = self.env["pico.event"]
        with self.registry.cursor() as other:
            # Another node, alive, in the middle of sending `live`.
            env = api.Environment(other, SUPERUSER_ID, {})
            self.assertTrue(env["pico.event"]._pico_try_locks(live._pico_lock_keys()))
            try:
                self.env["pico.exchange"]._pico_sweep_stuck()
            finally:
                env["pico.event"]._pico_unlock(live._pico_lock_keys())
        self.assertNotEqual(orphan.state, "sending")
        self.assertEqual(live.state, "sending")
        self.assertTrue(events._pico_try_locks(live._pico_lock_keys()))
        events._pico_unlock(live._pico_lock_keys())

    def test_shopfloor_failure_reaches_its_order(self):
        """A shop-floor event that fails still names its MO, and the MO says so."""
        product = self.env["product.product"].create(
            {"name": "Reliability widget", "is_storable": True}
        )
        production = self.env["mrp.production"].create(
            {"product_id": product.id, "product_qty": 1}
        )
        intake = inbox.intake(
            inbox.SCRAP,
            {
                "productionRef": production.name,
                "partNumber": "NO-SUCH-PART",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-22T09:00:00Z",
            },
            self.backend.id,
        )
        event, _created = self.env["pico.event"]._pico_store(
            self.backend, intake, "mqtt"
        )
        event._pico_run(ids=event.ids, commit=False)
        self.assertEqual(event.state, "failed")
        self.assertIn("NO-SUCH-PART", event.error)
        self.assertEqual(event.production_id, production)
        self.assertIn(
            "NO-SUCH-PART", " ".join(production.message_ids.mapped("body") or [""])
        )
