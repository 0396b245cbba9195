# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL, split_every

from ..core import mapping
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError
from ..core.payloads import parse_time
from .pico_operation import INSERT_CHUNK, _char, _update_from_values

LINK_TYPES = {
    "sequence": "int4",
    "sub_group": "varchar",
    "pico_updated_at": "timestamp",
}
LINK_COLUMNS = tuple(LINK_TYPES)


def _links_gone(current, wanted):
    """Of the `current` links, those Pico no longer lists: (the removed
    children's operation ids by parent Pico id, the link ids to delete)."""
    removed_by_parent, gone = {}, []
    for pair, link in current.items():
        if pair not in wanted:
            removed_by_parent.setdefault(pair[0], []).append(link[2])
            gone.append(link[0])
    return removed_by_parent, gone


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

        `rows` is a list or a core.client.ListAnswer (read once, a row at a
        time); `operations` maps Pico ids to pico.operation ids. Links to
        unknown operations are skipped. Every added or removed link is recorded
        in the parent's history, except for parents first seen in this sync
        (`new_ids`), whose first version already stands for their structure.
        Written in set-based SQL like the operations (see _pico_write_items).
        Returns how many links were added, changed or removed.
        """
        model = self.env["pico.operation"]
        model._pico_catalogue_flush()
        current = self._pico_current_links(backend)
        inserts, updates, added_by_parent, wanted = self._pico_links_wanted(
            rows, operations, current
        )
        removed_by_parent, gone = _links_gone(current, wanted)
        changed = len(inserts) + len(updates) + len(gone)
        if not changed:
            return 0
        self._pico_write_links(backend, inserts, updates, gone)
        model._pico_recompute_kinds(backend)
        model._pico_catalogue_invalidate()
        parents = [
            key
            for key in dict.fromkeys([*added_by_parent, *removed_by_parent])
            if key not in new_ids
        ]
        if parents:
            self._pico_record_link_changes(
                backend, operations, parents, added_by_parent, removed_by_parent
            )
        return changed

    @api.model
    def _pico_current_links(self, backend):
        """{(parent Pico id, child Pico id): (link id, parent id, child id,
        sequence, sub_group, pico_updated_at)} of a backend's links."""
        return {
            (row[0], row[1]): row[2:]
            for row in self.env.execute_query(
                SQL(
                    """SELECT p.pico_id, c.pico_id, l.id, l.parent_id, l.child_id,
                              l.sequence, l.sub_group, l.pico_updated_at
                         FROM pico_operation_link l
                         JOIN pico_operation p ON p.id = l.parent_id
                         JOIN pico_operation c ON c.id = l.child_id
                        WHERE l.backend_id = %s
                        ORDER BY l.parent_id, l.sequence, l.id""",
                    backend.id,
                )
            )
        }

    @api.model
    def _pico_write_links(self, backend, inserts, updates, gone):
        """Insert, update and delete a backend's links in set-based SQL."""
        env = self.env
        now, uid = env.cr.now(), env.uid
        company = backend.company_id.id or None
        for chunk in split_every(INSERT_CHUNK, inserts):
            env.execute_query(
                SQL(
                    """INSERT INTO pico_operation_link (
                           parent_id, child_id, sequence, sub_group,
                           pico_updated_at, backend_id, company_id,
                           create_uid, create_date, write_uid, write_date)
                       VALUES %s""",
                    SQL(", ").join(
                        (*row, backend.id, company, uid, now, uid, now) for row in chunk
                    ),
                )
            )
        _update_from_values(
            env, "pico_operation_link", LINK_COLUMNS, LINK_TYPES, updates, uid, now
        )
        if gone:
            env.execute_query(
                SQL("DELETE FROM pico_operation_link WHERE id = ANY(%s)", gone)
            )

    @api.model
    def _pico_record_link_changes(
        self, backend, operations, parents, added_by_parent, removed_by_parent
    ):
        """A history version per parent whose children changed; the mappings of
        a parent that lost a child are flagged."""
        model = self.env["pico.operation"]
        records = model.browse([operations[key] for key in parents])
        names = {
            child.id: child.display_name
            for child in model.browse(
                list(
                    {
                        child
                        for key in parents
                        for child in added_by_parent.get(key, [])
                        + removed_by_parent.get(key, [])
                    }
                )
            )
        }
        changes_by_parent = {
            key: [
                mapping.change("child_added", child=names[child])
                for child in added_by_parent.get(key, [])
            ]
            + [
                mapping.change("child_removed", child=names[child])
                for child in removed_by_parent.get(key, [])
            ]
            for key in parents
        }
        versions = self.env["pico.operation.version"]
        versions._pico_insert(
            backend,
            [
                versions._pico_version_vals(
                    parent.id,
                    parent.pico_updated_at,
                    changes_by_parent[key],
                    "sync",
                    snapshot=parent.snapshot,
                )
                for key, parent in zip(parents, records, strict=True)
            ],
        )
        for key, parent in zip(parents, records, strict=True):
            if removed_by_parent.get(key):
                # A BOM operation mapped to a removed process is no longer valid.
                parent._pico_flag_mappings(changes_by_parent[key])

    @api.model
    def _pico_links_wanted(self, rows, operations, current):
        """Walk Pico's links once.

        Returns (inserts, updates, added children by parent Pico id, wanted
        pairs). A parent's links are numbered in Pico's order; the first of a
        repeated pair counts; unknown operations and self links are skipped.
        """
        wanted, positions = set(), {}
        inserts, updates, added_by_parent = [], [], {}
        for row in rows or ():
            if not isinstance(row, dict):
                continue
            parent_key, child_key = str(row.get("parentId")), str(row.get("subId"))
            parent, child = operations.get(parent_key), operations.get(child_key)
            if not parent or not child or parent == child:
                continue
            pair = (parent_key, child_key)
            if pair in wanted:
                continue
            wanted.add(pair)
            positions[parent_key] = positions.get(parent_key, 0) + 1
            try:
                updated = row.get("updatedAt") and parse_time(row["updatedAt"])
            except PayloadError:
                updated = None
            values = (
                positions[parent_key],
                _char(row.get("subGroup") or False),
                odoo_datetime(updated) or None,
            )
            link = current.get(pair)
            if link is None:
                inserts.append((parent, child, *values))
                added_by_parent.setdefault(parent_key, []).append(child)
            elif tuple(link[3:]) != values:
                updates.append((link[0], *values))
        return inserts, updates, added_by_parent, wanted
