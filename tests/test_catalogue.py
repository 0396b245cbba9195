# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import copy
import time
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

from ..core.webhook import SECRET_HEADER
from .common import FIXTURE, PicoCase, PicoFixtures, PicoHttpCase, fixture_operation


class CatalogueMixin(PicoFixtures):
    """Products and a drone BOM as a planner would set them up for the fixture."""

    @classmethod
    def _setup_catalogue_products(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.planner = new_test_user(
            cls.env,
            login="pico_catalogue_planner",
            groups="mrp.group_mrp_manager,mrp_pico_mes.group_pico_user,"
            "stock.group_production_lot,mrp.group_mrp_routings",
        )
        cls._setup_products()
        cls.frame = cls._make_product("Frame")
        cls.glue = cls._make_product("Glue", "GLUE-1", "lot")
        cls.unit = cls.env.ref("uom.product_uom_unit")
        cls.dozen = cls.env.ref("uom.product_uom_dozen")

    def _drone_bom(self, mapped=True):
        """The drone BOM; mapped=True maps operation and serials by hand."""
        return self._make_bom(
            self.drone,
            [
                (self.motor, 1, "attr-motor"),
                (self.fc, 1, "attr-fc"),
                (self.frame, 1, None),
                (self.screw, 8, None),
            ],
            operation=self._operation("op-drone") if mapped else None,
            code="A",
        )

    def _versions(self, operation):
        """History of an operation, newest first."""
        return self.env["pico.operation.version"].search(
            [("operation_id", "=", operation.id)]
        )

    def _line(self, bom, product):
        return bom.bom_line_ids.filtered(lambda line: line.product_id == product)


@tagged("post_install", "-at_install", "pico_catalogue")
class TestCatalogueSync(CatalogueMixin, PicoCase):
    """The catalogue filled from the simulator by the button and the cron."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_catalogue_products()

    def _sync(self):
        action = self.backend.action_sync_operations()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        return action

    def test_sync_creates_catalogue(self):
        """The button fetches operations and structure; kinds come from the links."""
        action = self._sync()
        self.assertIn("5 new", action["params"]["message"])
        operations = (
            self.env["pico.operation"]
            .with_context(active_test=False)
            .search([("backend_id", "=", self.backend.id)])
        )
        self.assertEqual(
            sorted(operations.mapped("pico_id")),
            ["op-drone", "op-flight", "op-frame", "op-old", "op-widget"],
        )
        drone = self._operation("op-drone")
        self.assertEqual(drone.external_id, "DRONE-100")
        self.assertEqual(drone.external_revision, "A")
        self.assertEqual(drone.kind, "product")
        self.assertEqual(str(drone.pico_updated_at), "2025-01-01 00:00:00")
        self.assertEqual(
            drone.attribute_ids.mapped("external_id"), ["MOTOR-220", "FC-330"]
        )
        # Pico documents no label on Attribute: the name is the Odoo product's
        # whose internal reference is the part number.
        self.assertEqual(
            drone.attribute_ids.mapped("label"), ["Drone Motor", "Flight Controller"]
        )
        self.assertEqual(
            drone._pico_processes().mapped("pico_id"), ["op-frame", "op-flight"]
        )
        self.assertEqual(self._operation("op-frame").kind, "process")
        self.assertEqual(self._operation("op-widget").kind, "product")
        old = self._operation("op-old")
        self.assertFalse(old.active)
        self.assertEqual(str(old.archived_at), "2024-06-01 00:00:00")
        self.assertEqual(drone.version_ids.kind, "created")
        self.assertEqual(drone.version_ids.source, "sync")
        self.assertEqual(
            old.version_ids.mapped("summary"), ["First seen in Pico\nArchived in Pico"]
        )
        self.assertTrue(self.backend.catalogue_synced_at)
        self.assertEqual(self.backend.operation_count, 4)  # active ones

    def test_sync_again_changes_nothing(self):
        """A second sync of the same catalogue writes no history."""
        self._sync()
        versions = self.env["pico.operation.version"].search_count([])
        action = self._sync()
        self.assertIn(
            "0 new, 0 changed, 0 redeployed, 5 unchanged", action["params"]["message"]
        )
        self.assertEqual(self.env["pico.operation.version"].search_count([]), versions)

    def test_sync_updates_and_flags_mapping(self):
        """A new version deployed in Pico updates the catalogue and flags the BOM."""
        self._sync()
        self.backend.responsible_id = self.planner
        bom = self._drone_bom()
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        operation = fixture_operation("op-drone")
        operation["name"] = "Pico Demo Drone v2"
        operation["consumedSerials"].append({"id": "attr-gps", "externalId": "GPS-9"})
        self.simulator.deploy_operation(operation)
        action = self._sync()
        self.assertIn("1 changed", action["params"]["message"])
        drone = self._operation("op-drone")
        self.assertEqual(drone.name, "Pico Demo Drone v2")
        self.assertEqual(
            drone.attribute_ids.mapped("external_id"), ["MOTOR-220", "FC-330", "GPS-9"]
        )
        latest = self._versions(drone)[0]
        self.assertEqual(latest.kind, "changed")
        self.assertEqual(
            latest.summary,
            "Name: Pico Demo Drone → Pico Demo Drone v2\nConsumed serial added: GPS-9",
        )
        self.assertGreater(
            latest.pico_updated_at, self._versions(drone)[1].pico_updated_at
        )
        self.assertEqual(bom.pico_mapping_state, "attention")
        self.assertIn("Consumed serial GPS-9 of", bom.pico_mapping_problems)
        activity = bom.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.planner)
        self.assertEqual(
            activity.activity_type_id,
            self.env.ref("mrp_pico_mes.mail_activity_type_pico_mapping"),
        )

    def test_operation_no_longer_listed(self):
        """An operation Pico stops listing is archived with a history line."""
        self._sync()
        fixture = copy.deepcopy(FIXTURE)
        fixture["operations"] = [
            op for op in fixture["operations"] if op["id"] != "op-widget"
        ]
        self.simulator.reset(fixture)
        action = self._sync()
        self.assertIn("1 no longer listed", action["params"]["message"])
        widget = self._operation("op-widget")
        self.assertFalse(widget.active)
        self.assertFalse(widget.in_pico)
        self.assertEqual(self._versions(widget)[0].kind, "missing")
        self.simulator.reset()
        self._sync()
        self.assertTrue(widget.active)
        self.assertEqual(self._versions(widget)[0].summary, "Listed by Pico again")

    def test_structure_change_is_history(self):
        """A sub-operation added in Pico shows in the parent's history."""
        self._sync()
        self.simulator.add_sub_operation("op-widget", "op-frame")
        self._sync()
        widget = self._operation("op-widget")
        self.assertEqual(widget._pico_processes().pico_id, "op-frame")
        self.assertEqual(self._versions(widget)[0].kind, "structure")
        self.assertIn(
            "Sub-operation added: [DRONE-100-P10]", self._versions(widget)[0].summary
        )

    def test_cron_sync(self):
        """The scheduled action syncs every backend."""
        others = self.env["pico.backend"].search([("id", "!=", self.backend.id)])
        others.active = False  # e.g. the demo backend, whose Pico is not running
        self.env["pico.operation"]._cron_pico_sync_catalogue()
        self.assertEqual(self._operation("op-drone").kind, "product")

    def test_sync_unreachable(self):
        """Pico down: a danger notification, nothing written."""
        self.simulator.set_faults(error_rate=1.0, error_status=503)
        action = self.backend.action_sync_operations()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("503", action["params"]["message"])
        self.assertFalse(self._operation("op-drone"))

    def test_register_webhooks(self):
        """Both webhooks are registered with stable ids, the secret and the URLs."""
        action = self.backend.action_register_webhooks()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        self.backend.action_register_webhooks()  # same ids: replaced, not added
        subscriptions = {
            sub["subscriptionId"]: sub for sub in self.simulator.subscriptions()
        }
        dbuuid = self.env["ir.config_parameter"].get_param("database.uuid")
        version_id = f"odoo-{dbuuid}-{self.backend.id}-version"
        completion_id = f"odoo-{dbuuid}-{self.backend.id}-completion"
        self.assertEqual(set(subscriptions), {version_id, completion_id})
        self.assertEqual(
            subscriptions[version_id]["webhookUrl"], self.backend.webhook_version_url
        )
        self.assertIn("on Operation", subscriptions[version_id]["responseFragment"])
        self.assertEqual(
            subscriptions[completion_id]["webhookUrl"],
            self.backend.webhook_completion_url,
        )
        self.assertEqual(
            subscriptions[version_id]["webhookHeaders"],
            {SECRET_HEADER: self.backend.webhook_secret},
        )


@tagged("post_install", "-at_install", "pico_catalogue")
class TestMappingValidation(CatalogueMixin, TransactionCase):
    """Each validation rule rejects its bad case with a message naming the culprit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_catalogue_products()
        cls.backend = cls.env["pico.backend"].create(
            {"name": "Offline Pico", "endpoint_url": "http://127.0.0.1:9/graph/v2"}
        )
        stats = cls.env["pico.operation"]._pico_sync_from_rows(
            cls.backend, FIXTURE["operations"], FIXTURE["subOperations"]
        )
        assert stats["created"] == 5, stats

    def assertProblem(self, bom, *fragments):
        """The BOM needs attention and one problem names every fragment."""
        self.assertEqual(bom.pico_mapping_state, "attention")
        problems = bom._pico_mapping_problems()
        self.assertTrue(
            any(
                all(fragment in problem for fragment in fragments)
                for problem in problems
            ),
            f"no problem names {fragments}: {problems}",
        )
        self.assertEqual(bom.pico_mapping_problems, "\n".join(problems))
        return problems

    def test_valid_mapping_passes(self):
        """The fixture drone, fully mapped, is valid and releasable."""
        bom = self._drone_bom()
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        self.assertEqual(bom._pico_mapping_problems(), [])
        self.assertFalse(bom.pico_mapping_problems)

    def test_not_for_pico(self):
        """Without backend a BOM is not for Pico and always releases."""
        bom = self._drone_bom(mapped=False)
        bom.pico_backend_id = False
        self.assertEqual(bom.pico_mapping_state, "unmapped")
        self.assertFalse(bom.pico_mapping_problems)

    def test_missing_operation(self):
        """A backend without operation needs attention."""
        bom = self._drone_bom(mapped=False)
        self.assertProblem(bom, "No Pico operation", "Drone")

    def test_attribute_not_mapped(self):
        """Every consumed serial maps to a BOM line; the message names the serial."""
        bom = self._drone_bom()
        self._line(bom, self.motor).pico_attribute_id = False
        self.assertProblem(bom, "Consumed serial MOTOR-220 (Drone Motor)", "not mapped")
        # and the now unmapped serial-tracked line is named too
        self.assertProblem(bom, "BOM line [MOTOR-220] Drone Motor", "serial numbers")

    def test_tracked_line_not_mapped(self):
        """A lot-tracked component without serial attribute is named."""
        bom = self._drone_bom()
        bom.bom_line_ids = [
            Command.create({"product_id": self.glue.id, "product_qty": 1})
        ]
        problems = self.assertProblem(bom, "BOM line [GLUE-1] Glue", "lots")
        self.assertEqual(len(problems), 1)

    def test_finished_product_not_serial(self):
        """Pico produces serials: a lot-tracked drone is refused."""
        bom = self._drone_bom()
        self.drone.tracking = "lot"
        self.assertProblem(bom, "Finished product [DRONE-100] Drone", "lots")

    def test_archived_operation(self):
        """Mapping the archived op-old is refused."""
        bom = self._drone_bom(mapped=False)
        bom.pico_operation_id = self._operation("op-old")
        self.assertProblem(bom, "[OLD-1] Old bracket", "archived")

    def test_kit(self):
        """A kit BOM cannot go to Pico."""
        bom = self._drone_bom()
        bom.type = "phantom"
        self.assertProblem(bom, "kit")

    def test_units_of_measure(self):
        """A serial component counted in dozens needs 12 serials per unit: refused."""
        bom = self._drone_bom()
        self._line(bom, self.motor).product_uom_id = self.dozen
        self.assertProblem(
            bom, "BOM line [MOTOR-220] Drone Motor", "exactly 1 Units", "consumes 12"
        )
        self._line(bom, self.motor).product_uom_id = self.unit
        bom.product_qty = 2
        self._line(bom, self.motor).product_qty = 2
        self._line(bom, self.fc).product_qty = 2
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        bom.product_qty = 0.5
        self.assertProblem(bom, "0.5", "whole units")

    def test_untracked_line_on_serial(self):
        """A serial attribute on an untracked component is refused."""
        bom = self._drone_bom()
        operation = self._operation("op-drone")
        self._line(bom, self.motor).pico_attribute_id = False
        self._line(bom, self.frame).pico_attribute_id = self._attribute(
            operation, "attr-motor"
        )
        self.assertProblem(bom, "BOM line Frame", "MOTOR-220", "not tracked")

    def test_removed_and_foreign_attribute(self):
        """A line on a serial of another operation is named."""
        bom = self._drone_bom()
        frame_process = self._operation("op-frame")
        self._line(bom, self.motor).pico_attribute_id = self._attribute(
            frame_process, "attr-motor"
        )
        self.assertProblem(
            bom, "BOM line [MOTOR-220] Drone Motor", "another Pico operation"
        )

    def test_routing_to_processes(self):
        """BOM operations route to the operation's processes, all or none."""
        bom = self._drone_bom()
        workcenter = self.env["mrp.workcenter"].create({"name": "Pico line"})
        frame_step, flight_step = self.env["mrp.routing.workcenter"].create(
            [
                {
                    "name": "Frame assembly",
                    "bom_id": bom.id,
                    "workcenter_id": workcenter.id,
                },
                {
                    "name": "Flight controller",
                    "bom_id": bom.id,
                    "workcenter_id": workcenter.id,
                },
            ]
        )
        self.assertEqual(
            frame_step.pico_allowed_operation_ids,
            self._operation("op-frame") | self._operation("op-flight"),
        )
        frame_step.pico_operation_id = self._operation("op-frame")
        self.assertProblem(bom, "BOM operation Flight controller", "not mapped")
        flight_step.pico_operation_id = self._operation("op-widget")
        self.assertProblem(
            bom, "BOM operation Flight controller", "[WIDGET-1] Widget", "not part of"
        )
        flight_step.pico_operation_id = self._operation("op-flight")
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        self._line(bom, self.motor).operation_id = flight_step
        self.assertProblem(
            bom,
            "BOM line [MOTOR-220] Drone Motor",
            "Flight controller install",
            "MOTOR-220",
        )

    def test_release_policy(self):
        """'refuse' refuses the confirmation, listing the problems; 'warn'
        confirms, posts them on the order and sends nothing."""
        bom = self._drone_bom()
        self._line(bom, self.fc).pico_attribute_id = False
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": bom.id, "product_qty": 1}
        )
        with self.assertRaisesRegex(UserError, "FC-330 \\(Flight Controller\\)"):
            production.action_confirm()
        self.backend.invalid_mapping_policy = "warn"
        production.action_confirm()
        self.assertEqual(production.state, "confirmed")
        self.assertFalse(production.pico_work_order_ids)
        self.assertTrue(
            any("FC-330" in message.body for message in production.message_ids)
        )

    def test_confirm_mo_with_invalid_mapping_refused(self):
        """Confirming an MO with an invalid BOM mapping is refused, listed."""
        bom = self._drone_bom()
        self._line(bom, self.motor).pico_attribute_id = False
        production = self.env["mrp.production"].create(
            {"product_id": self.drone.id, "bom_id": bom.id, "product_qty": 1}
        )
        with self.assertRaisesRegex(UserError, "MOTOR-220 \\(Drone Motor\\)"):
            production.action_confirm()
        self.assertEqual(production.state, "draft")

    def test_suggest_mapping_button(self):
        """Part numbers suggest the operation and serials; the rest stays."""
        bom = self._drone_bom(mapped=False)
        action = bom.action_pico_suggest_mapping()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(bom.pico_operation_id, self._operation("op-drone"))
        self.assertEqual(
            self._line(bom, self.motor).pico_attribute_id.key, "attr-motor"
        )
        self.assertEqual(self._line(bom, self.fc).pico_attribute_id.key, "attr-fc")
        self.assertFalse(self._line(bom, self.frame).pico_attribute_id)
        self.assertEqual(bom.pico_mapping_state, "valid", bom.pico_mapping_problems)
        self.assertIn("please review", bom.message_ids[0].body)
        action = bom.action_pico_suggest_mapping()
        self.assertEqual(action["params"]["type"], "warning")

    def test_suggest_prefers_revision(self):
        """Two operations with the part number: the BOM's revision decides."""
        rows = [fixture_operation("op-drone")]
        rows[0].update(
            id="op-drone-b", externalRevision="B", updatedAt="2025-02-01T00:00:00Z"
        )
        self.env["pico.operation"]._pico_sync_from_rows(
            self.backend, FIXTURE["operations"] + rows, FIXTURE["subOperations"]
        )
        bom = self._drone_bom(mapped=False)
        bom.code = "B"
        bom.action_pico_suggest_mapping()
        self.assertEqual(bom.pico_operation_id.pico_id, "op-drone-b")

    def test_planner_maps_in_the_form(self):
        """A planner maps a new BOM in the ordinary form; suggestions appear live."""
        form = Form(self.env["mrp.bom"].with_user(self.planner))
        form.product_tmpl_id = self.drone.product_tmpl_id
        for product in (self.motor, self.fc, self.frame):
            with form.bom_line_ids.new() as line:
                line.product_id = product
        self.assertEqual(form.pico_mapping_state, "unmapped")
        form.pico_backend_id = self.backend
        self.assertEqual(form.pico_operation_id, self._operation("op-drone"))
        self.assertEqual(form.pico_mapping_state, "valid", form.pico_mapping_problems)
        with form.bom_line_ids.edit(0) as line:
            self.assertEqual(line.pico_attribute_id.key, "attr-motor")
            line.pico_attribute_id = self.env["pico.operation.attribute"]
        self.assertEqual(form.pico_mapping_state, "attention")
        self.assertIn("MOTOR-220 (Drone Motor)", form.pico_mapping_problems)
        with form.bom_line_ids.edit(0) as line:
            line.pico_attribute_id = self._attribute(
                self._operation("op-drone"), "attr-motor"
            )
        bom = form.save()
        self.assertEqual(bom.pico_mapping_state, "valid")

    def test_mapping_list_filters(self):
        """The Pico mappings list loads; its filters find attention and part numbers."""
        valid = self._drone_bom()
        broken = self._drone_bom()
        self._line(broken, self.fc).pico_attribute_id = False
        action = self.env.ref("mrp_pico_mes.mrp_bom_pico_mapping_action")
        views = (
            self.env["mrp.bom"]
            .with_user(self.planner)
            .get_views(
                [(view.view_id.id, view.view_mode) for view in action.view_ids]
                + [(action.search_view_id.id, "search")]
            )
        )
        search_arch = views["views"]["search"]["arch"]
        for name in (
            "pico_attention",
            "pico",
            "group_pico_backend",
            "pico_part_number",
        ):
            self.assertIn(f'name="{name}"', search_arch)
        boms = self.env["mrp.bom"].with_user(self.planner)
        mine = [("id", "in", (valid | broken).ids)]
        self.assertEqual(
            boms.search(mine + [("pico_mapping_state", "=", "attention")]), broken
        )
        # The "Part Number" search field's domain, as the search view builds it.
        self.assertEqual(
            boms.search(mine + [("pico_operation_id.external_id", "ilike", "drone-1")]),
            valid | broken,
        )
        self.assertEqual(
            boms.search([("pico_backend_id", "=", self.backend.id)]), valid | broken
        )

    def test_operation_created_without_snapshot(self):
        """An operation stored by hand is diffed from its fields, not 'first seen'."""
        operation = self.env["pico.operation"].create(
            {
                "backend_id": self.backend.id,
                "pico_id": "op-gizmo",
                "name": "Gizmo",
                "external_id": "GIZ-1",
            }
        )
        row = {
            "id": "op-gizmo",
            "name": "Gizmo 2",
            "externalId": "GIZ-1",
            "consumedSerials": [],
            "updatedAt": "2025-03-01T08:00:00Z",
        }
        stats = self.env["pico.operation"]._pico_sync_from_rows(
            self.backend, FIXTURE["operations"] + [row], FIXTURE["subOperations"]
        )
        self.assertEqual((stats["changed"], stats["unchanged"]), (1, 5))
        self.assertEqual(self._versions(operation).summary, "Name: Gizmo → Gizmo 2")

    def test_invalid_rows_skipped(self):
        """A row failing the schema is counted, skipped, and not taken as missing."""
        rows = copy.deepcopy(FIXTURE["operations"])
        del rows[0]["updatedAt"]  # op-drone
        rows[1]["name"] = "Frame assembly v2"
        stats = self.env["pico.operation"]._pico_sync_from_rows(
            self.backend, rows, FIXTURE["subOperations"]
        )
        self.assertEqual((stats["invalid"], stats["missing"]), (1, 0))
        self.assertTrue(self._operation("op-drone").in_pico)
        self.assertEqual(self._operation("op-frame").name, "Frame assembly v2")

    def test_cron_batches_report_progress(self):
        """In the cron, batches report progress; out of time, the next run resumes."""
        backend = self.backend.copy({"name": "Large Pico"})
        model = self.env["pico.operation"].with_context(cron_id=1)
        cron = type(self.env["ir.cron"])
        calls = []

        def progress(_cron, processed, remaining=None):
            calls.append((processed, remaining))
            # Odoo 19's answer once its 10 s budget of the job is spent.
            return 0.0

        with (
            patch.object(cron, "_commit_progress", progress),
            patch("odoo.addons.mrp_pico_mes.models.pico_operation.SYNC_BATCH", 2),
        ):
            first = model._pico_sync_from_rows(
                backend,
                FIXTURE["operations"],
                FIXTURE["subOperations"],
                in_cron=True,
                deadline=time.monotonic() - 1,  # out of its own time
            )
            self.assertEqual((first["created"], first["interrupted"]), (2, 1))
            self.assertFalse(self._operation("op-drone", backend).child_link_ids)
            calls.clear()
            # The next run has time: Odoo's spent budget does not stop it at
            # its first batch (it would never get past it).
            second = model._pico_sync_from_rows(
                backend,
                FIXTURE["operations"],
                FIXTURE["subOperations"],
                in_cron=True,
                deadline=time.monotonic() + 60,
            )
        self.assertEqual(calls, [(2, 3), (2, 1), (1, 0)])
        self.assertEqual((second["unchanged"], second["created"]), (2, 3))
        self.assertFalse(second["interrupted"])
        self.assertEqual(len(self._operation("op-drone", backend).child_link_ids), 2)

    def test_empty_list_keeps_catalogue(self):
        """Pico listing nothing (wrong tenant?) does not archive the catalogue."""
        with self.assertLogs(
            "odoo.addons.mrp_pico_mes.models.pico_operation", "WARNING"
        ):
            stats = self.env["pico.operation"]._pico_sync_from_rows(
                self.backend, [], []
            )
        self.assertEqual(stats["missing"], 0)
        self.assertTrue(self._operation("op-drone").in_pico)
        self.assertEqual(len(self._operation("op-drone").child_link_ids), 2)

    def test_catalogue_is_read_only_for_users(self):
        """Pico users read the catalogue; only the processes change it."""
        user = new_test_user(
            self.env, login="pico_reader", groups="mrp_pico_mes.group_pico_user"
        )
        operation = self._operation("op-drone").with_user(user)
        self.assertEqual(operation.name, "Pico Demo Drone")
        with self.assertRaises(AccessError):
            operation.name = "Hacked"
        with self.assertRaises(AccessError):
            operation.version_ids.with_user(user).summary = "rewritten"


@tagged("post_install", "-at_install", "pico_catalogue")
class TestVersionWebhook(CatalogueMixin, PicoHttpCase):
    """Production-version events through the real webhook door and the inbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_catalogue_products()

    def setUp(self):
        super().setUp()
        self.backend.action_sync_operations()
        self.backend.responsible_id = self.planner
        self.bom = self._drone_bom()
        self.assertEqual(self.bom.pico_mapping_state, "valid")

    def _post_version(self, operation, wrapped=True):
        body = {"data": {"operationsStream": operation}} if wrapped else operation
        return self.post_webhook("version", body)

    def _events(self):
        return self.env["pico.event"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("event_type", "=", "production_version"),
            ]
        )

    def test_new_serial_flags_mapping(self):
        """A new consumed serial: catalogue updated, mapping flagged, planner told."""
        operation = fixture_operation("op-drone")
        operation["consumedSerials"].append({"id": "attr-gps", "externalId": "GPS-9"})
        operation["updatedAt"] = "2025-03-01T08:00:00Z"
        response = self._post_version(operation)
        self.assertEqual(response.status_code, 202, response.text)
        self.process_events()
        event = self._events()
        self.assertEqual(event.state, "done", event.error)
        self.assertIn("new version applied", event.result)
        drone = self._operation("op-drone")
        self.assertEqual(
            drone.attribute_ids.mapped("key"), ["attr-motor", "attr-fc", "attr-gps"]
        )
        self.assertEqual(str(drone.pico_updated_at), "2025-03-01 08:00:00")
        version = self._versions(drone)[0]
        self.assertEqual((version.source, version.event_id), ("event", event))
        self.assertEqual(version.summary, "Consumed serial added: GPS-9")
        self.assertTrue(version.received_at)
        self.assertEqual(self.bom.pico_mapping_state, "attention")
        self.assertIn("Consumed serial GPS-9 of", self.bom.pico_mapping_problems)
        activity = self.bom.activity_ids
        self.assertEqual(activity.user_id, self.planner)
        self.assertIn("GPS-9", str(activity.note))
        # Other BOMs (the widget's) are untouched.
        self.assertEqual(self._operation("op-widget").version_ids.kind, "created")

    def test_removed_serial_and_archive(self):
        """A serial removed, then the operation archived: the line and op are named."""
        operation = fixture_operation("op-drone")
        operation["consumedSerials"] = operation["consumedSerials"][:1]
        operation["updatedAt"] = "2025-03-01T08:00:00Z"
        self.assertEqual(self._post_version(operation, wrapped=False).status_code, 202)
        self.process_events()
        self.assertEqual(self.bom.pico_mapping_state, "attention")
        self.assertIn(
            "BOM line [FC-330] Flight Controller is mapped to consumed serial "
            "FC-330 (Flight Controller), which the current version",
            self.bom.pico_mapping_problems,
        )
        self.assertFalse(self._attribute(self._operation("op-drone"), "attr-fc").active)
        operation["archivedAt"] = operation["updatedAt"] = "2025-03-02T08:00:00Z"
        self.assertEqual(self._post_version(operation).status_code, 202)
        self.process_events()
        drone = self._operation("op-drone")
        self.assertFalse(drone.active)
        self.assertEqual(self._versions(drone)[0].kind, "archived")
        self.assertIn("is archived in Pico", self.bom.pico_mapping_problems)
        self.assertEqual(len(self.bom.activity_ids), 1)  # updated, not duplicated

    def test_same_version_twice_is_one_history_line(self):
        """Redelivery or replay of one version adds no history."""
        operation = fixture_operation("op-widget")
        operation.update(name="Widget v2", updatedAt="2025-03-01T08:00:00Z")
        self.assertEqual(self._post_version(operation).status_code, 202)
        self.assertEqual(self._post_version(operation).status_code, 200)
        self.process_events()
        widget = self._operation("op-widget")
        self.assertEqual(widget.name, "Widget v2")
        self.assertEqual(len(widget.version_ids), 2)
        event = self._events()
        self.assertEqual(
            self.env["pico.operation"]._pico_handle_event(event),
            f"{widget.display_name}: already up to date",
        )
        older = dict(operation, name="Widget v1.5", updatedAt="2025-02-01T08:00:00Z")
        self.assertEqual(self._post_version(older).status_code, 202)
        self.process_events()
        self.assertEqual(widget.name, "Widget v2")
        self.assertEqual(len(widget.version_ids), 2)
        self.assertEqual(self.bom.pico_mapping_state, "valid")
        self.assertFalse(self.bom.activity_ids)

    def test_new_operation_by_event(self):
        """A first deployment creates the operation."""
        operation = {
            "id": "op-rotor",
            "name": "Rotor",
            "externalId": "ROTOR-1",
            "consumedSerials": [],
            "updatedAt": "2025-03-01T08:00:00Z",
        }
        self.assertEqual(self._post_version(operation).status_code, 202)
        self.process_events()
        rotor = self._operation("op-rotor")
        self.assertEqual(rotor.external_id, "ROTOR-1")
        self.assertEqual(rotor.version_ids.kind, "created")

    def test_bad_payloads_are_refused(self):
        """Bad version payloads: 4xx JSON naming the field, nothing stored."""
        good = fixture_operation("op-drone")
        cases = [
            ({k: v for k, v in good.items() if k != "updatedAt"}, "updatedAt"),
            (dict(good, updatedAt="yesterday"), "updatedAt"),
            (dict(good, consumedSerials="MOTOR-220"), "consumedSerials"),
            (dict(good, id=""), "id"),
            (dict(good, consumedSerials=[{"id": 7}]), "consumedSerials.0.id"),
            (
                {"data": {"operationOrderCompletesStream": good}},
                "data.operationsStream",
            ),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                response = self.post_webhook("version", body)
                self.assertEqual(response.status_code, 400, response.text)
                self.assertTrue(
                    response.headers["Content-Type"].startswith("application/json")
                )
                self.assertEqual(response.json()["field"], field)
        self.assertFalse(self._events())
        self.assertEqual(len(self._operation("op-drone").version_ids), 1)
        self.assertEqual(self.bom.pico_mapping_state, "valid")

    def test_simulator_delivers_version(self):
        """Registered in Pico, a deployment reaches Odoo by itself."""
        self.backend.action_register_webhooks()
        operation = fixture_operation("op-drone")
        operation["consumedSerials"].append({"id": "attr-gps", "externalId": "GPS-9"})
        # The simulator posts from its own thread, without the test's cookie.
        with self.allow_requests(all_requests=True):
            self.simulator.deploy_operation(operation)
            self.assertTrue(self.simulator.wait_idle(timeout=10))
        delivery = self.simulator.deliveries()[-1]
        self.assertEqual(delivery["stream"], "operationsStream")
        self.assertEqual(delivery["status"], 202, delivery)
        self.assertEqual(delivery["url"], self.backend.webhook_version_url)
        self.process_events()
        self.assertEqual(self._events().state, "done")
        self.assertIn(
            "attr-gps", self._operation("op-drone").attribute_ids.mapped("key")
        )
        self.assertEqual(self.bom.pico_mapping_state, "attention")
