# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Waking the Pico queue crons (processor, sender) without a connection per event.

Odoo's `ir.cron._trigger` inserts a trigger row and, after the commit, sends
`pg_notify('cron_trigger', <db>)` on a new connection to the `postgres` database
(the cron workers listen there), which Odoo never pools: about 8 ms and a backend
process start per call, paid by every webhook and every confirm. Here:

- a due trigger row that no cron run has begun to clear already wakes the cron:
  the caller adds none, and holds a KEY SHARE lock on that row until it commits,
  so that the run which will delete it (Odoo clears due triggers when a run starts)
  waits for this transaction to commit and then sees its rows (a trigger whose run
  has begun is locked or gone: SKIP LOCKED, or a serialization failure, and the
  caller adds its own);
- otherwise one trigger row is added (ORM) and, after the commit, the
  notification goes out on one connection per process kept open for it.
"""

import contextlib
import logging
import os
import threading

import psycopg2
from psycopg2 import sql

from odoo import fields, sql_db

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LISTENER_DB = "postgres"
_state = {"pid": None, "cnx": None}


def wake(env, xmlid, at=None):
    """Have the cron `xmlid` run as soon as this transaction commits (or at `at`)."""
    cron = env.ref(xmlid, raise_if_not_found=False)
    if not cron:
        return
    cron = cron.sudo()
    if at is not None and at > fields.Datetime.now():
        # Later: Odoo's own trigger, which notifies nobody for a future time.
        cron._trigger(at)
        return
    if not cron.active:
        return
    cr = env.cr
    if _pending(cr, cron.id):
        return
    key = f"mrp_pico_mes.wake.{cron.id}"
    if cr.postcommit.data.get(key):
        return
    cr.postcommit.data[key] = True
    env["ir.cron.trigger"].sudo().create(
        {"cron_id": cron.id, "call_at": fields.Datetime.now()}
    )
    dbname = cr.dbname
    cr.postcommit.add(lambda: notify(dbname))


def _pending(cr, cron_id):
    """Lock a due trigger of the cron that no run has begun to clear; True if any.

    Under REPEATABLE READ, a trigger that a run deleted and committed after this
    transaction's snapshot cannot be locked (serialization failure): then nothing
    is pending for this transaction, which adds its own.
    """
    try:
        with cr.savepoint(flush=False):
            cr.execute(
                "SELECT id FROM ir_cron_trigger "
                "WHERE cron_id = %s "
                "AND call_at <= (clock_timestamp() AT TIME ZONE 'UTC') "
                "LIMIT 1 FOR KEY SHARE SKIP LOCKED",
                [cron_id],
                log_exceptions=False,
            )
            return bool(cr.fetchone())
    except psycopg2.errors.SerializationFailure:
        return False


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
