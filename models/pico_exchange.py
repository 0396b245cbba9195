# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import traceback
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, config

from ..core import outbox
from ..core.claim import claim_one
from ..core.errors import PicoError

_logger = logging.getLogger(__name__)

TRACEBACK_LIMIT = 20000
# Stop a cron run when less time than this is left: one request may take
# connect + read timeout (35 s by default) and must not be cut by the cron limit.
CRON_TIME_MARGIN = 60.0
# Seconds after which a `sending` row no live sender holds is put back at once.
ORPHAN_AFTER = 5


def _commit_default():
    """Commit per row in a cron; never under tests (rolled back)."""
    return not (odoo_module.current_test or config["test_enable"])


class PicoExchange(models.Model):
    """The outbox: one row per request Odoo sends to Pico.

    Rows are written in the transaction of the change that needs them (an MO
    confirmed, cancelled, resized; a manual order) and delivered by `_send_due`,
    run by a cron that is triggered at once. HTTP only ever happens there. Users
    read rows and press Retry; every other write goes through these methods.
    """

    _name = "pico.exchange"
    _description = "Pico MES Exchange"
    _inherit = ("mail.thread", "mail.activity.mixin", "pico.failure.mixin")
    _order = "id desc"
    _mail_post_access = "read"

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
    attempts = fields.Integer(readonly=True)
    max_attempts = fields.Integer(related="backend_id.max_attempts")
    next_attempt_at = fields.Datetime(readonly=True, index=True)
    sending_since = fields.Datetime(readonly=True)
    last_attempt_at = fields.Datetime(readonly=True)
    done_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    error_class = fields.Char(readonly=True)
    error_code = fields.Char(
        readonly=True, help="Pico's GraphQL error code (extensions.code)."
    )
    http_status = fields.Integer(string="HTTP Status", readonly=True)
    traceback = fields.Text(readonly=True)
    retryable = fields.Boolean(compute="_compute_retryable")

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
        self._pico_trigger()
        return exchanges

    @api.model
    def _pico_trigger(self, at=None):
        """Ask the sender cron to run now (or at `at`); takes effect on commit."""
        cron = self.env.ref("mrp_pico_mes.ir_cron_pico_exchange_send", False)
        if cron:
            cron.sudo()._trigger(at)

    # --- Sender ------------------------------------------------------------------
    @api.model
    def _cron_send(self, limit=1000):
        """Cron entry point: deliver due exchanges, committing after each one."""
        return self._send_due(limit=limit)

    @api.model
    def _send_due(self, ids=None, limit=None, commit=None):
        """Deliver due exchanges (all, or among `ids`); return how many were tried.

        Rows are claimed with FOR NO KEY UPDATE SKIP LOCKED and moved to `sending`
        before the HTTP call, so several workers never send one row at the same
        time. `commit` defaults to True except under tests.
        """
        if commit is None:
            commit = _commit_default()
        try:
            self._pico_sweep_stuck()
        except pg_errors.SerializationFailure:
            # Another worker touched a stuck row meanwhile; the next run sweeps it.
            if not commit:
                raise
            self.env.cr.rollback()
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        clients = {}
        sent = 0
        try:
            while limit is None or sent < limit:
                exchange = self._pico_claim_next(ids, commit)
                if not exchange:
                    break
                try:
                    followed = exchange._pico_send_one(clients)
                    sent += 1
                    if commit and not followed:
                        # The outcome is committed; the unit's part on fresh data.
                        self.env.cr.commit()  # pylint: disable=invalid-commit
                        exchange._pico_follow_up()
                    if commit:
                        left = self.env["ir.cron"]._commit_progress(1)
                        if left < CRON_TIME_MARGIN:
                            # Out of time for this run: come back at once for the rest.
                            self._pico_trigger()
                            break
                finally:
                    if commit:
                        self.env["pico.event"]._pico_unlock(exchange._pico_lock_keys())
        finally:
            for client in clients.values():
                client.close()
        return sent

    def _pico_due_where(self):
        """SQL condition of rows the sender may take now."""
        return """
            e.state IN %(due)s
            AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= %(now)s)
            AND NOT EXISTS (
                SELECT 1 FROM pico_exchange prev
                 WHERE prev.backend_id = e.backend_id
                   AND prev.external_order_id = e.external_order_id
                   AND prev.operation_pico_id = e.operation_pico_id
                   AND prev.order_index = e.order_index
                   AND prev.id < e.id
                   AND prev.state IN %(open)s
            )
        """

    @api.model
    def _pico_claim_next(self, ids, commit):
        """Lock the oldest due row nobody else holds, move it to `sending`."""
        self.env.flush_all()
        # A later request for one Pico key (externalOrderId, operationId,
        # orderIndex), e.g. a cancel, waits until the earlier ones (its save) are
        # finished, so Pico sees them in the order Odoo made them.
        query = f"""
            SELECT e.id FROM pico_exchange e
             WHERE {self._pico_due_where()}
               {"AND e.id IN %(ids)s" if ids else ""}
          ORDER BY e.id
             LIMIT 1
               FOR NO KEY UPDATE OF e SKIP LOCKED
        """
        params = {
            # Python's clock, as every next_attempt_at is written with it (SQL's
            # now() is the transaction's start).
            "now": fields.Datetime.now(),
            "due": outbox.DUE_STATES,
            "open": outbox.OPEN_STATES,
            "ids": tuple(ids or ()),
        }
        exchange = self.browse(claim_one(self.env.cr, query, params, commit))
        if not exchange:
            return exchange
        # Read the locked row as the database has it, not as an earlier loop left
        # it in the cache.
        exchange.invalidate_recordset()
        exchange.write(
            outbox.claim(exchange.state, exchange.attempts, fields.Datetime.now())
        )
        if commit:
            # Held while the row says `sending`: a sweep that can take it knows the
            # sender is gone (a killed node), without waiting for stuck_after.
            self.env["pico.event"]._pico_try_locks(exchange._pico_lock_keys())
            # The row now says `sending`: other workers leave it alone, and a crash
            # during the call leaves a trace the sweep puts back in the queue.
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return exchange

    def _pico_lock_keys(self):
        """The advisory lock a sender holds while this row is `sending`."""
        return [f"exchange:{exchange.id}" for exchange in self]

    def _pico_policy(self):
        backend = self.backend_id
        return outbox.Policy(
            max_attempts=max(backend.max_attempts, 1),
            base_delay=backend.retry_base_delay or 10,
            max_delay=backend.retry_max_delay or 3600,
        )

    def _pico_call(self, client):
        """Send this row's request with `client`; return Pico's message."""
        payload = json.loads(self.request)
        if self.kind == outbox.SAVE:
            return client.save_order(
                payload["operationId"],
                payload["externalOrderId"],
                payload.get("orderIndex"),
                reserved_serial=payload.get("reservedSerialNumber"),
                optional_operation_ids=payload.get("selectOptionalOperationIds"),
            )
        return client.cancel_order(
            payload["operationId"],
            payload["externalOrderId"],
            order_index=payload.get("orderIndex"),
            cancel_all=bool(payload.get("cancelAll")),
        )

    def _pico_send_one(self, clients):
        """Send one claimed row and record the outcome in a single write."""
        self.ensure_one()
        now = fields.Datetime.now()
        try:
            client = clients.get(self.backend_id.id)
            if client is None:
                client = clients[self.backend_id.id] = self.backend_id._get_client()
            message = self._pico_call(client)
        except Exception as exc:  # noqa: BLE001 - every failure must be kept visibly
            if outbox.is_benign(self.kind, exc):
                vals = outbox.succeed(self.state, now, response=str(exc))
            else:
                vals = outbox.fail(
                    self.state, self.attempts, exc, now, self._pico_policy()
                )
                vals["traceback"] = (
                    False
                    if isinstance(exc, PicoError)
                    else traceback.format_exc()[-TRACEBACK_LIMIT:]
                )
                _logger.info("Pico exchange %s: %s", self.id, vals["error"])
        else:
            vals = outbox.succeed(self.state, now, response=message)
            vals["traceback"] = False
        self.write(vals)
        return self._pico_follow_up()

    def _pico_follow_up(self):
        """Run `_pico_after_send` in a savepoint; False if a race must retry it.

        The work order's row is locked first, without a log line: a planner who
        changed the unit since this transaction began (a cancel, a reduction)
        makes that lock a serialization failure. The follow-up is then done again
        in a fresh transaction (see `_send_due`), instead of an ERROR in the log
        and a unit state left behind.
        """
        try:
            with self.env.cr.savepoint():
                if self.work_order_id:
                    self.env.cr.execute(
                        SQL(
                            "SELECT id FROM pico_work_order WHERE id = %s "
                            "FOR NO KEY UPDATE",
                            self.work_order_id.id,
                        ),
                        log_exceptions=False,
                    )
                self._pico_after_send()
        except pg_errors.SerializationFailure:
            _logger.info(
                "Pico exchange %s: unit changed meanwhile, follow-up again", self.id
            )
            self.work_order_id.invalidate_recordset()
            return False
        except Exception:
            # The exchange's own outcome is recorded; a fault in the follow-up
            # (work order state, chatter) must not put it back in `sending`.
            _logger.exception("Pico exchange %s: follow-up failed", self.id)
            self.write({"traceback": traceback.format_exc()[-TRACEBACK_LIMIT:]})
        return True

    def _pico_after_send(self):
        """Propagate the outcome: work order state, notifications, next wake-up."""
        self.work_order_id._pico_after_exchange(self)
        if self.state in outbox.ERROR_STATES:
            self._pico_notify_failure()
        elif self.state == outbox.RETRY_WAIT and self.next_attempt_at:
            self._pico_trigger(self.next_attempt_at)

    @api.model
    def _pico_sweep_stuck(self):
        """Put back rows left in `sending` by a worker that stopped mid-send."""
        now = fields.Datetime.now()
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
        events = self.env["pico.event"]
        for exchange in candidates:
            policy = exchange._pico_policy()
            keys = exchange._pico_lock_keys()
            if not outbox.is_stuck(exchange.state, exchange.sending_since, now, policy):
                # Recent: stuck only if no live sender holds its lock (a sender
                # killed mid-call, its connection and lock gone with it).
                if not events._pico_try_locks(keys):
                    continue
                events._pico_unlock(keys)
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
    def action_retry(self):
        """Send failed, dead or waiting exchanges again with a fresh budget of tries."""
        exchanges = self.filtered("retryable")
        if not exchanges:
            raise UserError(
                self.env._("Only failed, dead or waiting exchanges can be retried.")
            )
        for exchange in exchanges:
            unit = exchange.work_order_id
            if (
                exchange.kind == outbox.SAVE
                and unit
                and (unit.state == "cancelled" or unit.cancel_requested)
            ):
                raise UserError(
                    self.env._(
                        "%(exchange)s would create a unit that was cancelled since.",
                        exchange=exchange.display_name,
                    )
                )
            exchange.sudo().write(outbox.retry(exchange.state))
            exchange.message_post(body=self.env._("Sent back to the queue."))
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

    def action_open_work_order(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pico.work.order",
            "res_id": self.work_order_id.id,
            "view_mode": "form",
        }
