# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class PicoFailureMixin(models.AbstractModel):
    """Shows a queue row's failure where people look: its MO and an activity.

    Used by the outbox (pico.exchange) and the inbox (pico.event); each gives the
    text of its notice, the rest is common.
    """

    _name = "pico.failure.mixin"
    _description = "Pico MES failure notices"

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
