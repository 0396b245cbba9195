# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..core import mapping


class PicoOperationAttribute(models.Model):
    """A serialized component a Pico operation consumes (consumedSerials)."""

    _name = "pico.operation.attribute"
    _description = "Pico Consumed Serial"
    _order = "operation_id, sequence, id"
    _rec_names_search = ["external_id", "pico_id"]

    operation_id = fields.Many2one(
        "pico.operation", required=True, readonly=True, index=True, ondelete="cascade"
    )
    backend_id = fields.Many2one(related="operation_id.backend_id", store=True)
    company_id = fields.Many2one(
        related="operation_id.company_id", store=True, index=True
    )
    key = fields.Char(
        required=True,
        readonly=True,
        help="Pico's attribute id, or its part number when Pico sends no id.",
    )
    pico_id = fields.Char(string="Pico ID", readonly=True)
    external_id = fields.Char(
        string="Part Number",
        readonly=True,
        help="Part number of the serialized component (externalId); matched with "
        "the component's internal reference.",
    )
    # Pico documents no human label for an Attribute (id, externalId, value only):
    # the name comes from the Odoo product whose internal reference is the part
    # number.
    label = fields.Char(
        string="Component",
        compute="_compute_label",
        help="Name of the Odoo product whose internal reference is this part number.",
    )
    sequence = fields.Integer(default=10, readonly=True)
    active = fields.Boolean(
        default=True,
        readonly=True,
        help="Unset when the operation's current version no longer consumes it.",
    )
    bom_line_ids = fields.One2many(
        "mrp.bom.line", "pico_attribute_id", string="BOM Lines", readonly=True
    )

    _operation_key_uniq = models.Constraint(
        "UNIQUE(operation_id, key)",
        "A consumed serial appears once per operation.",
    )

    @api.depends("external_id", "company_id")
    def _compute_label(self):
        products = self.env["product.product"].with_context(active_test=False)
        for attribute in self:
            product = (
                products.search(
                    [
                        ("default_code", "=", attribute.external_id),
                        ("company_id", "in", [False, attribute.company_id.id]),
                    ],
                    limit=1,
                )
                if attribute.external_id
                else products
            )
            attribute.label = product.name or False

    @api.depends("external_id", "label", "key")
    def _compute_display_name(self):
        for attribute in self:
            attribute.display_name = attribute._pico_as_core().title

    def _pico_as_core(self):
        self.ensure_one()
        return mapping.Attribute(
            key=self.key or "",
            external_id=self.external_id or None,
            label=self.label or None,
            active=self.active,
        )
