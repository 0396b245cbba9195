# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import time
from collections import Counter

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module

from ..core import mapping, schemas
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError, PicoError
from ..core.payloads import parse_operation

_logger = logging.getLogger(__name__)

# Operations applied between two progress commits of the sync cron.
SYNC_BATCH = 200
# Seconds a scheduled sync applies rows before it lets the next run go on: below
# Odoo's limit_time_real (120 s by default), with room for the fetch. Odoo's own
# budget (10 s from the job's start, shared by every run of the job) is not used:
# a catalogue whose fetch and walk take longer would never get past its first
# batch.
SYNC_CRON_SECONDS = 40
# Up to this many operations the "Synchronize processes" button applies the
# catalogue in the user's request; larger catalogues go to the cron.
INLINE_SYNC_LIMIT = 500


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

    @api.model
    def _pico_apply(self, backend, info, source, existing=None, event=None):
        """Create or update one operation from a core OperationInfo.

        Returns (operation, status) with status in created | changed | redeployed
        | unchanged | stale. The same updatedAt with the same content changes
        nothing; an older updatedAt than the stored one is ignored (a late
        delivery); anything else leaves a version row.
        """
        if existing is None:
            existing = self.with_context(active_test=False).search(
                [("backend_id", "=", backend.id), ("pico_id", "=", info.id)], limit=1
            )
        canonical = mapping.canonical_operation(info)
        updated_at = odoo_datetime(info.updated_at)
        if existing and existing.pico_updated_at:
            if updated_at < existing.pico_updated_at:
                return existing, "stale"
            same_time = updated_at == existing.pico_updated_at
        else:
            same_time = False
        old = (
            (existing.snapshot or existing._pico_snapshot_from_fields())
            if existing
            else None
        )
        changes = mapping.operation_changes(old, canonical)
        if existing and not existing.in_pico:
            changes.insert(0, mapping.change("relisted"))
        if existing and not changes and same_time:
            return existing, "unchanged"
        values = self._prepare_operation_vals(info, canonical)
        if existing:
            existing.write(values)
            operation = existing
            status = "changed" if changes else "redeployed"
        else:
            operation = self.create(
                {**values, "backend_id": backend.id, "pico_id": info.id}
            )
            status = "created"
        operation._pico_sync_attributes(canonical["consumedSerials"])
        if status == "redeployed":
            changes = [mapping.change("redeployed")]
        self.env["pico.operation.version"]._pico_record(
            operation, changes, source, snapshot=canonical, event=event
        )
        if status != "created" and mapping.affects_mapping(changes):
            operation._pico_flag_mappings(changes)
        return operation, status

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

    def _pico_sync_attributes(self, serials):
        """Make the consumed-serial rows match the current version's list."""
        self.ensure_one()
        model = self.env["pico.operation.attribute"].with_context(active_test=False)
        current = {
            attribute.key: attribute
            for attribute in model.search([("operation_id", "=", self.id)])
        }
        seen = set()
        for sequence, serial in enumerate(serials, start=1):
            key = mapping.attribute_key(serial)
            seen.add(key)
            values = {
                "pico_id": serial.get("id") or False,
                "external_id": serial.get("externalId") or False,
                "sequence": sequence,
                "active": True,
            }
            attribute = current.get(key)
            if attribute is None:
                model.create({**values, "operation_id": self.id, "key": key})
            elif any(attribute[name] != value for name, value in values.items()):
                attribute.write(values)
        # Removed serials stay (inactive), so BOM lines still show what they were
        # mapped to and the mapping names it.
        gone = [attribute for key, attribute in current.items() if key not in seen]
        for attribute in gone:
            if attribute.active:
                attribute.active = False

    def _pico_mark_missing(self):
        """These operations were not in Pico's full list: record it, deactivate."""
        versions = self.env["pico.operation.version"]
        for operation in self.filtered("in_pico"):
            operation.write({"in_pico": False, "active": False})
            changes = [mapping.change("missing")]
            versions._pico_record(
                operation, changes, "sync", snapshot=operation.snapshot
            )
            operation._pico_flag_mappings(changes)

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
        client = backend._get_client(detect=True)
        with client:
            operations = client.operations()
            sub_operations = client.sub_operations()
        return self._pico_sync_from_rows(
            backend, operations, sub_operations, in_cron=in_cron, deadline=deadline
        )

    @api.model
    def _pico_sync_parse(self, backend, operations, stats):
        """Pico's `operations` rows parsed, by id (the latest of each id),
        and every id listed; a row that fails the schema counts in stats["invalid"].
        """
        infos, listed_ids = {}, set()
        for index, row in enumerate(operations or []):
            if isinstance(row, dict) and row.get("id"):
                listed_ids.add(str(row["id"]))
            try:
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
            known = infos.get(info.id)
            if known is None or known.updated_at <= info.updated_at:
                infos[info.id] = info
        return infos, listed_ids

    @api.model
    def _pico_sync_from_rows(
        self, backend, operations, sub_operations, in_cron=False, deadline=None
    ):
        """Apply Pico's full `operations` and `subOperations` lists to a backend.

        Rows that fail the operation schema are skipped and counted as invalid
        (an operation with an invalid row is never taken as missing). Batches of
        SYNC_BATCH commit progress when running in the cron; past `deadline` (a
        time.monotonic()), the next run fetches again and skips what is already
        applied.
        Returns a Counter of statuses (created, changed, ... invalid, missing).
        """
        stats = Counter()
        infos, listed_ids = self._pico_sync_parse(backend, operations, stats)
        existing = {
            operation.pico_id: operation
            for operation in self.with_context(active_test=False).search(
                [("backend_id", "=", backend.id)]
            )
        }
        todo = list(infos.values())
        created = set()
        progress = in_cron and self.env.context.get("cron_id")
        for start in range(0, len(todo), SYNC_BATCH):
            batch = todo[start : start + SYNC_BATCH]
            for info in batch:
                operation, status = self._pico_apply(
                    backend,
                    info,
                    "sync",
                    # Known to be new: no look-up per operation (the catalogue
                    # was read whole above).
                    existing=existing.get(info.id, self.browse()),
                )
                existing[info.id] = operation
                stats[status] += 1
                if status == "created":
                    created.add(info.id)
            # Write the batch and drop what the ORM cached of it: one sync is one
            # transaction, and without this its cache grows with the catalogue.
            self.env.invalidate_all()
            if progress:
                left = len(todo) - start - len(batch)
                self.env["ir.cron"]._commit_progress(len(batch), remaining=left)
                if left and deadline is not None and time.monotonic() > deadline:
                    # The cron runs again and re-fetches; applied rows are skipped.
                    stats["interrupted"] += 1
                    return stats
        if existing and not listed_ids:
            # An empty list for a known catalogue is more likely a wrong tenant or
            # token than Pico deleting everything: keep the catalogue as it is.
            _logger.warning(
                "Pico backend %s listed no operation; the %s known ones are kept",
                backend.name,
                len(existing),
            )
            return stats
        stats["links"] = self.env["pico.operation.link"]._pico_sync_links(
            backend, sub_operations or [], existing, new_ids=created
        )
        missing = self.browse(
            [
                operation.id
                for pico_id, operation in existing.items()
                if pico_id not in listed_ids and operation.in_pico
            ]
        )
        missing._pico_mark_missing()
        stats["missing"] = len(missing)
        backend.catalogue_synced_at = fields.Datetime.now()
        return stats

    @api.model
    def _pico_sync_action(self, backend):
        """The backend's "Synchronize processes" button."""
        backend.ensure_one()
        try:
            client = backend._get_client(detect=True)
            with client:
                operations = client.operations()
                sub_operations = client.sub_operations()
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
