# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from psycopg2 import errors as pg_errors

from odoo import api, fields, models

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
            try:
                with self.env.cr.savepoint():
                    operator = operators.create(
                        {"backend_id": backend.id, "name": " ".join(name.split())}
                    )
            except pg_errors.UniqueViolation:
                # Another worker met the same operator at the same moment.
                operator = operators.search(
                    [("backend_id", "=", backend.id), ("name_key", "=", key)], limit=1
                )
        operator.last_seen_at = fields.Datetime.now()
        return operator

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
