# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What keeps the cost of the work flat: cron wake-ups, backorders of big orders."""

import select
import time
from datetime import timedelta

import psycopg2

from odoo import sql_db
from odoo.tests import TransactionCase, tagged

from ..core import inbox
from ..models import cron_wakeup
from .common import PicoCase
from .test_complete import CompletionMixin

PROCESSOR = "mrp_pico_mes.ir_cron_pico_event_process"


@tagged("post_install", "-at_install", "pico_cost")
class TestCronWakeup(TransactionCase):
    def _due_triggers(self, cron):
        self.env.cr.execute(
            "SELECT count(*) FROM ir_cron_trigger WHERE cron_id = %s "
            "AND call_at <= (clock_timestamp() AT TIME ZONE 'UTC')",
            [cron.id],
        )
        return self.env.cr.fetchone()[0]

    def test_one_trigger_while_one_is_pending(self):
        """Many events in a row add one due trigger, not one each."""
        cron = self.env.ref(PROCESSOR)
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        for _event in range(5):
            cron_wakeup.wake(self.env, PROCESSOR)
        self.assertEqual(self._due_triggers(cron), 1)
        # A later time is Odoo's own trigger, kept as such.
        later = cron_wakeup.fields.Datetime.now().replace(year=2100)
        cron_wakeup.wake(self.env, PROCESSOR, at=later)
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count(
                [("cron_id", "=", cron.id), ("call_at", "=", later)]
            ),
            1,
        )

    def test_a_trigger_made_for_later_does_not_stand_for_a_wake_up(self):
        """A retry's trigger that came due was announced to no cron worker: a new
        event adds its own trigger (and notification) instead of waiting for the
        workers' next poll."""
        cron = self.env.ref(PROCESSOR)
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        later = cron_wakeup.fields.Datetime.now() + timedelta(seconds=5)
        cron_wakeup.wake(self.env, PROCESSOR, at=later)
        self.assertEqual(self._due_triggers(cron), 0)
        # A minute passes: the trigger made for later is due now.
        self.env.cr.execute(
            "UPDATE ir_cron_trigger SET call_at = call_at - interval '70 seconds', "
            "create_date = create_date - interval '70 seconds' WHERE cron_id = %s",
            [cron.id],
        )
        self.assertEqual(self._due_triggers(cron), 1)
        cron_wakeup.wake(self.env, PROCESSOR)
        self.assertEqual(self._due_triggers(cron), 2)
        # That one was made due (its maker notifies): the next event adds none.
        cron_wakeup.wake(self.env, PROCESSOR)
        self.assertEqual(self._due_triggers(cron), 2)

    def test_a_run_clears_the_trigger_that_woke_it(self):
        """Odoo clears the triggers due by a run's start truncated to the second:
        the wake-up's own trigger must be among them, even when the run starts in
        the same second, or it would outlive the run its notification caused and
        stand for a wake-up that nobody sends."""
        cron = self.env.ref(PROCESSOR)
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        cron_wakeup.wake(self.env, PROCESSOR)
        self.assertEqual(self._due_triggers(cron), 1)
        # The run's start, as Odoo reads it: this transaction's timestamp.
        self.env["ir.cron"]._clear_schedule({"id": cron.id})
        self.assertEqual(self._due_triggers(cron), 0)

    def test_no_trigger_for_an_inactive_cron(self):
        cron = self.env.ref(PROCESSOR)
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        cron.active = False
        cron_wakeup.wake(self.env, PROCESSOR)
        self.assertEqual(self._due_triggers(cron), 0)

    def _listen(self):
        _name, info = sql_db.connection_info_for("postgres")
        listener = psycopg2.connect(**info)
        listener.autocommit = True
        with listener.cursor() as cursor:
            cursor.execute("LISTEN cron_trigger")
        self.addCleanup(listener.close)
        return listener

    def _received(self, listener, until, count=1, payload=None):
        """Notifications received until `until` (those carrying `payload` only)."""
        received = []
        while len(received) < count and time.monotonic() < until:
            select.select([listener], [], [], 0.1)
            listener.poll()
            while listener.notifies:
                note = listener.notifies.pop(0).payload
                if payload is None or note == payload:
                    received.append(note)
        return received

    def test_notify_reaches_cron_listeners(self):
        """The kept connection sends what Odoo's cron workers listen for."""
        listener = self._listen()
        dbname = f"{self.env.cr.dbname}-notify-test-{time.monotonic_ns()}"
        for _call in range(2):  # the second call reuses the connection
            self.assertTrue(cron_wakeup.notify(dbname))
        received = self._received(
            listener, time.monotonic() + 5, count=2, payload=dbname
        )
        self.assertEqual(received, [dbname, dbname])

    def test_a_later_wake_up_is_announced_at_its_time(self):
        """A trigger for later gets its notification then, not at the workers'
        next poll; two for the same second get one."""
        listener = self._listen()
        # A name of its own: other tests' wake-ups of this database are not its.
        dbname = f"{self.env.cr.dbname}-alarm-test-{time.monotonic_ns()}"
        started = time.monotonic()
        self.assertTrue(cron_wakeup.notify_later(dbname, 1.5))
        self.assertTrue(cron_wakeup.notify_later(dbname, 1.5))
        self.assertEqual(self._received(listener, started + 1.0, payload=dbname), [])
        self.assertEqual(
            self._received(listener, started + 10, payload=dbname), [dbname]
        )
        self.assertEqual(
            self._received(listener, time.monotonic() + 1.5, payload=dbname), []
        )
        # Beyond the horizon the workers' poll is as good: nothing scheduled.
        self.assertFalse(
            cron_wakeup.notify_later(dbname, cron_wakeup.ALARM_HORIZON + 1)
        )


@tagged("post_install", "-at_install", "pico_cost")
class TestBigOrderBackorders(CompletionMixin, PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    def _mo(self, qty=1):
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": self.bom.id, "product_qty": qty}
        )
        production.action_confirm()
        self.env["pico.exchange"].sudo()._send_due()
        return production

    def _process(self):
        count = self.env["pico.event"]._process_events()
        self.env.invalidate_all()
        return count

    def _complete(self, production, index, serial, motor, fc):
        completion = self.simulator.complete_order(
            self._external_id(production),
            index,
            operationId="op-drone",
            **self._completion_fields(serial, motor, fc),
        )
        self.post_completion(completion)
        self.assertEqual(self._process(), 1)

    def post_completion(self, completion):
        body = self._webhook_body(completion)
        intake = inbox.intake(inbox.COMPLETION, body, self.backend.id)
        self.env["pico.event"].sudo()._pico_store(self.backend, intake, "webhook")

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
