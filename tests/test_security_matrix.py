# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The access matrix (tests/security_matrix.py) walked against the database."""

import json

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..core import inbox
from . import security_matrix as matrix
from .common import PicoCase

SECRETS = ("api_token", "webhook_secret", "mqtt_password")
REFUSED = (AccessError, UserError)


@tagged("post_install", "-at_install", "pico_security")
class TestAccessMatrix(PicoCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company_a = cls.backend.company_id
        cls.company_b = env["res.company"].create({"name": "Matrix Company B"})
        cls.users = {}
        for key, _label, groups in matrix.USERS:
            company = cls.company_b if key == "company_b" else cls.company_a
            cls.users[key] = new_test_user(
                env,
                login=f"matrix_{key}",
                groups=groups,
                company_id=company.id,
                company_ids=[Command.set(company.ids)],
            )
        cls.backend.write(
            {
                "release_trigger": "manual",
                "mqtt_enabled": True,
                "mqtt_host": "127.0.0.1",
                "mqtt_port": 9,
                "mqtt_password": "matrix-broker-secret",
            }
        )
        cls.operation = cls._operation(cls.backend, "op-matrix", "MATRIX-1")
        cls.child = cls._operation(cls.backend, "op-child", "MATRIX-2")
        cls.product = env["product.product"].create(
            {
                "name": "Matrix product",
                "default_code": "MATRIX-1",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        cls.component = env["product.product"].create(
            {"name": "Matrix part", "default_code": "MATRIX-P", "is_storable": True}
        )
        cls.bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.product.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": cls.component.id, "product_qty": 1})
                ],
            }
        )
        cls.bom.pico_operation_id = cls.operation
        # A BOM with an operation, which a BOM transfer needs.
        workcenter = env["mrp.workcenter"].create({"name": "Matrix WC", "code": "MWC"})
        cls.transfer_bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.component.product_tmpl_id.id,
                "product_qty": 1,
                "pico_backend_id": cls.backend.id,
                "operation_ids": [
                    Command.create({"name": "Assemble", "workcenter_id": workcenter.id})
                ],
            }
        )
        cls.backend.work_instructions_enabled = True
        cls.stock = env.ref("stock.stock_location_stock")
        # Company B's own backend and rows, which its user does see.
        cls.backend_b = env["pico.backend"].create(
            {
                "name": "Plant B",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "company_id": cls.company_b.id,
            }
        )

    # --- fixtures --------------------------------------------------------------
    @classmethod
    def _operation(cls, backend, pico_id, part):
        return cls.env["pico.operation"].create(
            {
                "backend_id": backend.id,
                "pico_id": pico_id,
                "name": pico_id,
                "external_id": part,
            }
        )

    _counter = 0

    def _n(self):
        type(self)._counter += 1
        return type(self)._counter

    def _event(self, backend=None, state=inbox.FAILED):
        backend = backend or self.backend
        body = {
            "externalOrderId": f"WH/MO/{self._n()}#999999",
            "orderIndex": 0,
            "at": "2026-11-22T10:00:00Z",
            "operation": {"id": "op-matrix"},
            "operationSummary": {"consumedSerials": []},
        }
        intake = inbox.intake(inbox.COMPLETION, body, backend.id)
        event = self.env["pico.event"]._pico_store(backend, intake, "webhook")[0]
        event.write({"state": state, "error": "boom"})
        return event

    def _production(self):
        production = self.env["mrp.production"].create(
            {"product_id": self.product.id, "bom_id": self.bom.id, "product_qty": 1}
        )
        production.action_confirm()
        return production

    def _unit(self, state="error"):
        units = self.env["pico.work.order"]._pico_create_units(
            self.backend, self.operation, f"MATRIX-{self._n()}", 1
        )
        units.write({"state": state})
        return units

    def _exchange(self):
        unit = self._unit()
        exchange = unit.exchange_ids[:1]
        exchange.write({"state": "failed", "error": "boom"})
        return exchange

    def _quality(self, state="hold"):
        lot = self.env["stock.lot"].create(
            {"name": f"SN-M{self._n()}", "product_id": self.product.id}
        )
        self.env["stock.quant"]._update_available_quantity(
            self.product, self.stock, 1, lot_id=lot
        )
        return self.env["pico.quality.result"].create(
            {
                "backend_id": self.backend.id,
                "product_id": self.product.id,
                "lot_id": lot.id,
                "serial": lot.name,
                "inspected_at": fields.Datetime.now(),
                "result": "fail",
                "state": state,
            }
        )

    def _operator(self):
        return self.env["pico.operator"].create(
            {"backend_id": self.backend.id, "name": f"Operator {self._n()}"}
        )

    def _record(self, model):
        """A fresh company A record of `model`, made by the superuser."""
        n = self._n()
        env = self.env
        makers = {
            "pico.backend": lambda: env["pico.backend"].create(
                {"name": f"B{n}", "endpoint_url": "http://127.0.0.1:9/x"}
            ),
            "pico.event": self._event,
            "pico.exchange": self._exchange,
            "pico.work.order": self._unit,
            "pico.operation": lambda: self._operation(self.backend, f"op{n}", f"P{n}"),
            "pico.operation.attribute": lambda: env["pico.operation.attribute"].create(
                {"operation_id": self.operation.id, "key": f"k{n}"}
            ),
            "pico.operation.link": lambda: env["pico.operation.link"].create(
                {
                    "parent_id": self._operation(self.backend, f"p{n}", f"PP{n}").id,
                    "child_id": self.child.id,
                }
            ),
            "pico.operation.version": lambda: env["pico.operation.version"].create(
                {"operation_id": self.operation.id, "kind": "changed", "source": "sync"}
            ),
            "pico.operator": self._operator,
            "pico.topic": lambda: env["pico.topic"].create(
                {"backend_id": self.backend.id, "name": f"t{n}", "event_type": "scrap"}
            ),
            "pico.loss.reason": lambda: env["pico.loss.reason"].create(
                {"backend_id": self.backend.id, "code": f"L{n}"}
            ),
            "pico.defect.class": lambda: env["pico.defect.class"].create(
                {"backend_id": self.backend.id, "code": f"D{n}"}
            ),
            "pico.quality.result": self._quality,
            "pico.clock.skew": lambda: env["pico.clock.skew"].create(
                {"backend_id": self.backend.id, "measured_at": fields.Datetime.now()}
            ),
            "pico.manual.order": lambda: env["pico.manual.order"].create(
                {"backend_id": self.backend.id, "operation_id": self.operation.id}
            ),
            "pico.unit.note": lambda: env["pico.unit.note"].create(
                {"backend_id": self.backend.id, "text": f"note {n}"}
            ),
            "pico.setup.wizard": lambda: env["pico.setup.wizard"].create(
                self._create_vals("pico.setup.wizard")
            ),
        }
        return makers[model]()

    def _create_vals(self, model):
        n = self._n()
        backend = {"backend_id": self.backend.id}
        return {
            "pico.backend": {
                "name": f"New {n}",
                "endpoint_url": "http://127.0.0.1:9/x",
                "company_id": self.company_a.id,
            },
            "pico.event": dict(
                backend,
                event_type="completion",
                source="webhook",
                idempotency_key=f"forged-{n}",
            ),
            "pico.exchange": dict(backend, kind="save"),
            "pico.work.order": dict(
                backend,
                operation_id=self.operation.id,
                operation_pico_id="op-matrix",
                external_order_id=f"F{n}",
                order_index=0,
            ),
            "pico.operation": dict(backend, pico_id=f"new{n}", name="New"),
            "pico.operation.attribute": {
                "operation_id": self.operation.id,
                "key": f"nk{n}",
            },
            "pico.operation.link": {
                "parent_id": self.child.id,
                "child_id": self.operation.id,
            },
            "pico.operation.version": {
                "operation_id": self.operation.id,
                "kind": "changed",
                "source": "sync",
            },
            "pico.operator": dict(backend, name=f"New operator {n}"),
            "pico.topic": dict(backend, name=f"nt{n}", event_type="scrap"),
            "pico.loss.reason": dict(backend, code=f"NL{n}"),
            "pico.defect.class": dict(backend, code=f"ND{n}"),
            "pico.quality.result": dict(
                backend, inspected_at=fields.Datetime.now(), result="pass"
            ),
            "pico.manual.order": dict(backend, operation_id=self.operation.id),
            "pico.setup.wizard": dict(
                backend, step="connection", company_id=self.company_a.id
            ),
            "pico.clock.skew": dict(backend, measured_at=fields.Datetime.now()),
            "pico.unit.note": dict(backend, text=f"forged {n}"),
        }[model]

    WRITE_VALS = {
        "pico.backend": {"name": "Renamed"},
        "pico.event": {"error": "forged"},
        "pico.exchange": {"error": "forged"},
        "pico.work.order": {"last_error": "forged"},
        "pico.operation": {"variant_name": "v2"},
        "pico.operation.attribute": {"label": "relabelled"},
        "pico.operation.link": {"sub_group": "g2"},
        "pico.operation.version": {"summary": "forged"},
        "pico.operator": {"user_id": False},
        "pico.topic": {"sequence": 99},
        "pico.loss.reason": {"name": "Renamed"},
        "pico.defect.class": {"consequence": "none"},
        "pico.quality.result": {"note": "checked"},
        "pico.manual.order": {"quantity": 2},
        "pico.setup.wizard": {"step": "catalogue"},
        "pico.clock.skew": {"samples": 3},
        "pico.unit.note": {"text": "forged"},
    }

    # --- the walk ----------------------------------------------------------------
    def _attempt(self, call):
        """Run `call` and undo it; return the AccessError or UserError it raised."""
        # As in a request of its own: nothing read before is in the cache.
        self.env.invalidate_all()
        savepoint = self.env.cr.savepoint()
        try:
            call()
            self.env.flush_all()
        except REFUSED as exc:
            return exc
        finally:
            savepoint.close(rollback=True)
            self.env.invalidate_all()
        return None

    def check_model(self, model):
        expected = matrix.MODEL_ACCESS[model]
        for key, _label, _groups in matrix.USERS:
            user = self.users[key]
            allowed = expected.get(key, "")
            transient = model in ("pico.manual.order", "pico.setup.wizard")
            for letter, operation in matrix.CRUD:
                if transient and letter != "c" and "c" in allowed:
                    # A wizard is seen by the user who made it only.
                    record = (
                        self.env[model]
                        .with_user(user)
                        .create(self._create_vals(model))
                        .sudo(False)
                    )
                else:
                    record = self._record(model).with_user(user)
                calls = {
                    "r": lambda r=record: r.read(["display_name"]),
                    "w": lambda r=record: r.write(self.WRITE_VALS[model]),
                    "c": lambda u=user: (
                        self.env[model].with_user(u).create(self._create_vals(model))
                    ),
                    "d": lambda r=record: r.unlink(),
                }
                with self.subTest(model=model, user=key, operation=operation):
                    error = self._attempt(calls[letter])
                    if letter in allowed:
                        self.assertIsNone(error)
                    else:
                        self.assertIsInstance(error, AccessError)

    def test_matrix_covers_every_model(self):
        """The matrix names every model of the addon that has a table."""
        models = self.env["ir.model"].search(
            [("model", "=like", "pico.%"), ("transient", "in", [True, False])]
        )
        real = {m.model for m in models if not self.env[m.model]._abstract}
        self.assertEqual(real, set(matrix.MODEL_ACCESS) | set(matrix.REPORTS))

    def test_reports(self):
        """Reports: read by Pico users only, written by nobody, per company."""
        for model, expected in matrix.REPORTS.items():
            rule = self.env["ir.rule"].search([("model_id.model", "=", model)])
            self.assertIn("company_ids", " ".join(rule.mapped("domain_force")))
            for key, _label, _groups in matrix.USERS:
                reports = self.env[model].with_user(self.users[key])
                with self.subTest(model=model, user=key):
                    error = self._attempt(lambda r=reports: r.search([], limit=1))
                    if "r" in expected.get(key, ""):
                        self.assertIsNone(error)
                    else:
                        self.assertIsInstance(error, AccessError)
                    error = self._attempt(lambda r=reports: r.create({}))
                    self.assertIsInstance(error, AccessError)

    def test_matrix_covers_every_button(self):
        """Every action_* method the addon defines is in the matrix."""
        found = set()
        for model in set(matrix.MODEL_ACCESS) | {"mrp.production", "mrp.bom"}:
            cls = type(self.env[model])
            for name in dir(cls):
                if not name.startswith("action_"):
                    continue
                owner = next((k for k in cls.__mro__ if name in vars(k)), None)
                if owner is not None and "mrp_pico_mes" in owner.__module__:
                    found.add((model, name))
        # Odoo's own confirm, extended to release orders: covered by the push tests.
        found.discard(("mrp.production", "action_confirm"))
        self.assertEqual(found, set(matrix.ACTIONS))

    def test_docs_show_the_matrix(self):
        """The tables of docs/SECURITY.md are the matrix the tests walk."""
        text = matrix.DOC.read_text(encoding="utf-8")
        self.assertEqual(matrix.doc_block(text), matrix.markdown())

    def test_backends(self):
        self.check_model("pico.backend")

    def test_events(self):
        self.check_model("pico.event")

    def test_exchanges(self):
        self.check_model("pico.exchange")

    def test_work_orders(self):
        self.check_model("pico.work.order")

    def test_operations(self):
        for model in (
            "pico.operation",
            "pico.operation.attribute",
            "pico.operation.link",
            "pico.operation.version",
        ):
            self.check_model(model)

    def test_shop_floor_tables(self):
        for model in ("pico.topic", "pico.loss.reason", "pico.defect.class"):
            self.check_model(model)

    def test_operators(self):
        self.check_model("pico.operator")

    def test_quality_results(self):
        self.check_model("pico.quality.result")

    def test_manual_order_wizard(self):
        self.check_model("pico.manual.order")

    def test_setup_wizard(self):
        self.check_model("pico.setup.wizard")

    def test_clock_skew(self):
        self.check_model("pico.clock.skew")

    def test_operator_notes(self):
        self.check_model("pico.unit.note")

    # --- buttons -----------------------------------------------------------------
    def _button_record(self, model, action):
        if model == "mrp.production":
            return self._production()
        if model == "mrp.bom" and action == "action_pico_transfer_retry":
            self.transfer_bom.sudo()._pico_transfer_enqueue()
            self.transfer_bom.pico_transfer_exchange_id.write({"state": "failed"})
            return self.transfer_bom
        if model == "mrp.bom":
            return self.transfer_bom if action == "action_pico_transfer" else self.bom
        if model == "pico.backend":
            return self.backend
        if model == "pico.work.order":
            return self._unit("sent" if action == "action_cancel_in_pico" else "error")
        if model == "pico.quality.result":
            return self._quality()
        if model in ("pico.manual.order", "pico.setup.wizard"):
            return None
        record = self._record(model)
        if model == "pico.event":
            record.production_id = self._production()
        return record

    def check_button(self, model, action, user):
        record = self._button_record(model, action)
        if record is None:
            # The wizard is the user's own; creating it is part of pressing.
            def call():
                wizard = (
                    self.env[model].with_user(user).create(self._create_vals(model))
                )
                return getattr(wizard, action)()
        else:

            def call():
                return getattr(record.with_user(user), action)()

        return self._attempt(call)

    def test_buttons(self):
        """Every button: allowed users get through, the others are refused."""
        for (model, action), allowed in matrix.ACTIONS.items():
            for key, _label, _groups in matrix.USERS:
                with self.subTest(model=model, action=action, user=key):
                    self.simulator.reset()
                    error = self.check_button(model, action, self.users[key])
                    if key in allowed:
                        self.assertIsNone(error)
                    else:
                        self.assertIsNotNone(error, "not refused")
                        self.assertEqual(
                            self.simulator.requests(), [], "Pico was called"
                        )

    # --- secrets -----------------------------------------------------------------
    def test_secrets_unreadable_by_non_administrators(self):
        """read, search_read, web_read, export, fields_get, search: no secret."""
        values = [self.backend[name] for name in SECRETS]
        self.assertTrue(all(values))
        # Export needs a right of its own: the same users, allowed to export.
        self.exporters = {
            key: new_test_user(
                self.env,
                login=f"exporter_{key}",
                groups=f"{groups},base.group_allow_export",
                company_id=self.users[key].company_id.id,
                company_ids=[Command.set(self.users[key].company_ids.ids)],
            )
            for key, _label, groups in matrix.USERS
        }
        for key in ("pico_user", "pico_manager", "company_b", "mrp_admin"):
            user = self.users[key]
            backend = self.backend_b if key == "company_b" else self.backend
            model = self.env["pico.backend"].with_user(user)
            record = backend.with_user(user)
            probes = {
                "read": lambda r=record: r.read(list(SECRETS)),
                "export": lambda r=record, u=self.exporters[key]: r.with_user(
                    u
                ).export_data(list(SECRETS)),
                "search_read": lambda m=model, b=backend: m.search_read(
                    [("id", "=", b.id)], list(SECRETS)
                ),
                "web_read": lambda r=record: r.web_read({name: {} for name in SECRETS}),
                "search": lambda m=model: m.search([("api_token", "=", values[0])]),
                "fields_get": lambda m=model: m.fields_get(),
            }
            for name, probe in probes.items():
                with self.subTest(user=key, probe=name):
                    answer = []
                    error = self._attempt(lambda p=probe, a=answer: a.append(p()))
                    if error:
                        self.assertIsInstance(error, AccessError)
                        continue
                    dumped = json.dumps(answer, default=str)
                    for value in values:
                        self.assertNotIn(value, dumped)
                    for field in SECRETS:
                        self.assertNotIn(f'"{field}"', dumped)

    def test_company_b_sees_nothing_of_company_a(self):
        """Company B's manager: no backend, event, exchange, unit or mapping of A."""
        a_rows = {
            "pico.backend": self.backend,
            "pico.event": self._event(),
            "pico.exchange": self._exchange(),
            "pico.work.order": self._unit(),
            "pico.operation": self.operation,
            "pico.operator": self._operator(),
            "pico.topic": self.backend.mqtt_topic_ids[:1],
            "pico.quality.result": self._quality(),
            "mrp.bom": self.bom,
        }
        b_event = self._event(self.backend_b)
        user = self.users["company_b"]
        for model, record in a_rows.items():
            with self.subTest(model=model):
                self.assertTrue(record)
                found = self.env[model].with_user(user).search([])
                self.assertFalse(found & record)
        self.assertIn(b_event, self.env["pico.event"].with_user(user).search([]))
        self.assertIn(
            self.backend_b, self.env["pico.backend"].with_user(user).search([])
        )
