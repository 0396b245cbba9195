# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import time
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..core import features, order_batch, outbox
from ..core.errors import PicoError
from .pico_queue import JOB_WAITING_STATES

_logger = logging.getLogger(__name__)

# Seconds after which a `sending` row no live sender holds is put back at once.
ORPHAN_AFTER = 5
# Seconds one sender cron run may take (well under Odoo's limit_time_real).
CRON_RUN_SECONDS = 40


class PicoExchange(models.Model):
    """The outbox: one row per request Odoo sends to Pico.

    Rows are written in the transaction of the change that needs them (an MO
    confirmed, cancelled, resized; a manual order) and handed to the backend's
    executor at once (pico_queue.py). HTTP only ever happens in the queue's run. Users
    read rows and press Retry; every other write goes through these methods.
    """

    _name = "pico.exchange"
    _description = "Pico MES Exchange"
    _inherit = ["pico.queue"]
    _order = "id desc"
    _pico_cron_xmlids = (
        "mrp_pico_mes.ir_cron_pico_exchange_send",
        "mrp_pico_mes.ir_cron_pico_exchange_send_2",
    )
    _pico_job_channel = "root.pico_outbox"
    _pico_wait_states = (outbox.RETRY_WAIT,)
    _pico_error_states = outbox.ERROR_STATES

    # No index on the outbox's backend or due time (pico.queue gives both one):
    # the claims, lanes and batches find due rows by state, order id or MO, and
    # the backend's figures by state (EXPLAIN on 300,000 rows: the same plans
    # without them). Each index is written for every save a confirm inserts
    # (issue 24); migrations/19.0.1.0.1 drops them.
    backend_id = fields.Many2one(index=False)
    next_attempt_at = fields.Datetime(index=False)
    work_order_id = fields.Many2one(
        "pico.work.order",
        string="Pico Work Order",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    kind = fields.Selection(outbox.KINDS, required=True, readonly=True)
    operation_pico_id = fields.Char(
        string="Pico Operation ID", readonly=True, help="Pico's id of the operation."
    )
    external_order_id = fields.Char(readonly=True, index=True)
    order_index = fields.Integer(readonly=True)
    request = fields.Text(
        readonly=True, help="The GraphQL input sent to Pico, as JSON."
    )
    response = fields.Text(
        readonly=True, help="Pico's answer: its message, or the body of an error."
    )
    state = fields.Selection(
        outbox.STATES,
        default=outbox.PENDING,
        required=True,
        readonly=True,
        index=True,
    )
    max_attempts = fields.Integer(related="backend_id.max_attempts")
    sending_since = fields.Datetime(readonly=True)
    last_attempt_at = fields.Datetime(readonly=True)
    done_at = fields.Datetime(readonly=True)
    error_code = fields.Char(
        readonly=True, help="Pico's GraphQL error code (extensions.code)."
    )
    http_status = fields.Integer(string="HTTP Status", readonly=True)

    @api.depends("kind", "external_order_id", "order_index", "operation_pico_id")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for exchange in self:
            exchange.display_name = (
                f"{kinds.get(exchange.kind, exchange.kind or '')} "
                f"{exchange.external_order_id or ''}/{exchange.order_index} "
                f"({exchange.operation_pico_id or ''})"
            )

    @api.depends("state")
    def _compute_retryable(self):
        for exchange in self:
            exchange.retryable = exchange.state in outbox.RETRY_FROM

    # --- Enqueue -----------------------------------------------------------------
    @api.model
    def _pico_enqueue(self, vals_list):
        """Store requests in the current transaction and wake the sender."""
        exchanges = (
            self.sudo()
            .with_context(
                mail_create_nolog=True,
                mail_create_nosubscribe=True,
                tracking_disable=True,
            )
            .create(vals_list)
        )
        exchanges._pico_dispatch()
        return exchanges

    def _pico_dispatch(self, at=None):
        """An order's saves on the job engine get one job, not one per row: it
        sends the first batch (the backend's orders per request, one request,
        `_pico_claim_batch`) and hands the rest of its lane, the order's saves,
        to the next job (`_pico_job_run`)."""
        if "queue_job" not in self.backend_id.mapped("executor"):
            # No row is for the job engine: nothing to batch (the pass below
            # would look at every row's lane first).
            return super()._pico_dispatch(at)
        # The first row of each lane leads it, in one pass over the rows (a
        # 500-unit MO's saves share one lane). Whether a row is in a saves lane,
        # and which, follows from its backend, kind and order: asked once each.
        batched, leaders, lanes = [], {}, {}
        for row in self:
            group = (row.backend_id, row.kind, row.production_id)
            if group not in lanes:
                lanes[group] = (
                    row.backend_id.executor == "queue_job"
                    and row._pico_saves_lane()
                    and tuple(row._pico_lane_keys())
                )
            if lanes[group]:
                batched.append(row.id)
                leaders.setdefault(lanes[group], row.id)
        if not batched or not self._pico_queue_job_available():
            return super()._pico_dispatch(at)
        return super(
            PicoExchange, (self - self.browse(batched)) | self.browse(leaders.values())
        )._pico_dispatch(at)

    @api.model
    def _pico_no_batch_job_sql(self):
        # A save of an order whose batch job waits is that job's to send.
        return SQL(
            """NOT (q.kind = %s AND EXISTS (
                   SELECT 1 FROM pico_exchange s
                     JOIN queue_job j ON j.identity_key = %s || s.id
                    WHERE s.production_id = q.production_id AND s.kind = %s
                      AND j.state IN %s))""",
            outbox.SAVE,
            f"mrp_pico_mes:{self._name}:",
            outbox.SAVE,
            JOB_WAITING_STATES,
        )

    def _pico_job_rows(self):
        # The saves of one order go in batches, each sent by the job of its
        # first row.
        if self.kind != outbox.SAVE or not self.production_id:
            return self
        return self.search(
            [("production_id", "=", self.production_id.id), ("kind", "=", outbox.SAVE)]
        )

    # --- Sender (the queue's run loop, pico_queue.py) ----------------------------
    @api.model
    def _cron_send(self, seconds=CRON_RUN_SECONDS):
        """Cron entry point (each sender slot): deliver due exchanges, committing
        after each one."""
        return self._pico_cron_run(deadline=time.monotonic() + seconds)

    @api.model
    def _pico_before_run(self, commit):
        try:
            self._pico_sweep_stuck()
        except pg_errors.SerializationFailure:
            # Another worker touched a stuck row meanwhile; the next run sweeps it.
            if not commit:
                raise
            self.env.cr.rollback()
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _pico_release(self, resources):
        for client in resources.values():
            client.close()

    @api.model
    def _pico_due_states(self):
        return outbox.DUE_STATES

    @api.model
    def _pico_due_sql(self, at=None):
        # A later request for one Pico key (externalOrderId, operationId,
        # orderIndex), e.g. a cancel, waits until the earlier ones (its save) are
        # finished, so Pico sees them in the order Odoo made them.
        return SQL(
            """%s AND NOT EXISTS (
                SELECT 1 FROM pico_exchange prev
                 WHERE prev.backend_id = q.backend_id
                   AND prev.external_order_id = q.external_order_id
                   AND prev.operation_pico_id = q.operation_pico_id
                   AND prev.order_index = q.order_index
                   AND prev.id < q.id
                   AND prev.state IN %s)""",
            super()._pico_due_sql(at),
            tuple(outbox.OPEN_STATES),
        )

    def _pico_saves_lane(self):
        """Whether this row's lane on the job engine is its order's saves: they
        go in batches, one job after the other (two jobs sending saves of one MO
        at once would both write its units and its Pico state, and one of them
        would have to start again). Only while the backend batches: one save
        per request keeps one lane per Pico key, so those jobs still run side
        by side instead of waiting for each other's lane."""
        return (
            self.kind == outbox.SAVE
            and bool(self.production_id)
            and self.backend_id._pico_order_batch_size() > 1
        )

    def _pico_lane_keys(self):
        if self._pico_saves_lane():
            return [f"exchanges:{self.backend_id.id}:saves:{self.production_id.id}"]
        # The requests for one Pico key, in the order Odoo made them.
        key = (
            f"exchanges:{self.backend_id.id}:{self.external_order_id}:"
            f"{self.operation_pico_id}:{self.order_index}"
        )
        return [key]

    def _pico_lane_sql(self):
        if self._pico_saves_lane():
            return SQL(
                "q.backend_id = %s AND q.kind = %s AND q.production_id = %s",
                self.backend_id.id,
                outbox.SAVE,
                self.production_id.id,
            )
        return SQL(
            "q.backend_id = %s AND q.external_order_id IS NOT DISTINCT FROM %s "
            "AND q.operation_pico_id IS NOT DISTINCT FROM %s "
            "AND q.order_index IS NOT DISTINCT FROM %s",
            self.backend_id.id,
            self.external_order_id or None,
            self.operation_pico_id or None,
            self.order_index,
        )

    def _pico_lock_keys(self):
        """The advisory lock a sender holds while this row is `sending`: a sweep
        that can take it knows the sender is gone (a killed node), without waiting
        for stuck_after."""
        return [f"exchange:{exchange.id}" for exchange in self]

    def _pico_claim_batch(self, ids, executor):
        """A claimed save takes other due saves of its backend along, up to the
        backend's orders per request, those of its own MO first: one request
        carries them all (`_pico_work_rows`). Locked as the first row was,
        skipping rows other senders hold."""
        self.ensure_one()
        size = self.backend_id._pico_order_batch_size()
        if self.kind != outbox.SAVE or size <= 1:
            return self
        query = SQL(
            """SELECT q.id FROM pico_exchange q
                WHERE %s AND %s AND %s AND q.kind = %s AND q.backend_id = %s
                  AND q.id != %s
             ORDER BY (q.production_id IS NOT DISTINCT FROM %s) DESC, q.id
                LIMIT %s
                  FOR NO KEY UPDATE OF q SKIP LOCKED""",
            self._pico_due_sql(),
            self._pico_executor_sql(executor),
            SQL("q.id IN %s", tuple(ids)) if ids else SQL("TRUE"),
            outbox.SAVE,
            self.backend_id.id,
            self.id,
            self.production_id.id or None,
            size - 1,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                found = [row[0] for row in self.env.cr.fetchall()]
        except pg_errors.SerializationFailure:
            # A sibling changed since this transaction began: send this row
            # alone now; the others come in the next request.
            return self
        siblings = self.browse(found)
        siblings.invalidate_recordset()
        return self | siblings

    def _pico_after_claim(self, commit):
        now = self._pico_now()
        for exchange in self:
            exchange.write(outbox.claim(exchange.state, exchange.attempts, now))
        if commit:
            # The row now says `sending`: other workers leave it alone, and a crash
            # during the call leaves a trace the sweep puts back in the queue.
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _pico_policy(self):
        backend = self.backend_id
        return outbox.Policy(
            max_attempts=max(backend.max_attempts, 1),
            base_delay=backend.retry_base_delay or 10,
            max_delay=backend.retry_max_delay or 3600,
        )

    def _pico_calls(self):
        """What each kind of row sends: {kind: method(client) -> Pico's message}.
        One table; other kinds extend it (BOM transfers)."""
        return {
            outbox.SAVE: self._pico_call_save,
            outbox.CANCEL: self._pico_call_cancel,
        }

    def _pico_call(self, client):
        """Send this row's request with `client`; return Pico's message."""
        return self._pico_calls()[self.kind](client)

    def _pico_call_save(self, client):
        return client.save(self._pico_save_input(client))

    def _pico_call_cancel(self, client):
        payload = json.loads(self.request)
        return client.cancel_order(
            payload["operationId"],
            payload["externalOrderId"],
            order_index=payload.get("orderIndex"),
            cancel_all=bool(payload.get("cancelAll")),
        )

    def _pico_work(self, resources, attempt):
        """Send the request (one HTTP client per backend and run)."""
        return self._pico_call(self._pico_client(resources))

    def _pico_client(self, resources):
        """The run's HTTP client of this row's backend."""
        client = resources.get(self.backend_id.id)
        if client is None:
            client = resources[self.backend_id.id] = self.backend_id._get_client()
        return client

    # --- Orders out in batches (core.order_batch) -------------------------------
    def _pico_work_rows(self, resources, in_job=False):
        """Send several claimed saves in one request, each under its own alias,
        and record each row's own outcome: its answer, its refusal, or back to
        the queue when its save may not have run. A failure of the whole request
        (network, timeout, 5xx) is every row's failure, retried as one."""
        if len(self) == 1:
            return super()._pico_work_rows(resources, in_job)
        backend = self.backend_id
        outcomes, batch = {}, self.browse()
        try:
            client = self._pico_client(resources)
        except Exception as exc:  # noqa: BLE001 - every failure is kept visibly
            client, outcomes = None, dict.fromkeys(self, exc)
        orders = []
        for exchange in self if client else ():
            try:
                orders.append(exchange._pico_save_input(client))
            except Exception as exc:  # noqa: BLE001 - e.g. a feature Pico lacks
                outcomes[exchange] = exc
            else:
                batch |= exchange
        if batch:
            outcomes.update(self._pico_send_batch(batch, client, orders, backend))
        recorded = self.browse()
        for exchange in self:
            if exchange._pico_record_batch_outcome(outcomes[exchange]):
                recorded |= exchange
        # One follow-up for the batch: one lock of its MOs and units, one flush.
        return recorded._pico_follow_up() if recorded else True

    @api.model
    def _pico_send_batch(self, batch, client, orders, backend):
        """{row: outcome} of one batched request (an order_batch.Outcome, or
        the exception that failed the whole request)."""
        if len(batch) == 1:
            try:
                return {batch: order_batch.Outcome(message=batch._pico_call(client))}
            except Exception as exc:  # noqa: BLE001 - kept on the row
                return {batch: exc}
        try:
            answers = client.save_orders(orders)
        except order_batch.BatchRefused as exc:
            backend._pico_order_batch_result(exc)
            again = order_batch.Outcome(
                again=self.env._(
                    "Pico refused several orders in one request; sent again alone."
                )
            )
            return dict.fromkeys(batch, again)
        except Exception as exc:  # noqa: BLE001 - the whole request failed
            return dict.fromkeys(batch, exc)
        backend._pico_order_batch_result()
        return dict(zip(batch, answers, strict=True))

    def _pico_save_input(self, client):
        """This save's OperationOrderSaveInput, with what `client`'s Pico takes."""
        payload = json.loads(self.request)
        return features.save_input(
            client.features,
            payload["operationId"],
            payload["externalOrderId"],
            payload.get("orderIndex"),
            reserved_serial=payload.get("reservedSerialNumber"),
            optional_operation_ids=payload.get("selectOptionalOperationIds"),
        )

    def _pico_record_batch_outcome(self, outcome):
        """Write this row's outcome of a batch in one write; True when it has an
        outcome to follow up (False: back in the queue)."""
        vals = self._prepare_attempt_vals()
        if isinstance(outcome, Exception):
            vals.update(self._prepare_failure_vals(outcome))
        elif outcome.error is not None:
            vals.update(self._prepare_failure_vals(outcome.error))
        elif outcome.again:
            self.write(
                outbox.requeue(
                    self.state, self.attempts, self._pico_now(), outcome.again
                )
            )
            self._pico_dispatch()
            return False
        else:
            vals.update(self._prepare_success_vals(outcome.message))
        self.write(vals)
        return True

    def _prepare_success_vals(self, result):
        return {
            **outbox.succeed(self.state, self._pico_now(), response=result),
            "traceback": False,
        }

    def _prepare_failure_vals(self, error):
        now = self._pico_now()
        if outbox.is_benign(self.kind, error):
            return outbox.succeed(self.state, now, response=str(error))
        vals = outbox.fail(self.state, self.attempts, error, now, self._pico_policy())
        # Pico's errors explain themselves; anything else is a fault of ours.
        vals["traceback"] = (
            False if isinstance(error, PicoError) else self._pico_traceback()
        )
        _logger.info("Pico exchange %s: %s", self.id, vals["error"])
        return vals

    def _pico_follow_up_locks(self):
        # The MO first, then the unit: the order in which the processor takes
        # them (a unit's write recomputes its MO's Pico status). Found by
        # dev/chaos.py: the other order deadlocked with a hand-over to a backorder.
        unit = self.work_order_id
        return [unit.production_id, unit]

    def _pico_after_outcome(self):
        """The unit the request was sent for takes its state from the outcome."""
        self.work_order_id._pico_after_exchange(self)

    @api.model
    def _pico_sweep_stuck(self):
        """Put back rows left in `sending` by a worker that stopped mid-send."""
        now = self._pico_now()
        self.env.flush_all()
        # Locked without waiting: a row another worker sweeps or sends is its own.
        self.env.cr.execute(
            """
            SELECT id FROM pico_exchange
             WHERE state = %s
               AND (sending_since IS NULL OR sending_since < %s)
               FOR NO KEY UPDATE SKIP LOCKED
            """,
            (outbox.SENDING, now - timedelta(seconds=ORPHAN_AFTER)),
        )
        candidates = self.browse([row[0] for row in self.env.cr.fetchall()])
        candidates.invalidate_recordset()
        for exchange in candidates:
            policy = exchange._pico_policy()
            keys = exchange._pico_lock_keys()
            if not outbox.is_stuck(exchange.state, exchange.sending_since, now, policy):
                # Recent: stuck only if no live sender holds its lock (a sender
                # killed mid-call, its connection and lock gone with it).
                if not self._pico_try_locks(keys):
                    continue
                self._pico_unlock(keys)
            exchange.write(outbox.sweep(exchange.state, exchange.attempts, now, policy))
            if exchange.state == outbox.DEAD:
                exchange.work_order_id._pico_after_exchange(exchange)
                exchange._pico_notify_failure()
        return candidates

    # --- Notifications -----------------------------------------------------------
    def _pico_failure_texts(self):
        self.ensure_one()
        body = self.env._(
            "Pico refused or did not receive %(exchange)s: %(error)s",
            exchange=self.display_name,
            error=self.error,
        )
        return body, self.env._("Pico exchange failed")

    # --- Buttons -----------------------------------------------------------------
    def _prepare_retry_vals(self):
        return outbox.retry(self.state)

    def _pico_check_retry(self):
        unit = self.work_order_id
        if (
            self.kind == outbox.SAVE
            and unit
            and (unit.state == "cancelled" or unit.cancel_requested)
        ):
            raise UserError(
                self.env._(
                    "%(exchange)s would create a unit that was cancelled since.",
                    exchange=self.display_name,
                )
            )

    def _pico_retry_refusal(self):
        return self.env._("Only failed, dead or waiting exchanges can be retried.")

    def action_view_work_order(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pico.work.order",
            "res_id": self.work_order_id.id,
            "view_mode": "form",
        }
