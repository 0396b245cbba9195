# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..core import mapping
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError
from ..core.payloads import parse_time


class PicoOperationLink(models.Model):
    """A parent -> child link between Pico operations (a SubOperation)."""

    _name = "pico.operation.link"
    _description = "Pico Sub-operation"
    _order = "parent_id, sequence, id"

    parent_id = fields.Many2one(
        "pico.operation", required=True, readonly=True, index=True, ondelete="cascade"
    )
    child_id = fields.Many2one(
        "pico.operation", required=True, readonly=True, index=True, ondelete="cascade"
    )
    backend_id = fields.Many2one(related="parent_id.backend_id", store=True)
    company_id = fields.Many2one(related="parent_id.company_id", store=True, index=True)
    sequence = fields.Integer(
        default=10, readonly=True, help="Position in Pico's list: the routing order."
    )
    sub_group = fields.Char(
        readonly=True, help="Pico's subGroup: a parallel or optional group."
    )
    pico_updated_at = fields.Datetime(string="Updated in Pico", readonly=True)

    _parent_child_uniq = models.Constraint(
        "UNIQUE(parent_id, child_id)",
        "An operation is linked once to the same parent.",
    )

    @api.depends("parent_id", "child_id")
    def _compute_display_name(self):
        for link in self:
            link.display_name = (
                f"{link.parent_id.display_name} → {link.child_id.display_name}"
            )

    @api.model
    def _pico_sync_links(self, backend, rows, operations, new_ids=()):
        """Make a backend's links match Pico's full subOperations list.

        `operations` maps Pico ids to pico.operation records. Links to unknown
        operations are skipped. Every added or removed link is recorded in the
        parent's history, except for parents first seen in this sync (`new_ids`),
        whose first version already stands for their structure. Returns how many
        links were added, changed or removed.
        """
        current = {
            (link.parent_id.pico_id, link.child_id.pico_id): link
            for link in self.search([("backend_id", "=", backend.id)])
        }
        versions = self.env["pico.operation.version"]
        wanted, positions, changed = set(), {}, 0
        added_by_parent, removed_by_parent = {}, {}
        for row in rows:
            if not isinstance(row, dict):
                continue
            parent = operations.get(str(row.get("parentId")))
            child = operations.get(str(row.get("subId")))
            if not parent or not child or parent == child:
                continue
            pair = (parent.pico_id, child.pico_id)
            if pair in wanted:
                continue
            wanted.add(pair)
            positions[parent.pico_id] = positions.get(parent.pico_id, 0) + 1
            try:
                updated = row.get("updatedAt") and parse_time(row["updatedAt"])
            except PayloadError:
                updated = None
            values = {
                "sequence": positions[parent.pico_id],
                "sub_group": row.get("subGroup") or False,
                "pico_updated_at": odoo_datetime(updated),
            }
            link = current.get(pair)
            if link is None:
                self.create({**values, "parent_id": parent.id, "child_id": child.id})
                added_by_parent.setdefault(parent, []).append(child)
                changed += 1
            elif any(link[name] != value for name, value in values.items()):
                link.write(values)
                changed += 1
        for pair, link in current.items():
            if pair not in wanted:
                removed_by_parent.setdefault(link.parent_id, []).append(link.child_id)
                link.unlink()
                changed += 1
        for parent in {*added_by_parent, *removed_by_parent}:
            if parent.pico_id in new_ids:
                continue
            changes = [
                mapping.change("child_added", child=child.display_name)
                for child in added_by_parent.get(parent, [])
            ] + [
                mapping.change("child_removed", child=child.display_name)
                for child in removed_by_parent.get(parent, [])
            ]
            versions._pico_record(parent, changes, "sync", snapshot=parent.snapshot)
            if removed_by_parent.get(parent):
                # A BOM operation mapped to a removed process is no longer valid.
                parent._pico_flag_mappings(changes)
        return changed
