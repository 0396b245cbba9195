# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import time

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..core import inbox, keys, races
from ..core.errors import PayloadError
from ..core.payloads import parse_completion
from .pico_queue import TRANSIENT_DB_ERRORS

_logger = logging.getLogger(__name__)
# How much of a refused message is kept to show (its key covers all of it).
REFUSED_PAYLOAD_LIMIT = 64 * 1024

# Seconds one processor cron run may take (well under Odoo's limit_time_real).
CRON_RUN_SECONDS = 40


class PicoEvent(models.Model):
    """The inbox: one row per event received from Pico, whatever the door.

    Doors (webhook controller, MQTT subscriber, reconciliation) only store rows
    (`_pico_accept`, `_pico_store`) and hand them to the backend's executor;
    the queue's run loop (pico_queue.py) applies them through the handler model
    of their type. Rows are written only by these methods: users read them and
    press Retry/Replay.
    """

    _name = "pico.event"
    _description = "Pico MES Event"
    _inherit = ["pico.queue"]
    _order = "received_at desc, id desc"
    _pico_cron_xmlids = (
        "mrp_pico_mes.ir_cron_pico_event_process",
        "mrp_pico_mes.ir_cron_pico_event_process_2",
    )
    _pico_job_channel = "root.pico_inbox"
    # Held events and lost races wait for their next attempt.
    _pico_wait_states = inbox.DUE_STATES
    _pico_error_states = inbox.ERROR_STATES
    # Work on one order is serialised by advisory locks; the event is read again
    # in a fresh transaction once they are taken.
    _pico_restart_after_lock = True

    # event_type -> model whose `_pico_handle_event(event)` applies it.
    _EVENT_HANDLERS = {
        inbox.PRODUCTION_VERSION: "pico.operation",
        inbox.COMPLETION: "pico.completion",
        inbox.SCRAP: "pico.shopfloor",
        inbox.DOWNTIME: "pico.shopfloor",
        inbox.QUALITY: "pico.shopfloor",
        inbox.CONSUMPTION: "pico.shopfloor",
        inbox.NOTE: "pico.unit.note",
    }

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
    result = fields.Text(readonly=True)

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
        """Store an accepted event once; return (event, created).

        No look-up first: the INSERT ... ON CONFLICT of `_pico_create_once` finds a
        duplicate anyway, and a new event (the usual case) is one query cheaper.
        """
        vals = self._pico_store_vals(backend, intake, source, payload, topic)
        return self._pico_create_once(backend, vals)

    @api.model
    def _pico_store_vals(self, backend, intake, source, payload=None, topic=None):
        return {
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
        query = self._pico_insert_sql(backend, vals)
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
    def _pico_insert_sql(self, backend, vals):
        """`INSERT ... ON CONFLICT (backend_id, idempotency_key) DO NOTHING
        RETURNING id` of an event: the ORM's defaults and log columns, without
        create() and without a query for the transaction's timestamp."""
        vals = self._pico_with_clocks(vals)  # pico_event_insight.py
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
        company_id = vals.get("company_id")
        if not company_id:
            company_id = backend.company_id.id
        values = {
            **defaults,
            **vals,
            "company_id": company_id,
            "create_uid": self.env.uid,
            "write_uid": self.env.uid,
        }
        columns = [name for name in values if name in self._fields]
        params = [
            SQL(
                "%s",
                self._fields[name].convert_to_column_insert(values[name], self, values),
            )
            for name in columns
        ]
        now = SQL("(now() AT TIME ZONE 'UTC')")
        return SQL(
            "INSERT INTO %s (%s) VALUES (%s) "
            "ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id",
            SQL.identifier(self._table),
            SQL(", ").join(
                SQL.identifier(name) for name in [*columns, "create_date", "write_date"]
            ),
            SQL(", ").join([*params, now, now]),
        )

    @api.model
    def _pico_accept(self, backend, intake, source, payload=None, company_id=None):
        """The webhook door: store the event once and hand it to its executor;
        return (event, created)."""
        vals = self._pico_store_vals(backend, intake, source, payload)
        if company_id:
            # The backend's company, as the caller read it with the backend.
            vals["company_id"] = company_id
        event, created = self._pico_create_once(backend, vals)
        if created:
            event._pico_dispatch()
        return event, created

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
            held._pico_dispatch()
        return held

    # --- Processor (the queue's run loop, pico_queue.py) -------------------------
    @api.model
    def _cron_process_events(self, seconds=CRON_RUN_SECONDS):
        """Cron entry point (each processor slot): apply due events, committing
        after each one.

        A run stops after `seconds` and triggers the next one: Odoo restarts a
        threaded server (kills a prefork cron worker) whose cron thread runs
        longer than limit_time_real (120 s by default).
        """
        return self._pico_cron_run(deadline=time.monotonic() + seconds)

    @api.model
    def _pico_due_states(self):
        return inbox.DUE_STATES

    @api.model
    def _pico_after_run(self, commit):
        """Rebuild the units report's days the events of this run marked, once
        for the run (pico_unit_report.py `_pico_refresh_units`), on fresh data."""
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        try:
            with (
                races.retried_races("Pico units report rebuild"),
                self.env.cr.savepoint(),
            ):
                self.env["pico.unit.report"].sudo()._pico_refresh_stale()
        except TRANSIENT_DB_ERRORS as exc:
            # A unit changed meanwhile: it stays marked for the next rebuild.
            _logger.info("Pico units report: rebuild left for later (%s)", exc)
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _pico_claim_order(self):
        # In the order of the shop floor's clock: a unit's child processes before
        # the unit, a scrap after the build it scraps.
        return SQL("COALESCE(q.mes_time, q.received_at), q.id")

    def _pico_lane_keys(self):
        # The events of one Pico order (its MOs and backorders) in their order;
        # an event of no order is a lane of its own.
        return [self._pico_order_key()]

    def _pico_job_identity_key(self):
        # One waiting job per order, not per event: the events of an order that
        # arrive while its job waits or runs go with it (the job hands the rest
        # of the lane to the next one), instead of each polling the busy lane.
        return self._pico_order_key()

    @api.model
    def _pico_job_identity_sql(self):
        return SQL(
            "CASE WHEN COALESCE(q.external_order_id, '') <> '' "
            "THEN 'order:' || q.backend_id || ':' || q.external_order_id "
            "ELSE 'event:' || q.id END"
        )

    def _pico_order_key(self):
        if self.external_order_id:
            return f"order:{self.backend_id.id}:{self.external_order_id}"
        return f"event:{self.id}"

    def _pico_lane_sql(self):
        """The events of this one's order (or this one alone)."""
        if not self.external_order_id:
            return SQL("q.id = %s", self.id)
        return SQL(
            "q.backend_id = %s AND q.external_order_id = %s",
            self.backend_id.id,
            self.external_order_id,
        )

    def _pico_handler(self):
        """The model whose `_pico_handle_event(event)` applies this event, or None."""
        handler = self._EVENT_HANDLERS.get(self.event_type)
        return self.env.get(handler)

    def _prepare_attempt_vals(self):
        vals = {"attempts": self.attempts + 1}
        production = self._pico_locate_production()
        if production and production != self.production_id:
            # Outside the handler's savepoint: a failure still shows on the order.
            vals["production_id"] = production.id
        return vals

    def _pico_work(self, resources, attempt):
        """Dispatch the event to the handler of its type, in a savepoint."""
        handler = self._pico_handler()
        if handler is None:
            raise UserError(self.env._("No processor for %s events.", self.event_type))
        production = (
            self.env["mrp.production"].browse(attempt.get("production_id"))
            or self.production_id
        )
        with self.env.cr.savepoint():
            if production:
                # A planner's change committed after this transaction began is a
                # serialization failure here, before any work, instead of a failed
                # UPDATE that Odoo would log as an ERROR.
                production._pico_lock_rows()
            return handler.with_company(self.backend_id.company_id)._pico_handle_event(
                self
            )

    def _prepare_success_vals(self, result):
        return inbox.succeed(self.state, self._pico_now(), result)

    def _prepare_failure_vals(self, error):
        backend = self.backend_id
        attempts = self.attempts + 1
        max_attempts = backend.max_attempts or 1
        now = self._pico_now()
        if isinstance(error, inbox.EventHeld):
            return inbox.hold(
                self.state,
                attempts,
                max_attempts,
                now,
                str(error),
                base=backend.retry_base_delay or 10,
                cap=backend.retry_max_delay or 3600,
            )
        if isinstance(error, TRANSIENT_DB_ERRORS):
            # Another worker changed the same order or stock at the same time.
            _logger.info("Pico event %s met a concurrent update: %s", self.id, error)
            return inbox.lost_race(
                self.state,
                attempts,
                max_attempts,
                now,
                self.env._("Concurrent update, retried: %s", error),
                type(error).__name__,
            )
        if isinstance(error, self._pico_refusals()):
            # A refusal that explains itself: no traceback.
            message = str(error.args[0] if error.args else error)
            return inbox.fail(self.state, message, type(error).__name__)
        _logger.warning("Pico event %s failed: %s", self.id, error)
        return inbox.fail(
            self.state,
            str(error) or type(error).__name__,
            type(error).__name__,
            traceback=self._pico_traceback(),
        )

    @api.model
    def _pico_refusals(self):
        """Exceptions by which a handler refuses an event (kept without traceback)."""
        return (UserError, ValidationError, PayloadError)

    # --- Serialising work per order ----------------------------------------------
    def _pico_attempt_found(self):
        """What this attempt of the event has looked up, for its later steps.

        The locks, the attempt's values and the handler all need the event's MO
        (and the completion handler its unit): each is looked up once per attempt
        and transaction. Odoo's `cr.cache` lives as long as the transaction (it is
        cleared at commit and rollback), so when the run loop starts afresh after
        taking the locks, the work reads them again on its fresh snapshot.
        """
        self.ensure_one()
        attempts = self.env.cr.cache.setdefault("mrp_pico_mes.event_attempt", {})
        return attempts.setdefault((self.id, self.attempts), {})

    def _pico_locate_production(self):
        """The MO this event is about, found without applying it (or empty)."""
        found = self._pico_attempt_found()
        if "production" not in found:
            handler = self._pico_handler()
            locate = getattr(handler, "_pico_event_production", None)
            found["production"] = (locate(self) if locate else None) or None
        return found["production"] or self.production_id

    def _pico_lock_keys(self):
        """Names of what applying this event changes, for advisory locks.

        The order (all MOs of one Pico order id: backorders keep it), its MO,
        the MOs that hold a reservation of a serial or lot this completion
        consumes (`_pico_reserving_productions`), and for a downtime the work
        center's stops. Not the stock as such: orders that consume the same
        components run in parallel. Odoo's own quant update never waits for a
        quant another transaction holds (it takes another), and a race lost on a
        shared row (a quant committed since this transaction began) is retried
        on fresh data, not failed.
        """
        self.ensure_one()
        backend = self.backend_id.id
        keys = {self._pico_order_key()}
        production = self._pico_locate_production()
        if production:
            keys.add(f"mo:{production.id}")
            if self.event_type == inbox.COMPLETION:
                keys.update(
                    f"mo:{other}"
                    for other in self._pico_reserving_productions(production)
                )
        if self.event_type == inbox.DOWNTIME:
            data = self.data  # a copy at each read of the field: read once
            if isinstance(data, dict) and data.get("workcenterCode"):
                keys.add(f"workcenter:{backend}:{data['workcenterCode']}")
        return sorted(keys)

    def _pico_reserving_productions(self, production):
        """Ids of the other MOs whose component moves hold a reservation of a
        serial number this completion reports consumed.

        Odoo consumes the serial Pico reports, wherever Odoo reserved it: it
        frees the other MO's reservation and reserves another serial for it,
        writing that MO's moves. Two completions that take each other's
        reserved serials (operators pick the part at hand) then write each
        other's moves, and under REPEATABLE READ one of them loses, is
        retried, and loses again while the backlog is long (a chaos run on the
        job engine applied 150 events in 20 minutes, with 222 races lost on
        other MOs' motor moves). Locking those MOs too serialises exactly the
        completions that meet on the same reservation.

        Serial numbers only: a lot is reserved by every order that consumes
        from it (one threadlocker lot for a whole product family), and Odoo
        frees another order's reservation of a lot only when the lot runs short.
        Locking the lot's orders locked nearly every order with each completion
        (44 locks held by one job of a 1,000-completion chaos run, 123 jobs
        waiting); a lot running short is a race, retried on fresh data.
        """
        try:
            completion = parse_completion(self.data or {})
        except PayloadError:
            return []  # the handler refuses it, naming the field
        names = sorted(
            {
                serial.value
                for serial in completion.consumed_serials
                if isinstance(serial.value, str)
            }
        )
        if not names:
            return []
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT m.raw_material_production_id
                     FROM stock_move_line ml
                     JOIN stock_lot l ON l.id = ml.lot_id
                     JOIN stock_move m ON m.id = ml.move_id
                     JOIN product_product pp ON pp.id = l.product_id
                     JOIN product_template pt ON pt.id = pp.product_tmpl_id
                    WHERE l.name = ANY(%(names)s)
                      AND pt.tracking = 'serial'
                      AND l.product_id IN (
                          SELECT product_id FROM stock_move
                           WHERE raw_material_production_id = %(mo)s)
                      AND m.raw_material_production_id <> %(mo)s
                      AND m.state NOT IN ('done', 'cancel')""",
                names=names,
                mo=production.id,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _pico_failure_texts(self):
        self.ensure_one()
        body = self.env._(
            "Pico event %(event)s could not be applied: %(error)s",
            event=self.display_name,
            error=self.error,
        )
        return body, self.env._("Pico event failed")

    # --- Buttons ---------------------------------------------------------------
    def _prepare_retry_vals(self):
        return inbox.retry(self.state)

    def _pico_retry_refusal(self):
        return self.env._("Only failed, held or dead events can be retried.")
