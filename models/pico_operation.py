# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import logging
import time
from collections import Counter, defaultdict

from psycopg2.extras import Json

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, split_every

from ..core import mapping, schemas
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError, PicoError
from ..core.payloads import parse_operation

_logger = logging.getLogger(__name__)

# Operations applied together (a few set-based statements) and between two
# progress commits of the sync cron.
SYNC_BATCH = 1000
# Rows in one INSERT statement.
INSERT_CHUNK = 1000
# The tables the sync writes in SQL; flushed before, invalidated after.
CATALOGUE_MODELS = (
    "pico.operation",
    "pico.operation.attribute",
    "pico.operation.link",
    "pico.operation.version",
)
# Seconds a scheduled sync applies rows before it lets the next run go on: below
# Odoo's limit_time_real (120 s by default), with room for the fetch. Odoo's own
# budget (10 s from the job's start, shared by every run of the job) is not used:
# a catalogue whose fetch and walk take longer would never get past its first
# batch.
SYNC_CRON_SECONDS = 40
# Up to this many operations the "Synchronize processes" button applies the
# catalogue in the user's request; larger catalogues go to the cron.
INLINE_SYNC_LIMIT = 500


# Columns of pico_operation written from Pico's data, and their SQL types.
OPERATION_TYPES = {
    "name": "varchar",
    "external_id": "varchar",
    "external_revision": "varchar",
    "external_codes": "varchar",
    "template_id": "varchar",
    "variant_name": "varchar",
    "pico_updated_at": "timestamp",
    "archived_at": "timestamp",
    "active": "boolean",
    "in_pico": "boolean",
    "snapshot": "jsonb",
}
OPERATION_COLUMNS = tuple(OPERATION_TYPES)
ATTRIBUTE_TYPES = {
    "pico_id": "varchar",
    "external_id": "varchar",
    "sequence": "int4",
    "active": "boolean",
}
ATTRIBUTE_COLUMNS = tuple(ATTRIBUTE_TYPES)


def _char(value):
    """A Char field's column value, as the ORM stores it (False and None: NULL)."""
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else str(value)


# How a prepared field value becomes a column value, by SQL type.
COLUMN_VALUE = {
    "varchar": _char,
    "timestamp": lambda value: value or None,
    "boolean": bool,
    "int4": int,
    "jsonb": lambda value: None if value is None else Json(value),
}


def _update_from_values(env, table, columns, types, rows, uid, now):
    """UPDATE `table` from rows (id, *columns): one statement per chunk of rows."""
    if not rows:
        return
    for chunk in split_every(INSERT_CHUNK, rows):
        env.execute_query(
            SQL(
                """UPDATE %(table)s AS t
                      SET %(assignments)s, write_uid = %(uid)s, write_date = %(now)s
                     FROM (VALUES %(values)s) AS v(id, %(columns)s)
                    WHERE t.id = v.id""",
                table=SQL.identifier(table),
                assignments=SQL(", ").join(
                    SQL(
                        "%s = v.%s::%s",
                        SQL.identifier(name),
                        SQL.identifier(name),
                        SQL(types[name]),
                    )
                    for name in columns
                ),
                uid=uid,
                now=now,
                values=SQL(", ").join(chunk),
                columns=SQL(", ").join(map(SQL.identifier, columns)),
            )
        )


def _winning_batches(operations, winners):
    """The winning rows of Pico's list (see _pico_sync_winners), parsed, in
    Pico's order, SYNC_BATCH at a time (the list is read again, lazily)."""
    batch = []
    for index, row in enumerate(operations or ()):
        if not isinstance(row, dict):
            continue
        winner = winners.get(str(row.get("id")))
        if winner is None or winner[0] != index:
            continue
        batch.append(parse_operation(row))
        if len(batch) >= SYNC_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class PicoOperation(models.Model):
    """A Pico operation (product, subassembly or process) as last seen in Pico.

    The catalogue mirrors Pico: rows change only through `_pico_apply` (sync and
    production-version events), and every change leaves a `pico.operation.version`.
    """

    _name = "pico.operation"
    _description = "Pico Operation"
    _order = "backend_id, external_id, name, id"
    _rec_names_search = ["name", "external_id", "pico_id"]

    backend_id = fields.Many2one(
        "pico.backend", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    pico_id = fields.Char(
        string="Pico ID",
        required=True,
        readonly=True,
        index=True,
        help="Pico's own id of the operation; orders are sent for it.",
    )
    external_id = fields.Char(
        string="Part Number",
        readonly=True,
        index="btree_not_null",
        help="Pico's 'Part Number' field (externalId); matched with the product's "
        "internal reference.",
    )
    external_revision = fields.Char(string="Revision", readonly=True)
    external_codes = fields.Char(
        string="Other Codes",
        readonly=True,
        help="The part-number field split on '|' (externalCodes).",
    )
    name = fields.Char(required=True, readonly=True)
    template_id = fields.Char(string="Template ID", readonly=True)
    variant_name = fields.Char(readonly=True)
    attribute_ids = fields.One2many(
        "pico.operation.attribute",
        "operation_id",
        string="Consumed Serials",
        readonly=True,
    )
    child_link_ids = fields.One2many(
        "pico.operation.link", "parent_id", string="Sub-operations", readonly=True
    )
    parent_link_ids = fields.One2many(
        "pico.operation.link", "child_id", string="Used In", readonly=True
    )
    kind = fields.Selection(
        [
            ("product", "Product"),
            ("subassembly", "Subassembly"),
            ("process", "Process"),
        ],
        compute="_compute_kind",
        store=True,
        help="Derived from the structure: an operation with sub-operations and no "
        "parent is a product, with both a subassembly, with a parent only a process. "
        "A lone operation counts as a product.",
    )
    pico_updated_at = fields.Datetime(
        string="Updated in Pico", readonly=True, help="Pico's updatedAt."
    )
    archived_at = fields.Datetime(string="Archived in Pico", readonly=True)
    in_pico = fields.Boolean(
        string="Listed by Pico",
        default=True,
        readonly=True,
        help="Unset when the last synchronization did not find it in Pico.",
    )
    active = fields.Boolean(
        default=True,
        readonly=True,
        help="Unset while the operation is archived in Pico or no longer listed.",
    )
    snapshot = fields.Json(
        readonly=True, help="The current version, as compared with the next one."
    )
    version_ids = fields.One2many(
        "pico.operation.version", "operation_id", string="History", readonly=True
    )
    version_count = fields.Integer(compute="_compute_version_count")
    bom_ids = fields.One2many(
        "mrp.bom", "pico_operation_id", string="Bills of Materials", readonly=True
    )
    bom_count = fields.Integer(compute="_compute_bom_count")

    _backend_pico_id_uniq = models.Constraint(
        "UNIQUE(backend_id, pico_id)",
        "A Pico operation appears once per backend.",
    )

    @api.depends("name", "external_id", "external_revision")
    def _compute_display_name(self):
        for operation in self:
            name = operation.name or ""
            if operation.external_id:
                name = f"[{operation.external_id}] {name}"
            if operation.external_revision:
                name = self.env._(
                    "%(name)s (rev. %(revision)s)",
                    name=name,
                    revision=operation.external_revision,
                )
            operation.display_name = name

    @api.depends("child_link_ids", "parent_link_ids")
    def _compute_kind(self):
        for operation in self:
            if operation.child_link_ids and operation.parent_link_ids:
                operation.kind = "subassembly"
            elif operation.parent_link_ids:
                operation.kind = "process"
            else:
                operation.kind = "product"

    def _compute_version_count(self):
        counts = dict(
            self.env["pico.operation.version"]._read_group(
                [("operation_id", "in", self.ids)], ["operation_id"], ["__count"]
            )
        )
        for operation in self:
            operation.version_count = counts.get(operation, 0)

    def _compute_bom_count(self):
        counts = dict(
            self.env["mrp.bom"]._read_group(
                [("pico_operation_id", "in", self.ids)],
                ["pico_operation_id"],
                ["__count"],
            )
        )
        for operation in self:
            operation.bom_count = counts.get(operation, 0)

    # --- Structure -------------------------------------------------------------
    def _pico_descendants(self):
        """Every operation below these ones (children, their children...)."""
        found = self.browse()
        todo = self.child_link_ids.child_id
        while todo:
            found |= todo
            todo = todo.child_link_ids.child_id - found
        return found

    def _pico_processes(self):
        """The direct sub-operations in Pico's routing order."""
        self.ensure_one()
        return self.child_link_ids.sorted(
            lambda link: (link.sequence, link.id)
        ).child_id

    def _pico_as_core(self, with_descendants=True):
        """Return the core.mapping.Operation of one operation."""
        self.ensure_one()
        attributes = self.attribute_ids.with_context(active_test=False)
        descendants = self._pico_descendants() if with_descendants else self.browse()
        return mapping.Operation(
            key=self.pico_id,
            name=self.name,
            external_id=self.external_id or None,
            revision=self.external_revision or None,
            external_codes=tuple((self.external_codes or "").split("|"))
            if self.external_codes
            else (),
            archived=bool(self.archived_at) or not self.in_pico,
            attributes=tuple(
                attribute._pico_as_core()
                for attribute in attributes.sorted(lambda a: (a.sequence, a.id))
            ),
            descendant_keys=tuple(descendants.mapped("pico_id")),
            is_child=bool(self.parent_link_ids),
        )

    # --- Applying Pico's data --------------------------------------------------
    # The catalogue is written in set-based SQL (odoo.tools.SQL): one INSERT or
    # UPDATE ... FROM (VALUES ...) per table and batch instead of one ORM write
    # per row. These four tables have no mail thread, no Python constraint, no
    # stored field computed from elsewhere but `kind` (set here, see
    # _pico_recompute_kinds) and the related backend/company (the backend's):
    # the ORM would add only its per-record cost. What the ORM does add
    # (recomputing mappings, chatter, activities) still goes through it, in
    # _pico_flag_mappings. See readme/DECISIONS_CATALOGUE.md.
    def _prepare_operation_vals(self, info, canonical):
        return {
            "name": info.name,
            "external_id": info.external_id or False,
            "external_revision": info.external_revision or False,
            "external_codes": "|".join(info.external_codes) or False,
            "template_id": info.template_id or False,
            "variant_name": info.variant_name or False,
            "pico_updated_at": odoo_datetime(info.updated_at),
            "archived_at": odoo_datetime(info.archived_at),
            "active": not info.archived,
            "in_pico": True,
            "snapshot": canonical,
        }

    def _pico_catalogue_flush(self):
        """Write pending ORM changes of the catalogue before SQL reads or writes it."""
        for name in CATALOGUE_MODELS:
            self.env[name].flush_model()

    def _pico_catalogue_invalidate(self):
        """Forget what the ORM cached of the catalogue after SQL wrote it."""
        for name in CATALOGUE_MODELS:
            self.env[name].invalidate_model()

    @api.model
    def _pico_recompute_kinds(self, backend):
        """Set `kind` (see _compute_kind) from the stored links, in SQL."""
        self.env.execute_query(
            SQL(
                """UPDATE pico_operation o
                      SET kind = k.kind, write_uid = %(uid)s, write_date = %(now)s
                     FROM (SELECT op.id,
                                  CASE WHEN has_child AND has_parent THEN 'subassembly'
                                       WHEN has_parent THEN 'process'
                                       ELSE 'product' END AS kind
                             FROM pico_operation op,
                          LATERAL (SELECT EXISTS (SELECT 1 FROM pico_operation_link l
                                                   WHERE l.parent_id = op.id)
                                              AS has_child,
                                          EXISTS (SELECT 1 FROM pico_operation_link l
                                                   WHERE l.child_id = op.id)
                                              AS has_parent) x
                            WHERE op.backend_id = %(backend)s) k
                    WHERE o.id = k.id AND o.kind IS DISTINCT FROM k.kind""",
                uid=self.env.uid,
                now=self.env.cr.now(),
                backend=backend.id,
            )
        )

    @api.model
    def _pico_load_states(self, backend, pico_ids):
        """{pico id: state} of the stored operations among `pico_ids`."""
        if not pico_ids:
            return {}
        rows = self.env.execute_query_dict(
            SQL(
                # A join on the (backend_id, pico_id) unique index, not
                # `pico_id = ANY(...)`: with the statistics of a table filled in
                # this very transaction the planner scans the whole table and
                # compares each row with the whole array, once per batch.
                """SELECT o.id, o.pico_id, o.pico_updated_at, o.snapshot, o.in_pico
                     FROM unnest(%s::varchar[]) AS k(pico_id)
                     JOIN pico_operation o
                       ON o.backend_id = %s AND o.pico_id = k.pico_id""",
                list(pico_ids),
                backend.id,
            )
        )
        return {row["pico_id"]: row for row in rows}

    @api.model
    def _pico_apply(self, backend, info, source, event=None):
        """Create or update one operation from a core OperationInfo.

        Returns (operation, status) with status in created | changed | redeployed
        | unchanged | stale (see _pico_apply_many).
        """
        ((operation_id, status),) = self._pico_apply_many(
            backend, [info], source, event=event
        )
        return self.browse(operation_id), status

    @api.model
    def _pico_apply_many(self, backend, infos, source, event=None):
        """Create or update operations from core OperationInfos (distinct ids).

        Returns one (operation id, status) per info, status in created | changed
        | redeployed | unchanged | stale. The same updatedAt with the same
        content changes nothing; an older updatedAt than the stored one is
        ignored (a late delivery); anything else leaves a version row. Rows are
        written in sets; an operation whose change affects mappings has them
        flagged right after its own write, once those before it in `infos` are
        written and none after it: what each check sees is what it saw when
        operations were applied one at a time.
        """
        self._pico_catalogue_flush()
        states = self._pico_load_states(backend, [info.id for info in infos])
        results, pending = [], []
        for info in infos:
            state = states.get(info.id)
            canonical = mapping.canonical_operation(info)
            updated_at = odoo_datetime(info.updated_at)
            if state and state["pico_updated_at"]:
                if updated_at < state["pico_updated_at"]:
                    results.append({"id": state["id"], "status": "stale"})
                    continue
                same_time = updated_at == state["pico_updated_at"]
            else:
                same_time = False
            old = None
            if state:
                old = (
                    state["snapshot"]
                    or self.browse(state["id"])._pico_snapshot_from_fields()
                )
            changes = mapping.operation_changes(old, canonical)
            if state and not state["in_pico"]:
                changes.insert(0, mapping.change("relisted"))
            if state and not changes and same_time:
                results.append({"id": state["id"], "status": "unchanged"})
                continue
            if not state:
                status = "created"
            else:
                status = "changed" if changes else "redeployed"
            if status == "redeployed":
                changes = [mapping.change("redeployed")]
            item = {
                "id": state and state["id"],
                "status": status,
                "info": info,
                "canonical": canonical,
                "changes": changes,
            }
            results.append(item)
            pending.append(item)
            if status != "created" and mapping.affects_mapping(changes):
                self._pico_write_items(backend, pending, source, event)
                pending = []
                self.browse(item["id"])._pico_flag_mappings(changes)
        if pending:
            self._pico_write_items(backend, pending, source, event)
        return [(item["id"], item["status"]) for item in results]

    @api.model
    def _pico_write_items(self, backend, items, source, event):
        """Write prepared operations, their consumed serials and their versions."""
        self._pico_catalogue_flush()
        env = self.env
        now, uid = env.cr.now(), env.uid
        company = backend.company_id.id or None
        creates = [item for item in items if not item["id"]]
        updates = [item for item in items if item["id"]]
        if creates:
            rows = [
                (
                    backend.id,
                    company,
                    item["info"].id,
                    *self._pico_operation_row(item),
                    "product",  # no links yet: see _compute_kind
                    uid,
                    now,
                    uid,
                    now,
                )
                for item in creates
            ]
            ids = {}
            for chunk in split_every(INSERT_CHUNK, rows):
                ids.update(
                    (pico_id, id_)
                    for id_, pico_id in env.execute_query(
                        SQL(
                            """INSERT INTO pico_operation (
                                   backend_id, company_id, pico_id, %s, kind,
                                   create_uid, create_date, write_uid, write_date)
                               VALUES %s RETURNING id, pico_id""",
                            SQL(", ").join(map(SQL.identifier, OPERATION_COLUMNS)),
                            SQL(", ").join(chunk),
                        )
                    )
                )
            for item in creates:
                item["id"] = ids[item["info"].id]
        if updates:
            rows = [(item["id"], *self._pico_operation_row(item)) for item in updates]
            _update_from_values(
                env,
                "pico_operation",
                OPERATION_COLUMNS,
                OPERATION_TYPES,
                rows,
                uid,
                now,
            )
        self._pico_write_attributes(backend, items, uid, now)
        versions = env["pico.operation.version"]
        versions._pico_insert(
            backend,
            [
                versions._pico_version_vals(
                    item["id"],
                    odoo_datetime(item["info"].updated_at),
                    item["changes"],
                    source,
                    snapshot=item["canonical"],
                    event=event,
                )
                for item in items
            ],
        )
        self._pico_catalogue_invalidate()

    def _pico_operation_row(self, item):
        """OPERATION_COLUMNS' values of a prepared operation, for SQL."""
        values = self._prepare_operation_vals(item["info"], item["canonical"])
        return tuple(
            COLUMN_VALUE[OPERATION_TYPES[name]](values[name])
            for name in OPERATION_COLUMNS
        )

    @api.model
    def _pico_write_attributes(self, backend, items, uid, now):
        """Make the consumed-serial rows match each operation's current version.

        Removed serials stay (inactive), so BOM lines still show what they were
        mapped to and the mapping names it.
        """
        env = self.env
        current = defaultdict(dict)
        known = [item["id"] for item in items if item["status"] != "created"]
        if known:
            for row in env.execute_query(
                SQL(
                    """SELECT a.operation_id, a.key, a.id, a.pico_id, a.external_id,
                              a.sequence, a.active
                         FROM unnest(%s::int4[]) AS k(id)
                         JOIN pico_operation_attribute a ON a.operation_id = k.id""",
                    known,
                )
            ):
                current[row[0]][row[1]] = row[2:]
        company = backend.company_id.id or None
        inserts, updates, gone = [], [], []
        for item in items:
            rows = current.get(item["id"], {})
            seen = set()
            for sequence, serial in enumerate(
                item["canonical"]["consumedSerials"], start=1
            ):
                key = mapping.attribute_key(serial)
                seen.add(key)
                values = (
                    _char(serial.get("id") or None),
                    _char(serial.get("externalId") or None),
                    sequence,
                    True,
                )
                row = rows.get(key)
                if row is None:
                    inserts.append(
                        (item["id"], backend.id, company, key, *values)
                        + (uid, now, uid, now)
                    )
                elif tuple(row[1:]) != values:
                    updates.append((row[0], *values))
            gone.extend(
                row[0] for key, row in rows.items() if key not in seen and row[4]
            )
        for chunk in split_every(INSERT_CHUNK, inserts):
            env.execute_query(
                SQL(
                    """INSERT INTO pico_operation_attribute (
                           operation_id, backend_id, company_id, key, pico_id,
                           external_id, sequence, active,
                           create_uid, create_date, write_uid, write_date)
                       VALUES %s""",
                    SQL(", ").join(chunk),
                )
            )
        _update_from_values(
            env,
            "pico_operation_attribute",
            ATTRIBUTE_COLUMNS,
            ATTRIBUTE_TYPES,
            updates,
            uid,
            now,
        )
        if gone:
            env.execute_query(
                SQL(
                    """UPDATE pico_operation_attribute
                          SET active = FALSE, write_uid = %s, write_date = %s
                        WHERE id = ANY(%s)""",
                    uid,
                    now,
                    gone,
                )
            )

    def _pico_snapshot_from_fields(self):
        """The canonical dict of an operation stored without snapshot."""
        self.ensure_one()
        attributes = self.with_context(active_test=False).attribute_ids.filtered(
            "active"
        )
        return {
            "id": self.pico_id,
            "name": self.name,
            "externalId": self.external_id or None,
            "externalRevision": self.external_revision or None,
            "externalCodes": self.external_codes.split("|")
            if self.external_codes
            else [],
            "templateID": self.template_id or None,
            "variantName": self.variant_name or None,
            "consumedSerials": [
                {
                    "id": attribute.pico_id or None,
                    "externalId": attribute.external_id or None,
                }
                for attribute in attributes.sorted(lambda a: (a.sequence, a.id))
            ],
            "archivedAt": self.archived_at and f"{self.archived_at.isoformat()}+00:00",
            "updatedAt": self.pico_updated_at
            and f"{self.pico_updated_at.isoformat()}+00:00",
        }

    def _pico_mark_missing(self):
        """These operations were not in Pico's full list: record it, deactivate."""
        operations = self.filtered("in_pico")
        if not operations:
            return
        versions = self.env["pico.operation.version"]
        changes = [mapping.change("missing")]
        if operations.sudo()._pico_affected_boms():
            # One at a time: each mapping check sees the operations before it
            # marked, and none after it.
            for operation in operations:
                operation.write({"in_pico": False, "active": False})
                versions._pico_record(
                    operation, changes, "sync", snapshot=operation.snapshot
                )
                operation._pico_flag_mappings(changes)
            return
        if len(operations.backend_id) > 1:
            for backend in operations.backend_id:
                operations.filtered(
                    lambda op, backend=backend: op.backend_id == backend
                )._pico_mark_missing()
            return
        # No mapping involves them: one statement each for all.
        self._pico_catalogue_flush()
        env = self.env
        rows = {
            id_: (updated_at, snapshot)
            for id_, updated_at, snapshot in env.execute_query(
                SQL(
                    """UPDATE pico_operation
                          SET in_pico = FALSE, active = FALSE,
                              write_uid = %s, write_date = %s
                        WHERE id = ANY(%s)
                    RETURNING id, pico_updated_at, snapshot""",
                    env.uid,
                    env.cr.now(),
                    operations.ids,
                )
            )
        }
        versions._pico_insert(
            operations.backend_id,
            [
                versions._pico_version_vals(
                    id_,
                    rows[id_][0],
                    changes,
                    "sync",
                    snapshot=rows[id_][1],
                )
                for id_ in operations.ids
            ],
        )
        self._pico_catalogue_invalidate()

    def _pico_affected_boms(self):
        """Active BOMs whose mapping involves these operations."""
        return self.env["mrp.bom"].search(
            [
                "|",
                "|",
                ("pico_operation_id", "in", self.ids),
                ("operation_ids.pico_operation_id", "in", self.ids),
                ("bom_line_ids.pico_attribute_id.operation_id", "in", self.ids),
            ]
        )

    def _pico_flag_mappings(self, changes):
        """Recompute the mappings of changed operations; tell their planner."""
        # Catalogue changes are Pico's doing, not the user's: every company's BOMs
        # are checked and told, whatever the rights of who ran the sync.
        boms = self.sudo()._pico_affected_boms()
        if not boms:
            return boms
        boms._pico_recompute_mapping()
        summary = "\n".join(mapping.render(c, self.env._) for c in changes)
        for operation in self:
            touched = boms.filtered(
                lambda bom, op=operation: (
                    op in bom.pico_operation_id
                    or op in bom.operation_ids.pico_operation_id
                    or op in bom.bom_line_ids.pico_attribute_id.operation_id
                )
            )
            touched._pico_notify_attention(operation, summary)
        return boms

    # --- Synchronization -------------------------------------------------------
    @api.model
    def _pico_sync_backend(self, backend, in_cron=False, deadline=None):
        """Fetch the whole catalogue of a backend (one call each) and apply it."""
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(backend._get_client(detect=True))
            operations = stack.enter_context(client.operations_answer())
            sub_operations = stack.enter_context(client.sub_operations_answer())
            return self._pico_sync_from_rows(
                backend, operations, sub_operations, in_cron=in_cron, deadline=deadline
            )

    @api.model
    def _pico_sync_from_rows(
        self, backend, operations, sub_operations, in_cron=False, deadline=None
    ):
        """Apply Pico's full `operations` and `subOperations` lists to a backend.

        Each list is a list or a core.client.ListAnswer (read one row at a time;
        `operations` is read twice). Rows that fail the operation schema are
        skipped and counted as invalid (an operation with an invalid row is never
        taken as missing). Operations are applied SYNC_BATCH at a time, each batch
        in a few set-based statements; in the cron every batch commits progress,
        and past `deadline` (a time.monotonic()) the next run fetches again and
        skips what is already applied.
        Returns a Counter of statuses (created, changed, ... invalid, missing).
        """
        stats = Counter()
        winners, listed_ids = self._pico_sync_winners(backend, operations, stats)
        self._pico_catalogue_flush()
        known = self._pico_known_operations(backend)
        catalogue_known = bool(known)
        created = self._pico_apply_winners(
            backend, operations, winners, known, stats, in_cron, deadline
        )
        if created is None:
            return stats
        if catalogue_known and not listed_ids:
            # An empty list for a known catalogue is more likely a wrong tenant or
            # token than Pico deleting everything: keep the catalogue as it is.
            _logger.warning(
                "Pico backend %s listed no operation; the %s known ones are kept",
                backend.name,
                len(known),
            )
            return stats
        stats["links"] = self.env["pico.operation.link"]._pico_sync_links(
            backend,
            sub_operations or (),
            {pico_id: state[0] for pico_id, state in known.items()},
            new_ids=created,
        )
        missing = self.browse(
            [
                state[0]
                for pico_id, state in known.items()
                if pico_id not in listed_ids and state[1]
            ]
        )
        missing._pico_mark_missing()
        stats["missing"] = len(missing)
        backend.catalogue_synced_at = fields.Datetime.now()
        return stats

    @api.model
    def _pico_known_operations(self, backend):
        """{Pico id: [operation id, listed by Pico]} of a backend, in the
        catalogue's order."""
        return {
            pico_id: [id_, in_pico]
            for id_, pico_id, in_pico in self.env.execute_query(
                SQL(
                    """SELECT id, pico_id, in_pico FROM pico_operation
                        WHERE backend_id = %s
                        ORDER BY external_id, name, id""",
                    backend.id,
                )
            )
        }

    @api.model
    def _pico_apply_winners(
        self, backend, operations, winners, known, stats, in_cron, deadline
    ):
        """Second pass: apply the winning rows in Pico's order, SYNC_BATCH at a
        time; count their statuses in `stats` and add the created ones to
        `known`.

        Returns the set of Pico ids created, or None when the cron's `deadline`
        stopped the sync (the next run fetches again and skips what is applied).
        """
        progress = in_cron and self.env.context.get("cron_id")
        created = set()
        left = len(winners)
        for batch in _winning_batches(operations, winners):
            for (operation_id, status), info in zip(
                self._pico_apply_many(backend, batch, "sync"), batch, strict=True
            ):
                stats[status] += 1
                if status == "created":
                    created.add(info.id)
                    known[info.id] = [operation_id, True]
            left -= len(batch)
            # Drop what the ORM cached: one sync is one transaction, and its
            # cache would grow with the catalogue.
            self.env.invalidate_all()
            if progress:
                self.env["ir.cron"]._commit_progress(len(batch), remaining=left)
                if left and deadline is not None and time.monotonic() > deadline:
                    stats["interrupted"] += 1
                    return None
        return created

    @api.model
    def _pico_sync_winners(self, backend, operations, stats):
        """First pass over Pico's list: validate each row; of each Pico id keep
        only which row wins (the latest updatedAt, the later row on a tie).

        Returns ({pico id: (row index, updatedAt)}, the set of listed ids);
        counts invalid rows in `stats`.
        """
        winners, listed_ids = {}, set()
        for index, row in enumerate(operations or ()):
            if isinstance(row, dict) and row.get("id"):
                listed_ids.add(str(row["id"]))
            try:
                if not schemas.operation_row_valid(row):
                    schemas.validate("operation", row)
                info = parse_operation(row)
            except PayloadError as exc:
                stats["invalid"] += 1
                _logger.info(
                    "Pico backend %s: operation row %s skipped: %s",
                    backend.id,
                    index,
                    exc,
                )
                continue
            known = winners.get(info.id)
            if known is None or known[1] <= info.updated_at:
                winners[info.id] = (index, info.updated_at)
        return winners, listed_ids

    @api.model
    def _pico_sync_action(self, backend):
        """The backend's "Synchronize processes" button."""
        backend.ensure_one()
        with contextlib.ExitStack() as stack:
            try:
                client = stack.enter_context(backend._get_client(detect=True))
                operations = stack.enter_context(client.operations_answer())
                sub_operations = stack.enter_context(client.sub_operations_answer())
            except PicoError as exc:
                return backend._notify(
                    self.env._("Synchronization with Pico failed"), str(exc), "danger"
                )
            if len(operations) > INLINE_SYNC_LIMIT and not odoo_module.current_test:
                cron = self.env.ref("mrp_pico_mes.ir_cron_pico_catalogue_sync")
                cron.sudo()._trigger()
                return backend._notify(
                    self.env._("Synchronization queued"),
                    self.env._(
                        "Pico lists %(count)s operations; they are applied in the "
                        "background (see the scheduled action's progress).",
                        count=len(operations),
                    ),
                    "info",
                )
            stats = self._pico_sync_from_rows(backend, operations, sub_operations)
        return backend._notify(
            self.env._("Processes synchronized"),
            self._pico_stats_message(stats),
            "warning" if stats["invalid"] else "success",
        )

    @api.model
    def _pico_stats_message(self, stats):
        return self.env._(
            "%(created)s new, %(changed)s changed, %(redeployed)s redeployed, "
            "%(unchanged)s unchanged, %(missing)s no longer listed, "
            "%(invalid)s invalid row(s) skipped.",
            created=stats["created"],
            changed=stats["changed"],
            redeployed=stats["redeployed"],
            unchanged=stats["unchanged"] + stats["stale"],
            missing=stats["missing"],
            invalid=stats["invalid"],
        )

    @api.model
    def _cron_pico_sync_catalogue(self):
        """Scheduled sync: every active backend, one after the other."""
        deadline = time.monotonic() + SYNC_CRON_SECONDS
        for backend in self.env["pico.backend"].search([]):
            try:
                stats = self.with_company(backend.company_id)._pico_sync_backend(
                    backend, in_cron=True, deadline=deadline
                )
            except PicoError as exc:
                # Pico down or misconfigured: the next run tries again; the button
                # shows the same error to whoever looks.
                _logger.warning(
                    "Pico backend %s: catalogue sync failed: %s", backend.name, exc
                )
                continue
            if stats["interrupted"]:
                return
            _logger.info(
                "Pico backend %s: catalogue synchronized: %s",
                backend.name,
                dict(stats),
            )

    # --- Production-version events ---------------------------------------------
    @api.model
    def _pico_handle_event(self, event):
        """Apply a production-version event (its data is an Operation object)."""
        data = event.data
        schemas.validate("operation", data)
        info = parse_operation(data)
        operation, status = self._pico_apply(
            event.backend_id, info, "event", event=event
        )
        labels = {
            "created": self.env._("added to the catalogue"),
            "changed": self.env._("new version applied"),
            "redeployed": self.env._("redeployed without changes"),
            "unchanged": self.env._("already up to date"),
            "stale": self.env._("older than the version already applied; ignored"),
        }
        return f"{operation.display_name}: {labels[status]}"

    # --- Buttons ---------------------------------------------------------------
    def action_view_versions(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("History of %s", self.display_name),
            "res_model": "pico.operation.version",
            "view_mode": "list,form",
            "domain": [("operation_id", "=", self.id)],
            "context": {"default_operation_id": self.id},
        }

    def action_view_boms(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Bills of Materials"),
            "res_model": "mrp.bom",
            "view_mode": "list,form",
            "domain": [("pico_operation_id", "=", self.id)],
            "context": {
                "default_pico_operation_id": self.id,
                "default_pico_backend_id": self.backend_id.id,
            },
        }

    @api.ondelete(at_uninstall=False)
    def _unlink_except_mapped(self):
        if self.bom_ids:
            raise UserError(
                self.env._(
                    "Operations mapped to bills of materials cannot be deleted; "
                    "they are archived when Pico stops listing them."
                )
            )
