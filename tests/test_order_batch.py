# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Orders out in batches: several units' saves in one request to Pico, each with
its own outcome (core.order_batch), and one save per request where Pico refuses
batches."""

from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import PicoCase, fixture_operation
from .test_queue_job import JobsMixin, _perform


@tagged("post_install", "-at_install", "pico_scale")
class TestOrderBatch(JobsMixin, PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.order_batch_size = 5
        cls.component = cls.env["product.product"].create(
            {"name": "Batch body", "type": "consu", "is_storable": True}
        )
        cls.widget = cls.env["product.product"].create(
            {
                "name": "Batch widget",
                "default_code": "BATCH-1",
                "type": "consu",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        cls.op_widget = cls._pico_op("op-widget", "BATCH-1")
        cls.op_missing = cls._pico_op("op-gone", "GONE-1")
        cls.bom = cls._bom(cls.op_widget)
        cls.bom_missing = cls._bom(cls.op_missing)

    @classmethod
    def _pico_op(cls, pico_id, part_number):
        return cls.env["pico.operation"].create(
            {
                "backend_id": cls.backend.id,
                "pico_id": pico_id,
                "name": pico_id,
                "external_id": part_number,
                "external_revision": "A",
            }
        )

    @classmethod
    def _bom(cls, operation):
        bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.widget.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": cls.component.id, "product_qty": 1})
                ],
            }
        )
        bom.pico_operation_id = operation
        return bom

    def _confirm(self, qty, bom=None):
        production = self.env["mrp.production"].create(
            {
                "product_id": self.widget.id,
                "bom_id": (bom or self.bom).id,
                "product_qty": qty,
            }
        )
        production.action_confirm()
        return production

    def _exchanges(self, production):
        return self.env["pico.exchange"].search(
            [("production_id", "=", production.id)], order="order_index"
        )

    def _send(self):
        return self.env["pico.exchange"].sudo()._pico_run()

    def _saves(self):
        """The save documents Pico received, as the number of orders in each."""
        return [
            len(request["variables"] or {})
            if "SaveOrders" in (request["query"] or "")
            else 1
            for request in self.simulator.requests()
            if "operationOrderSave" in (request["query"] or "")
        ]

    def test_units_go_in_requests_of_the_batch_size(self):
        """Twelve units in requests of five: 5 + 5 + 2, each unit its answer."""
        production = self._confirm(12)
        self.assertEqual(self._send(), 12)
        self.assertEqual(self._saves(), [5, 5, 2])
        exchanges = self._exchanges(production)
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertEqual(set(exchanges.mapped("response")), {"created"})
        self.assertEqual(set(exchanges.mapped("attempts")), {1})
        self.assertEqual(
            sorted(o["orderIndex"] for o in self.simulator.orders()), list(range(12))
        )
        self.assertEqual(set(production.pico_work_order_ids.mapped("state")), {"sent"})
        self.assertEqual(self.backend.order_batch_state, "batched")

    def test_one_refused_unit_leaves_its_siblings_sent(self):
        """A unit Pico refuses fails alone: the units before it in the request
        are done, those after it are sent again, and none is created twice."""
        first = self._confirm(2)
        refused = self._confirm(1, bom=self.bom_missing)
        last = self._confirm(2)
        # Five in one request, then the two after the refused one again.
        self.assertEqual(self._send(), 7)
        self.assertEqual(self._saves(), [5, 2])
        self.assertEqual(set(self._exchanges(first).mapped("state")), {"done"})
        gone = self._exchanges(refused)
        self.assertEqual(gone.state, "failed")
        self.assertEqual(gone.error_code, "NOT_FOUND")
        self.assertIn("op-gone", gone.error)
        self.assertEqual(refused.pico_work_order_ids.state, "error")
        resent = self._exchanges(last)
        self.assertEqual(resent.mapped("state"), ["done", "done"])
        self.assertEqual(resent.mapped("response"), ["created", "created"])
        # The resend was not an attempt of theirs.
        self.assertEqual(resent.mapped("attempts"), [1, 1])
        self.assertEqual(
            sorted(o["saveCount"] for o in self.simulator.orders()), [1, 1, 1, 1]
        )
        self.assertEqual(last.pico_state, "sent")

    def test_whole_request_failure_retries_every_unit(self):
        """A 503 for the whole request: every unit waits for its retry, then all
        are sent once."""
        self.backend.retry_base_delay = 600
        self.simulator.set_faults(fail_next=1, error_status=503)
        production = self._confirm(3)
        self.assertEqual(self._send(), 3)
        exchanges = self._exchanges(production)
        self.assertEqual(set(exchanges.mapped("state")), {"retry_wait"})
        self.assertEqual(set(exchanges.mapped("http_status")), {503})
        self.assertEqual(self.simulator.orders(), [])
        self.assertEqual(self._send(), 0, "not due yet")
        exchanges.sudo().write(
            {"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)}
        )
        self.assertEqual(self._send(), 3)
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertEqual(set(exchanges.mapped("attempts")), {2})
        self.assertEqual(self._saves(), [3, 3])
        self.assertEqual(len(self.simulator.orders()), 3)

    def test_retry_after_a_partial_success_resends_only_the_failed(self):
        """Retry on a refused unit sends it alone; its done siblings stay done."""
        production = self._confirm(2)
        refused = self._confirm(1, bom=self.bom_missing)
        self._send()
        gone = self._exchanges(refused)
        self.assertEqual(gone.state, "failed")
        # The process is deployed in Pico; the planner retries the refused unit.
        self.simulator.deploy_operation(
            {**fixture_operation("op-widget"), "id": "op-gone", "externalId": "GONE-1"}
        )
        gone.action_retry()
        before = len(self._saves())
        self.assertEqual(self._send(), 1)
        self.assertEqual(self._saves()[before:], [1])
        self.assertEqual(gone.state, "done")
        self.assertEqual(set(self._exchanges(production).mapped("attempts")), {1})
        self.assertEqual(
            sorted(o["saveCount"] for o in self.simulator.orders()), [1, 1, 1]
        )

    def test_pico_refusing_batches_gets_one_save_per_request(self):
        """A Pico that refuses several saves in one document: the backend says
        so, and the same run sends each unit alone; nothing is lost."""
        self.simulator.configure(max_mutation_fields=1)
        production = self._confirm(3)
        self.assertEqual(self._send(), 6)  # three refused together, three alone
        exchanges = self._exchanges(production)
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertEqual(set(exchanges.mapped("attempts")), {1})
        self.assertEqual(len(self.simulator.orders()), 3)
        statuses = [
            request["status"]
            for request in self.simulator.requests()
            if "operationOrderSave" in (request["query"] or "")
        ]
        self.assertEqual(statuses, [400, 200, 200, 200])
        self.assertEqual(self.backend.order_batch_state, "single")
        self.assertIn("per mutation", self.backend.order_batch_message)
        self.assertIn(
            "one order per request",
            self.backend.message_ids[:1].body,
        )
        # The next order goes one per request at once.
        self._confirm(2)
        self._send()
        self.assertEqual(self._saves()[-2:], [1, 1])
        # Checking the API features again tries batches again.
        self.backend.action_pico_check_features()
        self.assertEqual(self.backend.order_batch_state, "untried")

    def test_batch_size_is_checked_and_one_means_one_per_request(self):
        with self.assertRaisesRegex(ValidationError, "Orders per Request"):
            self.backend.order_batch_size = 0
        self.backend.order_batch_size = 1
        self._confirm(3)
        self._send()
        self.assertEqual(self._saves(), [1, 1, 1])
        self.assertEqual(self.backend.order_batch_state, "untried")

    def test_on_the_job_engine_one_job_at_a_time_per_order(self):
        """Twelve saves on the job engine: one job, which sends the first five
        in one request and hands the rest of the order to the next job; every
        row opens its order's jobs; the cron's sweep leaves rows a waiting job
        of their order will send."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        production = self._confirm(12)
        exchanges = self._exchanges(production)
        jobs = self._jobs(exchanges)
        self.assertEqual(len(jobs), 1)
        self.assertFalse(self.env["pico.exchange"]._pico_jobs_sweep())
        self.assertEqual(self._jobs(exchanges), jobs)
        _perform(self.env, jobs)
        self.assertEqual(self._saves(), [5])
        self.assertEqual(exchanges.filtered(lambda e: e.state == "done"), exchanges[:5])
        performed = jobs
        while (
            pending := self._jobs(exchanges).filtered(
                lambda job: job.state == "pending"
            )
            - performed
        ):
            self.assertEqual(len(pending), 1, "one job at a time per order")
            _perform(self.env, pending)
            performed |= pending
        self.assertEqual(self._saves(), [5, 5, 2])
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        action = exchanges[-1].action_view_job()
        ((field, operator, ids),) = action["domain"]
        self.assertEqual((field, operator, set(ids)), ("id", "in", set(performed.ids)))

    def test_on_the_job_engine_saves_of_two_orders_queued_together_get_a_job_each(
        self,
    ):
        """Saves of two orders queued in one call (a resend of both orders'
        units): one job per order, led by one of that order's new saves, not
        one job for all nor one per save."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        first, second = self._confirm(3), self._confirm(2)
        before = self._exchanges(first) | self._exchanges(second)
        units = first.pico_work_order_ids | second.pico_work_order_ids
        units._pico_queue("save")
        new = (self._exchanges(first) | self._exchanges(second)) - before
        self.assertEqual(len(new), 5)
        jobs = self._jobs(new)
        self.assertEqual(len(jobs), 2)
        leaders = jobs[0].records | jobs[1].records
        self.assertEqual(len(leaders), 2)
        self.assertLessEqual(leaders, new)
        self.assertEqual(leaders.production_id, first | second)

    def test_on_the_job_engine_rows_without_a_waiting_job_are_swept(self):
        """A batch job cancelled by hand: the cron hands its rows to the engine."""
        self._need_queue_job()
        self.backend.executor = "queue_job"
        exchanges = self._exchanges(self._confirm(3))
        self._jobs(exchanges).unlink()
        swept = self.env["pico.exchange"]._pico_jobs_sweep()
        self.assertEqual(swept, exchanges.sorted("id"))
        (job,) = self._jobs(exchanges)
        _perform(self.env, job)
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertEqual(self._saves(), [3])
