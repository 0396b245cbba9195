# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Waking the Pico queue crons (processor, sender) without a connection per event.

Odoo's `ir.cron._trigger` inserts a trigger row and, after the commit, sends
`pg_notify('cron_trigger', <db>)` on a new connection to the `postgres` database
(the cron workers listen there), which Odoo never pools: about 8 ms and a backend
process start per call, paid by every webhook and every confirm. Here:

- a due trigger row that was due when it was made (its maker notified the
  workers) and that no cron run has begun to clear already wakes the cron: the
  caller adds none, and holds a KEY SHARE lock on that row until it commits,
  so that the run which will delete it (Odoo clears due triggers when a run starts)
  waits for this transaction to commit and then sees its rows (a trigger whose run
  has begun is locked or gone: SKIP LOCKED, or a serialization failure, and the
  caller adds its own). A trigger made for a later time (a retry, a busy row)
  wakes nobody when it comes due, since Odoo notifies only for due ones: the cron
  workers find it at their next poll, up to a minute later, so it does not count;
- otherwise one trigger row is added (ORM) and, after the commit, the
  notification goes out on one connection per process kept open for it;
- a trigger for a later time within `ALARM_HORIZON` (a busy row looked at again
  in 2 s, a retry in 10 s) also gets its notification at that time, from one
  alarm thread per process: Odoo's cron workers would otherwise find it at their
  next poll, up to a minute late. If the process is gone by then, the poll still
  finds the trigger.
"""

import contextlib
import heapq
import logging
import math
import os
import threading
import time

import psycopg2
from psycopg2 import sql

from odoo import fields, sql_db
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

from ..core.clock import utcnow

_logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LISTENER_DB = "postgres"
_state = {"pid": None, "cnx": None}
# Later wake-ups within this many seconds get their own notification (see above).
ALARM_HORIZON = 600
# Seconds after a trigger's time before its notification: the database's clock
# may be a little behind this process's.
ALARM_SLACK = 0.5
# At most this many pending alarms per process (one per database and second).
ALARM_MAX = 1000


def wake(env, xmlid, at=None):
    """Have the cron `xmlid` run as soon as this transaction commits (or at `at`)."""
    cron_id = get_cron_id(env, xmlid)
    if not cron_id:
        return
    # Later than now to the microsecond (fields.Datetime.now() drops them): a
    # trigger for later must be due after its own create_date (see _wake_ctes).
    if at is not None and at > utcnow():
        # Later: Odoo's own trigger, which notifies nobody for a future time, and
        # an alarm that does once it is due.
        cron = env["ir.cron"].sudo().browse(cron_id)
        cron._trigger(at)
        if cron.active:
            delay = (at - fields.Datetime.now()).total_seconds() + ALARM_SLACK
            dbname = env.cr.dbname
            env.cr.postcommit.add(lambda: notify_later(dbname, delay))
        return
    cr = env.cr
    if cr.postcommit.data.get(_key(cron_id)):
        return
    # The statement reads the tables directly: write what the ORM holds first
    # (nothing, usually: no query then).
    env["ir.cron"].flush_model(["active"])
    env["ir.cron.trigger"].flush_model()
    try:
        with cr.savepoint(flush=False):
            cr.execute(
                SQL(
                    "WITH %s SELECT (SELECT id FROM trig)",
                    _wake_ctes(cron_id, env.uid, SQL("TRUE")),
                ),
                log_exceptions=False,
            )
            (trigger_id,) = cr.fetchone()
    except psycopg2.errors.SerializationFailure:
        # The trigger it found was cleared by a run that committed after this
        # transaction began: none stands for a wake-up here; add one.
        env["ir.cron.trigger"].sudo().create(
            {"cron_id": cron_id, "call_at": cr.now().replace(microsecond=0)}
        )
        trigger_id = True
    if trigger_id:
        notify_on_commit(env, cron_id)


def get_cron_id(env, xmlid):
    """The cron's id from Odoo's cached xmlid look-up: no query (env.ref would
    check that the record exists)."""
    return env["ir.model.data"]._xmlid_to_res_id(xmlid)


def with_wake(query, cron_id, uid):
    """`query` (an INSERT ... RETURNING id) and the cron's wake-up, one statement.

    Its row: (the inserted id or None, the new trigger's id or None). A trigger is
    added only when a row was inserted and none stands for a wake-up already;
    then call `notify_on_commit`.
    """
    return SQL(
        "WITH ins AS (%s), %s SELECT (SELECT id FROM ins), (SELECT id FROM trig)",
        query,
        _wake_ctes(cron_id, uid, SQL("EXISTS (SELECT 1 FROM ins)")),
    )


def _wake_ctes(cron_id, uid, condition):
    """CTEs `state` (the cron active, a trigger pending) and `trig` (the trigger
    added when the cron is active, none is pending, and `condition` holds).

    A due trigger pending is one made due (call_at <= create_date: its maker
    notified the cron workers) that no cron run has begun to clear: locked FOR
    KEY SHARE SKIP LOCKED, so that the run which will delete it (Odoo clears due
    triggers when a run starts) waits for this transaction to commit and then
    sees its rows. One made for a later time that has come due since was
    announced to nobody, and does not count. Under REPEATABLE READ, a trigger
    that a run deleted and committed after this transaction's snapshot cannot be
    locked: a serialization failure, which the caller handles.

    The trigger added is due at the transaction's timestamp truncated to the
    second, and created at the timestamp itself: call_at <= create_date, the mark
    of a trigger made due. Truncated because a run clears only the triggers due
    by its own start truncated to the second (`ir.cron._clear_schedule`): one due
    at 12:00:00.300, committed before a run that starts at 12:00:00.450, would
    outlive the run its notification caused, and then stand for a wake-up that
    nobody sends.
    """
    return SQL(
        """state AS (
            SELECT c.active, t.id IS NOT NULL AS pending
              FROM ir_cron c
              LEFT JOIN LATERAL (
                   SELECT id FROM ir_cron_trigger
                    WHERE cron_id = c.id
                      AND call_at <= (clock_timestamp() AT TIME ZONE 'UTC')
                      AND call_at <= create_date
                    LIMIT 1 FOR KEY SHARE SKIP LOCKED) t ON TRUE
             WHERE c.id = %(cron)s),
        trig AS (
            INSERT INTO ir_cron_trigger
                   (cron_id, call_at, create_date, write_date, create_uid, write_uid)
            SELECT %(cron)s, date_trunc('second', n.at), n.at, n.at, %(uid)s,
                   %(uid)s
              FROM state, (SELECT now() AT TIME ZONE 'UTC' AS at) n
             WHERE state.active AND NOT state.pending AND %(condition)s
            RETURNING id)""",
        cron=cron_id,
        uid=uid,
        condition=condition,
    )


def _key(cron_id):
    return f"mrp_pico_mes.wake.{cron_id}"


def notify_on_commit(env, cron_id):
    """Notify the cron workers once this transaction commits (once per cron)."""
    cr = env.cr
    cr.postcommit.data[_key(cron_id)] = True
    dbname = cr.dbname
    cr.postcommit.add(lambda: notify(dbname))


def notify(dbname):
    """pg_notify the cron workers of `dbname`, on this process's kept connection."""
    with _LOCK:
        for _attempt in range(2):
            cnx = _state["cnx"]
            try:
                if cnx is None or cnx.closed or _state["pid"] != os.getpid():
                    _name, info = sql_db.connection_info_for(_LISTENER_DB)
                    cnx = psycopg2.connect(**info)
                    cnx.autocommit = True
                    _state.update(cnx=cnx, pid=os.getpid())
                with cnx.cursor() as cursor:
                    cursor.execute(
                        sql.SQL("SELECT {}('cron_trigger', %s)").format(
                            sql.Identifier(ODOO_NOTIFY_FUNCTION)
                        ),
                        [dbname],
                    )
                return True
            except psycopg2.Error as exc:
                _logger.info("Pico cron wake-up: notify failed (%s), reconnecting", exc)
                if cnx is not None and _state["pid"] == os.getpid():
                    with contextlib.suppress(psycopg2.Error):
                        cnx.close()
                _state["cnx"] = None
    return False


class _Alarms:
    """One daemon thread per process that notifies databases at given times."""

    def __init__(self):
        self.cond = threading.Condition()
        self.pid = None
        self.heap = []  # (time.monotonic() due, dbname)
        self.keys = set()  # (dbname, whole second): one alarm each
        self.thread = None

    def add(self, dbname, delay):
        if not 0 <= delay <= ALARM_HORIZON:
            return False
        due = time.monotonic() + delay
        key = (dbname, math.ceil(due))
        with self.cond:
            if self.pid != os.getpid():
                # A forked worker inherits the parent's list but not its thread.
                self.heap, self.keys, self.thread = [], set(), None
                self.pid = os.getpid()
            if key in self.keys:
                return True
            if len(self.heap) >= ALARM_MAX:
                return False
            self.keys.add(key)
            heapq.heappush(self.heap, (key[1], dbname))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._loop, name="pico-cron-alarm", daemon=True
                )
                self.thread.start()
            self.cond.notify()
        return True

    def _loop(self):
        while True:
            with self.cond:
                while not self.heap:
                    self.cond.wait()
                due, dbname = self.heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cond.wait(wait)
                    continue
                heapq.heappop(self.heap)
                self.keys.discard((dbname, due))
            notify(dbname)


_alarms = _Alarms()


def notify_later(dbname, delay):
    """Notify the cron workers of `dbname` in `delay` seconds, from this process.

    Alarms due within the same second are sent once; beyond ALARM_HORIZON, or
    with ALARM_MAX alarms pending, nothing is scheduled (False): the cron
    workers' own poll finds the trigger.
    """
    return _alarms.add(dbname, delay)
