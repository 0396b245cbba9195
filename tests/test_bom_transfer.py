# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""BOM transfer: a bill of materials sent to Pico, deployed there, mapped back."""

import json
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..core.bom_transfer import ID_PATTERN
from .common import PicoCase, PicoHttpCase


class TransferMixin:
    """A rover BOM: three operations (one without instructions), two serials."""

    @classmethod
    def _setup_rover(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend.work_instructions_enabled = True
        cls.manager = new_test_user(
            cls.env,
            login="pico_transfer_manager",
            groups="mrp.group_mrp_manager,mrp_pico_mes.group_pico_manager,"
            "mrp.group_mrp_routings",
        )
        cls.user = new_test_user(
            cls.env,
            login="pico_transfer_user",
            groups="mrp.group_mrp_manager,mrp_pico_mes.group_pico_user,"
            "mrp.group_mrp_routings",
        )
        product = cls.env["product.product"]

        def make(name, code=None, tracking="none"):
            return product.create(
                {
                    "name": name,
                    "default_code": code,
                    "type": "consu",
                    "is_storable": True,
                    "tracking": tracking,
                }
            )

        cls.rover = make("Rover", "Rover 7/B", "serial")
        cls.motor = make("Wheel motor", "WM-42", "serial")
        cls.camera = make("Camera", "CAM.9", "serial")
        cls.bolt = make("Bolt", "BOLT-M4")
        workcenter = cls.env["mrp.workcenter"]
        cls.assembly = workcenter.create({"name": "Assembly Line", "code": "ASM 1"})
        cls.bench = workcenter.create({"name": "Test Bench"})

    def _rover_bom(self, backend=True):
        """The rover's BOM, for the class's backend (or none with backend=False):
        on a database with demo data the company has two backends, so a BOM
        without one is refused (test_backend_of_the_company)."""
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.rover.product_tmpl_id.id,
                "product_qty": 1,
                "code": "B",
                "pico_backend_id": self.backend.id if backend else False,
                "operation_ids": [
                    Command.create(
                        {
                            "name": "Chassis",
                            "workcenter_id": self.assembly.id,
                            "sequence": 10,
                            "note": "<ol><li>Bolt the frame</li>"
                            "<li>Fit the <b>wheel motor</b></li></ol>",
                        }
                    ),
                    Command.create(
                        {
                            "name": "Camera mount",
                            "workcenter_id": self.assembly.id,
                            "sequence": 20,
                            "note": "<p>Mount the camera.</p><p>Route its cable.</p>"
                            "<p>Check the focus.</p>",
                        }
                    ),
                    Command.create(
                        {
                            "name": "Drive test",
                            "workcenter_id": self.bench.id,
                            "sequence": 30,
                        }
                    ),
                ],
            }
        )
        chassis, camera_mount, _test = bom.operation_ids.sorted("sequence")
        bom.bom_line_ids = [
            Command.create(
                {
                    "product_id": self.motor.id,
                    "product_qty": 1,
                    "operation_id": chassis.id,
                }
            ),
            Command.create(
                {
                    "product_id": self.camera.id,
                    "product_qty": 1,
                    "operation_id": camera_mount.id,
                }
            ),
            Command.create({"product_id": self.bolt.id, "product_qty": 4}),
        ]
        return bom

    def _send(self, bom, user=None):
        bom.with_user(user or self.manager).action_pico_transfer()
        exchange = bom.pico_transfer_exchange_id
        self.env["pico.exchange"].sudo()._pico_run(ids=exchange.ids)
        self.env.invalidate_all()
        return exchange

    def _sent_documents(self):
        """(mutation, input) of every Work Instructions request Pico received."""
        sent = []
        for request in self.simulator.requests():
            query = request["query"] or ""
            for name in ("stationCreate", "processCreate", "productCreate"):
                if f"{name}(input:" in query:
                    sent.append((name, request["variables"]["input"]))
        return sent


@tagged("post_install", "-at_install", "pico_bom_transfer")
class TestBomTransfer(TransferMixin, PicoCase):
    simulator_options = {"work_instructions": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_rover()

    def test_documents_sent(self):
        """Three operations (one without a note), two serials: what Pico gets."""
        bom = self._rover_bom()
        bom.with_user(self.manager).action_pico_transfer()
        exchange = bom.pico_transfer_exchange_id
        # Queued in the transaction, nothing on the wire yet.
        self.assertEqual(exchange.state, "pending")
        self.assertEqual(exchange.kind, "bom_transfer")
        self.assertEqual(exchange.bom_id, bom)
        self.assertFalse(self._sent_documents())
        self.env["pico.exchange"].sudo()._pico_run(ids=exchange.ids)
        self.assertEqual(exchange.state, "done", exchange.error)

        sent = self._sent_documents()
        self.assertEqual(
            [name for name, _input in sent],
            ["stationCreate"] * 2 + ["processCreate"] * 3 + ["productCreate"],
        )
        self.assertEqual(
            [payload["station"] for _name, payload in sent[:2]],
            [
                {"id": "asm_1", "name": "Assembly Line"},
                {"id": "test_bench", "name": "Test Bench"},
            ],
        )
        chassis, mount, drive = (payload["process"] for _name, payload in sent[2:5])
        self.assertEqual(chassis["id"], "rover_7_b_chassis")
        self.assertEqual(chassis["name"], "Chassis")
        self.assertEqual(chassis["stationId"], "asm_1")
        self.assertEqual(
            [step["instructionText"]["text"] for step in chassis["steps"]],
            ["Bolt the frame", "Fit the wheel motor"],
        )
        self.assertEqual(
            [step["id"] for step in mount["steps"]], ["step_1", "step_2", "step_3"]
        )
        # The operation without a note: one step, named after the operation.
        self.assertEqual(
            drive["steps"],
            [
                {
                    "id": "step_1",
                    "name": "Drive test",
                    "instructionText": {"text": "Drive test"},
                }
            ],
        )
        self.assertEqual(drive["stationId"], "test_bench")
        product = sent[5][1]["product"]
        self.assertEqual(product["id"], "rover_7_b")
        self.assertEqual(product["partNumber"], "Rover 7/B")
        self.assertEqual(product["revision"], "B")
        self.assertEqual(
            product["processIds"],
            ["rover_7_b_chassis", "rover_7_b_camera_mount", "rover_7_b_drive_test"],
        )
        # Serial-tracked lines only (not the bolts), part number = reference.
        self.assertEqual(
            product["consumedSerials"],
            [
                {
                    "id": "wm_42",
                    "partNumber": "WM-42",
                    "processId": "rover_7_b_chassis",
                },
                {
                    "id": "cam_9",
                    "partNumber": "CAM.9",
                    "processId": "rover_7_b_camera_mount",
                },
            ],
        )
        # The BOM shows when, what result, and nothing changed since.
        self.assertTrue(bom.pico_transfer_requested_at)
        self.assertEqual(bom.pico_transfer_state, "done")
        self.assertTrue(bom.pico_transfer_done_at)
        self.assertFalse(bom.pico_transfer_changed)
        self.assertIn("processCreate rover_7_b_chassis", exchange.response)

    def test_ids_stable_and_second_send_updates(self):
        """Edits mark the BOM changed; a second send updates the same ids."""
        bom = self._rover_bom()
        self._send(bom)
        first = json.loads(bom.pico_transfer_exchange_id.request)["documents"]
        ids = [next(iter(doc["input"].values()))["id"] for doc in first]
        for pico_id in ids:
            self.assertRegex(pico_id, ID_PATTERN)
        chassis = bom.operation_ids.sorted("sequence")[0]
        self.assertEqual(chassis.pico_transfer_process_id, "rover_7_b_chassis")
        self.assertEqual(self.assembly.pico_transfer_station_id, "asm_1")

        # An operation edit (renamed, new instructions) marks it changed.
        chassis.write({"name": "Chassis and wheels", "note": "<p>All at once</p>"})
        self.assertTrue(bom.pico_transfer_changed)
        # So does a change of the BOM itself (a new revision).
        bom.code = "C"
        self.assertTrue(bom.pico_transfer_changed)

        self._send(bom)
        self.assertEqual(bom.pico_transfer_state, "done")
        self.assertFalse(bom.pico_transfer_changed)
        second = json.loads(bom.pico_transfer_exchange_id.request)["documents"]
        self.assertEqual(
            [next(iter(doc["input"].values()))["id"] for doc in second], ids
        )
        self.assertEqual(second[2]["input"]["process"]["name"], "Chassis and wheels")
        state = self.simulator.work_instruction_state()
        self.assertEqual(sorted(state["products"]), ["rover_7_b"])
        self.assertEqual(len(state["processes"]), 3)
        self.assertEqual(len(state["stations"]), 2)
        self.assertEqual(state["products"]["rover_7_b"]["version"], 2)
        self.assertEqual(state["products"]["rover_7_b"]["revision"], "C")
        actions = [entry["action"] for entry in state["log"]]
        self.assertEqual(actions, ["created"] * 6 + ["updated"] * 6)
        self.assertEqual(
            self.env["pico.exchange"].search_count([("bom_id", "=", bom.id)]), 2
        )

    def test_introspection_refused_sends_documented_names(self):
        """A Pico that hides its schema is taken at its documentation."""
        self.use_pico_schema("documented", introspection=False)
        bom = self._rover_bom()
        exchange = self._send(bom)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(self.backend.pico_features_state, "refused")
        self.assertEqual(len(self._sent_documents()), 6)

    def test_second_bom_of_same_product_gets_its_own_ids(self):
        """Collision rule: another BOM of the product does not overwrite the first."""
        first = self._rover_bom()
        self._send(first)
        second = self._rover_bom()
        second.code = "X"
        self._send(second)
        self.assertEqual(first.pico_transfer_product_id, "rover_7_b")
        self.assertRegex(second.pico_transfer_product_id, r"^rover_7_b_[0-9a-f]{6}$")
        self.assertRegex(second.pico_transfer_product_id, ID_PATTERN)
        processes = self.simulator.work_instruction_state()["processes"]
        self.assertEqual(len(processes), 6)

    def test_pico_error_visible_and_retried(self):
        """A 503 waits and retries by itself; a 400 fails, shows, and Retry sends."""
        bom = self._rover_bom()
        self.simulator.set_faults(fail_next=1, error_status=503)
        exchange = self._send(bom)
        self.assertEqual(bom.pico_transfer_state, "retry_wait")
        self.assertIn("503", bom.pico_transfer_error)
        exchange.sudo().next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.env["pico.exchange"].sudo()._pico_run(ids=exchange.ids)
        self.assertEqual(bom.pico_transfer_state, "done", exchange.error)
        self.assertEqual(exchange.attempts, 2)

        # The first request asks Pico's schema; the second (a mutation) is refused.
        self.simulator.set_faults(fail_next=2, error_status=400)
        exchange = self._send(bom)
        self.assertEqual(bom.pico_transfer_state, "failed")
        self.assertIn("400", bom.pico_transfer_error)
        self.assertIn("Sending to Pico failed", bom.message_ids[0].body)
        self.assertTrue(exchange.activity_ids)
        with self.assertRaises(AccessError):
            bom.with_user(self.user).action_pico_transfer_retry()
        bom.with_user(self.manager).action_pico_transfer_retry()
        self.assertEqual(exchange.state, "pending")
        self.env["pico.exchange"].sudo()._pico_run(ids=exchange.ids)
        self.assertEqual(bom.pico_transfer_state, "done", exchange.error)

    def test_round_trip_by_catalogue_sync(self):
        """Sent, deployed in Pico, synchronized: the mapping is valid by itself."""
        bom = self._rover_bom()
        self._send(bom)
        # Sent, not deployed yet: nothing in the catalogue to map it to.
        self.assertEqual(bom.pico_mapping_state, "attention")
        self.assertIn("No Pico operation is chosen", bom.pico_mapping_problems)
        self.simulator.deploy_product(bom.pico_transfer_product_id)
        self.backend.action_sync_operations()
        self.env.invalidate_all()
        product = bom.pico_operation_id
        self.assertEqual(product.pico_id, "rover_7_b")
        self.assertEqual(product.external_id, "Rover 7/B")
        self.assertEqual(
            bom.operation_ids.sorted("sequence").mapped("pico_operation_id.pico_id"),
            ["rover_7_b_chassis", "rover_7_b_camera_mount", "rover_7_b_drive_test"],
        )
        serial_lines = bom.bom_line_ids.filtered(
            lambda line: line.product_id.tracking == "serial"
        )
        self.assertEqual(
            serial_lines.mapped("pico_attribute_id.external_id"), ["WM-42", "CAM.9"]
        )
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        self.assertIn("Pico deployed the product", bom.message_ids[0].body)
        # Orders of this BOM now go to the transferred product.
        production = self.env["mrp.production"].create(
            {"product_id": self.rover.id, "bom_id": bom.id, "product_qty": 1}
        )
        production.action_confirm()
        self.env["pico.exchange"].sudo()._pico_run()
        orders = self.simulator.orders()
        self.assertEqual([o["operationId"] for o in orders], ["rover_7_b"])
        self.assertTrue(orders[0]["externalOrderId"].startswith(production.name))

    def test_only_managers_send(self):
        """A Pico user cannot send, even by calling the method; nothing is queued."""
        bom = self._rover_bom()
        with self.assertRaises(AccessError):
            bom.with_user(self.user).action_pico_transfer()
        with self.assertRaises(AccessError):
            bom.with_user(self.user)._pico_transfer_enqueue()
        self.assertFalse(bom.pico_transfer_exchange_id)
        self.assertFalse(bom.pico_transfer_product_id)
        self.assertFalse(
            self.env["pico.exchange"].search_count([("kind", "=", "bom_transfer")])
        )

    def test_refused_before_queueing(self):
        """Alpha API off, or a product without reference: a clear error, no row."""
        bom = self._rover_bom()
        self.backend.work_instructions_enabled = False
        with self.assertRaisesRegex(UserError, "Work Instructions"):
            bom.with_user(self.manager).action_pico_transfer()
        self.backend.work_instructions_enabled = True
        self.rover.default_code = False
        self.camera.default_code = False
        with self.assertRaises(UserError) as caught:
            bom.with_user(self.manager).action_pico_transfer()
        self.assertIn("Rover has no internal reference", str(caught.exception))
        self.assertIn("Camera is tracked by serial numbers", str(caught.exception))
        self.assertFalse(bom.pico_transfer_exchange_id)

    def test_backend_of_the_company(self):
        """A BOM without a backend goes to its company's only backend; with two
        (the demo's and this one), the planner is asked to choose."""
        bom = self._rover_bom(backend=False)
        self.assertFalse(bom.pico_backend_id)
        others = self.env["pico.backend"].search([("id", "!=", self.backend.id)])
        others.active = False
        self.env["pico.backend"].create(
            {"name": "Second Pico", "endpoint_url": "http://127.0.0.1:9/graph"}
        )
        with self.assertRaisesRegex(UserError, "Choose the Pico backend of .*Rover"):
            bom.with_user(self.manager).action_pico_transfer()
        self.assertFalse(bom.pico_transfer_exchange_id)
        self.env["pico.backend"].search([("name", "=", "Second Pico")]).active = False
        exchange = self._send(bom)
        self.assertEqual(exchange.backend_id, self.backend)
        self.assertEqual(exchange.state, "done", exchange.error)
        self.assertEqual(bom.pico_transfer_state, "done")
        self.assertEqual(self._sent_documents()[-1][1]["product"]["id"], "rover_7_b")


@tagged("post_install", "-at_install", "pico_bom_transfer")
class TestBomTransferFeatureMissing(TransferMixin, PicoCase):
    """A Pico without the alpha API (the simulator's default): a clear error."""

    # Telling "missing" from "not asked" needs Pico to answer introspection.
    simulator_options = {"introspection": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_rover()

    def test_missing_mutations_named(self):
        bom = self._rover_bom()
        exchange = self._send(bom)
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.error_code, "FEATURE_MISSING")
        self.assertIn("Work Instructions API", exchange.error)
        self.assertIn("processCreate", exchange.error)
        self.assertEqual(bom.pico_transfer_state, "failed")
        # Detected before anything was sent.
        self.assertFalse(self._sent_documents())
        # The detection is stored on the backend: the next click is refused at once.
        self.assertEqual(self.backend.pico_features_state, "detected")
        with self.assertRaisesRegex(UserError, "Work Instructions API"):
            bom.with_user(self.manager).action_pico_transfer()
        self.assertEqual(
            self.env["pico.exchange"].search_count([("bom_id", "=", bom.id)]), 1
        )


@tagged("post_install", "-at_install", "pico_bom_transfer")
class TestBomTransferWebhook(TransferMixin, PicoHttpCase):
    """The production-version webhook alone brings the product back."""

    simulator_options = {"work_instructions": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_rover()

    def test_round_trip_by_version_webhook(self):
        bom = self._rover_bom()
        self._send(bom)
        self.backend.action_register_webhooks()
        with self.allow_requests(all_requests=True):
            self.simulator.deploy_product(bom.pico_transfer_product_id)
            self.assertTrue(self.simulator.wait_idle(timeout=10))
        self.env["pico.event"]._pico_run()
        self.env.invalidate_all()
        self.assertEqual(bom.pico_operation_id.pico_id, "rover_7_b")
        self.assertEqual(
            bom.bom_line_ids.filtered("pico_attribute_id").mapped(
                "pico_attribute_id.external_id"
            ),
            ["WM-42", "CAM.9"],
        )
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
