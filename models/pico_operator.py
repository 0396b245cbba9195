# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.tools import SQL

from ..core.completion import operator_key


class PicoOperator(models.Model):
    """An operator name as Pico reports it, mapped to an Odoo user.

    Pico identifies operators by name only (`endState.operator.name`). The first
    completion naming someone creates the row and matches it to the one internal
    user of the backend's company with that name; rows that match nobody (or
    several people) stay unmatched for a manager to review. Time logged on work
    orders goes to the matched user.
    """

    _name = "pico.operator"
    _description = "Pico MES Operator"
    _order = "state desc, name, id"

    backend_id = fields.Many2one(
        "pico.backend", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    name = fields.Char(
        string="Name in Pico",
        required=True,
        help="The operator's name exactly as Pico sends it.",
    )
    name_key = fields.Char(
        compute="_compute_name_key", store=True, index=True, readonly=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Odoo User",
        index="btree_not_null",
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
        help="Work order time reported by Pico for this operator is logged for "
        "this user.",
    )
    state = fields.Selection(
        [("unmatched", "To review"), ("matched", "Matched")],
        compute="_compute_state",
        store=True,
        index=True,
    )
    active = fields.Boolean(default=True)
    last_seen_at = fields.Datetime(
        string="Last Completion", readonly=True, help="By Odoo's clock."
    )
    work_order_ids = fields.One2many(
        "pico.work.order", "operator_id", string="Units Built", readonly=True
    )
    work_order_count = fields.Integer(
        string="Units", compute="_compute_work_order_count"
    )

    _backend_name_uniq = models.Constraint(
        "UNIQUE(backend_id, name_key)",
        "This operator is already known for this backend.",
    )

    @api.depends("name")
    def _compute_name_key(self):
        for operator in self:
            operator.name_key = operator_key(operator.name)

    @api.depends("user_id")
    def _compute_state(self):
        for operator in self:
            operator.state = "matched" if operator.user_id else "unmatched"

    def _compute_work_order_count(self):
        counts = dict(
            self.env["pico.work.order"]
            .sudo()
            ._read_group(
                [("operator_id", "in", self.ids)], ["operator_id"], ["__count"]
            )
        )
        for operator in self:
            operator.work_order_count = counts.get(operator, 0)

    @api.model_create_multi
    def create(self, vals_list):
        operators = super().create(vals_list)
        operators.filtered(lambda op: not op.user_id)._pico_auto_match()
        return operators

    # --- Matching ----------------------------------------------------------------
    def _pico_candidates(self):
        """Internal users of the backend's company whose name is this one."""
        self.ensure_one()
        words = self.name.split()
        if not words:
            return self.env["res.users"]
        users = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("share", "=", False),
                    ("company_ids", "in", self.company_id.ids),
                    ("name", "ilike", words[0]),
                ]
            )
        )
        return users.filtered(lambda user: operator_key(user.name) == self.name_key)

    def _pico_auto_match(self):
        """Match unmatched operators to the single user of the same name."""
        matched = self.browse()
        for operator in self.filtered(lambda op: not op.user_id and op.name_key):
            users = operator._pico_candidates()
            if len(users) == 1:
                operator.user_id = users
                matched |= operator
        return matched

    @api.model
    def _pico_get(self, backend, name):
        """The operator row of a name Pico reported; created on first sight."""
        key = operator_key(name)
        if not key:
            return self.browse()
        operators = self.sudo().with_context(active_test=False)
        operator = operators.search(
            [("backend_id", "=", backend.id), ("name_key", "=", key)], limit=1
        )
        if not operator:
            operator = operators._pico_insert(backend, " ".join(name.split()), key)
        operator._pico_seen()
        return operator

    @api.model
    def _pico_insert(self, backend, name, key):
        """Create the operator of a name first seen, safe against parallel jobs
        meeting it at the same moment: INSERT ... ON CONFLICT DO NOTHING, without
        an ERROR line. An operator another job committed since this transaction
        began cannot be seen from it: PostgreSQL's serialization failure goes up
        and the event is applied again on fresh data (no ERROR line either)."""
        now = fields.Datetime.now()
        uid = self.env.uid
        with self.env.cr.savepoint(flush=False):
            self.env.cr.execute(
                SQL(
                    """INSERT INTO pico_operator
                           (backend_id, company_id, name, name_key, state, active,
                            create_uid, create_date, write_uid, write_date)
                    VALUES (%s, %s, %s, %s, 'unmatched', TRUE, %s, %s, %s, %s)
                    ON CONFLICT (backend_id, name_key) DO NOTHING
                    RETURNING id""",
                    backend.id,
                    backend.company_id.id,
                    name,
                    key,
                    uid,
                    now,
                    uid,
                    now,
                ),
                log_exceptions=False,
            )
            row = self.env.cr.fetchone()
        if not row:
            # Committed by another worker before this transaction began.
            return self.search(
                [("backend_id", "=", backend.id), ("name_key", "=", key)], limit=1
            )
        operator = self.browse(row[0])
        operator._pico_auto_match()
        return operator

    def _pico_seen(self):
        """Note when Odoo last saw the operator. Parallel jobs see the same
        operators: a row another job holds or changed since this one began is
        left as it is (that job notes it), so jobs never wait on each other here."""
        now = fields.Datetime.now()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        """UPDATE pico_operator SET last_seen_at = %s
                            WHERE id IN (SELECT id FROM pico_operator WHERE id IN %s
                                           FOR NO KEY UPDATE SKIP LOCKED)""",
                        now,
                        tuple(self.ids),
                    ),
                    log_exceptions=False,
                )
        except pg_errors.SerializationFailure:
            pass
        self.invalidate_recordset(["last_seen_at"])

    # --- Buttons -----------------------------------------------------------------
    def action_auto_match(self):
        """Match the selected unmatched operators by name, where one user fits."""
        self.check_access("write")
        matched = self._pico_auto_match()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Pico operators"),
                "message": self.env._(
                    "%(matched)s of %(total)s operator(s) matched by name.",
                    matched=len(matched),
                    total=len(self),
                ),
                "type": "success" if matched else "warning",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_view_work_orders(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Units built by %s", self.name),
            "res_model": "pico.work.order",
            "view_mode": "list,form",
            "domain": [("operator_id", "=", self.id)],
        }
