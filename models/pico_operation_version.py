# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from psycopg2.extras import Json

from odoo import api, fields, models
from odoo.tools import SQL, split_every

from ..core import mapping

KIND_BY_CHANGE = {
    "created": "created",
    "archived": "archived",
    "restored": "restored",
    "missing": "missing",
    "relisted": "restored",
    "redeployed": "redeployed",
    "child_added": "structure",
    "child_removed": "structure",
}


class PicoOperationVersion(models.Model):
    """One version of a Pico operation as Odoo received it: what changed, when.

    Rows are only created (by `_pico_record`), never changed: the history of what
    Pico deployed cannot be rewritten from Odoo.
    """

    _name = "pico.operation.version"
    _description = "Pico Operation Version"
    _order = "received_at desc, id desc"

    operation_id = fields.Many2one(
        "pico.operation", required=True, readonly=True, index=True, ondelete="cascade"
    )
    backend_id = fields.Many2one(related="operation_id.backend_id", store=True)
    company_id = fields.Many2one(
        related="operation_id.company_id", store=True, index=True
    )
    kind = fields.Selection(
        [
            ("created", "First seen"),
            ("changed", "Changed"),
            ("redeployed", "Redeployed"),
            ("archived", "Archived"),
            ("restored", "Restored"),
            ("missing", "No longer listed"),
            ("structure", "Structure"),
        ],
        required=True,
        readonly=True,
    )
    pico_updated_at = fields.Datetime(
        string="Updated in Pico",
        readonly=True,
        help="Pico's updatedAt of this version.",
    )
    received_at = fields.Datetime(
        default=fields.Datetime.now,
        required=True,
        readonly=True,
        help="When Odoo received and applied it.",
    )
    source = fields.Selection(
        [("sync", "Synchronization"), ("event", "Production-version event")],
        required=True,
        readonly=True,
    )
    event_id = fields.Many2one(
        "pico.event", readonly=True, index="btree_not_null", ondelete="set null"
    )
    summary = fields.Text(readonly=True, help="One line per change.")
    changes = fields.Json(readonly=True, help="The changes as codes and values.")
    snapshot = fields.Json(readonly=True, help="The operation as Pico sent it.")
    affects_mapping = fields.Boolean(
        readonly=True,
        help="Consumed serials or archiving changed: mapped bills of materials "
        "were checked again.",
    )

    @api.depends("operation_id", "kind", "pico_updated_at")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for version in self:
            version.display_name = (
                f"{version.operation_id.display_name} · {kinds.get(version.kind, '')}"
            )

    @api.model
    def _pico_version_vals(
        self, operation_id, pico_updated_at, changes, source, snapshot=None, event=None
    ):
        """The values of the history row of one change of an operation."""
        codes = [change.code for change in changes]
        kind = "changed"
        for code in codes:
            if code in KIND_BY_CHANGE:
                kind = KIND_BY_CHANGE[code]
                break
        if "archived" in codes:
            kind = "archived"
        return {
            "operation_id": operation_id,
            "kind": kind,
            "pico_updated_at": pico_updated_at or False,
            "source": source,
            "event_id": event.id if event else False,
            "summary": "\n".join(
                mapping.render(change, self.env._) for change in changes
            ),
            "changes": [
                {"code": change.code, "params": change.params} for change in changes
            ],
            "snapshot": snapshot,
            "affects_mapping": mapping.affects_mapping(changes),
        }

    @api.model
    def _pico_record(self, operation, changes, source, snapshot=None, event=None):
        """Create the history row of one change of an operation."""
        return self.create(
            self._pico_version_vals(
                operation.id,
                operation.pico_updated_at,
                changes,
                source,
                snapshot=snapshot,
                event=event,
            )
        )

    @api.model
    def _pico_insert(self, backend, vals_list):
        """Insert history rows (`_pico_version_vals`) of operations of `backend`,
        in one statement per chunk.

        SQL, not create(): these rows are only ever inserted, have no computed
        field but the operation's backend and company (the backend's) and no
        constraint in Python (see DECISIONS_CATALOGUE.md).
        """
        if not vals_list:
            return
        env = self.env
        now, uid = env.cr.now(), env.uid
        received = fields.Datetime.now()
        rows = [
            (
                position,
                vals["operation_id"],
                vals["kind"],
                vals["pico_updated_at"] or None,
                vals["source"],
                vals["event_id"] or None,
                vals["summary"],
                Json(vals["changes"]),
                None if vals["snapshot"] is None else Json(vals["snapshot"]),
                vals["affects_mapping"],
            )
            for position, vals in enumerate(vals_list)
        ]
        for chunk in split_every(1000, rows):
            env.execute_query(
                SQL(
                    """INSERT INTO pico_operation_version (
                           operation_id, backend_id, company_id, kind,
                           pico_updated_at, received_at, source, event_id, summary,
                           changes, snapshot, affects_mapping,
                           create_uid, create_date, write_uid, write_date)
                       SELECT v.operation_id, %(backend)s, %(company)s, v.kind,
                              v.pico_updated_at::timestamp, %(received)s, v.source,
                              v.event_id::int4, v.summary, v.changes::jsonb,
                              v.snapshot::jsonb, v.affects_mapping,
                              %(uid)s, %(now)s, %(uid)s, %(now)s
                         FROM (VALUES %(values)s) AS v(
                                  position, operation_id, kind, pico_updated_at,
                                  source, event_id, summary, changes, snapshot,
                                  affects_mapping)
                        ORDER BY v.position""",
                    backend=backend.id,
                    company=backend.company_id.id or None,
                    received=received,
                    uid=uid,
                    now=now,
                    values=SQL(", ").join(chunk),
                )
            )
        self.invalidate_model()
