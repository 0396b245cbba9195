# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import sys
import time
import traceback
from datetime import timedelta

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, config

from ..core import backoff, races
from ..core.claim import claim_one

_logger = logging.getLogger(__name__)

TRACEBACK_LIMIT = 20000
# Prefix of this module's advisory lock names (hashed to PostgreSQL's bigint keys).
LOCK_NAMESPACE = "mrp_pico_mes:"
# Seconds a cron slot in standby waits before it looks at the queue again.
STANDBY_POLL = 0.5
# A slot also stays in standby for rows coming due within these seconds (a race
# lost a moment ago, retried 2 or 4 s later): Odoo's cron workers find a trigger
# for later only at their next poll, up to a minute after its time.
STANDBY_SOON = 5
# Seconds before the job engine tries again a job whose lane was busy or that
# lost a race (queue_job's own retry, not counted as an attempt of the row).
JOB_RETRY_SECONDS = 1
# Longest wait of a job whose rows' records another job holds (another order
# holding a reservation it consumes): the waits double from JOB_RETRY_SECONDS.
JOB_BUSY_MAX_SECONDS = 10
# Rows of one lane worked by one job at most (one transaction).
JOB_LANE_BATCH = 1
# States of a job that has yet to run, or runs now.
JOB_WAITING_STATES = ("wait_dependencies", "pending", "enqueued", "started")
# Errors of a transaction that lost a race with another worker: retried, not failed.
TRANSIENT_DB_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)
# The database layer's ERROR line of a race lost while a queue works a row (and
# retries it) becomes an INFO line (core/races.py).
races.install("odoo.sql_db", TRANSIENT_DB_ERRORS)


class RecordsBusy(pg_errors.LockNotAvailable):
    """Another worker holds the records a row's work changes (its advisory
    locks): nothing was changed, the row waits for them."""


def commit_default():
    """Whether queue runs, the MQTT subscriber and the catch-up commit as they go:
    yes in a cron or a script, never under tests (their transaction is rolled back)."""
    return not (odoo_module.current_test or config["test_enable"])


class PicoQueue(models.AbstractModel):
    """A queue of rows: the outbox and the inbox inherit it.

    The rows are the truth (state, attempts, error, next attempt); an executor
    only runs them: Odoo's scheduler (cron slots) or OCA's queue_job, chosen per
    backend, both behind `_pico_dispatch` (the "Executors" part below). The
    common part lives here: claiming the next due row without waiting for locks
    (FOR NO KEY UPDATE SKIP LOCKED), the run loop and its commit policy, one
    outcome written per row, failure notices, Retry/Replay. A queue brings only
    what is its own: which rows are due and in what order (`_pico_due_sql`,
    `_pico_claim_order`), its lanes (`_pico_lane_keys`: rows worked in order,
    one at a time), what its work locks against other workers and nodes
    (`_pico_lock_keys`, advisory locks), the work on one row (`_pico_work`: the
    call for the outbox, the dispatch for the inbox) and the values its core
    state machine gives for each outcome (`_prepare_*_vals`).
    """

    _name = "pico.queue"
    _description = "Pico MES Queue"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    # Users only read queue rows, yet may comment on them and get activities.
    _mail_post_access = "read"

    # XML ids of the cron jobs (slots) that work this queue on the scheduler.
    _pico_cron_xmlids = ()
    # queue_job channel of this queue's jobs (capacity set in the job runner's
    # configuration).
    _pico_job_channel = "root"
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
    executor = fields.Selection(related="backend_id.executor")
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True, index=True)
    error = fields.Text(readonly=True)
    error_class = fields.Char(readonly=True)
    traceback = fields.Text(readonly=True)
    retryable = fields.Boolean(compute="_compute_retryable")

    def _compute_retryable(self):
        raise NotImplementedError

    # --- Clock, commit --------------------------------------------------------
    @api.model
    def _pico_now(self):
        """The one clock of the queues: every due time is written and compared with
        it (SQL's now() would be the transaction's start)."""
        return fields.Datetime.now()

    # --- Executors: who runs the rows ---------------------------------------------
    # Rows are the only truth; an executor only runs them. Each backend chooses
    # its executor (`pico.backend.executor`):
    # - "cron", Odoo's scheduler: the queue's cron jobs (`_pico_cron_xmlids`, its
    #   slots), woken through Odoo's public `ir.cron._trigger`;
    # - "queue_job", OCA's job engine (when installed): one job per row made due,
    #   which works the due rows of that row's lane (`_pico_lane_where`) in order.
    # `_pico_dispatch` is the one call that hands rows to their executor.

    def _pico_dispatch(self, at=None):
        """Have these rows worked now (or at `at`) by their backends' executor.

        Called on an empty recordset, it wakes the queue's cron (a run that left
        work for the next one).
        """
        jobs = self.filtered(lambda row: row.backend_id.executor == "queue_job")
        for row in jobs:
            row._pico_job_enqueue(at)
        if not self or self - jobs:
            self._pico_cron_trigger(at)

    @api.model
    def _pico_cron_trigger(self, at=None, slots=None):
        """Odoo's `_trigger` on the queue's first cron slot (or on `slots`).

        At most one immediate trigger per slot and transaction: Odoo notifies
        the cron workers after the commit, on a connection of its own, and one
        notification wakes them all. A trigger for later is found by the cron
        workers' next poll (Odoo polls every minute): a retry on the scheduler
        comes due within a minute of its time.
        """
        crons = slots or self._pico_cron_slots()[:1]
        now = self._pico_now()
        for cron in crons:
            if at is None or at <= now:
                key = f"mrp_pico_mes.trigger.{cron.id}"
                if self.env.cr.postcommit.data.get(key):
                    continue
                self.env.cr.postcommit.data[key] = True
                cron._trigger()
            else:
                cron._trigger(at)

    @api.model
    def _pico_cron_slots(self):
        """The queue's cron jobs: several slots run in parallel in as many cron
        workers (Odoo runs one cron job in one worker at a time)."""
        crons = self.env["ir.cron"].sudo()
        for xmlid in self._pico_cron_xmlids:
            crons |= self.env.ref(xmlid, raise_if_not_found=False) or crons
        return crons.filtered("active")

    @api.model
    def _pico_cron_run(self, deadline):
        """Body of the queue's cron slots (scheduler executor).

        Works the due rows of the backends on the scheduler; wakes the other slots
        once this run has work, so that several workers share a backlog; and
        stays on while rows are worked elsewhere (standby), so that rows a killed
        worker or node leaves behind are taken up within a second, without
        waiting for a poll. For backends on the job engine it only hands due
        rows that have no job to it (a job cancelled by hand, rows stored before
        the switch).
        """
        self._pico_jobs_sweep()
        return self._pico_run(deadline=deadline, executor="cron", standby=True)

    # --- OCA queue_job executor -----------------------------------------------
    @api.model
    def _pico_queue_job_available(self):
        """Whether OCA's queue_job is installed in this database."""
        return "queue.job" in self.env

    def _pico_job_identity(self, at=None):
        """The identity of this row's job: one waiting job per identity key
        (`_pico_job_identity_key`: the row, or an inbox event's order) and time
        (a job due later must not stand for one due now: a held event released).
        queue_job makes no second job while one of that identity waits."""
        identity = f"mrp_pico_mes:{self._name}:{self._pico_job_identity_key()}"
        return f"{identity}@{at:%Y-%m-%d %H:%M:%S}" if at else identity

    def _pico_job_identity_key(self):
        """What the rows sharing one waiting job share (this row by default)."""
        return str(self.id)

    @api.model
    def _pico_job_identity_sql(self):
        """`_pico_job_identity_key` of row q, as SQL (the cron's sweep)."""
        return SQL("q.id::text")

    def _pico_job_enqueue(self, at=None):
        """One job for this row (none if one already waits for it)."""
        self.ensure_one()
        if not self._pico_queue_job_available():
            # queue_job uninstalled since the backend chose it: the scheduler.
            return self._pico_cron_trigger(at)
        delayed = self.sudo().with_delay(
            channel=self._pico_job_channel,
            eta=at,
            identity_key=self._pico_job_identity(at),
            description=self.env._("Pico MES: %s", self.display_name),
            # Our rows count their own attempts and back off themselves; the
            # engine retries only a busy lane or a lost race (`_pico_job_run`).
            max_retries=0,
        )
        return delayed._pico_job_run()

    def _pico_job_run(self):
        """Job body: work the due rows of this row's lane, in the queue's order.

        One transaction (queue_job forbids commits in a job): the outcome of each
        row is committed with the job. Rows of one lane (an order) are worked in
        their order by whichever of its jobs runs first, and the lane's later
        jobs find their rows done; other lanes run in parallel. A lane another
        job works now, or a race lost against another lane's commit, sends the
        job back to the engine for a fresh try a moment later.
        """
        from odoo.addons.queue_job.exception import RetryableJobError

        self.ensure_one()
        if not self.exists():
            # Deleted since (its backend removed): nothing left to do.
            return self.env._("The row was deleted.")
        lane = self._pico_lane_keys()
        if not self._pico_try_locks(lane, session=False):
            raise RetryableJobError(
                "lane busy: another job works its rows",
                seconds=JOB_RETRY_SECONDS,
                ignore_retry=True,
            )
        ids = self._pico_lane_due_ids()[:JOB_LANE_BATCH]
        try:
            done = self._pico_run(ids=ids, commit=False, in_job=True)
        except RecordsBusy as exc:
            # Held by another order's job for as long as that job runs: waits
            # that double (1, 2, 4 ... 10 s), counted on the job, so that the
            # jobs of a long backlog do not poll the engine every second (a
            # chaos run's 100 waiting jobs made 35 runs a second) and leave its
            # slots to the work.
            raise RetryableJobError(
                f"waiting for its records: {exc}", seconds=self._pico_job_busy_wait()
            ) from exc
        except TRANSIENT_DB_ERRORS as exc:
            raise RetryableJobError(
                f"lost a race: {exc}", seconds=JOB_RETRY_SECONDS, ignore_retry=True
            ) from exc
        rest = self._pico_lane_due_ids()
        if rest:
            # The rest of the lane in a job of its own, which starts once this
            # one commits: a short transaction loses fewer races.
            self.browse(rest[0])._pico_job_enqueue()
        if not done:
            return self.env._(
                "Nothing due: %s was worked by another job.", self.display_name
            )
        return self.env._("%s row(s) worked.", done)

    def _pico_job_busy_wait(self):
        """Seconds before the running job tries its busy records again: doubling
        with the job's earlier tries (queue_job's `retry`, which only these waits
        count: the other retries ignore it)."""
        tries = 0
        if uuid := self.env.context.get("job_uuid"):
            self.env.cr.execute(
                SQL("SELECT retry FROM queue_job WHERE uuid = %s", uuid)
            )
            tries = (self.env.cr.fetchone() or (0,))[0] or 0
        return backoff.retry_delay(
            tries + 1, base=JOB_RETRY_SECONDS, cap=JOB_BUSY_MAX_SECONDS
        )

    def _pico_lane_keys(self):
        """Advisory lock names of this row's lane: the same names its work locks
        (`_pico_lock_keys`), so that both executors keep a lane in order."""
        raise NotImplementedError

    def _pico_lane_sql(self):
        """SQL condition (on alias q) of the rows of this row's lane."""
        raise NotImplementedError

    def _pico_lane_due_ids(self):
        """Ids of the due rows of this row's lane, in the queue's order."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT q.id FROM %s q WHERE %s AND %s ORDER BY %s",
                SQL.identifier(self._table),
                self._pico_due_sql(),
                self._pico_lane_sql(),
                self._pico_claim_order(),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _pico_jobs_sweep(self):
        """Hand due rows of job-engine backends that have no waiting job to it."""
        if not self._pico_queue_job_available():
            return self.browse()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT q.id FROM %s q JOIN pico_backend b ON b.id = q.backend_id
                    WHERE b.executor = 'queue_job' AND %s
                      AND NOT EXISTS (
                          SELECT 1 FROM queue_job j
                           WHERE (j.identity_key = %s || %s
                                  OR j.identity_key LIKE %s || %s || '@%%')
                             AND j.state IN %s)
                      AND %s
                    ORDER BY q.id LIMIT 1000""",
                SQL.identifier(self._table),
                self._pico_due_sql(),
                f"mrp_pico_mes:{self._name}:",
                self._pico_job_identity_sql(),
                f"mrp_pico_mes:{self._name}:",
                self._pico_job_identity_sql(),
                JOB_WAITING_STATES,
                self._pico_no_batch_job_sql(),
            )
        )
        rows = self.browse([row[0] for row in self.env.cr.fetchall()])
        if rows:
            # Not on an empty recordset: that would wake the cron calling this
            # sweep, which would sweep again at once, and so on.
            rows._pico_dispatch()
        return rows

    @api.model
    def _pico_no_batch_job_sql(self):
        """SQL condition (on alias q): no waiting job of another row will work
        this one along (the outbox's batches of saves)."""
        return SQL("TRUE")

    def _pico_job_rows(self):
        """Rows whose jobs may work this one: itself (the outbox: the saves of
        its order, sent in batches by one job)."""
        return self

    def action_view_job(self):
        """Open the job engine's jobs of this row (system administrators: the
        engine's own screens are theirs)."""
        if not self.env.su and not self.env.user.has_group("base.group_system"):
            raise AccessError(
                self.env._("Only system administrators open the job engine's jobs.")
            )
        self.check_access("read")
        self.ensure_one()
        if not self._pico_queue_job_available():
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "warning",
                    "message": self.env._(
                        "OCA queue_job is not installed: the Odoo scheduler runs "
                        "this row."
                    ),
                },
            }
        identity = self._pico_job_identity()
        # Found as superuser: the engine's list opens for its managers.
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    "|",
                    "|",
                    ("identity_key", "=", identity),
                    ("identity_key", "=like", f"{identity}@%"),
                    (
                        "identity_key",
                        "in",
                        [row._pico_job_identity() for row in self._pico_job_rows()],
                    ),
                ],
                order="id desc",
            )
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "queue.job",
            "name": self.env._("Jobs"),
            "view_mode": "list,form",
            "domain": [("id", "in", jobs.ids)],
        }

    # --- Run loop ----------------------------------------------------------------
    @api.model
    def _pico_run(
        self,
        ids=None,
        limit=None,
        commit=None,
        deadline=None,
        executor=None,
        standby=False,
        in_job=False,
    ):
        """Work due rows (all, or among `ids`); return how many were worked.

        Each row is claimed with FOR NO KEY UPDATE SKIP LOCKED, so several workers
        never work one row at the same time, and worked in its own transaction
        when `commit` (default: `commit_default()`). What its work changes is
        locked first (advisory locks, `_pico_lock_keys`): a row whose records
        another worker holds is left to that worker, and this one moves on.
        `executor` limits the run to the rows of the backends on that executor;
        `standby` keeps the run on (until `deadline`) while due rows are held by
        other workers. `in_job`: a run inside a job of the job engine, which
        leaves no row behind: a lost race or busy records end it (the engine
        tries the job again), and the cron's housekeeping is not its own.
        """
        if commit is None:
            commit = commit_default()
        if not in_job:
            self._pico_before_run(commit)
        resources = {}
        busy = set()
        # A job works each row once: a row it failed waits for its own retry.
        seen = set()
        done = 0
        try:
            while limit is None or done < limit:
                if in_job and ids and seen.issuperset(ids):
                    # The job worked every row it was given: no claim to try.
                    break
                if deadline is not None and time.monotonic() > deadline:
                    # Out of time for this run (`deadline`, a time.monotonic()):
                    # the next one takes the rest at once.
                    self.browse()._pico_dispatch()
                    if commit:
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                    break
                row = self._pico_claim_next(
                    ids, commit, exclude=busy | seen, executor=executor
                )
                if not row:
                    if standby and commit and self._pico_in_flight(ids, executor):
                        # Rows are worked elsewhere: stay to take them up should
                        # that worker stop (a killed node rolls back its row); or
                        # a retry comes due in a moment: stay to take it then.
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                        time.sleep(STANDBY_POLL)
                        busy.clear()
                        continue
                    break
                if standby and commit and not done and not busy:
                    # Work is here: wake the other slots to share it.
                    self._pico_wake_other_slots()
                rows = row._pico_claim_batch(None if in_job else ids, executor)
                worked = rows._pico_run_one(resources, commit, in_job)
                if not worked:
                    # Another worker works on the same records now; it takes this
                    # row next.
                    busy.add(row.id)
                    continue
                done += len(rows)
                if in_job:
                    seen.update(rows.ids)
                if commit and self._pico_budget_spent(standby):
                    break
        finally:
            self._pico_release(resources)
        if done and not in_job:
            self._pico_after_run(commit)
        return done

    @api.model
    def _pico_after_run(self, commit):
        """Work that follows a run's rows, once, in its own transaction (the
        inbox rebuilds the report days its rows marked)."""

    def _pico_claim_batch(self, ids, executor):
        """The claimed rows worked together with this one (itself by default;
        the outbox sends several saves in one request). `ids`: the rows the run
        is limited to, if any."""
        return self

    def _pico_run_one(self, resources, commit, in_job):
        """Lock what these claimed rows change, work them, follow up; False when
        another worker holds those records (the rows are left to it).

        A race lost on the way is worked again on fresh data (the scheduler's
        run, or the job engine's retry): its refused statement is logged as INFO
        about these rows, not as an ERROR (core/races.py).
        """
        with races.retried_races(f"{self._description} {self.ids}"):
            return self._pico_run_locked(resources, commit, in_job)

    def _pico_run_locked(self, resources, commit, in_job):
        """`_pico_run_one`'s work: the locks, the work, the follow-up."""
        keys = self._pico_lock_keys()
        if not self._pico_try_locks(keys, session=commit):
            if in_job:
                # A job leaves no row behind: the engine tries it again.
                raise RecordsBusy(
                    f"{self._description} {self.id}: its records are busy"
                )
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            return False
        row = self
        try:
            if commit and keys and self._pico_restart_after_lock:
                # Start afresh now that the records are ours: a snapshot taken
                # before the other worker committed would make every row it
                # changed a serialization failure (an ERROR in Odoo's log).
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env.invalidate_all()
                row = self._pico_claim_next(self.ids, commit)
                if not row:
                    return True
            row._pico_after_claim(commit)
            followed = row._pico_work_rows(resources, in_job)
            if not followed and in_job:
                raise pg_errors.SerializationFailure(
                    "follow-up met a concurrent update"
                )
            if commit and not followed:
                # The outcome is committed; the follow-up on fresh data.
                self.env.cr.commit()  # pylint: disable=invalid-commit
                row._pico_follow_up()
        finally:
            if commit and keys:
                self._pico_unlock(keys)
        return True

    @api.model
    def _pico_budget_spent(self, standby):
        """Commit the row's work; True when this cron run should end now.

        Odoo 19 answers the time left of a 10 s budget from the job's start
        (MIN_TIME_PER_JOB), not of limit_time_real; once spent, a plain run comes
        back at once for the rest. A slot in standby keeps to its own deadline.
        """
        left = self.env["ir.cron"]._commit_progress(1)
        if left <= 0 and not standby:
            self.browse()._pico_dispatch()
            return True
        return False

    @api.model
    def _pico_wake_other_slots(self):
        """Trigger the queue's other cron slots (once per run that has work)."""
        current = self.env.context.get("cron_id")
        others = self._pico_cron_slots().filtered(lambda cron: cron.id != current)
        if others:
            self._pico_cron_trigger(slots=others)

    @api.model
    def _pico_in_flight(self, ids=None, executor=None):
        """Whether due rows (all, or among `ids`) are left that this run could
        not claim: rows other workers hold now, or rows coming due within
        STANDBY_SOON seconds."""
        soon = self._pico_now() + timedelta(seconds=STANDBY_SOON)
        self.env.cr.execute(
            SQL(
                "SELECT EXISTS(SELECT 1 FROM %s q WHERE %s AND %s AND %s)",
                SQL.identifier(self._table),
                self._pico_due_sql(at=soon),
                self._pico_executor_sql(executor),
                SQL("q.id IN %s", tuple(ids)) if ids else SQL("TRUE"),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _pico_before_run(self, commit):
        """Prepare a run (the outbox sweeps rows stuck in `sending`)."""

    @api.model
    def _pico_release(self, resources):
        """Free what the run's rows shared (the outbox closes its HTTP clients)."""

    # --- Claim -------------------------------------------------------------------
    @api.model
    def _pico_due_states(self):
        raise NotImplementedError

    @api.model
    def _pico_due_sql(self, at=None):
        """SQL condition (on alias q) of the rows a worker may take now (or at
        `at`, a later time)."""
        return SQL(
            "q.state IN %s AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= %s)",
            tuple(self._pico_due_states()),
            at or self._pico_now(),
        )

    @api.model
    def _pico_executor_sql(self, executor):
        """SQL condition (on alias q) of the rows of backends on `executor`."""
        if not executor:
            return SQL("TRUE")
        return SQL(
            "q.backend_id IN (SELECT id FROM pico_backend WHERE executor = %s)",
            executor,
        )

    @api.model
    def _pico_claim_order(self):
        """SQL ORDER BY (on alias q) of due rows: the first is worked first."""
        return SQL("q.id")

    @api.model
    def _pico_claim_next(self, ids, commit, exclude=(), executor=None):
        """Lock the first due row nobody else holds; empty when there is none."""
        self.env.flush_all()
        query = SQL(
            """SELECT q.id FROM %s q
                WHERE %s AND %s AND %s AND %s
             ORDER BY %s
                LIMIT 1
                  FOR NO KEY UPDATE OF q SKIP LOCKED""",
            SQL.identifier(self._table),
            self._pico_due_sql(),
            self._pico_executor_sql(executor),
            SQL("q.id IN %s", tuple(ids)) if ids else SQL("TRUE"),
            SQL("q.id NOT IN %s", tuple(exclude)) if exclude else SQL("TRUE"),
            self._pico_claim_order(),
        )
        # A claim that loses a race is handled (restarted, or the job retried):
        # no ERROR line for it.
        row = self.browse(
            claim_one(
                self.env.cr,
                query,
                None,
                commit,
                execute=lambda sql, params: self.env.cr.execute(
                    sql, params, log_exceptions=False
                ),
            )
        )
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
    def _pico_work_rows(self, resources, in_job=False):
        """Work the claimed rows (one, unless `_pico_claim_batch` gave more);
        False if a follow-up met a race and must be done again."""
        return self._pico_work_one(resources, in_job)

    def _pico_work_one(self, resources, in_job=False):
        """Work one claimed row and record its outcome in a single write.

        With `in_job`, a race lost against another worker's commit ends the
        job, which the engine tries again on fresh data, instead of an attempt
        recorded on the row.
        """
        self.ensure_one()
        vals = self._prepare_attempt_vals()
        try:
            result = self._pico_work(resources, vals)
        except TRANSIENT_DB_ERRORS:
            if in_job:
                raise
            vals.update(self._prepare_failure_vals(sys.exc_info()[1]))
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
        """Follow up on the recorded outcome of these rows (one, or a batch: one
        savepoint and one flush for all); False if a race must retry it.

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
                for row in self:
                    row._pico_after_outcome()
                self.filtered(
                    lambda row: row.state in self._pico_error_states
                )._pico_notify_failure()
                for row in self:
                    if row.state in self._pico_wait_states and row.next_attempt_at:
                        row._pico_dispatch(row.next_attempt_at)
        except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
            _logger.info(
                "%s %s: changed meanwhile, follow-up again", self._description, self.ids
            )
            for records in self._pico_follow_up_locks():
                records.invalidate_recordset()
            return False
        except Exception:
            # The row's own outcome is recorded; a fault in the follow-up (a unit's
            # state, chatter) must not put it back in the queue.
            _logger.exception("%s %s: follow-up failed", self._description, self.ids)
            self.write({"traceback": self._pico_traceback()})
        return True

    def _pico_follow_up_locks(self):
        """Recordsets the follow-up changes, locked before it in this order (the
        outbox: the unit's MO, then the unit)."""
        return []

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
        rows._pico_dispatch()
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
