# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..core import mapping

MAPPING_STATES = [
    ("valid", "Valid"),
    ("attention", "Needs attention"),
    ("unmapped", "Not for Pico"),
]
ACTIVITY_TYPE = "mrp_pico_mes.mail_activity_type_pico_mapping"


def _html_list(lines):
    return Markup("<ul>%s</ul>") % Markup().join(
        Markup("<li>%s</li>") % line for line in lines
    )


class MrpBom(models.Model):
    """A BOM knows the Pico operation that builds it and checks the mapping live."""

    _name = "mrp.bom"
    _inherit = ["mrp.bom", "mail.activity.mixin"]

    pico_backend_id = fields.Many2one(
        "pico.backend",
        compute="_compute_pico_backend_id",
        store=True,
        readonly=False,
        precompute=True,
        index="btree_not_null",
        tracking=True,
        domain="[('company_id', '=?', company_id)]",
        help="Set it to have manufacturing orders of this bill of materials built "
        "by Pico.",
    )
    pico_operation_id = fields.Many2one(
        "pico.operation",
        index="btree_not_null",
        tracking=True,
        domain="[('backend_id', '=', pico_backend_id)]",
        help="The Pico product (or process) whose orders build this product.",
    )
    pico_part_number = fields.Char(
        related="pico_operation_id.external_id", string="Pico Part Number"
    )
    pico_mapping_state = fields.Selection(
        MAPPING_STATES,
        string="Pico Mapping",
        compute="_compute_pico_mapping_state",
        store=True,
        index=True,
        help="Valid: orders can go to Pico. Needs attention: see the problems on "
        "the Pico tab. Not for Pico: no backend is set.",
    )
    pico_mapping_problems = fields.Text(
        compute="_compute_pico_mapping_problems",
        compute_sudo=True,
        help="One line per problem; each names the BOM line or consumed serial.",
    )

    _PICO_MAPPING_DEPENDS = (
        "type",
        "product_qty",
        "product_uom_id",
        "product_tmpl_id",
        "product_id",
        "product_tmpl_id.tracking",
        "product_tmpl_id.uom_id",
        "pico_backend_id",
        "pico_operation_id",
        "pico_operation_id.active",
        "pico_operation_id.archived_at",
        "pico_operation_id.in_pico",
        "pico_operation_id.attribute_ids",
        "pico_operation_id.attribute_ids.active",
        "pico_operation_id.child_link_ids",
        "bom_line_ids",
        "bom_line_ids.product_id",
        "bom_line_ids.product_id.tracking",
        "bom_line_ids.product_id.uom_id",
        "bom_line_ids.product_qty",
        "bom_line_ids.product_uom_id",
        "bom_line_ids.operation_id",
        "bom_line_ids.pico_attribute_id",
        "bom_line_ids.pico_attribute_id.active",
        "operation_ids",
        "operation_ids.pico_operation_id",
        "operation_ids.pico_operation_id.archived_at",
        "operation_ids.pico_operation_id.attribute_ids",
    )

    @api.depends("pico_operation_id")
    def _compute_pico_backend_id(self):
        for bom in self:
            if bom.pico_operation_id:
                bom.pico_backend_id = bom.pico_operation_id.backend_id
            else:
                bom.pico_backend_id = bom.pico_backend_id

    @api.depends(*_PICO_MAPPING_DEPENDS)
    def _compute_pico_mapping_state(self):
        for bom in self:
            if not bom.pico_backend_id and not bom.pico_operation_id:
                bom.pico_mapping_state = "unmapped"
            elif bom._pico_problem_items():
                bom.pico_mapping_state = "attention"
            else:
                bom.pico_mapping_state = "valid"

    @api.depends(*_PICO_MAPPING_DEPENDS)
    def _compute_pico_mapping_problems(self):
        for bom in self:
            bom.pico_mapping_problems = "\n".join(bom._pico_mapping_problems())

    @api.constrains("pico_backend_id", "pico_operation_id")
    def _check_pico_operation_backend(self):
        for bom in self:
            operation = bom.pico_operation_id
            if operation and operation.backend_id != bom.pico_backend_id:
                raise ValidationError(
                    self.env._(
                        "Pico operation %(operation)s belongs to backend %(backend)s.",
                        operation=operation.display_name,
                        backend=operation.backend_id.display_name,
                    )
                )

    # --- Validation ------------------------------------------------------------
    def _pico_product(self):
        self.ensure_one()
        return self.product_id or self.product_tmpl_id.product_variant_id

    @staticmethod
    def _pico_convert(qty, from_uom, to_uom):
        """Return qty converted between units, or None if they do not convert."""
        if not from_uom or not to_uom:
            return None
        if from_uom != to_uom and not (
            from_uom.parent_path
            and to_uom.parent_path
            and from_uom._has_common_reference(to_uom)
        ):
            return None
        return from_uom._compute_quantity(qty, to_uom, round=False)

    def _pico_as_core(self):
        """Return the core.mapping.Bom of one BOM (records may be unsaved)."""
        self.ensure_one()
        template = self.product_tmpl_id
        product = self._pico_product()
        units = self._pico_convert(
            self.product_qty, self.product_uom_id, template.uom_id
        )
        operation = self.pico_operation_id.with_context(active_test=False)
        lines = []
        for line in self.bom_line_ids:
            component = line.product_id
            qty = self._pico_convert(
                line.product_qty, line.product_uom_id, component.uom_id
            )
            if qty is not None:
                qty = qty / (units or self.product_qty or 1.0)
            attribute = line.pico_attribute_id
            lines.append(
                mapping.Line(
                    key=line.id,
                    name=component.display_name or "?",
                    default_code=component.default_code or None,
                    tracking=component.tracking or mapping.TRACKING_NONE,
                    attribute_key=attribute.key or None,
                    attribute_operation_key=attribute.operation_id.pico_id or None,
                    attribute_title=attribute.display_name or None,
                    qty_per_unit=qty,
                    uom_name=line.product_uom_id.name,
                    product_uom_name=component.uom_id.name,
                    step_key=line.operation_id.id or None,
                )
            )
        steps = [
            mapping.Step(
                key=step.id,
                name=step.name or "?",
                sequence=step.sequence,
                process=step.pico_operation_id.with_context(
                    active_test=False
                )._pico_as_core(with_descendants=False)
                if step.pico_operation_id
                else None,
            )
            for step in self.operation_ids
        ]
        return mapping.Bom(
            name=self.display_name or "",
            product_name=(product or template).display_name or "?",
            product_tracking=template.tracking or mapping.TRACKING_NONE,
            kind=self.type,
            units=units,
            uom_name=self.product_uom_id.name,
            product_uom_name=template.uom_id.name,
            operation=operation._pico_as_core() if operation else None,
            lines=tuple(lines),
            steps=tuple(steps),
        )

    def _pico_problem_items(self):
        """Return the core.mapping.Problem list of one BOM."""
        self.ensure_one()
        if not self.pico_backend_id and not self.pico_operation_id:
            return []
        if not self.product_tmpl_id:
            return []  # a new form before its product is chosen
        return mapping.validate(self._pico_as_core())

    def _pico_mapping_problems(self):
        """Return one translated message per problem, naming the line or serial."""
        self.ensure_one()
        return [
            mapping.render(problem, self.env._)
            for problem in self._pico_problem_items()
        ]

    def _pico_recompute_mapping(self):
        """Recompute the stored state now (after catalogue changes)."""
        self.env.flush_all()
        self.env.invalidate_all()
        field = self._fields["pico_mapping_state"]
        self.env.add_to_compute(field, self)
        self._recompute_recordset(["pico_mapping_state"])

    def _pico_notify_attention(self, operation, summary):
        """Post the change and give the responsible planner an activity."""
        activity_type = self.env.ref(ACTIVITY_TYPE, raise_if_not_found=False)
        for bom in self.filtered(lambda b: b.pico_mapping_state == "attention"):
            body = Markup("%s%s%s%s") % (
                Markup("<p>%s</p>")
                % self.env._("Pico changed operation %s:", operation.display_name),
                _html_list(summary.splitlines()),
                Markup("<p>%s</p>") % self.env._("The mapping now needs attention:"),
                _html_list(bom._pico_mapping_problems()),
            )
            bom.message_post(body=body)
            user = (
                bom.pico_backend_id.responsible_id
                or operation.backend_id.responsible_id
                or self.env.ref("base.user_admin", raise_if_not_found=False)
            )
            if not user or not activity_type:
                continue
            open_activity = bom.activity_ids.filtered(
                lambda a, u=user: a.activity_type_id == activity_type and a.user_id == u
            )
            if open_activity:
                open_activity[:1].note = body
                continue
            bom.activity_schedule(
                ACTIVITY_TYPE,
                summary=self.env._("Check the Pico mapping"),
                note=body,
                user_id=user.id,
            )

    # --- Suggestions -----------------------------------------------------------
    def _pico_suggest_operation(self):
        """Return the Pico operation whose part number matches the product, if one."""
        self.ensure_one()
        product = self._pico_product()
        code = product.default_code or self.product_tmpl_id.default_code
        if not self.pico_backend_id or not code:
            return self.env["pico.operation"]
        candidates = self.env["pico.operation"].search(
            [
                ("backend_id", "=", self.pico_backend_id.id),
                "|",
                ("external_id", "=ilike", code.strip()),
                ("external_codes", "ilike", code.strip()),
            ]
        )
        best = mapping.suggest_operation(
            code,
            self.code,
            [
                candidate._pico_as_core(with_descendants=False)
                for candidate in candidates
            ],
        )
        return candidates.filtered(lambda c: best and c.pico_id == best.key)[:1]

    def _pico_apply_suggestions(self):
        """Fill what is still empty with suggestions; return what was filled."""
        self.ensure_one()
        notes = []
        if not self.pico_backend_id:
            backends = self.env["pico.backend"].search(
                [("company_id", "in", (self.company_id or self.env.company).ids)]
            )
            if len(backends) == 1:
                self.pico_backend_id = backends
        if self.pico_backend_id and not self.pico_operation_id:
            operation = self._pico_suggest_operation()
            if operation:
                self.pico_operation_id = operation
                notes.append(self.env._("Pico operation: %s", operation.display_name))
        operation = self.pico_operation_id
        if not operation:
            return notes
        core_bom = self._pico_as_core()
        attributes = {attribute.key: attribute for attribute in operation.attribute_ids}
        for line_key, attribute_key in mapping.suggest_attributes(
            core_bom.lines, core_bom.operation
        ).items():
            line = self.bom_line_ids.filtered(lambda ln, k=line_key: ln.id == k)
            line.pico_attribute_id = attributes[attribute_key]
            notes.append(
                self.env._(
                    "%(line)s → consumed serial %(attribute)s",
                    line=line.product_id.display_name,
                    attribute=attributes[attribute_key].display_name,
                )
            )
        processes = operation._pico_processes()
        by_key = {process.pico_id: process for process in processes}
        step_suggestions = mapping.suggest_steps(
            core_bom.steps,
            [process._pico_as_core(with_descendants=False) for process in processes],
        )
        for step_key, process_key in step_suggestions.items():
            step = self.operation_ids.filtered(lambda s, k=step_key: s.id == k)
            step.pico_operation_id = by_key[process_key]
            notes.append(
                self.env._(
                    "Operation %(step)s → Pico process %(process)s",
                    step=step.name,
                    process=by_key[process_key].display_name,
                )
            )
        return notes

    @api.onchange("pico_backend_id", "product_tmpl_id", "product_id", "code")
    def _onchange_pico_suggest_operation(self):
        if not self.env.user.has_group("mrp_pico_mes.group_pico_user"):
            return
        if self.pico_backend_id and not self.pico_operation_id:
            operation = self._pico_suggest_operation()
            if operation:
                self.pico_operation_id = operation
                self._pico_apply_suggestions()

    @api.onchange("pico_operation_id")
    def _onchange_pico_operation_id(self):
        if self.pico_operation_id:
            self._pico_apply_suggestions()

    def action_pico_suggest_mapping(self):
        """Fill empty mapping fields from part numbers; the planner reviews them."""
        self.check_access("write")
        filled = 0
        for bom in self:
            notes = bom._pico_apply_suggestions()
            if notes:
                filled += 1
                bom.message_post(
                    body=Markup("<p>%s</p>%s")
                    % (
                        self.env._("Pico mapping suggested; please review:"),
                        _html_list(notes),
                    )
                )
        if not filled:
            message = self.env._(
                "Nothing to suggest: every field is filled, or no part number matches."
            )
        elif len(self) == 1:
            message = self.env._("Suggestions filled in; review them on the Pico tab.")
        else:
            message = self.env._(
                "Suggestions filled in for %(count)s of %(total)s bills of materials.",
                count=filled,
                total=len(self),
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Pico mapping"),
                "message": message,
                "type": "success" if filled else "warning",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_pico_open_operation(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pico.operation",
            "res_id": self.pico_operation_id.id,
            "view_mode": "form",
        }
