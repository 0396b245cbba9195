# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..core import inbox
from ..core.clock import utcnow

# Events whose MES time is when they happened on the floor and that arrive as they
# happen: they measure the clock skew. A production version's updatedAt is when
# the process was edited, a downtime's start may be hours before its report, and
# reconciliation fetches events late on purpose.
SKEW_EVENT_TYPES = (inbox.COMPLETION, inbox.SCRAP, inbox.QUALITY, inbox.CONSUMPTION)
SKEW_SOURCES = ("webhook", "mqtt")


class PicoEvent(models.Model):
    """Both clocks to the millisecond: what the skew and latency figures read."""

    _inherit = "pico.event"

    transit_ms = fields.Float(
        string="Received - Event Time (ms)",
        readonly=True,
        help="Odoo's reception time minus the event's time by Pico's clock: the "
        "delivery delay minus the clock skew. Empty for events that do not "
        "measure the skew (production versions, downtime, reconciliation).",
    )

    def init(self):
        res = super().init()
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS pico_event_skew_idx
                ON pico_event (backend_id, received_at)
             WHERE transit_ms IS NOT NULL
            """
        )
        return res

    @api.model
    def _pico_with_clocks(self, vals):
        """vals with the reception time to the millisecond and received - event.

        Called by the inbox insert (pico_event.py `_pico_insert_sql`, every door)
        and by create().
        """
        vals = dict(vals)
        vals.setdefault("received_at", utcnow())
        mes_time = fields.Datetime.to_datetime(vals.get("mes_time"))
        received = fields.Datetime.to_datetime(vals["received_at"])
        if (
            mes_time
            and received
            and vals.get("event_type") in SKEW_EVENT_TYPES
            and vals.get("source") in SKEW_SOURCES
            and "transit_ms" not in vals
        ):
            vals["transit_ms"] = (received - mes_time).total_seconds() * 1000.0
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([self._pico_with_clocks(vals) for vals in vals_list])

    def write(self, vals):
        if vals.get("processed_at") and vals.get("state") == inbox.DONE:
            # The completion -> done latency is read to the millisecond.
            vals = dict(vals, processed_at=utcnow())
        return super().write(vals)
