# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The two executors: Odoo's scheduler and OCA's queue_job run the same rows.

The job-engine tests need the module queue_job installed in the test database
(dev/run-tests installs it wherever odoo-addon-queue-job is importable); without
it they skip, and the tests of the scheduler and of the refused choice still run.
"""

import contextlib
import logging
import threading
import time
from datetime import timedelta
from unittest.mock import patch

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api, sql_db
from odoo.exceptions import ValidationError
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

from ..core import inbox
from ..models.pico_queue import LOCK_NAMESPACE
from .common import PicoCase
from .test_complete import CompletionMixin
from .test_reliability import CommittedMixin

TAGS = ("post_install", "-at_install", "pico_queue_job")


def _perform(env, job):
    """Run a stored job as the engine's /queue_job/runjob does (without the
    commit): its result, or the exception it raised."""
    from odoo.addons.queue_job.job import Job

    loaded = Job.load(env, job.uuid)
    loaded.set_started()
    loaded.store()
    return loaded.perform()


def _perform_and_postpone(env, job):
    """Run a stored job that its engine sends back (RetryableJobError), and
    postpone it as /queue_job/runjob does; the seconds it asked to wait."""
    from odoo.addons.queue_job.exception import RetryableJobError
    from odoo.addons.queue_job.job import Job

    loaded = Job.load(env, job.uuid)
    loaded.set_started()
    loaded.store()
    try:
        loaded.perform()
    except RetryableJobError as exc:
        loaded.postpone(result=str(exc), seconds=exc.seconds)
        loaded.set_pending(reset_retry=False)
        loaded.store()
        job.invalidate_recordset()
        return exc.seconds
    raise AssertionError("the job was not sent back")


class JobsMixin:
    def _need_queue_job(self):
        if "queue.job" not in self.env:
            self.skipTest("queue_job is not installed in this database")

    def _jobs(self, rows):
        jobs = self.env["queue.job"]
        for row in rows:
            identity = row._pico_job_identity()
            jobs |= jobs.search(
                [
                    "|",
                    ("identity_key", "=", identity),
                    ("identity_key", "=like", f"{identity}@%"),
                ]
            )
        return jobs.sorted("id")

    def _triggers(self, xmlid):
        cron = self.env.ref(xmlid)
        return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])


@tagged(*TAGS)
class TestExecutors(JobsMixin, CompletionMixin, PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    def _mo(self, qty=1):
        # Confirmed, its orders left in the outbox for the executor.
        return self.make_mo(qty=qty, send=False)

    def _store_completion(self, production, index, serial, motor, fc):
        completion = self.simulator.complete_order(
            self._external_id(production),
            index,
            operationId="op-drone",
            **self._completion_fields(serial, motor, fc),
        )
        intake = inbox.intake(
            inbox.COMPLETION, self._webhook_body(completion), self.backend.id
        )
        event, created = (
            self.env["pico.event"].sudo()._pico_store(self.backend, intake, "webhook")
        )
        self.assertTrue(created)
        event._pico_dispatch()
        return event

    def test_the_choice_is_refused_without_queue_job(self):
        """Without queue_job the backend refuses the job engine, naming the field;
        rows of a backend whose engine was uninstalled go to the scheduler."""
        queue = type(self.env["pico.queue"])
        with patch.object(queue, "_pico_queue_job_available", return_value=False):
            with self.assertRaisesRegex(ValidationError, "Run Events and Exchanges"):
                self.backend.executor = "queue_job"
            self.env.flush_all()
            # As if the module had been uninstalled after the choice.
            self.env.cr.execute(
                "UPDATE pico_backend SET executor = 'queue_job' WHERE id = %s",
                [self.backend.id],
            )
            self.backend.invalidate_recordset(["executor"])
            self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send").unlink()
            self._mo()
            self.assertTrue(
                self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send"),
                "the scheduler sends them",
            )

    def test_sender_on_each_executor(self):
        """The same confirm sends its units through either executor."""
        self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send").unlink()
        first = self._mo()
        exchanges = self.env["pico.exchange"].search([("production_id", "=", first.id)])
        self.assertTrue(self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send"))
        self._need_queue_job()
        self.assertFalse(self._jobs(exchanges), "no job on the scheduler")
        self.env["pico.exchange"]._pico_run()
        self.assertEqual(exchanges.mapped("state"), ["done"])

        self.backend.executor = "queue_job"
        self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send").unlink()
        second = self._mo(qty=2)
        exchanges = self.env["pico.exchange"].search(
            [("production_id", "=", second.id)]
        )
        jobs = self._jobs(exchanges)
        # One job for the order's two saves: they go in one request.
        self.assertEqual(len(jobs), 1)
        self.assertEqual(set(jobs.mapped("channel")), {"root.pico_outbox"})
        self.assertFalse(self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send"))
        _perform(self.env, jobs)
        self.assertEqual(exchanges.mapped("state"), ["done", "done"])
        self.assertEqual(
            sorted(
                (save["externalOrderId"], save["orderIndex"])
                for save in self.simulator.orders()
                if save["externalOrderId"] == self._external_id(second)
            ),
            [(self._external_id(second), 0), (self._external_id(second), 1)],
        )
        # Each row opens the job that sent it, the job names its row.
        for exchange in exchanges:
            action = exchange.action_view_job()
            self.assertEqual(action["domain"], [("id", "in", jobs.ids)])
        self.assertEqual(jobs[0].model_name, "pico.exchange")

    def test_retry_backoff_is_the_rows_own_on_both(self):
        """A refused send waits for the row's own next attempt on either executor:
        the scheduler has Odoo's trigger at that time, the engine a job due then."""
        # The first row must not come due while the second is sent (it would go
        # along in the same request).
        self.backend.retry_base_delay = 600
        self.simulator.set_faults(fail_next=1, error_status=503)
        self._mo()
        cron_row = self.env["pico.exchange"].search([], limit=1, order="id desc")
        self.env["pico.exchange"]._pico_run()
        self.assertEqual(cron_row.state, "retry_wait")
        self.assertIn(
            cron_row.next_attempt_at,
            self._triggers("mrp_pico_mes.ir_cron_pico_exchange_send").mapped("call_at"),
        )
        self._need_queue_job()
        self.backend.executor = "queue_job"
        self.simulator.set_faults(fail_next=1, error_status=503)
        self._mo()
        job_row = self.env["pico.exchange"].search([], limit=1, order="id desc")
        (job,) = self._jobs(job_row)
        _perform(self.env, job)
        self.assertEqual(job_row.state, "retry_wait")
        self.assertEqual(
            (job_row.attempts, job_row.error_code, job_row.http_status),
            (cron_row.attempts, cron_row.error_code, cron_row.http_status),
        )
        later = self._jobs(job_row) - job
        self.assertEqual(len(later), 1)
        self.assertEqual(later.eta, job_row.next_attempt_at)
        # Retry now: a job due now, not held back by the one due later.
        job_row.action_retry()
        (now,) = self._jobs(job_row) - job - later
        self.assertFalse(now.eta)
        _perform(self.env, now)
        self.assertEqual(job_row.state, "done")

    def _crossing(self):
        """Two MOs; a completion of the first reporting a motor serial Odoo
        reserved on the second (the crossing one), and the second's own."""
        first, second = self._mo(), self._mo()
        reserved = {}
        for production in (first, second):
            lines = production.move_raw_ids.move_line_ids
            reserved[production] = {
                line.product_id: line.lot_id.name for line in lines if line.lot_id
            }
        taken = reserved[second][self.motor]
        free_fc = (
            {"F-1", "F-2", "F-3"}
            - set(reserved[first].values())
            - set(reserved[second].values())
        ).pop()
        crossing = self._store_completion(first, 0, "DR-X1", taken, free_fc)
        own = self._store_completion(
            second, 0, "DR-X2", reserved[second][self.motor], reserved[second][self.fc]
        )
        return first, second, crossing, own

    def _hold(self, key):
        """Another connection holding advisory lock `key` (as a worker would)."""
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        other.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"{LOCK_NAMESPACE}{key}"],
        )
        return other

    def test_a_completion_taking_another_orders_serial_locks_that_order(self):
        """Pico reports a motor serial Odoo reserved on another MO: applying the
        completion frees that MO's reservation (Odoo writes its moves), so the
        event's locks include that MO, and two such completions are worked one
        after the other. Free serials lock only the event's own MO."""
        first, second, crossing, own = self._crossing()
        self.assertIn(f"mo:{second.id}", crossing._pico_lock_keys())
        self.assertIn(f"mo:{first.id}", crossing._pico_lock_keys())
        self.assertNotIn(f"mo:{first.id}", own._pico_lock_keys())
        # While another worker works the other MO, the crossing event is busy.
        with self._hold(f"mo:{second.id}") as other:
            self.assertFalse(
                crossing._pico_try_locks(crossing._pico_lock_keys(), session=False)
            )
            other.rollback()

    def test_a_completion_taking_a_lot_another_order_reserved_does_not_lock_it(self):
        """A lot is reserved by every order consuming from it: a completion
        reporting a lot another MO reserved does not lock that MO (Odoo frees
        a lot's reservation only when the lot runs short), where the same
        reservation of a serial number does."""
        _first, second, crossing, _own = self._crossing()
        self.assertIn(f"mo:{second.id}", crossing._pico_lock_keys())
        self.motor.product_tmpl_id.tracking = "lot"
        self.env.flush_all()
        self.assertNotIn(f"mo:{second.id}", crossing._pico_lock_keys())

    def test_a_job_waiting_for_another_orders_records_waits_longer_each_time(self):
        """The crossing completion's job, while another worker holds the other
        MO, goes back to the engine for 1, 2, then 4 s (a quarter of jitter),
        counted on the job, instead of trying every second; the event is left
        as it was."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        _first, second, crossing, _own = self._crossing()
        (job,) = self._jobs(crossing)
        with self._hold(f"mo:{second.id}") as other:
            waits = [_perform_and_postpone(self.env, job) for _try in range(3)]
            other.rollback()
        bounds = ((0.75, 1.25), (1.5, 2.5), (3, 5))
        for wait, (low, high) in zip(waits, bounds, strict=True):
            self.assertTrue(low <= wait <= high, waits)
        self.assertEqual(job.retry, 3)
        self.assertIn("waiting for its records", job.result)
        self.env.invalidate_all()
        self.assertEqual((crossing.state, crossing.attempts), ("received", 0))

    def test_events_of_one_order_keep_their_order(self):
        """An order's events share one waiting job (not one each, polling the
        order while it is busy): it applies the first event and hands the rest
        to the next job, which applies the second; each once, in order. A later
        order has a job of its own."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        production = self._mo(qty=2)
        other = self._mo()
        self.env["pico.exchange"]._pico_run()
        first = self._store_completion(production, 0, "DR-Q1", "M-1", "F-1")
        second = self._store_completion(production, 1, "DR-Q2", "M-2", "F-2")
        third = self._store_completion(other, 0, "DR-Q3", "M-3", "F-3")
        (job,) = self._jobs(first)
        self.assertEqual(self._jobs(second), job)
        self.assertEqual(job.channel, "root.pico_inbox")
        self.assertNotEqual(self._jobs(third), job)
        self.assertIn("1 row(s) worked", _perform(self.env, job))
        self.env.invalidate_all()
        self.assertEqual((first.state, second.state), ("done", "received"))
        # The rest of the order waits in the next job, which applies it.
        (next_job,) = self._jobs(second) - job
        self.assertEqual(next_job.state, "pending")
        _perform(self.env, next_job)
        self.env.invalidate_all()
        self.assertEqual(second.state, "done")
        self.assertLess(first.processed_at, second.processed_at)
        self.assertFalse(self._jobs(second) - job - next_job)
        lots = production.production_group_id.production_ids.lot_producing_ids
        self.assertEqual(sorted(lots.mapped("name")), ["DR-Q1", "DR-Q2"])
        self.assertEqual((first.attempts, second.attempts), (1, 1))

    def test_a_rolled_back_job_is_applied_once_when_run_again(self):
        """A job whose worker dies mid-run leaves the event as it was; run again
        (queue_job requeues the jobs of dead workers) it is applied once.
        A duplicate delivery makes no second event and no second job."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        production = self._mo()
        self.env["pico.exchange"]._pico_run()
        event = self._store_completion(production, 0, "DR-K1", "M-1", "F-1")
        intake = inbox.intake(inbox.COMPLETION, event.data, self.backend.id)
        again, created = self.env["pico.event"]._pico_store(
            self.backend, intake, "webhook"
        )
        self.assertFalse(created)
        self.assertEqual(again, event)
        again._pico_dispatch()
        (job,) = self._jobs(event)
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            _perform(self.env, job)
            self.assertEqual(event.state, "done")
            raise RuntimeError("the worker is killed")
        self.env.invalidate_all()
        self.assertEqual((event.state, event.attempts), ("received", 0))
        _perform(self.env, job)
        self.env.invalidate_all()
        self.assertEqual((event.state, event.attempts), ("done", 1))
        self.assertEqual(production.lot_producing_ids.mapped("name"), ["DR-K1"])
        self.assertEqual(self._on_hand(self.drone), 1)

    def test_cron_hands_orphan_rows_to_the_engine(self):
        """A due row of a job-engine backend without a waiting job (a job
        cancelled by hand) is handed to the engine by the cron, not run by it."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        production = self._mo()
        self.env["pico.exchange"]._pico_run()
        event = self._store_completion(production, 0, "DR-O1", "M-1", "F-1")
        self._jobs(event).unlink()
        self.assertEqual(self.env["pico.event"]._cron_process_events(), 0)
        self.assertEqual(event.state, "received")
        (job,) = self._jobs(event)
        # A row deleted before its job runs ends the job quietly.
        event.sudo().unlink()
        self.assertIn("deleted", _perform(self.env, job))

    def test_a_cron_sweep_with_nothing_to_hand_over_wakes_no_cron(self):
        """Nothing due without a job: the cron's sweep triggers no cron. It
        used to wake its own cron, which ran again at once: hundreds of empty
        runs a minute beside the jobs (benchmark of 2026-12-07)."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        for model in ("pico.event", "pico.exchange"):
            queue = self.env[model]
            xmlids = queue._pico_cron_xmlids
            for xmlid in xmlids:
                self._triggers(xmlid).unlink()
            # One immediate trigger per transaction: forget the earlier ones.
            data = self.env.cr.postcommit.data
            for key in [key for key in data if key.startswith("mrp_pico_mes.")]:
                del data[key]
            self.assertFalse(queue._pico_jobs_sweep())
            for xmlid in xmlids:
                self.assertFalse(self._triggers(xmlid), xmlid)


@tagged(*TAGS)
class TestParallelAndFailover(JobsMixin, CommittedMixin, TransactionCase):
    """Real committed rows and connections: what runs at the same time."""

    UNITS_PER_ORDER = 1
    ORDERS = 2

    def _session(self):
        cr = self.registry.cursor()
        cr.transaction = Transaction(self.registry)
        cr.execute("SET lock_timeout = '20s'")
        return cr, api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def test_orders_sharing_components_apply_at_the_same_time(self):
        """Two MOs that consume the same component product: each job applies its
        completion while the other's transaction is still open (nothing waits on
        the other's stock); both commit, each unit built once."""
        self._need_queue_job()
        ids = self._committed()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["pico.backend"].browse(ids["backend"]).executor = "queue_job"
            cr.commit()  # pylint: disable=invalid-commit
        both_applied = threading.Barrier(2)
        errors, states = [], []

        def apply(event_id):
            cr, env = self._session()
            try:
                with cr:
                    event = env["pico.event"].browse(event_id)
                    (job,) = env["queue.job"].search(
                        [("identity_key", "=", event._pico_job_identity())]
                    )
                    _perform(env, job)
                    states.append(event.state)
                    # Both done, neither committed yet: they ran side by side.
                    both_applied.wait(timeout=20)
                    cr.commit()  # pylint: disable=invalid-commit
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["pico.event"].browse(ids["events"])._pico_dispatch()
            cr.commit()  # pylint: disable=invalid-commit
        threads = [
            threading.Thread(target=apply, args=(event_id,))
            for event_id in ids["events"]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(states, ["done", "done"])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            productions = env["mrp.production"].search(
                [("product_id", "=", ids["products"][0])]
            )
            self.assertEqual(set(productions.mapped("state")), {"done"})
            self.assertEqual(sum(productions.mapped("qty_produced")), 2)
            cr.execute(
                "DELETE FROM queue_job WHERE identity_key LIKE %s",
                ["mrp_pico_mes:pico.event:%"],
            )
            cr.commit()  # pylint: disable=invalid-commit

    def _interfering(self, part_id):
        """A patch of the completion handler: just before it applies the event,
        another transaction consumes from the component's quants and commits (a
        worker that built another order of the same product a moment earlier),
        so Odoo's own quant statement then meets a row changed since the
        worker's snapshot."""
        handler_class = type(self.env["pico.completion"])
        original = handler_class._pico_handle_event
        registry = self.registry

        def handle(handler, event):
            with registry.cursor() as other:
                other.execute(
                    "UPDATE stock_quant SET quantity = quantity WHERE product_id = %s",
                    [part_id],
                )
            return original(handler, event)

        return patch.object(handler_class, "_pico_handle_event", handle)

    def _part_quantity(self, ids):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT sum(quantity) FROM stock_quant WHERE product_id = %s "
                "AND location_id = %s",
                [ids["products"][1], ids["stock"]],
            )
            return cr.fetchone()[0]

    def test_a_lost_stock_race_is_info_and_retried_on_both_executors(self):
        """A race lost on shared component stock while a worker applies an event
        (scheduler run, then job engine): no ERROR line from Odoo's database
        layer, one INFO line naming the event and the statement, the event
        retried and applied once. The same refused statement outside a queue's
        work still logs its ERROR."""
        ids = self._committed()
        part_id = ids["products"][1]
        first, second = ids["events"]
        self.assertEqual(self._part_quantity(ids), 100)

        def run_until_done(event_id, runner):
            cr, env = self._session()
            with cr:
                event = env["pico.event"].browse(event_id)
                event.write({"next_attempt_at": False})
                cr.commit()  # pylint: disable=invalid-commit
                runner(event)
                cr.commit()  # pylint: disable=invalid-commit
                return event.state, event.attempts

        # A number: Odoo names its level 25 "INFO" too (odoo/netsvc.py).
        races_logger = "odoo.addons.mrp_pico_mes.core.races"
        # Scheduler: the race is an attempt recorded as lost, retried later.
        with (
            self.assertNoLogs("odoo.sql_db", level="ERROR"),
            self.assertLogs(races_logger, level=logging.INFO) as logs,
            self._interfering(part_id),
        ):
            state, attempts = run_until_done(
                first, lambda e: e._pico_run(ids=e.ids, commit=True)
            )
        self.assertEqual((state, attempts), ("received", 1))
        self.assertIn(f"Pico MES Event [{first}]", logs.output[0])
        self.assertIn("lost a race", logs.output[0])
        self.assertIn("stock_quant", logs.output[0])
        state, _attempts = run_until_done(
            first, lambda e: e._pico_run(ids=e.ids, commit=True)
        )
        self.assertEqual(state, "done")
        self.assertEqual(self._part_quantity(ids), 98)

        # Job engine: the job goes back to the engine, the row keeps its attempts.
        if "queue.job" in self.env:
            from odoo.addons.queue_job.exception import RetryableJobError

            def job(event):
                with self.assertRaises(RetryableJobError):
                    event._pico_job_run()

            with (
                self.assertNoLogs("odoo.sql_db", level="ERROR"),
                self.assertLogs(races_logger, level=logging.INFO) as logs,
                self._interfering(part_id),
            ):
                state, attempts = run_until_done(second, job)
            self.assertEqual((state, attempts), ("received", 0))
            self.assertIn(f"Pico MES Event [{second}]", logs.output[0])
            state, _attempts = run_until_done(second, lambda e: e._pico_job_run())
        else:
            state, _attempts = run_until_done(
                second, lambda e: e._pico_run(ids=e.ids, commit=True)
            )
        self.assertEqual(state, "done")
        self.assertEqual(self._part_quantity(ids), 96)

        # Outside a queue's work the same refusal is an ERROR, as Odoo logs it.
        reader, _env = self._session()
        writer, _env = self._session()
        with reader, writer, self.assertLogs("odoo.sql_db", level="ERROR"):
            reader.execute("SELECT 1")
            writer.execute(
                "UPDATE stock_quant SET quantity = quantity WHERE product_id = %s",
                [part_id],
            )
            writer.commit()  # pylint: disable=invalid-commit
            with self.assertRaises(pg_errors.SerializationFailure):
                reader.execute(
                    "SELECT id FROM stock_quant WHERE product_id = %s "
                    "FOR NO KEY UPDATE",
                    [part_id],
                )
            reader.rollback()

    @contextlib.contextmanager
    def _backend_written_meanwhile(self, assignment):
        """(env, backend) of a transaction whose snapshot predates another
        connection's committed UPDATE of the backend (`assignment`: its SET)."""
        ids = self._committed()
        cr, env = self._session()
        with cr:
            cr.execute("SELECT 1")  # this transaction's snapshot
            with self.registry.cursor() as other:
                other.execute(
                    f"UPDATE pico_backend SET {assignment} WHERE id = %s",
                    [ids["backend"]],
                )
            yield env, env["pico.backend"].browse(ids["backend"])
            cr.rollback()

    def test_the_health_cron_losing_a_race_on_the_backend_waits_for_its_next_run(
        self,
    ):
        """The insight cron writes each backend's skew and health while senders
        and subscribers of other nodes write the same row: a race lost there is
        an INFO line and the figures wait for the next run, not a failed cron
        and an ERROR (chaos run of 2026-12-07)."""
        with self._backend_written_meanwhile("write_date = now()") as (env, backend):
            with (
                self.assertNoLogs("odoo.sql_db", level="ERROR"),
                self.assertLogs(
                    "odoo.addons.mrp_pico_mes.models.pico_backend_insight",
                    level=logging.INFO,
                ) as logs,
            ):
                env["pico.backend"]._cron_insight()
            self.assertIn(
                f"Pico backend {backend.id}: health left for the next run",
                "\n".join(logs.output),
            )

    def test_a_users_save_losing_a_race_on_the_backend_is_retried_quietly(self):
        """A sender flips the backend's batch state while an administrator's
        Register Webhooks waits for Pico (chaos run of 2026-12-07): the user's
        write fails as a serialization failure, which Odoo's request layer
        retries, and Odoo logs no "bad query" ERROR for it."""
        written = "order_batch_state = 'batched'"
        with (
            self._backend_written_meanwhile(written) as (env, backend),
            self.assertNoLogs("odoo.sql_db", level="ERROR"),
            self.assertRaises(pg_errors.SerializationFailure),
        ):
            backend.write({"pico_webhooks_registered_url": "https://x.test/"})
            env.flush_all()

    def test_a_busy_lane_sends_the_job_back(self):
        """While another worker holds an order's lane, its job goes back to the
        engine (retried, not failed); once free, the job applies the event."""
        self._need_queue_job()
        from odoo.addons.queue_job.exception import RetryableJobError

        ids = self._committed()
        holder, holder_env = self._session()
        worker, worker_env = self._session()
        with holder, worker:
            event = worker_env["pico.event"].browse(ids["events"][0])
            lane = event._pico_lane_keys()
            self.assertTrue(holder_env["pico.event"]._pico_try_locks(lane))
            with self.assertRaises(RetryableJobError):
                event._pico_job_run()
            worker.rollback()
            holder_env["pico.event"]._pico_unlock(lane)
            self.assertIn("worked", event._pico_job_run())
            self.assertEqual(event.state, "done")
            worker.commit()  # pylint: disable=invalid-commit

    def test_a_standby_slot_takes_up_a_killed_workers_event(self):
        """Scheduler: a cron slot in standby takes up, within seconds, the event
        a killed worker held, without a new trigger or a poll."""
        ids = self._committed()
        event_id = ids["events"][0]
        killed, _killed_env = self._session()
        # The other node's worker claimed the event and is in the middle of it.
        killed.execute(
            "SELECT id FROM pico_event WHERE id = %s FOR NO KEY UPDATE", [event_id]
        )
        taken_up = []

        def standby():
            cr, env = self._session()
            with cr:
                started = time.monotonic()
                env["pico.event"]._pico_run(
                    ids=[event_id],
                    commit=True,
                    standby=True,
                    deadline=time.monotonic() + 20,
                )
                taken_up.append(time.monotonic() - started)

        thread = threading.Thread(target=standby)
        thread.start()
        time.sleep(1.5)
        killed.rollback()
        killed.close()
        thread.join(30)
        self.assertEqual(len(taken_up), 1)
        with self.registry.cursor() as cr:
            cr.execute("SELECT state FROM pico_event WHERE id = %s", [event_id])
            self.assertEqual(cr.fetchone()[0], "done")
        # Taken up after the kill (1.5 s), not at the next poll (60 s).
        self.assertLess(taken_up[0], 10)

    def test_a_standby_slot_takes_up_a_race_retried_in_a_moment(self):
        """Scheduler: an event that lost a race a moment ago is retried 2 s
        later; the slot that finds nothing else to do stays in standby and
        applies it then, not at the cron workers' next poll (a minute)."""
        ids = self._committed()
        event_id = ids["events"][0]
        cr, env = self._session()
        with cr:
            event = env["pico.event"].browse(event_id)
            event.write({"next_attempt_at": event._pico_now() + timedelta(seconds=2)})
            cr.commit()  # pylint: disable=invalid-commit
            started = time.monotonic()
            done = env["pico.event"]._pico_run(
                ids=[event_id],
                commit=True,
                standby=True,
                deadline=time.monotonic() + 20,
            )
            took = time.monotonic() - started
        self.assertEqual(done, 1)
        with self.registry.cursor() as cr:
            cr.execute("SELECT state FROM pico_event WHERE id = %s", [event_id])
            self.assertEqual(cr.fetchone()[0], "done")
        # Waited for the retry's time (2 s, rounded to Odoo's second), no more.
        self.assertTrue(1 <= took < 10, took)


@tagged(*TAGS)
class TestSharedComponentStock(TransactionCase):
    def test_a_new_quant_while_odoo_frees_reservations(self):
        """Odoo frees reservations with quants_cache=None in the context; a quant
        created then (the usual one locked by an order consuming the same
        component) is created, not a TypeError."""
        product = self.env["product.product"].create(
            {"name": "Shared component", "is_storable": True}
        )
        stock = self.env.ref("stock.warehouse0").lot_stock_id
        quants = self.env["stock.quant"].with_context(quants_cache=None)
        quants._update_available_quantity(product, stock, 3)
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(product, stock), 3
        )
