# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import inbox
from ..core.errors import PayloadError, PicoError
from .pico_queue import commit_default

_logger = logging.getLogger(__name__)


class PicoBackend(models.Model):
    """The catch-up door of a backend: completions Pico lists that the inbox lacks."""

    _inherit = "pico.backend"

    @api.model
    def _cron_reconcile(self):
        """Scheduled catch-up: each active backend stores the completions it missed."""
        commit = commit_default()
        backends = self.search([])
        for done, backend in enumerate(backends, 1):
            try:
                with self.env.cr.savepoint():
                    backend._pico_reconcile()
            except (PicoError, UserError) as exc:
                _logger.warning(
                    "Pico backend %s: completion catch-up failed: %s", backend.id, exc
                )
            if commit:
                self.env["ir.cron"]._commit_progress(1, remaining=len(backends) - done)
        return True

    def _pico_reconcile(self):
        """Store in the inbox every completion Pico lists that it lacks.

        Pico's `operationOrderCompletes` lists every completion it recorded; each
        goes through the same intake as a webhook delivery, so one already received
        has the same idempotency key and is skipped. Return (new, listed, refused).
        """
        self.ensure_one()
        with self._get_client(detect=True) as client:
            rows = client.operation_order_completes() or []
        events = self.env["pico.event"].sudo().with_company(self.company_id)
        intakes, refused = [], 0
        for row in rows:
            payload = json.dumps(row, sort_keys=True)
            try:
                intakes.append((inbox.intake(inbox.COMPLETION, row, self.id), payload))
            except PayloadError as exc:
                refused += events._pico_store_rejected(
                    self, inbox.COMPLETION, "poll", payload, exc
                )[1]
        known = set(
            events.search(
                [
                    ("backend_id", "=", self.id),
                    ("idempotency_key", "in", [intake.key for intake, _ in intakes]),
                ]
            ).mapped("idempotency_key")
        )
        stored = events.browse()
        for intake, payload in intakes:
            if intake.key in known:
                continue
            known.add(intake.key)
            event, new = events._pico_store(self, intake, "poll", payload=payload)
            if new:
                stored |= event
        self._pico_write_status({"completions_checked_at": fields.Datetime.now()})
        created = len(stored)
        if created:
            stored._pico_dispatch()
            _logger.info(
                "Pico backend %s: %s missed completion(s) caught up", self.id, created
            )
        return created, len(rows), refused

    def action_pico_catch_up(self):
        """Read Pico's completions now and queue the ones Odoo missed."""
        self._pico_check_rights("action_pico_catch_up")
        self.ensure_one()
        try:
            created, listed, refused = self._pico_reconcile()
        except PicoError as exc:
            return self._notify(
                self.env._("Catch-up with Pico failed"), str(exc), "danger"
            )
        message = self.env._(
            "%(new)s missed completion(s) queued among %(listed)s listed by Pico.",
            new=created,
            listed=listed,
        )
        if refused:
            message += " " + self.env._(
                "%s could not be read; see the failed events.", refused
            )
        return self._notify(
            self.env._("Completions checked"),
            message,
            "success" if not refused else "warning",
        )
