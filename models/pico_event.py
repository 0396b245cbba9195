# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import threading
import time
import traceback
from datetime import timedelta

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.modules import module as odoo_module
from odoo.modules.registry import Registry
from odoo.tools import SQL, config

from ..core import inbox, keys, outbox
from ..core.claim import claim_one
from ..core.errors import PayloadError

_logger = logging.getLogger(__name__)
# How much of a refused message is kept to show (its key covers all of it).
REFUSED_PAYLOAD_LIMIT = 64 * 1024

TRACEBACK_LIMIT = 20000
# Seconds one processor cron run may take (well under Odoo's limit_time_real).
CRON_RUN_SECONDS = 40
# Seconds after a registry load at which a backlog wakes the crons (see below).
BACKLOG_WAKE_DELAYS = (2.0, 10.0)
# Prefix of this module's advisory lock names (hashed to PostgreSQL's bigint keys).
LOCK_NAMESPACE = "mrp_pico_mes:"
# Errors of a transaction that lost a race with another worker: retried, not failed.
TRANSIENT_DB_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)


def _take_up_backlog(dbname):
    """Timer body of `_pico_schedule_backlog_wakeup` (its own cursor)."""
    try:
        with Registry(dbname).cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["pico.event"]._pico_take_up_backlog()
    except Exception as exc:  # noqa: BLE001 - a wake-up must never break the server
        _logger.info("Pico backlog wake-up skipped: %s", exc)


class PicoEvent(models.Model):
    """The inbox: one row per event received from Pico, whatever the door.

    Doors (webhook controller, MQTT subscriber, reconciliation) only store rows
    through `_pico_store`; `_process_events` applies them through the handler model
    of their type. Rows are written only by these methods: users read them and
    press Retry/Replay.
    """

    _name = "pico.event"
    _description = "Pico MES Event"
    _inherit = ["mail.thread", "mail.activity.mixin", "pico.failure.mixin"]
    _order = "received_at desc, id desc"
    # Users only read events, yet may comment on them and get activities.
    _mail_post_access = "read"

    # event_type -> model whose `_pico_handle_event(event)` applies it.
    _EVENT_HANDLERS = {
        inbox.PRODUCTION_VERSION: "pico.operation",
        inbox.COMPLETION: "pico.completion",
        inbox.SCRAP: "pico.shopfloor",
        inbox.DOWNTIME: "pico.shopfloor",
        inbox.QUALITY: "pico.shopfloor",
        inbox.CONSUMPTION: "pico.shopfloor",
    }

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    event_type = fields.Selection(inbox.EVENT_TYPES, required=True, readonly=True)
    source = fields.Selection(
        [
            ("webhook", "Webhook"),
            ("mqtt", "MQTT"),
            ("poll", "Reconciliation"),
            ("manual", "Manual"),
        ],
        required=True,
        readonly=True,
    )
    idempotency_key = fields.Char(required=True, readonly=True, index=True)
    topic = fields.Char(readonly=True, help="MQTT topic the event arrived on.")
    payload = fields.Text(readonly=True, help="The body exactly as received.")
    data = fields.Json(readonly=True, help="The event object, unwrapped.")
    external_order_id = fields.Char(readonly=True, index=True)
    order_index = fields.Integer(readonly=True)
    production_id = fields.Many2one(
        "mrp.production", readonly=True, index="btree_not_null"
    )
    mes_time = fields.Datetime(
        string="MES Time",
        readonly=True,
        help="When the event happened, by Pico's (or the station's) clock.",
    )
    received_at = fields.Datetime(
        default=fields.Datetime.now,
        required=True,
        readonly=True,
        help="When Odoo accepted the event, by Odoo's clock.",
    )
    processed_at = fields.Datetime(readonly=True)
    state = fields.Selection(
        inbox.STATES,
        default=inbox.RECEIVED,
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True, index=True)
    result = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
    error_class = fields.Char(readonly=True)
    traceback = fields.Text(readonly=True)
    retryable = fields.Boolean(compute="_compute_retryable")

    _backend_key_uniq = models.Constraint(
        "UNIQUE(backend_id, idempotency_key)",
        "This event was already received.",
    )

    @api.depends("event_type", "external_order_id", "order_index")
    def _compute_display_name(self):
        labels = dict(self._fields["event_type"]._description_selection(self.env))
        for event in self:
            name = labels.get(event.event_type, event.event_type or "")
            if event.external_order_id:
                name = f"{name} {event.external_order_id}/{event.order_index}"
            event.display_name = name

    @api.depends("state", "data")
    def _compute_retryable(self):
        for event in self:
            # A refused message has no data to apply: replaying it cannot succeed.
            event.retryable = event.state in inbox.REPLAYABLE and bool(event.data)

    # --- Doors -----------------------------------------------------------------
    @api.model
    def _pico_store(self, backend, intake, source, payload=None, topic=None):
        """Store an accepted event once; return (event, created)."""
        existing = self._pico_find(backend, intake.key)
        if existing:
            return existing, False
        vals = {
            "backend_id": backend.id,
            "event_type": intake.event_type,
            "source": source,
            "idempotency_key": intake.key,
            "topic": topic,
            "payload": payload,
            "data": intake.data,
            "external_order_id": intake.external_order_id,
            "order_index": intake.order_index,
            "mes_time": intake.mes_time,
        }
        return self._pico_create_once(backend, vals)

    @api.model
    def _pico_store_rejected(
        self, backend, event_type, source, payload, error, topic=None
    ):
        """Store a refused message as a failed event; return (event, created).

        Used by doors that must accept every delivery (MQTT acks it anyway): the
        message stays visible with the reason instead of blocking the topic.
        """
        raw = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
        # Keyed on the exact bytes, never on an eventId inside: a corrected message
        # reusing that id must not be taken for a repeat of the refused one.
        key = keys.message_key(f"{backend.id}:{topic or event_type}:refused", raw)
        existing = self._pico_find(backend, key)
        if existing:
            return existing, False
        vals = {
            "backend_id": backend.id,
            "event_type": event_type,
            "source": source,
            "idempotency_key": key,
            "topic": topic,
            # Shown, not parsed: bounded, and without the NUL PostgreSQL refuses.
            "payload": raw[:REFUSED_PAYLOAD_LIMIT]
            .decode("utf-8", "replace")
            .replace("\x00", "\ufffd"),
            "state": inbox.FAILED,
            "error": str(error),
            "error_class": type(error).__name__,
        }
        return self._pico_create_once(backend, vals)

    @api.model
    def _pico_store_message(self, backend, message, source="mqtt"):
        """Store one broker message; return (event, created, refused).

        A message that breaks its schema is refused, yet kept visible as a failed
        event; the subscriber acknowledges it anyway, so it never blocks the topic.
        """
        try:
            intake = inbox.intake(
                message.event_type,
                message.payload,
                backend.id,
                topic=message.topic,
                raw=message.payload,
            )
        except PayloadError as exc:
            event, created = self._pico_store_rejected(
                backend,
                message.event_type,
                source,
                message.payload,
                exc,
                topic=message.topic,
            )
            return event, created, True
        event, created = self._pico_store(
            backend,
            intake,
            source,
            payload=message.text("replace"),
            topic=message.topic,
        )
        return event, created, False

    @api.model
    def _pico_create_once(self, backend, vals):
        """Create an event unless its key is stored already; return (event, created).

        One `INSERT ... ON CONFLICT DO NOTHING`: a duplicate delivered at the same
        moment to another worker or node is a normal case, and must not leave
        PostgreSQL's unique violation in the log as an ERROR (which the ORM's
        create would). Under REPEATABLE READ, a row that a concurrent delivery
        committed after this transaction began is invisible here; PostgreSQL then
        answers with a serialization failure, which is exactly "already received".
        """
        key = vals["idempotency_key"]
        row = self._pico_insert_row(backend, vals)
        if row is None:
            # Committed by a concurrent delivery after this transaction began: not
            # visible here, but its id is worth answering with.
            return self.browse(self._pico_committed_id(backend, key)), False
        if not row:
            return self._pico_find(backend, key), False
        return self.browse(row), True

    @api.model
    def _pico_insert_row(self, backend, vals):
        """INSERT the row unless its key exists; its id, 0 if it exists, None if a
        concurrent transaction committed it (invisible to this one)."""
        defaults = self.default_get(
            [
                name
                for name, field in self._fields.items()
                if field.store
                and field.column_type
                and not field.compute
                and not field.related
                and name not in vals
            ]
        )
        now = self.env.cr.now()
        values = {
            **defaults,
            **vals,
            "company_id": backend.company_id.id,
            "create_uid": self.env.uid,
            "write_uid": self.env.uid,
            "create_date": now,
            "write_date": now,
        }
        columns = [name for name in values if name in self._fields]
        params = [
            self._fields[name].convert_to_column_insert(values[name], self, values)
            for name in columns
        ]
        query = SQL(
            "INSERT INTO %s (%s) VALUES %s "
            "ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id",
            SQL.identifier(self._table),
            SQL(", ").join(SQL.identifier(name) for name in columns),
            tuple(params),
        )
        cr = self.env.cr
        self.env.flush_all()
        try:
            with cr.savepoint(flush=False):
                cr.execute(query, log_exceptions=False)
                found = cr.fetchone()
        except pg_errors.SerializationFailure:
            return None
        return found[0] if found else 0

    @api.model
    def _pico_committed_id(self, backend, key):
        """Id of a committed event, read outside this transaction's snapshot."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT id FROM pico_event WHERE backend_id = %s "
                "AND idempotency_key = %s",
                (backend.id, key),
            )
            row = cr.fetchone()
        return row[0] if row else []

    @api.model
    def _pico_find(self, backend, key):
        return self.search(
            [("backend_id", "=", backend.id), ("idempotency_key", "=", key)], limit=1
        )

    @api.model
    def _pico_trigger(self, at=None):
        """Ask the processor cron to run as soon as possible (or at `at`)."""
        cron = self.env.ref("mrp_pico_mes.ir_cron_pico_event_process", False)
        if cron:
            cron.sudo()._trigger(at)

    @api.model
    def _pico_wake_held(self, backend, external_order_ids):
        """Retry held events of orders that just became known, without waiting."""
        held = self.search(
            [
                ("backend_id", "=", backend.id),
                ("state", "=", inbox.HELD),
                ("external_order_id", "in", list(external_order_ids)),
            ]
        )
        if held:
            # No date: due at once, whatever the clock of this transaction says.
            held.write({"next_attempt_at": False})
            self._pico_trigger()
        return held

    # --- Server start ----------------------------------------------------------
    def _register_hook(self):
        super()._register_hook()
        self._pico_schedule_backlog_wakeup()

    @api.model
    def _pico_schedule_backlog_wakeup(self, delays=BACKLOG_WAKE_DELAYS):
        """Take up the stored backlog a few seconds after this server starts.

        Events (and exchanges) stored before a crash would otherwise wait for the
        cron's first poll, about a minute after start, unless new traffic triggers
        the processor. The registry is loaded before Odoo's cron threads listen for
        wake-ups, so the wake-up is sent from timers, once they do.
        """
        if odoo_module.current_test or config["stop_after_init"]:
            return []
        dbname = self.env.cr.dbname
        timers = []
        for delay in delays:
            timer = threading.Timer(delay, _take_up_backlog, args=(dbname,))
            timer.daemon = True
            timer.start()
            timers.append(timer)
        return timers

    @api.model
    def _pico_take_up_backlog(self):
        """Trigger the processor and the sender if work is due; return what was."""
        self.env.cr.execute(
            SQL(
                "SELECT EXISTS(SELECT 1 FROM pico_event WHERE %s)",
                SQL(self._pico_due_domain_sql(), (inbox.RECEIVED, inbox.HELD)),
            )
        )
        due = {"events": self.env.cr.fetchone()[0]}
        if due["events"]:
            self._pico_trigger()
        exchanges = self.env["pico.exchange"]
        self.env.cr.execute(
            "SELECT EXISTS(SELECT 1 FROM pico_exchange WHERE state IN %s)",
            [tuple(outbox.DUE_STATES) + (outbox.SENDING,)],
        )
        due["exchanges"] = self.env.cr.fetchone()[0]
        if due["exchanges"]:
            exchanges._pico_trigger()
        return due

    # --- Processor -------------------------------------------------------------
    @api.model
    def _cron_process_events(self, limit=500, seconds=CRON_RUN_SECONDS):
        """Cron entry point: apply due events, committing after each one.

        A run stops after `seconds` and triggers the next one: Odoo restarts a
        threaded server (kills a prefork cron worker) whose cron thread runs
        longer than limit_time_real (120 s by default), and a backlog applied at
        a few seconds per event on a loaded server would get there.
        """
        return self._process_events(limit=limit, deadline=time.monotonic() + seconds)

    @api.model
    def _process_events(self, ids=None, limit=None, commit=None, deadline=None):
        """Apply due events (all, or among `ids`); return how many were processed.

        Each event is claimed with FOR NO KEY UPDATE SKIP LOCKED, so several workers
        never apply one event twice. Work on one order (and on the stock of its
        products, or one work center's stops) is serialised among workers and
        nodes by advisory locks taken before the work: an event whose order another
        worker is applying is left to that worker, and this one moves on. `commit`
        defaults to True except under tests.
        """
        if commit is None:
            commit = not odoo_module.current_test
        processed = 0
        busy = set()
        while limit is None or processed < limit:
            if deadline is not None and time.monotonic() > deadline:
                # Out of time for this run: the next one takes the rest at once.
                self._pico_trigger()
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                break
            event = self._pico_claim_next(ids, commit, exclude=busy)
            if not event:
                break
            keys = event._pico_lock_keys()
            if not self._pico_try_locks(keys, session=commit):
                # Another worker applies this order now; it takes this event next.
                busy.add(event.id)
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                continue
            try:
                if commit and keys:
                    # Start afresh now that the order is ours: a snapshot taken
                    # before the other worker committed would make every row it
                    # changed a serialization failure (an ERROR in Odoo's log).
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    self.env.invalidate_all()
                    event = self._pico_claim_next(event.ids, commit)
                    if not event:
                        continue
                event._pico_process_one()
                processed += 1
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
            finally:
                if commit and keys:
                    self._pico_unlock(keys)
        if busy:
            # In case the worker holding those orders stops before taking them.
            self._pico_trigger(fields.Datetime.now() + timedelta(seconds=2))
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return processed

    def _pico_due_domain_sql(self):
        # clock_timestamp(), not now(): now() is frozen at the transaction's start,
        # and a long run (or a test) must see rows come due while it goes on.
        return (
            "state IN %s AND (next_attempt_at IS NULL "
            "OR next_attempt_at <= (clock_timestamp() AT TIME ZONE 'UTC'))"
        )

    @api.model
    def _pico_claim_next(self, ids, commit, exclude=()):
        self.env.flush_all()
        query = f"""
            SELECT id FROM pico_event
             WHERE {self._pico_due_domain_sql()}
               {"AND id IN %s" if ids else ""}
               {"AND id NOT IN %s" if exclude else ""}
          ORDER BY COALESCE(mes_time, received_at), id
             LIMIT 1
               FOR NO KEY UPDATE SKIP LOCKED
        """
        params = [(inbox.RECEIVED, inbox.HELD)]
        if ids:
            params.append(tuple(ids))
        if exclude:
            params.append(tuple(exclude))
        event = self.browse(claim_one(self.env.cr, query, params, commit))
        # The locked row as the database has it, not as an earlier loop left it.
        event.invalidate_recordset()
        return event

    # --- Serialising work per order ----------------------------------------------
    def _pico_locate_production(self):
        """The MO this event is about, found without applying it (or empty)."""
        self.ensure_one()
        handler = self._EVENT_HANDLERS.get(self.event_type)
        locate = (
            getattr(self.env[handler], "_pico_event_production", None)
            if handler in self.env
            else None
        )
        production = locate(self) if locate else None
        return production or self.production_id

    def _pico_lock_keys(self):
        """Names of what applying this event changes, for advisory locks.

        The order (all MOs of one Pico order id: backorders keep it), the stock of
        the products its MO makes and consumes (two orders of one product take the
        same component quants), and for a downtime the work center's stops.
        """
        self.ensure_one()
        backend = self.backend_id.id
        keys = set()
        if self.external_order_id:
            keys.add(f"order:{backend}:{self.external_order_id}")
        production = self._pico_locate_production()
        if production:
            keys.add(f"mo:{production.id}")
            products = production.product_id | production.move_raw_ids.product_id
            keys.update(f"product:{product.id}" for product in products)
        data = self.data if isinstance(self.data, dict) else {}
        if self.event_type == inbox.DOWNTIME and data.get("workcenterCode"):
            keys.add(f"workcenter:{backend}:{data['workcenterCode']}")
        return sorted(keys)

    @api.model
    def _pico_try_locks(self, keys, session=True):
        """Take every advisory lock of `keys` without waiting; True if all were.

        Session locks (kept across the commits of one event's work, released by
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

    def _pico_process_one(self):
        """Apply one claimed event and record the outcome in a single write."""
        self.ensure_one()
        backend = self.backend_id
        attempts = self.attempts + 1
        vals = {"attempts": attempts}
        handler = self._EVENT_HANDLERS.get(self.event_type)
        production = self._pico_locate_production()
        if production and production != self.production_id:
            # Outside the handler's savepoint: a failure still shows on the order.
            vals["production_id"] = production.id
        try:
            if not handler or handler not in self.env:
                raise UserError(
                    self.env._("No processor for %s events.", self.event_type)
                )
            with self.env.cr.savepoint():
                if production:
                    # A planner's change committed after this transaction began
                    # is a serialization failure here, before any work, instead
                    # of a failed UPDATE that Odoo would log as an ERROR.
                    production._pico_lock_rows()
                result = (
                    self.env[handler]
                    .with_company(backend.company_id)
                    ._pico_handle_event(self)
                )
        except inbox.EventHeld as exc:
            state, next_at = inbox.after_hold(
                attempts,
                backend.max_attempts or 1,
                fields.Datetime.now(),
                base=backend.retry_base_delay or 10,
                cap=backend.retry_max_delay or 3600,
            )
            vals.update(
                state=state, next_attempt_at=next_at, error=str(exc), error_class="held"
            )
        except TRANSIENT_DB_ERRORS as exc:
            # Another worker changed the same order or stock at the same time:
            # nothing was applied (savepoint), so simply try again shortly.
            _logger.info("Pico event %s met a concurrent update: %s", self.id, exc)
            next_at = fields.Datetime.now() + timedelta(seconds=min(2**attempts, 60))
            vals.update(
                state=inbox.DEAD
                if attempts >= (backend.max_attempts or 1) * 3
                else self.state,
                next_attempt_at=next_at,
                error=self.env._("Concurrent update, retried: %s", exc),
                error_class=type(exc).__name__,
            )
            self._pico_trigger(next_at)
        except (UserError, ValidationError, PayloadError) as exc:
            vals.update(
                state=inbox.FAILED,
                next_attempt_at=False,
                error=str(exc.args[0] if exc.args else exc),
                error_class=type(exc).__name__,
                traceback=False,
            )
        except Exception as exc:  # noqa: BLE001 - anything else must be kept visibly
            _logger.warning("Pico event %s failed: %s", self.id, exc)
            vals.update(
                state=inbox.FAILED,
                next_attempt_at=False,
                error=str(exc) or type(exc).__name__,
                error_class=type(exc).__name__,
                traceback=traceback.format_exc()[-TRACEBACK_LIMIT:],
            )
        else:
            vals.update(
                state=inbox.DONE,
                next_attempt_at=False,
                processed_at=fields.Datetime.now(),
                result=result if isinstance(result, str) else False,
                error=False,
                error_class=False,
                traceback=False,
            )
        self.write(vals)
        if self.state in (inbox.FAILED, inbox.DEAD):
            self._pico_notify_failure()

    def _pico_failure_texts(self):
        self.ensure_one()
        body = self.env._(
            "Pico event %(event)s could not be applied: %(error)s",
            event=self.display_name,
            error=self.error,
        )
        return body, self.env._("Pico event failed")

    # --- Buttons ---------------------------------------------------------------
    def action_retry(self):
        """Send failed, held or dead events back to the processor."""
        events = self.filtered("retryable")
        if not events:
            raise UserError(
                self.env._("Only failed, held or dead events can be retried.")
            )
        events.sudo().write(
            {
                "state": inbox.RECEIVED,
                "attempts": 0,
                "next_attempt_at": False,
            }
        )
        for event in events:
            event.message_post(body=self.env._("Sent back to processing."))
        self._pico_trigger()
        return True

    def action_open_production(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mrp.production",
            "res_id": self.production_id.id,
            "view_mode": "form",
        }
