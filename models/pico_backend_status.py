# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from psycopg2 import errors as pg_errors

from odoo import models
from odoo.tools import SQL


class PicoBackend(models.Model):
    _inherit = "pico.backend"

    def _pico_write_status(self, vals):
        """Write run-status fields (last run, counters, last catch-up); True if so.

        Crons on several nodes write them at the same moment (the MQTT subscriber,
        the catch-up) and users save the form. The row is locked first, without a
        log line: under REPEATABLE READ a change committed meanwhile makes that
        lock a serialization failure, and the status is skipped (the next run
        writes it again) instead of an UPDATE failing as an ERROR in the log.
        """
        self.ensure_one()
        backend = self.sudo()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM pico_backend WHERE id = %s FOR NO KEY UPDATE",
                        backend.id,
                    ),
                    log_exceptions=False,
                )
                backend.write(vals)
                backend.flush_recordset()
        except pg_errors.SerializationFailure:
            backend.invalidate_recordset(list(vals))
            return False
        return True
