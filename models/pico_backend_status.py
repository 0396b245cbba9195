# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from psycopg2 import errors as pg_errors

from odoo import models
from odoo.tools import SQL


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    def write(self, vals):
        """Lock the rows first, without a log line.

        Senders, subscribers and health crons of every node write status fields
        on this row (`_pico_write_status`) while a user saves the form or runs a
        setup step (Register Webhooks calls Pico for seconds before it writes).
        Under REPEATABLE READ the loser of that race fails either way; failing
        on this lock instead of on the flushed UPDATE keeps Odoo's "bad query"
        ERROR line out of the log, and Odoo's request layer retries the call
        (an INFO line), as it retries any serialization failure.
        """
        if self.ids:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM pico_backend WHERE id = ANY(%s) ORDER BY id"
                    " FOR NO KEY UPDATE",
                    list(self.ids),
                ),
                log_exceptions=False,
            )
        return super().write(vals)

    def _pico_write_status(self, vals):
        """Write run-status fields (last run, counters, last catch-up); True if so.

        Crons on several nodes write them at the same moment (the MQTT subscriber,
        the catch-up) and users save the form. `write` locks the row first,
        without a log line: under REPEATABLE READ a change committed meanwhile
        makes that lock a serialization failure, and the status is skipped (the
        next run writes it again) instead of an UPDATE failing as an ERROR.
        """
        self.ensure_one()
        backend = self.sudo()
        try:
            with self.env.cr.savepoint():
                backend.write(vals)
                backend.flush_recordset()
        except pg_errors.SerializationFailure:
            backend.invalidate_recordset(list(vals))
            return False
        return True
