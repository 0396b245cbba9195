# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Drop the indexes of units and outbox rows no query uses (issue 24: the
cost of a confirm, which writes each of them for every unit and every save).

pico.work.order's backend, order id and Pico operation id lost `index=True`:
every query of units by them names the backend and the order id, which lead the
index of the unique key (backend, order id, operation, index). pico.exchange's
backend and due time lost the index pico.queue gives them: the outbox's queries
find due rows by state, order id or MO. Odoo keeps an index a field no longer
asks for ("Keep unexpected index"), so they are dropped here.
"""

from odoo.tools import sql

INDEXES = {
    "pico_work_order": ("backend_id", "external_order_id", "operation_pico_id"),
    "pico_exchange": ("backend_id", "next_attempt_at"),
}


def migrate(cr, version):
    if not version:
        return
    for table, columns in INDEXES.items():
        for column in columns:
            sql.drop_index(cr, sql.make_index_name(table, column), table)
