# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Who may do what: the one source of the access matrix.

tests/test_security_matrix.py walks it against a real database, and
docs/SECURITY.md shows it, under "Who may do what" (a test checks that the tables
there are `markdown()`; the README links to it). After changing it, refresh them with

    python3 tests/security_matrix.py --write

Plain data, no Odoo import, so that the script runs anywhere.
"""

import pathlib
import sys

# Test users, in the column order of the tables: (key, label, groups).
USERS = [
    ("mrp_user", "Manufacturing user", "mrp.group_mrp_user"),
    ("mrp_admin", "Manufacturing administrator", "mrp.group_mrp_manager"),
    ("pico_user", "Pico user", "mrp_pico_mes.group_pico_user"),
    ("pico_manager", "Pico manager", "mrp_pico_mes.group_pico_manager"),
    (
        "system",
        "System administrator",
        "base.group_system,mrp.group_mrp_manager,mrp_pico_mes.group_pico_manager",
    ),
    ("portal", "Portal user", "base.group_portal"),
    # A Pico manager of company B only, on company A's records.
    ("company_b", "Pico manager of another company", "mrp_pico_mes.group_pico_manager"),
]

PICO_USER = {"pico_user": "r", "pico_manager": "r", "system": "r"}


def _with(base, **more):
    return dict(base, **more)


# Model -> {user key: letters of r(ead), w(rite), c(reate), d(elete)} on company
# A's records; users not listed may do nothing.
MODEL_ACCESS = {
    "pico.backend": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.event": _with(PICO_USER, pico_manager="rd", system="rd"),
    "pico.exchange": _with(PICO_USER, pico_manager="rd", system="rd"),
    "pico.work.order": PICO_USER,
    "pico.operation": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.operation.attribute": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.operation.link": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.operation.version": _with(PICO_USER, pico_manager="rc", system="rc"),
    "pico.operator": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.topic": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.loss.reason": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.defect.class": _with(PICO_USER, pico_manager="rwcd", system="rwcd"),
    "pico.quality.result": _with(PICO_USER, pico_manager="rw", system="rw"),
    "pico.manual.order": {"pico_manager": "rwcd", "system": "rwcd"},
    "pico.setup.wizard": {"pico_manager": "rwcd", "system": "rwcd"},
    "pico.clock.skew": PICO_USER,
    "pico.unit.note": PICO_USER,
}
# Reports (SQL views): read-only for Pico users, each user's companies only.
REPORTS = {
    "pico.consumption.report": _with(PICO_USER, company_b="r"),
    "pico.unit.report": _with(PICO_USER, company_b="r"),
}

READERS = ("pico_user", "pico_manager", "system")
MANAGERS = ("pico_manager", "system")
SYSTEM = ("system",)
MRP = ("mrp_user", "mrp_admin", "pico_user", "pico_manager", "system")
# Suggesting a mapping or sending a BOM writes the BOM (its chatter) and reads
# Pico's tables: it needs a Manufacturing administrator who is also a Pico user
# (sending: a Pico manager).
BOM_MAPPERS = ("system",)

# (model, button) -> users who may press it on company A's records; the others
# get an AccessError or a UserError, and nothing is sent to Pico.
ACTIONS = {
    ("pico.backend", "action_test_connection"): MANAGERS,
    ("pico.backend", "action_sync_operations"): MANAGERS,
    ("pico.backend", "action_register_webhooks"): MANAGERS,
    ("pico.backend", "action_pico_catch_up"): MANAGERS,
    ("pico.backend", "action_mqtt_test_connection"): MANAGERS,
    ("pico.backend", "action_mqtt_receive_now"): MANAGERS,
    ("pico.backend", "action_pico_check_features"): MANAGERS,
    ("pico.backend", "action_rotate_webhook_secret"): SYSTEM,
    ("pico.backend", "action_pico_confirm_destinations"): SYSTEM,
    ("pico.backend", "action_view_operations"): READERS,
    ("pico.backend", "action_view_pico_transfer_boms"): READERS,
    ("pico.backend", "action_pico_check_health"): READERS,
    ("pico.backend", "action_view_clock_skew"): READERS,
    ("pico.backend", "action_view_backlog"): READERS,
    ("pico.backend", "action_view_held_events"): READERS,
    ("pico.backend", "action_view_failed_events"): READERS,
    ("pico.backend", "action_view_failed_exchanges"): READERS,
    ("pico.backend", "action_view_events_graph"): READERS,
    ("pico.backend", "action_pico_setup"): MANAGERS,
    ("pico.operation", "action_view_versions"): READERS,
    ("pico.operation", "action_view_boms"): READERS,
    ("pico.event", "action_retry"): READERS,
    ("pico.event", "action_view_production"): READERS,
    ("pico.event", "action_view_job"): SYSTEM,
    ("pico.exchange", "action_retry"): READERS,
    ("pico.exchange", "action_view_production"): READERS,
    ("pico.exchange", "action_view_job"): SYSTEM,
    ("pico.exchange", "action_view_work_order"): READERS,
    ("pico.exchange", "action_view_bom"): READERS,
    ("pico.work.order", "action_cancel_in_pico"): MANAGERS,
    ("pico.work.order", "action_resend"): MANAGERS,
    ("pico.work.order", "action_view_exchanges"): READERS,
    ("pico.work.order", "action_view_production"): READERS,
    ("pico.operator", "action_auto_match"): MANAGERS,
    ("pico.operator", "action_view_work_orders"): READERS,
    ("pico.quality.result", "action_release"): MANAGERS,
    ("pico.quality.result", "action_scrap"): MANAGERS,
    ("pico.quality.result", "action_view_scrap"): READERS,
    ("pico.manual.order", "action_create"): MANAGERS,
    ("pico.setup.wizard", "action_next"): MANAGERS,
    ("pico.setup.wizard", "action_back"): MANAGERS,
    ("pico.setup.wizard", "action_open_backend"): MANAGERS,
    ("mrp.production", "action_pico_send"): MRP,
    ("mrp.production", "action_view_pico_work_orders"): MRP,
    ("mrp.production", "action_view_pico_exchanges"): MRP,
    ("mrp.production", "action_print_asbuilt"): READERS,
    ("mrp.bom", "action_pico_suggest_mapping"): BOM_MAPPERS,
    ("mrp.bom", "action_pico_open_operation"): MRP,
    ("mrp.bom", "action_pico_transfer"): BOM_MAPPERS,
    ("mrp.bom", "action_pico_transfer_retry"): MANAGERS,
    ("mrp.bom", "action_pico_transfer_open_exchange"): MRP,
}

CRUD = (("r", "read"), ("w", "write"), ("c", "create"), ("d", "delete"))


def _cell(letters):
    return ", ".join(word for letter, word in CRUD if letter in letters) or "-"


def markdown():
    """The tables of docs/SECURITY.md, from the data above."""
    head = "| | " + " | ".join(label for _key, label, _g in USERS) + " |"
    rule = "|---" * (len(USERS) + 1) + "|"
    lines = ["Records (company A's, for every user):", "", head, rule]
    for model, access in MODEL_ACCESS.items():
        cells = [_cell(access.get(key, "")) for key, _label, _g in USERS]
        lines.append(f"| `{model}` | " + " | ".join(cells) + " |")
    for model, access in REPORTS.items():
        cells = [_cell(access.get(key, "")) for key, _label, _g in USERS]
        lines.append(
            f"| `{model}` (report, own companies' rows) | " + " | ".join(cells) + " |"
        )
    lines += ["", "Buttons (`action_*` methods, also when called over RPC):", ""]
    lines += [head, rule]
    for (model, action), allowed in ACTIONS.items():
        cells = ["yes" if key in allowed else "-" for key, _label, _g in USERS]
        lines.append(f"| `{model}` `{action}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


START = "<!-- access-matrix:start (tests/security_matrix.py) -->"
END = "<!-- access-matrix:end -->"
DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "SECURITY.md"


def doc_block(text):
    """The generated part of docs/SECURITY.md."""
    start = text.index(START) + len(START)
    return text[start : text.index(END)].strip("\n") + "\n"


def write_doc():
    text = DOC.read_text(encoding="utf-8")
    start = text.index(START) + len(START)
    DOC.write_text(
        text[:start] + "\n" + markdown() + text[text.index(END) :], encoding="utf-8"
    )


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_doc()
    else:
        sys.stdout.write(markdown())
