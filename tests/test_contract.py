# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The whole flow against the simulator in two schema profiles.

`documented` with introspection off is Pico as its documentation describes it,
with introspection turned off as on many production servers: the addon must work
with the documented minimum. `full` with introspection on serves every optional
field: the addon detects them and records operator, station and cycle time.
Every request the addon sent must have been valid for the profile.
"""

from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged

from ..core import features
from ..simulator import PicoSimulator
from .common import PicoHttpCase
from .test_complete import CompletionMixin


class ContractMixin(CompletionMixin):
    """The flow's steps; subclasses say which profile the simulator serves."""

    expect_optional = False
    # Odoo collects only the test methods a class defines itself, unless told.
    allow_inherited_tests_method = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_drone()

    def tearDown(self):
        self._assert_requests_valid()
        super().tearDown()

    def _assert_requests_valid(self):
        """No request failed validation, except a refused introspection."""
        for entry in self.simulator.requests():
            if entry["status"] == 200:
                continue
            refused_introspection = (
                not self.expect_optional
                and entry["status"] == 400
                and "PicoFeatures" in (entry["query"] or "")
            )
            self.assertTrue(
                refused_introspection,
                f"Pico answered {entry['status']} to {entry['query']!r}",
            )

    def _deliver(self, external_id, index, **fields_):
        """Complete a unit in Pico and wait for the webhook to reach Odoo."""
        before = len(self.simulator.deliveries())
        with self.allow_requests(all_requests=True):
            completion = self.simulator.complete_order(external_id, index, **fields_)
            found = self.simulator.wait_for_deliveries(count=before + 1, timeout=10)
            self.assertGreater(len(found), before, "no webhook delivery")
            self.assertTrue(self.simulator.wait_idle(10))
        self.http_request_allow_all = False
        return completion

    def _assert_features(self):
        backend = self.backend
        if self.expect_optional:
            self.assertEqual(backend.pico_features_state, features.DETECTED)
            # Every optional field; the simulator keeps the SubscribeRequest_Input
            # spelling of the webhook input.
            self.assertEqual(
                backend._pico_feature_set(),
                features.ALL - {features.SUBSCRIBE_INPUT_SPELLING},
            )
        else:
            self.assertEqual(backend.pico_features_state, features.REFUSED)
            self.assertEqual(backend._pico_feature_set(), features.MINIMUM)
            self.assertIn("introspection", backend.pico_features_message)

    def _assert_unit_details(self, unit):
        """Operator, station, cycle time: recorded only when Pico has the fields."""
        if self.expect_optional:
            self.assertEqual(unit.station, "Line 1 / St 3")
            self.assertEqual(unit.operator_id.user_id, self.dana)
            self.assertEqual(unit.cycle_time, 10.0)
        else:
            self.assertFalse(unit.station)
            self.assertFalse(unit.operator_id)
            self.assertFalse(unit.cycle_time)
        # Documented on every profile: the serial, the start and the end.
        self.assertTrue(unit.produced_lot_id)
        self.assertEqual(str(unit.completed_at), "2026-11-22 10:00:00")
        self.assertEqual(str(unit.started_at), "2026-11-22 09:50:00")

    # --- The flow ------------------------------------------------------------------
    def test_test_connection_detects_features(self):
        """Test Connection works and stores what Pico's schema offers."""
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        self._assert_features()
        self.assertTrue(self.backend.pico_features_checked_at)
        self.assertIn(
            "documented minimum" if not self.expect_optional else "Cycle time",
            action["params"]["message"],
        )
        html = str(self.backend.pico_features_html)
        self.assertIn("OperationSummary.cycleTime", html)

    def test_sync_and_mapping(self):
        """Synchronize Processes reads the catalogue; the BOM stays mapped."""
        action = self.backend.action_sync_operations()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        self.assertIn("5 unchanged", action["params"]["message"])
        self._assert_features()
        drone = self._operation("op-drone")
        self.assertEqual(
            drone.attribute_ids.mapped("external_id"), ["MOTOR-220", "FC-330"]
        )
        self.assertEqual(
            drone.attribute_ids.mapped("display_name"),
            ["MOTOR-220 (Drone Motor)", "FC-330 (Flight Controller)"],
        )
        self.assertEqual(self.bom.pico_mapping_state, "valid")

    def test_registration_fragment_follows_features(self):
        """Register Webhooks sends fragments with exactly the detected fields."""
        action = self.backend.action_register_webhooks()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        fragments = {
            record["stream"]: record["responseFragment"]
            for record in self.simulator.subscriptions()
        }
        completion = fragments["operationOrderCompletesStream"]
        self.assertEqual(
            completion, features.completion_fragment(self.backend._pico_feature_set())
        )
        for field in ("cycleTime", "station { name }", "operator { name }"):
            self.assertEqual(field in completion, self.expect_optional, field)
        self.assertNotIn("label", completion + fragments["operationsStream"])

    def test_release_and_completion_by_webhook(self):
        """Release, completion delivered by Pico's webhook, unit produced."""
        self.backend.action_register_webhooks()
        production = self.make_mo()
        (order,) = self.simulator.orders()
        self.assertEqual(
            (order["operationId"], order["orderIndex"], order["state"]),
            ("op-drone", 0, "created"),
        )
        self._deliver(
            self._external_id(production),
            0,
            **self._completion_fields("DR-C001", "M-1", "F-1"),
        )
        self.assertEqual(self.process_events(), 1)
        event = self._events()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.state, "done")
        self.assertEqual(production.lot_producing_ids.name, "DR-C001")
        self.assertEqual(self._on_hand(self.motor, self.lots["M-1"]), 0)
        self._assert_unit_details(production.pico_work_order_ids)

    def test_catch_up(self):
        """A completion no webhook brought is read by Catch Up Now, once."""
        production = self.make_mo()
        self.simulator.complete_order(
            self._external_id(production),
            0,
            **self._completion_fields("DR-C002", "M-2", "F-2"),
        )
        action = self.backend.action_pico_catch_up()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        event = self._events()
        self.assertEqual((len(event), event.source), (1, "poll"))
        self.process_events()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(production.lot_producing_ids.name, "DR-C002")
        self._assert_unit_details(production.pico_work_order_ids)
        self.backend.action_pico_catch_up()
        self.assertEqual(len(self._events()), 1)

    def test_cancel(self):
        """Cancelling the MO cancels its unstarted units in Pico."""
        production = self.make_mo(qty=2)
        production.action_cancel()
        self.env["pico.exchange"].sudo()._pico_run()
        self.assertEqual(
            [order["state"] for order in self.simulator.orders()], ["canceled"] * 2
        )
        self.assertEqual(
            production.pico_work_order_ids.mapped("state"), ["cancelled"] * 2
        )

    def test_odoo_serials_need_the_input(self):
        """'Odoo generates the serial' is refused at configuration time when Pico
        lacks reservedSerialNumber; accepted and sent when it has it."""
        if not self.expect_optional:
            with self.assertRaises(ValidationError) as refused:
                self.backend.serial_source = "odoo"
            message = str(refused.exception)
            self.assertIn("reservedSerialNumber", message)
            self.assertIn("introspection is off", message)
            self.assertEqual(self.backend.serial_source, "pico")
            return
        self.backend.serial_source = "odoo"
        production = self.make_mo()
        reserved = production.pico_work_order_ids.reserved_lot_id
        self.assertTrue(reserved)
        (order,) = self.simulator.orders()
        self.assertEqual(order["reservedSerialNumber"], reserved.name)


@tagged("post_install", "-at_install", "pico_contract")
class TestContractDocumented(ContractMixin, PicoHttpCase):
    """Pico as documented, introspection refused: the documented minimum."""

    simulator_options = {"schema_profile": "documented", "introspection": False}
    expect_optional = False


@tagged("post_install", "-at_install", "pico_contract")
class TestContractFull(ContractMixin, PicoHttpCase):
    """Every optional field served and introspection on: all features used."""

    simulator_options = {"schema_profile": "full", "introspection": True}
    expect_optional = True

    def test_serial_option_never_asks_an_unconfirmed_endpoint(self):
        """A manager choosing Odoo serials in the same save as a new endpoint: the
        check is not sent (with the token) to an endpoint no administrator
        confirmed; the save is refused and says why."""
        manager = new_test_user(
            self.env, login="contract_manager", groups="mrp_pico_mes.group_pico_manager"
        )
        with PicoSimulator(**self.simulator_options) as other:
            # assertRaises (not ...Regex) rolls the refused save back.
            with self.assertRaises(ValidationError) as refused:
                self.backend.with_user(manager).write(
                    {"endpoint_url": other.url, "serial_source": "odoo"}
                )
            self.assertIn("must confirm", str(refused.exception))
            self.assertEqual(other.requests(), [])
        # The same choice on the confirmed endpoint is checked there and accepted.
        self.backend.with_user(manager).serial_source = "odoo"
        self.assertEqual(self.backend.serial_source, "odoo")
        self.assertEqual(self.backend.pico_features_state, features.DETECTED)
