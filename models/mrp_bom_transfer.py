# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""BOM transfer: send a bill of materials and its operations to Pico.

The rules (ids, collisions, notes as steps, documents) live in core.bom_transfer;
this file loads records into it, pins the ids it assigns, queues the documents in
the outbox and, when Pico lists the deployed product, fills the mapping in.
"""

import json

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..core import bom_transfer
from ..core.mapping import TRACKING_SERIAL

MANAGER_GROUP = "mrp_pico_mes.group_pico_manager"
TRANSFER_KIND = "bom_transfer"


class MrpBom(models.Model):
    _inherit = "mrp.bom"

    pico_transfer_product_id = fields.Char(
        string="Pico Product ID",
        copy=False,
        readonly=True,
        help="The id of the Pico product this bill of materials was sent as; "
        "kept for every later send (see the README's id rules).",
    )
    pico_transfer_backend_id = fields.Many2one(
        "pico.backend",
        string="Sent To",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    pico_transfer_exchange_id = fields.Many2one(
        "pico.exchange",
        string="Last Transfer",
        copy=False,
        readonly=True,
        ondelete="set null",
    )
    pico_transfer_fingerprint = fields.Char(copy=False, readonly=True)
    pico_transfer_requested_at = fields.Datetime(
        string="Last Sent", copy=False, readonly=True
    )
    pico_transfer_state = fields.Selection(
        related="pico_transfer_exchange_id.state", string="Transfer Result"
    )
    pico_transfer_error = fields.Text(
        related="pico_transfer_exchange_id.error", string="Transfer Error"
    )
    pico_transfer_done_at = fields.Datetime(
        related="pico_transfer_exchange_id.done_at", string="Accepted by Pico"
    )
    pico_transfer_changed = fields.Boolean(
        string="Changed Since Sent",
        compute="_compute_pico_transfer_changed",
        compute_sudo=True,
        help="The bill of materials, an operation, its instructions or a work "
        "center changed since it was last sent to Pico.",
    )

    @api.depends(
        "pico_transfer_fingerprint",
        "code",
        "product_id",
        "product_tmpl_id",
        "product_tmpl_id.default_code",
        "operation_ids",
        "operation_ids.name",
        "operation_ids.note",
        "operation_ids.sequence",
        "operation_ids.workcenter_id",
        "bom_line_ids",
        "bom_line_ids.product_id",
        "bom_line_ids.operation_id",
    )
    def _compute_pico_transfer_changed(self):
        for bom in self:
            if not bom.pico_transfer_fingerprint or not bom.id:
                bom.pico_transfer_changed = False
                continue
            backend = bom.pico_transfer_backend_id
            backend._pico_transfer_check_features()
            try:
                plan = bom._pico_transfer_plan(backend)
            except bom_transfer.TransferError:
                bom.pico_transfer_changed = True
                continue
            bom.pico_transfer_changed = (
                plan.fingerprint != bom.pico_transfer_fingerprint
            )

    # --- Loading ---------------------------------------------------------------
    def _pico_transfer_input(self):
        """Return the core BomIn of one BOM."""
        self.ensure_one()
        product = self._pico_product()
        steps = []
        for step in self.operation_ids.sorted(lambda s: (s.sequence, s.id)):
            center = step.workcenter_id
            steps.append(
                bom_transfer.StepIn(
                    key=f"operation:{step.id}",
                    name=step.name or "",
                    note=step.note or None,
                    pinned_id=step.pico_transfer_process_id or None,
                    workcenter=bom_transfer.WorkcenterIn(
                        key=f"workcenter:{center.id}",
                        name=center.name or "",
                        code=center.code or None,
                        pinned_id=center.pico_transfer_station_id or None,
                    ),
                )
            )
        step_keys = {f"operation:{step.id}" for step in self.operation_ids}
        serials = []
        for line in self.bom_line_ids:
            component = line.product_id
            if component.tracking != TRACKING_SERIAL:
                continue
            step_key = (
                f"operation:{line.operation_id.id}" if line.operation_id else None
            )
            serials.append(
                bom_transfer.SerialIn(
                    key=f"line:{line.id}",
                    product_name=component.display_name or "",
                    default_code=component.default_code or None,
                    step_key=step_key if step_key in step_keys else None,
                )
            )
        return bom_transfer.BomIn(
            key=f"bom:{self.id}",
            product_name=(product or self.product_tmpl_id).name or "",
            default_code=product.default_code or self.product_tmpl_id.default_code,
            revision=self.code or None,
            pinned_id=self.pico_transfer_product_id or None,
            steps=tuple(steps),
            serials=tuple(serials),
        )

    def _pico_transfer_taken(self, backend):
        """Ids in use: ({product/process id: owner}, {station id: owner}).

        Operations of Pico's catalogue belong to nobody in Odoo (owner None), so
        a new id never overwrites a process someone built in Pico, except the
        ones this BOM is already mapped to, which are its own.
        """
        taken, stations = {}, {}
        if backend:
            operations = (
                self.env["pico.operation"]
                .sudo()
                .with_context(active_test=False)
                .search([("backend_id", "=", backend.id)])
            )
            taken.update({op.pico_id.lower(): None for op in operations if op.pico_id})
        for bom in self:
            if bom.pico_operation_id.pico_id:
                taken[bom.pico_operation_id.pico_id.lower()] = f"bom:{bom.id}"
            for step in bom.operation_ids.filtered("pico_operation_id"):
                taken[step.pico_operation_id.pico_id.lower()] = f"operation:{step.id}"
        pinned_boms = (
            self.sudo()
            .with_context(active_test=False)
            .search_read(
                [("pico_transfer_product_id", "!=", False)],
                ["pico_transfer_product_id"],
            )
        )
        for row in pinned_boms:
            taken[row["pico_transfer_product_id"].lower()] = f"bom:{row['id']}"
        pinned_steps = (
            self.env["mrp.routing.workcenter"]
            .sudo()
            .with_context(active_test=False)
            .search_read(
                [("pico_transfer_process_id", "!=", False)],
                ["pico_transfer_process_id"],
            )
        )
        for row in pinned_steps:
            taken[row["pico_transfer_process_id"].lower()] = f"operation:{row['id']}"
        pinned_centers = (
            self.env["mrp.workcenter"]
            .sudo()
            .with_context(active_test=False)
            .search_read(
                [("pico_transfer_station_id", "!=", False)],
                ["pico_transfer_station_id"],
            )
        )
        for row in pinned_centers:
            stations[row["pico_transfer_station_id"].lower()] = (
                f"workcenter:{row['id']}"
            )
        return taken, stations

    def _pico_transfer_plan(self, backend):
        """Return the core Plan of one BOM (raises core TransferError)."""
        self.ensure_one()
        taken, stations = self._pico_transfer_taken(backend)
        return bom_transfer.plan(self._pico_transfer_input(), taken, stations)

    def _pico_transfer_backend(self):
        """The backend a BOM goes to: its own, else the company's only one."""
        self.ensure_one()
        if self.pico_backend_id:
            return self.pico_backend_id
        backends = self.env["pico.backend"].search(
            [("company_id", "in", (self.company_id or self.env.company).ids)]
        )
        return backends if len(backends) == 1 else backends.browse()

    def _pico_transfer_pin(self, plan):
        """Store the ids the plan assigned, so later sends reuse them."""
        self.ensure_one()
        bom = self.sudo()
        if bom.pico_transfer_product_id != plan.product_id:
            bom.pico_transfer_product_id = plan.product_id
        for step in bom.operation_ids:
            process_id = plan.process_ids.get(f"operation:{step.id}")
            if process_id and step.pico_transfer_process_id != process_id:
                step.pico_transfer_process_id = process_id
            center = step.workcenter_id
            station_id = plan.station_ids.get(f"workcenter:{center.id}")
            if station_id and center.pico_transfer_station_id != station_id:
                center.pico_transfer_station_id = station_id

    # --- Sending ---------------------------------------------------------------
    def _pico_transfer_check_access(self):
        if not self.env.user.has_group(MANAGER_GROUP) and not self.env.su:
            raise AccessError(
                self.env._("Only Pico managers can send bills of materials to Pico.")
            )

    def _pico_transfer_enqueue(self):
        """Queue one transfer per BOM; return the exchanges."""
        self._pico_transfer_check_access()
        exchanges = self.env["pico.exchange"]
        for bom in self:
            backend = bom._pico_transfer_backend()
            if not backend:
                raise UserError(
                    self.env._(
                        "Choose the Pico backend of %(bom)s on its Pico tab first.",
                        bom=bom.display_name,
                    )
                )
            if not backend.work_instructions_enabled:
                raise UserError(
                    self.env._(
                        "Sending bills of materials uses Pico's Work Instructions "
                        "API, which is alpha: turn it on for backend %(backend)s "
                        "(BOM Transfer tab) first.",
                        backend=backend.display_name,
                    )
                )
            backend._pico_transfer_check_features()
            try:
                plan = bom._pico_transfer_plan(backend)
            except bom_transfer.TransferError as exc:
                raise UserError(
                    self.env._(
                        "%(bom)s cannot be sent to Pico:\n%(problems)s",
                        bom=bom.display_name,
                        problems="\n".join(
                            "- " + self.env._(p.template) % p.params
                            for p in exc.problems
                        ),
                    )
                ) from exc
            bom._pico_transfer_pin(plan)
            exchange = self.env["pico.exchange"]._pico_enqueue(
                [
                    {
                        "backend_id": backend.id,
                        "bom_id": bom.id,
                        "kind": TRANSFER_KIND,
                        "operation_pico_id": plan.product_id,
                        # Transfers of one product are sent in the order they were
                        # queued: the outbox orders rows of one key.
                        "external_order_id": f"bom-transfer:{plan.product_id}",
                        "order_index": 0,
                        "request": json.dumps(
                            {"documents": list(plan.documents)}, indent=1
                        ),
                    }
                ]
            )
            bom.sudo().write(
                {
                    "pico_transfer_backend_id": backend.id,
                    "pico_transfer_exchange_id": exchange.id,
                    "pico_transfer_fingerprint": plan.fingerprint,
                    "pico_transfer_requested_at": fields.Datetime.now(),
                }
            )
            bom.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Queued for Pico as product %(product)s with %(count)s "
                    "process(es); Pico's UI edits of them will be overwritten.",
                    product=plan.product_id,
                    count=len(plan.process_ids),
                )
            )
            exchanges |= exchange
        return exchanges

    def action_pico_transfer(self):
        """The "Send to Pico" button."""
        self._pico_transfer_check_access()
        exchanges = self._pico_transfer_enqueue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Sent to the Pico outbox"),
                "message": self.env._(
                    "%(count)s bill(s) of materials queued; the result shows on the "
                    "Pico tab and in Pico Exchanges.",
                    count=len(exchanges),
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_pico_transfer_retry(self):
        """Send the last transfer again (after its failure's cause is fixed)."""
        self._pico_transfer_check_access()
        exchanges = self.pico_transfer_exchange_id
        if not exchanges:
            raise UserError(self.env._("Nothing was sent to Pico yet."))
        return exchanges.action_retry()

    def action_pico_transfer_open_exchange(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pico.exchange",
            "res_id": self.pico_transfer_exchange_id.id,
            "view_mode": "form",
        }

    def _pico_transfer_after_send(self, exchange):
        """Tell the BOM's followers how its transfer ended."""
        for bom in self.filtered(lambda b: b.pico_transfer_exchange_id == exchange):
            if exchange.state == "done":
                body = self.env._(
                    "Pico accepted product %(product)s and its processes; deploy it "
                    "in Pico and the mapping fills itself in.",
                    product=exchange.operation_pico_id,
                )
            elif exchange.state in ("failed", "dead"):
                body = self.env._(
                    "Sending to Pico failed: %(error)s (Retry from the Pico tab).",
                    error=exchange.error,
                )
            else:
                continue
            bom.message_post(body=body)

    # --- Round trip ------------------------------------------------------------
    @api.model
    def _pico_transfer_auto_map(self, backend):
        """Map transferred BOMs to the Pico operations that now carry their ids.

        Fills only what is empty: a BOM mapped by hand to another operation keeps
        its mapping. Processes are mapped once Pico's structure lists them under
        the product (catalogue sync); consumed serials by part number.
        """
        boms = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("pico_transfer_backend_id", "=", backend.id),
                    ("pico_transfer_product_id", "!=", False),
                ]
            )
        )
        if not boms:
            return boms
        operations = (
            self.env["pico.operation"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("pico_id", "in", boms.mapped("pico_transfer_product_id")),
                ]
            )
        )
        by_id = {operation.pico_id: operation for operation in operations}
        mapped = self.browse()
        for bom in boms:
            operation = by_id.get(bom.pico_transfer_product_id)
            if not operation:
                continue
            notes = []
            if not bom.pico_operation_id:
                bom.pico_operation_id = operation
                notes.append(self.env._("Pico operation: %s", operation.display_name))
            if bom.pico_operation_id != operation:
                continue
            processes = {p.pico_id: p for p in operation._pico_descendants()}
            for step in bom.operation_ids.filtered(
                lambda s: not s.pico_operation_id and s.pico_transfer_process_id
            ):
                process = processes.get(step.pico_transfer_process_id)
                if process:
                    step.pico_operation_id = process
                    notes.append(
                        self.env._(
                            "Operation %(step)s → Pico process %(process)s",
                            step=step.name,
                            process=process.display_name,
                        )
                    )
            notes.extend(bom._pico_apply_suggestions())
            if notes:
                mapped |= bom
                bom.message_post(
                    body=Markup("<p>%s</p><ul>%s</ul>")
                    % (
                        self.env._("Pico deployed the product sent from here:"),
                        Markup().join(Markup("<li>%s</li>") % note for note in notes),
                    )
                )
        return mapped


class MrpRoutingWorkcenter(models.Model):
    _inherit = "mrp.routing.workcenter"

    note = fields.Html(
        string="Instructions",
        help="What the operator does, one paragraph or list item per step; sent "
        "to Pico as the steps of this operation's process.",
    )
    pico_transfer_process_id = fields.Char(
        string="Pico Process ID",
        copy=False,
        readonly=True,
        help="The id of the Pico process this operation was sent as.",
    )


class MrpWorkcenter(models.Model):
    _inherit = "mrp.workcenter"

    pico_transfer_station_id = fields.Char(
        string="Pico Station ID",
        copy=False,
        readonly=True,
        help="The id of the Pico station this work center was sent as.",
    )
