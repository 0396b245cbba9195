# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The catalogue sync as it was before it was made set-based (issue 24), kept
callable for tests/test_catalogue_scale.py, which compares its records with
those of the bulk path. One ORM write at a time, the whole answer in memory;
the code is that of models/pico_operation*.py at 3239142, as plain functions on
an environment (the cron's progress and deadline left out: they do not change
what is written).
"""

from collections import Counter

from odoo import fields

from ..core import mapping, schemas
from ..core.clock import odoo_datetime
from ..core.errors import PayloadError
from ..core.payloads import parse_operation, parse_time


def sync_from_rows(env, backend, operations, sub_operations):
    """The old `pico.operation._pico_sync_from_rows` (without the cron part)."""
    model = env["pico.operation"]
    stats = Counter()
    infos, listed_ids = {}, set()
    for row in operations or []:
        if isinstance(row, dict) and row.get("id"):
            listed_ids.add(str(row["id"]))
        try:
            schemas.validate("operation", row)
            info = parse_operation(row)
        except PayloadError:
            stats["invalid"] += 1
            continue
        known = infos.get(info.id)
        if known is None or known.updated_at <= info.updated_at:
            infos[info.id] = info
    existing = {
        operation.pico_id: operation
        for operation in model.with_context(active_test=False).search(
            [("backend_id", "=", backend.id)]
        )
    }
    created = set()
    for info in infos.values():
        operation, status = apply(
            env, backend, info, "sync", existing=existing.get(info.id, model.browse())
        )
        existing[info.id] = operation
        stats[status] += 1
        if status == "created":
            created.add(info.id)
    env.invalidate_all()
    if existing and not listed_ids:
        return stats
    stats["links"] = sync_links(
        env, backend, sub_operations or [], existing, new_ids=created
    )
    missing = model.browse(
        [
            operation.id
            for pico_id, operation in existing.items()
            if pico_id not in listed_ids and operation.in_pico
        ]
    )
    mark_missing(env, missing)
    stats["missing"] = len(missing)
    backend.catalogue_synced_at = fields.Datetime.now()
    return stats


def apply(env, backend, info, source, existing=None, event=None):
    """The old `pico.operation._pico_apply`."""
    model = env["pico.operation"]
    if existing is None:
        existing = model.with_context(active_test=False).search(
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
    values = model._prepare_operation_vals(info, canonical)
    if existing:
        existing.write(values)
        operation = existing
        status = "changed" if changes else "redeployed"
    else:
        operation = model.create(
            {**values, "backend_id": backend.id, "pico_id": info.id}
        )
        status = "created"
    sync_attributes(env, operation, canonical["consumedSerials"])
    if status == "redeployed":
        changes = [mapping.change("redeployed")]
    env["pico.operation.version"]._pico_record(
        operation, changes, source, snapshot=canonical, event=event
    )
    if status != "created" and mapping.affects_mapping(changes):
        operation._pico_flag_mappings(changes)
    return operation, status


def sync_attributes(env, operation, serials):
    """The old `pico.operation._pico_sync_attributes`."""
    model = env["pico.operation.attribute"].with_context(active_test=False)
    current = {
        attribute.key: attribute
        for attribute in model.search([("operation_id", "=", operation.id)])
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
            model.create({**values, "operation_id": operation.id, "key": key})
        elif any(attribute[name] != value for name, value in values.items()):
            attribute.write(values)
    for key, attribute in current.items():
        if key not in seen and attribute.active:
            attribute.active = False


def mark_missing(env, operations):
    """The old `pico.operation._pico_mark_missing`."""
    versions = env["pico.operation.version"]
    for operation in operations.filtered("in_pico"):
        operation.write({"in_pico": False, "active": False})
        changes = [mapping.change("missing")]
        versions._pico_record(operation, changes, "sync", snapshot=operation.snapshot)
        operation._pico_flag_mappings(changes)


def sync_links(env, backend, rows, operations, new_ids=()):
    """The old `pico.operation.link._pico_sync_links`."""
    model = env["pico.operation.link"]
    current = {
        (link.parent_id.pico_id, link.child_id.pico_id): link
        for link in model.search([("backend_id", "=", backend.id)])
    }
    versions = env["pico.operation.version"]
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
            model.create({**values, "parent_id": parent.id, "child_id": child.id})
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
            parent._pico_flag_mappings(changes)
    return changed
