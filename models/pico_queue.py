# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import time
import traceback
from datetime import timedelta

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, config

from ..core.claim import claim_one
from . import cron_wakeup

_logger = logging.getLogger(__name__)

TRACEBACK_LIMIT = 20000
# Prefix of this module's advisory lock names (hashed to PostgreSQL's bigint keys).
LOCK_NAMESPACE = "mrp_pico_mes:"
# Seconds before a run that left rows to busy workers looks at them again.
BUSY_RETRY_DELAY = 2


def commit_default():
    """Whether queue runs, the MQTT subscriber and the catch-up commit as they go:
    yes in a cron or a script, never under tests (their transaction is rolled back)."""
    return not (odoo_module.current_test or config["test_enable"])


class PicoQueue(models.AbstractModel):
    """A queue of records worked by a cron: the outbox and the inbox inherit it.

    The common part lives here: claiming the next due row without waiting for
    locks (FOR NO KEY UPDATE SKIP LOCKED), the run loop and its commit policy, the
    cron trigger, one outcome written per row, failure notices, Retry/Replay. A
    queue brings only what is its own: which rows are due and in what order
    (`_pico_due_where`, `_pico_claim_order`), what its work locks against other
    workers and nodes (`_pico_lock_keys`, advisory locks), the work on one row
    (`_pico_work`: the call for the outbox, the dispatch for the inbox) and the
    values its core state machine gives for each outcome (`_prepare_*_vals`).
    """

    _name = "pico.queue"
    _description = "Pico MES Queue"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    # Users only read queue rows, yet may comment on them and get activities.
    _mail_post_access = "read"

    # XML id of the cron that works this queue.
    _pico_cron_xmlid = None
    # States in which a row waits for its next_attempt_at: the cron is woken then.
    _pico_wait_states = ()
    # States that mean a row needs a person: notified on its MO or to its backend.
    _pico_error_states = ()
    # Whether a row is claimed again in a fresh transaction once its locks are
    # taken (see `_pico_run`).
    _pico_restart_after_lock = False

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    production_id = fields.Many2one(
        "mrp.production",
        string="Manufacturing Order",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True, index=True)
    error = fields.Text(readonly=True)
    error_class = fields.Char(readonly=True)
    traceback = fields.Text(readonly=True)
    retryable = fields.Boolean(compute="_compute_retryable")

    def _compute_retryable(self):
        raise NotImplementedError

    # --- Clock, commit, trigger --------------------------------------------------
    @api.model
    def _pico_now(self):
        """The one clock of the queues: every due time is written and compared with
        it (SQL's now() would be the transaction's start)."""
        return fields.Datetime.now()

    @api.model
    def _pico_trigger(self, at=None):
        """Ask the queue's cron to run now (or at `at`); takes effect on commit."""
        cron_wakeup.wake(self.env, self._pico_cron_xmlid, at)

    # --- Run loop ----------------------------------------------------------------
    @api.model
    def _pico_run(self, ids=None, limit=None, commit=None, deadline=None):
        """Work due rows (all, or among `ids`); return how many were worked.

        Each row is claimed with FOR NO KEY UPDATE SKIP LOCKED, so several workers
        never work one row at the same time, and worked in its own transaction
        when `commit` (default: `commit_default()`). What its work changes is
        locked first (advisory locks, `_pico_lock_keys`): a row whose records
        another worker holds is left to that worker, and this one moves on.
        """
        if commit is None:
            commit = commit_default()
        self._pico_before_run(commit)
        resources = {}
        busy = set()
        done = 0
        try:
            while limit is None or done < limit:
                if deadline is not None and time.monotonic() > deadline:
                    # Out of time for this run (`deadline`, a time.monotonic()):
                    # the next one takes the rest at once.
                    self._pico_trigger()
                    if commit:
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                    break
                row = self._pico_claim_next(ids, commit, exclude=busy)
                if not row:
                    break
                keys = row._pico_lock_keys()
                if not self._pico_try_locks(keys, session=commit):
                    # Another worker works on the same records now; it takes this
                    # row next.
                    busy.add(row.id)
                    if commit:
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                    continue
                try:
                    if commit and keys and self._pico_restart_after_lock:
                        # Start afresh now that the records are ours: a snapshot
                        # taken before the other worker committed would make every
                        # row it changed a serialization failure (an ERROR in
                        # Odoo's log).
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                        self.env.invalidate_all()
                        row = self._pico_claim_next(row.ids, commit)
                        if not row:
                            continue
                    row._pico_after_claim(commit)
                    followed = row._pico_work_one(resources)
                    done += 1
                    if commit and not followed:
                        # The outcome is committed; the follow-up on fresh data.
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                        row._pico_follow_up()
                    if commit:
                        left = self.env["ir.cron"]._commit_progress(1)
                        if left <= 0:
                            # Odoo 19 answers the time left of a 10 s budget from
                            # the job's start (MIN_TIME_PER_JOB), not of
                            # limit_time_real; once spent, come back at once for
                            # the rest. One more row may take connect + read
                            # timeout (35 s): well within limit_time_real (120 s).
                            self._pico_trigger()
                            break
                finally:
                    if commit and keys:
                        self._pico_unlock(keys)
        finally:
            self._pico_release(resources)
        if busy:
            # In case the worker holding those records stops before taking them.
            self._pico_trigger(self._pico_now() + timedelta(seconds=BUSY_RETRY_DELAY))
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return done

    @api.model
    def _pico_before_run(self, commit):
        """Prepare a run (the outbox sweeps rows stuck in `sending`)."""

    @api.model
    def _pico_release(self, resources):
        """Free what the run's rows shared (the outbox closes its HTTP clients)."""

    @api.model
    def _pico_has_backlog(self):
        """Whether rows wait for this queue's cron (checked when a server starts)."""
        query = f"""
            SELECT EXISTS(SELECT 1 FROM {self._table} q
                           WHERE {self._pico_backlog_where()})
        """
        self.env.cr.execute(query, self._pico_claim_params_all())
        return self.env.cr.fetchone()[0]

    @api.model
    def _pico_backlog_where(self):
        """SQL condition (on alias q) of rows left for the cron: the due ones."""
        return self._pico_due_where()

    # --- Claim -------------------------------------------------------------------
    @api.model
    def _pico_due_states(self):
        raise NotImplementedError

    @api.model
    def _pico_due_where(self):
        """SQL condition (on alias q) of the rows a worker may take now."""
        return (
            "q.state IN %(due)s "
            "AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= %(now)s)"
        )

    @api.model
    def _pico_claim_params(self):
        """Parameters of the queue's own SQL conditions (besides the common ones)."""
        return {}

    @api.model
    def _pico_claim_params_all(self, ids=(), exclude=()):
        return {
            "now": self._pico_now(),
            "due": tuple(self._pico_due_states()),
            "ids": tuple(ids or ()),
            "exclude": tuple(exclude or ()),
            **self._pico_claim_params(),
        }

    @api.model
    def _pico_claim_order(self):
        """SQL ORDER BY (on alias q) of due rows: the first is worked first."""
        return "q.id"

    @api.model
    def _pico_claim_next(self, ids, commit, exclude=()):
        """Lock the first due row nobody else holds; empty when there is none."""
        self.env.flush_all()
        query = f"""
            SELECT q.id FROM {self._table} q
             WHERE {self._pico_due_where()}
               {"AND q.id IN %(ids)s" if ids else ""}
               {"AND q.id NOT IN %(exclude)s" if exclude else ""}
          ORDER BY {self._pico_claim_order()}
             LIMIT 1
               FOR NO KEY UPDATE OF q SKIP LOCKED
        """
        params = self._pico_claim_params_all(ids, exclude)
        row = self.browse(claim_one(self.env.cr, query, params, commit))
        # The locked row as the database has it, not as an earlier loop left it.
        row.invalidate_recordset()
        return row

    def _pico_after_claim(self, commit):
        """Mark the claimed row (the outbox moves it to `sending` and commits)."""

    # --- Advisory locks ----------------------------------------------------------
    def _pico_lock_keys(self):
        """Names of what working this row changes, locked while it is worked."""
        return []

    @api.model
    def _pico_try_locks(self, keys, session=True):
        """Take every advisory lock of `keys` without waiting; True if all were.

        Session locks (kept across the commits of one row's work, released by
        `_pico_unlock` or when the connection ends, e.g. a killed node) or, when
        the caller does not commit, transaction locks.
        """
        if not keys:
            return True
        function = "pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"
        self.env.cr.execute(
            SQL(
                "SELECT key, %s(hashtextextended(key, 0)) "
                "FROM unnest(%s::text[]) AS key",
                SQL(function),
                [f"{LOCK_NAMESPACE}{key}" for key in keys],
            )
        )
        rows = self.env.cr.fetchall()
        if all(taken for _key, taken in rows):
            return True
        if session:
            self._pico_unlock(
                [key[len(LOCK_NAMESPACE) :] for key, taken in rows if taken]
            )
        return False

    @api.model
    def _pico_unlock(self, keys):
        """Release session advisory locks taken by `_pico_try_locks`.

        Never leaves one behind on a pooled connection: in a failed transaction
        (an exception on its way up, which rolls back anyway) it rolls back first.
        """
        if not keys:
            return
        query = SQL(
            "SELECT pg_advisory_unlock(hashtextextended(key, 0)) "
            "FROM unnest(%s::text[]) AS key",
            [f"{LOCK_NAMESPACE}{key}" for key in keys],
        )
        cr = self.env.cr
        for attempt in range(2):
            try:
                cr.execute(query, log_exceptions=False)
                return
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                # The connection is gone, and its locks with it.
                _logger.info("Pico locks not released: %s", exc)
                return
            except psycopg2.Error:
                if attempt:
                    raise
                cr.rollback()

    # --- One row -----------------------------------------------------------------
    def _pico_work_one(self, resources):
        """Work one claimed row and record its outcome in a single write."""
        self.ensure_one()
        vals = self._prepare_attempt_vals()
        try:
            result = self._pico_work(resources, vals)
        except Exception as exc:  # noqa: BLE001 - every failure is kept visibly
            vals.update(self._prepare_failure_vals(exc))
        else:
            vals.update(self._prepare_success_vals(result))
        self.write(vals)
        return self._pico_follow_up()

    def _pico_work(self, resources, attempt):
        """Do what the row asks; return its result (a message) or raise.

        `attempt` holds the values `_prepare_attempt_vals` gave for this attempt.
        """
        raise NotImplementedError

    def _prepare_attempt_vals(self):
        """Values written with any outcome of this attempt."""
        return {}

    def _prepare_success_vals(self, result):
        raise NotImplementedError

    def _prepare_failure_vals(self, error):
        raise NotImplementedError

    @api.model
    def _pico_traceback(self):
        """The traceback being handled, cut to what a text field should hold."""
        return traceback.format_exc()[-TRACEBACK_LIMIT:]

    def _pico_follow_up(self):
        """Follow up on the recorded outcome; False if a race must retry it.

        The records the follow-up changes are locked first, without a log line: a
        planner who changed them since this transaction began (a unit cancelled, an
        order reduced) makes that lock a serialization failure, and the follow-up
        is done again in a fresh transaction (see `_pico_run`) instead of an ERROR
        in the log. Any other fault is logged and never undoes the outcome.
        """
        try:
            with self.env.cr.savepoint():
                for records in self._pico_follow_up_locks():
                    if records:
                        self.env.cr.execute(
                            SQL(
                                "SELECT id FROM %s WHERE id IN %s FOR NO KEY UPDATE",
                                SQL.identifier(records._table),
                                tuple(records.ids),
                            ),
                            log_exceptions=False,
                        )
                self._pico_after_outcome()
                if self.state in self._pico_error_states:
                    self._pico_notify_failure()
                elif self.state in self._pico_wait_states and self.next_attempt_at:
                    self._pico_trigger(self.next_attempt_at)
        except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
            _logger.info(
                "%s %s: changed meanwhile, follow-up again", self._description, self.id
            )
            for records in self._pico_follow_up_locks():
                records.invalidate_recordset()
            return False
        except Exception:
            # The row's own outcome is recorded; a fault in the follow-up (a unit's
            # state, chatter) must not put it back in the queue.
            _logger.exception("%s %s: follow-up failed", self._description, self.id)
            self.write({"traceback": self._pico_traceback()})
        return True

    def _pico_follow_up_records(self):
        """Records the follow-up changes (the outbox: the unit it was sent for)."""
        return self.env["mrp.production"]

    def _pico_follow_up_locks(self):
        """Recordsets to lock before the follow-up, in the order to lock them."""
        return [self._pico_follow_up_records()]

    def _pico_after_outcome(self):
        """Propagate the outcome (the outbox updates the unit it was sent for)."""

    # --- Failure notices ---------------------------------------------------------
    def _pico_failure_texts(self):
        """Return (chatter body, activity summary) for this failed row."""
        raise NotImplementedError

    def _pico_notify_failure(self):
        """Post on the row's MO and give its responsible one open warning."""
        for row in self:
            body, summary = row._pico_failure_texts()
            production = row.production_id
            if production:
                production.message_post(body=body)
            target = production or row
            user = (
                production.user_id
                or row.backend_id.responsible_id
                or self.env.ref("base.user_admin", False)
            )
            if not user:
                continue
            already = target.activity_ids.filtered(
                lambda act, user=user, summary=summary: (
                    act.user_id == user and act.summary == summary
                )
            )
            if already:
                # One open warning per order is enough; the chatter lists each one.
                continue
            target.activity_schedule(
                "mail.mail_activity_data_warning",
                summary=summary,
                note=body,
                user_id=user.id,
            )

    # --- Buttons -----------------------------------------------------------------
    def _prepare_retry_vals(self):
        """Values that send the row back to the queue with a fresh budget of tries."""
        raise NotImplementedError

    def _pico_check_retry(self):
        """Refuse a retry that would do harm (raise UserError)."""

    def _pico_retry_refusal(self):
        """Why none of the selected rows can be retried."""
        raise NotImplementedError

    def action_retry(self):
        """Send failed, dead or waiting rows back to the queue (Retry / Replay)."""
        rows = self.filtered("retryable")
        if not rows:
            raise UserError(self._pico_retry_refusal())
        for row in rows:
            row._pico_check_retry()
            row.sudo().write(row._prepare_retry_vals())
            row.message_post(body=self.env._("Sent back to the queue."))
        self._pico_trigger()
        return True

    def action_view_production(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mrp.production",
            "res_id": self.production_id.id,
            "view_mode": "form",
        }
