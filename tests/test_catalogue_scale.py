# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The set-based catalogue sync gives the records the old one gave (issue 24)."""

import copy
import json
import tempfile
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from ..core.client import ListAnswer, _scan_answer
from ..core.payloads import parse_operation
from . import catalogue_reference as reference

STAMP = "2025-01-01T00:00:00Z"
LATER = "2025-02-01T00:00:00Z"
EARLIER = "2024-12-01T00:00:00Z"
OPERATION_MODULE = "odoo.addons.mrp_pico_mes.models.pico_operation"


def _operation(op_id, name, part=None, serials=(), updated=STAMP, archived=None):
    return {
        "id": op_id,
        "name": name,
        "externalId": part,
        "externalRevision": "A" if part else None,
        "externalCodes": [part, f"{part}-ALT"] if part else [],
        "templateID": "tpl-1" if part else None,
        "variantName": None,
        "consumedSerials": [dict(serial) for serial in serials],
        "updatedAt": updated,
        "archivedAt": archived,
    }


def _catalogue(products=8, children=4):
    """Products with processes, serials, links and the odd rows Pico may send."""
    operations, links = [], []
    for product in range(products):
        parent = f"p{product}"
        serials = [
            {"id": f"{parent}-a{k}", "externalId": f"PART-{product}-{k}"}
            for k in range(3)
        ]
        operations.append(_operation(parent, f"Product {product}", parent, serials))
        for child in range(children):
            op_id = f"{parent}-s{child}"
            operations.append(
                _operation(
                    op_id,
                    f"Step {child} of {product}",
                    None,
                    serials[child : child + 1],
                )
            )
            links.append(
                {
                    "parentId": parent,
                    "subId": op_id,
                    "subGroup": "G1" if child == 2 else None,
                    "updatedAt": STAMP,
                }
            )
    # A subassembly (child of p0, parent of p1-s0), an archived one, a serial
    # without id, one without anything (dropped), a duplicate serial.
    links.append(
        {"parentId": "p0", "subId": "p1", "subGroup": None, "updatedAt": STAMP}
    )
    operations.append(
        _operation(
            "old",
            "Old product",
            "OLD-1",
            [{"id": None, "externalId": "PART-X"}, {"id": None, "externalId": None}],
            archived="2024-06-01T00:00:00Z",
        )
    )
    operations.append(
        _operation(
            "dup-serials",
            "Twice the same",
            "DUP-1",
            [{"id": "s1", "externalId": "A"}, {"id": "s1", "externalId": "B"}],
        )
    )
    # The same id twice: the later updatedAt wins, whatever the order.
    operations.append(_operation("twice", "Twice (old)", "TW-1", updated=EARLIER))
    operations.append(_operation("twice", "Twice (new)", "TW-1", updated=STAMP))
    operations.append(_operation("twice-b", "Twice-b (new)", "TW-2", updated=STAMP))
    operations.append(_operation("twice-b", "Twice-b (old)", "TW-2", updated=EARLIER))
    # Invalid rows: skipped, counted, never taken as missing.
    operations.append({"id": "bad", "name": "No updatedAt", "consumedSerials": []})
    operations.append("not an object")
    # Odd links: unknown operation, self link, the same pair twice, a bad time.
    links += [
        {"parentId": "p2", "subId": "nowhere", "subGroup": None, "updatedAt": STAMP},
        {"parentId": "p2", "subId": "p2", "subGroup": None, "updatedAt": STAMP},
        {"parentId": "p2", "subId": "p2-s0", "subGroup": "again", "updatedAt": STAMP},
        {"parentId": "p3", "subId": "old", "subGroup": None, "updatedAt": "yesterday"},
        "not an object",
    ]
    return operations, links


def _by_id(operations, op_id):
    return next(op for op in operations if isinstance(op, dict) and op["id"] == op_id)


@tagged("post_install", "-at_install", "pico_scale")
class TestCatalogueSameRecords(TransactionCase):
    """The old sync (tests/catalogue_reference.py) and the new one, side by side."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old_backend, cls.new_backend = cls.env["pico.backend"].create(
            [
                {
                    "name": f"Catalogue {path}",
                    "endpoint_url": "http://127.0.0.1:9/graph",
                    "api_token": "unused",
                }
                for path in ("old path", "new path")
            ]
        )

    # --- Both paths ----------------------------------------------------------------
    def _answer(self, field, rows):
        """A ListAnswer over `rows`, as the client builds it from Pico's body."""
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the answer)
        handle.write(json.dumps({"data": {field: rows}}).encode())
        handle.seek(0)
        count, error, problem = _scan_answer(handle, field)
        self.assertEqual((error, problem), (None, None))
        answer = ListAnswer(handle, field, count)
        self.addCleanup(answer.close)
        return answer

    def _sync_both(self, operations, links, batch=7):
        old = reference.sync_from_rows(
            self.env, self.old_backend, copy.deepcopy(operations), copy.deepcopy(links)
        )
        with patch(f"{OPERATION_MODULE}.SYNC_BATCH", batch):
            new = self.env["pico.operation"]._pico_sync_from_rows(
                self.new_backend,
                self._answer("operations", operations),
                self._answer("subOperations", links),
            )
        self.assertEqual(dict(new), dict(old))
        self.assertRecordsEqual()
        return new

    # --- Comparing every record ----------------------------------------------------
    def _records(self, backend):
        """Every catalogue record of a backend, keyed by Pico's ids, without ids."""
        self.env.invalidate_all()
        operations = (
            self.env["pico.operation"]
            .with_context(active_test=False)
            .search([("backend_id", "=", backend.id)])
        )
        result = {"operations": {}, "attributes": {}, "links": {}, "versions": {}}
        for op in operations:
            result["operations"][op.pico_id] = {
                name: op[name]
                for name in (
                    "name",
                    "external_id",
                    "external_revision",
                    "external_codes",
                    "template_id",
                    "variant_name",
                    "pico_updated_at",
                    "archived_at",
                    "active",
                    "in_pico",
                    "snapshot",
                    "kind",
                    "display_name",
                )
            } | {"company": op.company_id.id}
            for attribute in op.with_context(active_test=False).attribute_ids:
                result["attributes"][op.pico_id, attribute.key] = (
                    attribute.pico_id,
                    attribute.external_id,
                    attribute.sequence,
                    attribute.active,
                    attribute.backend_id == backend,
                    attribute.company_id.id,
                )
            for link in op.child_link_ids:
                result["links"][op.pico_id, link.child_id.pico_id] = (
                    link.sequence,
                    link.sub_group,
                    link.pico_updated_at,
                    link.backend_id == backend,
                    link.company_id.id,
                )
            result["versions"][op.pico_id] = [
                (
                    version.kind,
                    version.pico_updated_at,
                    version.source,
                    version.summary,
                    version.changes,
                    version.snapshot,
                    version.affects_mapping,
                    version.event_id.id,
                    version.backend_id == backend,
                    version.company_id.id,
                )
                for version in op.version_ids.sorted("id")
            ]
        return result

    def assertRecordsEqual(self):
        old, new = self._records(self.old_backend), self._records(self.new_backend)
        self.assertTrue(old["operations"])
        for part in ("operations", "attributes", "links", "versions"):
            self.assertEqual(sorted(new[part]), sorted(old[part]), part)
            for key, value in old[part].items():
                self.assertEqual(new[part][key], value, f"{part} {key}")

    # --- The scenario --------------------------------------------------------------
    def test_same_records_through_a_catalogue_life(self):
        """First sync, new versions, removals, relisting, structure, empty list."""
        # An operation stored by hand, without snapshot, in both.
        for backend in (self.old_backend, self.new_backend):
            self.env["pico.operation"].create(
                {
                    "backend_id": backend.id,
                    "pico_id": "p5",
                    "name": "By hand",
                    "external_id": "p5",
                }
            )
        operations, links = _catalogue()
        stats = self._sync_both(operations, links)
        self.assertEqual(stats["invalid"], 2)
        self.assertGreater(stats["created"], 40)
        self.assertEqual(stats["changed"], 1)  # p5, stored by hand
        self.assertGreater(stats["links"], 30)

        # The same again: nothing new, nothing written.
        stats = self._sync_both(operations, links, batch=1000)
        self.assertEqual(
            (stats["created"], stats["changed"], stats["links"]), (0, 0, 0)
        )

        # New versions: renamed, redeployed, stale, serials, archived, restored;
        # dropped operations; links removed, added, moved, regrouped.
        operations, links = _catalogue()
        renamed = _by_id(operations, "p1")
        renamed.update(name="Product 1 v2", updatedAt=LATER)
        _by_id(operations, "p2").update(updatedAt=LATER)  # redeployed
        _by_id(operations, "p3").update(name="Late", updatedAt=EARLIER)  # stale
        serials = _by_id(operations, "p4")
        serials.update(updatedAt=LATER)
        serials["consumedSerials"] = [
            {"id": "p4-a2", "externalId": "PART-4-2-NEW"},
            {"id": "p4-a0", "externalId": "PART-4-0"},
            {"id": "p4-new", "externalId": "PART-4-9"},
        ]
        _by_id(operations, "p6").update(updatedAt=LATER, archivedAt=LATER)
        _by_id(operations, "old").update(updatedAt=LATER, archivedAt=None)
        operations = [
            op
            for op in operations
            if not (isinstance(op, dict) and op["id"] in ("p7", "p7-s3", "twice-b"))
        ]
        links = [
            link
            for link in links
            if not (isinstance(link, dict) and link["subId"] in ("p0-s1", "p7-s3"))
        ]
        links.insert(
            0,
            {"parentId": "p0", "subId": "p0-s3", "subGroup": None, "updatedAt": LATER},
        )
        links.append(
            {"parentId": "p1", "subId": "p2-s3", "subGroup": "G2", "updatedAt": LATER}
        )
        links.append(
            {"parentId": "p5", "subId": "p5-s0", "subGroup": "G9", "updatedAt": LATER}
        )
        stats = self._sync_both(operations, links)
        self.assertEqual(stats["missing"], 3)
        self.assertEqual(stats["stale"], 1)
        self.assertEqual(stats["redeployed"], 1)

        # Listed again; a new operation under an old parent.
        operations, links = _catalogue()
        operations.append(_operation("p0-s9", "Step 9 of 0", None, updated=LATER))
        links.append(
            {"parentId": "p0", "subId": "p0-s9", "subGroup": None, "updatedAt": LATER}
        )
        stats = self._sync_both(operations, links, batch=3)
        self.assertEqual(stats["created"], 1)

        # A version event on each path.
        event_row = _by_id(operations, "p0")
        event_row.update(
            updatedAt="2025-03-01T00:00:00Z",
            consumedSerials=[{"id": "p0-a1", "externalId": "PART-0-1"}],
        )
        info = parse_operation(event_row)
        _op, old_status = reference.apply(self.env, self.old_backend, info, "event")
        _op, new_status = self.env["pico.operation"]._pico_apply(
            self.new_backend, info, "event"
        )
        self.assertEqual((new_status, old_status), ("changed", "changed"))
        _op, new_again = self.env["pico.operation"]._pico_apply(
            self.new_backend, info, "event"
        )
        self.assertEqual(new_again, "unchanged")
        reference.apply(self.env, self.old_backend, info, "event")
        self.assertRecordsEqual()

        # An empty list for a known catalogue changes nothing on either path.
        with self.assertLogs(OPERATION_MODULE, "WARNING"):
            self._sync_both([], [])
