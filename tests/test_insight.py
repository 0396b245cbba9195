# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Plant insight: actual vs standard, consumption variance, skew, health, metrics."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from ..controllers.metrics import METRICS_ROUTE, TOKEN_PARAM
from ..core import inbox, keys
from .test_complete import CompletionMixin

SKEW_TYPE = "mrp_pico_mes.mail_activity_type_pico_clock_skew"
HEALTH_TYPE = "mrp_pico_mes.mail_activity_type_pico_health"


class InsightMixin(CompletionMixin):
    @classmethod
    def _setup_insight(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Insight Pico",
                # Nothing is sent in these tests: exchanges stay queued.
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "responsible_id": cls.env.ref("base.user_admin").id,
            }
        )
        cls._setup_drone()
        # The routing's standard: 6 + 4 minutes per drone.
        cls.frame_step.time_cycle_manual = 6.0
        cls.flight_step.time_cycle_manual = 4.0

    def _complete(self, production, index, serial, motor, fc, **summary):
        """Store and apply Pico's completion of one unit of `production`."""
        external_id = self._external_id(production)
        body = {
            "externalOrderId": external_id,
            "orderIndex": index,
            "at": summary.pop("at", "2026-11-23T10:00:00Z"),
            "operation": {"id": "op-drone"},
            "operationSummary": {
                "startedAt": summary.pop("startedAt", "2026-11-23T09:50:00Z"),
                "consumedSerials": [
                    {"externalId": "MOTOR-220", "value": motor},
                    {"externalId": "FC-330", "value": fc},
                ],
                **summary,
            },
            "endState": {
                "producedSerial": serial,
                "station": {"name": "Line 1 / St 3"},
                "operator": {"name": "Dana Ruiz"},
            },
        }
        return self._store_and_process(inbox.COMPLETION, body)

    def _store_and_process(self, event_type, body):
        intake = inbox.intake(event_type, body, self.backend.id)
        event, _created = self.env["pico.event"]._pico_store(
            self.backend, intake, "webhook"
        )
        self.process_events()
        return event

    def _unit(self, production, index):
        return production.pico_work_order_ids.filtered(
            lambda unit: unit.order_index == index
        ) or self.env["pico.work.order"].search(
            [
                ("external_order_id", "=", self._external_id(production)),
                ("order_index", "=", index),
            ]
        )


@tagged("post_install", "-at_install", "pico_insight")
class TestActualVsStandard(InsightMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_insight()

    def test_slow_unit_variance(self):
        """15 minutes against a 10-minute routing: +50 %, slower than standard."""
        production = self.make_mo(qty=1, send=False)
        event = self._complete(
            production, 0, "DR-S1", "M-1", "F-1", cycleTime=15 * 60000
        )
        self.assertEqual(event.state, "done", event.error)
        unit = self._unit(production, 0)
        self.assertEqual(unit.state, "done")
        self.assertEqual(unit.built_product_id, self.drone)
        self.assertAlmostEqual(unit.actual_minutes, 15.0)
        self.assertAlmostEqual(unit.standard_minutes, 10.0)
        self.assertAlmostEqual(unit.variance_minutes, 5.0)
        self.assertAlmostEqual(unit.variance_pct, 50.0)
        self.assertTrue(unit.slower_than_standard)
        self.assertEqual(unit.station, "Line 1 / St 3")
        row = self.env["pico.unit.report"].search(
            [("product_id", "=", self.drone.id), ("station", "=", "Line 1 / St 3")]
        )
        self.assertEqual(
            (row.units, row.actual_minutes, row.standard_minutes, row.variance_pct),
            (1, 15.0, 10.0, 50.0),
        )
        self.assertEqual(row.date, fields.Date.to_date("2026-11-23"))
        # The standard is the one in force when the unit was built.
        self.frame_step.time_cycle_manual = 60.0
        self.env.flush_all()
        unit.invalidate_recordset()
        self.assertAlmostEqual(unit.standard_minutes, 10.0)

    def test_work_centre_figures_and_started_to_completed(self):
        """Efficiency 50 % doubles the standard; no cycle time: started -> at."""
        self.frame_step.workcenter_id.time_efficiency = 50.0
        production = self.make_mo(qty=1, send=False)
        self._complete(
            production,
            0,
            "DR-S2",
            "M-2",
            "F-2",
            startedAt="2026-11-23T09:30:00Z",
            at="2026-11-23T10:00:00Z",
        )
        unit = self._unit(production, 0)
        self.assertAlmostEqual(unit.standard_minutes, 20.0)
        self.assertAlmostEqual(unit.actual_minutes, 30.0)
        self.assertAlmostEqual(unit.variance_pct, 50.0)

    def test_scrap_rate_and_first_pass_yield(self):
        """Three drones: one good, one failed inspection, one scrapped."""
        production = self.make_mo(qty=3, send=False)
        for index, number in enumerate((1, 2, 3)):
            event = self._complete(
                production,
                index,
                f"DR-Y{number}",
                f"M-{number}",
                f"F-{number}",
                cycleTime=(8 + number) * 60000,
            )
            self.assertEqual(event.state, "done", event.error)
        quality = self._store_and_process(
            inbox.QUALITY,
            {
                "serial": "DR-Y2",
                "partNumber": "DRONE-100",
                "timestamp": "2026-11-23T10:05:00.000Z",
                "result": "fail",
                "defectClass": "SCRATCH",
                "station": "QC",
            },
        )
        self.assertEqual(quality.state, "done", quality.error)
        scrap = self._store_and_process(
            inbox.SCRAP,
            {
                "externalOrderId": self._external_id(production),
                "orderIndex": 2,
                "partNumber": "DRONE-100",
                "serial": "DR-Y3",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-23T10:06:00Z",
            },
        )
        self.assertEqual(scrap.state, "done", scrap.error)
        units = self.env["pico.work.order"].search(
            [("produced_serial", "in", ["DR-Y1", "DR-Y2", "DR-Y3"])]
        )
        by_serial = {unit.produced_serial: unit for unit in units}
        self.assertEqual(
            [
                (by_serial[s].quality_failed, by_serial[s].scrapped)
                for s in ("DR-Y1", "DR-Y2", "DR-Y3")
            ],
            [(False, False), (True, False), (False, True)],
        )
        groups = self.env["pico.work.order"]._read_group(
            [("id", "in", units.ids)],
            ["built_product_id"],
            ["scrap_rate:avg", "first_pass_yield:avg", "actual_minutes:avg"],
        )
        self.assertEqual(len(groups), 1)
        product, scrap_rate, first_pass, actual = groups[0]
        self.assertEqual(product, self.drone)
        self.assertAlmostEqual(scrap_rate, 100 / 3, places=3)
        self.assertAlmostEqual(first_pass, 100 / 3, places=3)
        self.assertAlmostEqual(actual, 10.0)
        # The report table, rebuilt for the day by the steps that changed its units.
        report = self.env["pico.unit.report"]
        rows = report.search([("product_id", "=", self.drone.id)])
        self.assertEqual(sum(rows.mapped("units")), 3)
        [(units, scrap_rate, first_pass, actual, standard, variance)] = (
            report._read_group(
                [("product_id", "=", self.drone.id)],
                [],
                [
                    "units:sum",
                    "scrap_rate:avg",
                    "first_pass_yield:avg",
                    "actual_minutes:avg",
                    "standard_minutes:avg",
                    "variance_pct:avg",
                ],
            )
        )
        self.assertEqual(units, 3)
        self.assertAlmostEqual(scrap_rate, 100 / 3, places=3)
        self.assertAlmostEqual(first_pass, 100 / 3, places=3)
        self.assertAlmostEqual(actual, 10.0)
        self.assertAlmostEqual(standard, 10.0)
        self.assertAlmostEqual(variance, 0.0)


@tagged("post_install", "-at_install", "pico_insight")
class TestConsumptionVariance(InsightMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_insight()

    def _rows(self, production):
        self.env.flush_all()
        return self.env["pico.consumption.report"].search(
            [("production_id", "=", production.id)]
        )

    def test_wrong_serial_count_is_refused_not_a_variance(self):
        """Two motor serials where the BOM says one: the completion fails visibly.

        This is why a completion alone never makes consumption differ from the
        BOM (docs/INSIGHT.md): nothing is posted, nothing to report.
        """
        production = self.make_mo(qty=1, send=False)
        external_id = self._external_id(production)
        body = {
            "externalOrderId": external_id,
            "orderIndex": 0,
            "at": "2026-11-23T10:00:00Z",
            "operation": {"id": "op-drone"},
            "operationSummary": {
                "cycleTime": 600000,
                "consumedSerials": [
                    {"externalId": "MOTOR-220", "value": "M-1"},
                    {"externalId": "MOTOR-220", "value": "M-2"},
                    {"externalId": "FC-330", "value": "F-1"},
                ],
            },
            "endState": {"producedSerial": "DR-C0"},
        }
        event = self._store_and_process(inbox.COMPLETION, body)
        self.assertEqual(event.state, "failed")
        self.assertIn("needs 1 serial number(s) per build", event.error)
        self.assertEqual(production.state, "confirmed")
        self.assertFalse(self._rows(production))

    def test_consumption_event_beyond_the_bom(self):
        """6 screws consumed and 1 scrapped where the BOM says 4: +3 (+75 %)."""
        production = self.make_mo(qty=1, send=False)
        consumption = self._store_and_process(
            inbox.CONSUMPTION,
            {
                "externalOrderId": self._external_id(production),
                "orderIndex": 0,
                "partNumber": self.screw.default_code or "",
                "quantity": 6,
                "at": "2026-11-23T09:55:00Z",
            },
        )
        self.assertEqual(consumption.state, "done", consumption.error)
        scrap = self._store_and_process(
            inbox.SCRAP,
            {
                "externalOrderId": self._external_id(production),
                "orderIndex": 0,
                "partNumber": "SCREW-M3",
                "quantity": 1,
                "reasonCode": "DROP",
                "at": "2026-11-23T09:56:00Z",
            },
        )
        self.assertEqual(scrap.state, "done", scrap.error)
        event = self._complete(production, 0, "DR-C1", "M-3", "F-3", cycleTime=600000)
        self.assertEqual(event.state, "done", event.error)
        rows = self._rows(production)
        by_component = {row.component_id: row for row in rows}
        screw = by_component[self.screw]
        self.assertEqual(
            (
                screw.expected_qty,
                screw.consumed_qty,
                screw.scrapped_qty,
                screw.variance_qty,
            ),
            (4.0, 6.0, 1.0, 3.0),
        )
        self.assertAlmostEqual(screw.variance_pct, 75.0)
        self.assertTrue(screw.differs)
        motor = by_component[self.motor]
        self.assertEqual((motor.expected_qty, motor.consumed_qty), (1.0, 1.0))
        self.assertFalse(motor.differs)

    @classmethod
    def _setup_drone(cls):
        res = super()._setup_drone()
        # The consumption event names the screw by its internal reference.
        cls.screw.default_code = "SCREW-M3"
        return res


@tagged("post_install", "-at_install", "pico_insight")
class TestClockSkew(InsightMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Skewed Pico",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "responsible_id": cls.env.ref("base.user_admin").id,
            }
        )

    def _inject(self, now, skew_ms, count=72, spacing_s=300, slow_every=1):
        """Events over the `count` x `spacing_s` seconds before `now`.

        Pico's clock is `skew_ms` ahead; deliveries take 40 ms plus up to 4 s,
        except every `slow_every`-th bucket's first event, which takes 40 ms.
        """
        vals_list = []
        for index in range(count):
            received = now - timedelta(seconds=index * spacing_s + 7)
            delay_ms = 40.0 if index % slow_every == 0 else 40.0 + (index * 997) % 4000
            extra_ms = 0 if index % 2 else 2500  # a slow twin in the same bucket
            for twin, extra in enumerate((0, extra_ms)):
                mes = received - timedelta(milliseconds=delay_ms + extra - skew_ms)
                vals_list.append(
                    {
                        "backend_id": self.backend.id,
                        "event_type": inbox.SCRAP,
                        "source": "mqtt",
                        "idempotency_key": f"skew-{now}-{index}-{twin}",
                        "received_at": received,
                        "mes_time": mes,
                        "state": inbox.DONE,
                    }
                )
        return self.env["pico.event"].create(vals_list)

    def _open_activities(self):
        return self.backend.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref(SKEW_TYPE)
        )

    def _done_activities(self):
        return self.env["mail.message"].search(
            [
                ("model", "=", "pico.backend"),
                ("res_id", "=", self.backend.id),
                ("mail_activity_type_id", "=", self.env.ref(SKEW_TYPE).id),
            ]
        )

    def test_skew_separated_from_delay_and_alert_once(self):
        now = fields.Datetime.now().replace(microsecond=0)
        events = self._inject(now, skew_ms=800)
        self.assertAlmostEqual(events[0].transit_ms, 40.0 - 800.0, places=3)
        estimate = self.backend._pico_update_skew(now)
        # Lower envelope: 800 ms minus the 40 ms minimum delay.
        self.assertAlmostEqual(self.backend.clock_skew_ms, 760.0, delta=1.0)
        self.assertEqual(estimate.samples, 144)
        self.assertTrue(self.backend.clock_skew_alert)
        self.assertEqual(len(self._open_activities()), 1)
        self.assertEqual(
            self._open_activities().user_id, self.env.ref("base.user_admin")
        )
        # Estimated again (and more events): still one activity.
        self._inject(now + timedelta(minutes=15), skew_ms=800, count=3)
        self.backend._pico_update_skew(now + timedelta(minutes=15))
        self.assertEqual(len(self._open_activities()), 1)
        self.assertEqual(len(self.backend.clock_skew_ids), 2)
        # NTP fixed: 100 ms. The alert clears once, the activity is marked done.
        later = now + timedelta(hours=12)
        self._inject(later, skew_ms=100)
        self.backend._pico_update_skew(later)
        self.assertAlmostEqual(self.backend.clock_skew_ms, 60.0, delta=1.0)
        self.assertFalse(self.backend.clock_skew_alert)
        self.assertFalse(self._open_activities())
        self.assertEqual(len(self._done_activities()), 1)
        self.backend._pico_update_skew(later + timedelta(minutes=15))
        self.assertEqual(len(self._done_activities()), 1)
        self.assertFalse(self._open_activities())

    def test_webhook_events_keep_both_clocks_to_the_millisecond(self):
        """A completion stored by a door gets received - event time in ms."""
        now = fields.Datetime.now()
        body = {
            "externalOrderId": "X#1",
            "orderIndex": 0,
            "at": (now - timedelta(seconds=2)).isoformat(timespec="milliseconds") + "Z",
            "operation": {"id": "op-x"},
            "operationSummary": {"cycleTime": 1000},
        }
        intake = inbox.intake(inbox.COMPLETION, body, self.backend.id)
        event, _created = self.env["pico.event"]._pico_store(
            self.backend, intake, "webhook"
        )
        self.assertTrue(event.received_at.microsecond or event.mes_time.microsecond)
        self.assertGreater(event.transit_ms, 1900)
        self.assertLess(event.transit_ms, 60000)
        version = self.env["pico.event"].create(
            {
                "backend_id": self.backend.id,
                "event_type": inbox.PRODUCTION_VERSION,
                "source": "webhook",
                "idempotency_key": "version-1",
                "mes_time": now - timedelta(days=3),
            }
        )
        self.assertFalse(version.transit_ms)


class HealthMixin:
    @classmethod
    def _setup_health(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Plant 1",
                "endpoint_url": "http://127.0.0.1:9/graph/v2",
                "responsible_id": cls.env.ref("base.user_admin").id,
            }
        )

    @classmethod
    def _known_world(cls, now):
        """3 pending exchanges (oldest 20 min), 1 failed, 1 dead, 2 done; events:
        2 held, 1 failed, 1 dead, 4 completions applied in 1, 2, 3 and 4 s."""
        exchanges = cls.env["pico.exchange"].sudo()
        cr = cls.env.cr

        def exchange(index, state, **vals):
            return exchanges.create(
                {
                    "backend_id": cls.backend.id,
                    "kind": "save",
                    "external_order_id": f"MO/{index}#{index}",
                    "operation_pico_id": "op",
                    "order_index": 0,
                    "request": "{}",
                    "state": state,
                    **vals,
                }
            )

        pending = exchanges.browse()
        for index in range(3):
            pending |= exchange(index, "pending")
        cls.env.flush_all()
        cr.execute(
            "UPDATE pico_exchange SET create_date = %s WHERE id = %s",
            [now - timedelta(minutes=20), pending[0].id],
        )
        cr.execute(
            "UPDATE pico_exchange SET create_date = %s WHERE id IN %s",
            [now - timedelta(minutes=2), tuple(pending[1:].ids)],
        )
        recent = now - timedelta(minutes=10)
        exchange(10, "failed", last_attempt_at=recent)
        exchange(11, "dead", last_attempt_at=recent)
        exchange(12, "done", last_attempt_at=recent, done_at=recent)
        exchange(13, "done", last_attempt_at=recent, done_at=now - timedelta(minutes=5))
        events = cls.env["pico.event"]
        vals = []
        for index, state in enumerate(["held", "held", "failed", "dead"]):
            vals.append(
                {
                    "backend_id": cls.backend.id,
                    "event_type": inbox.SCRAP,
                    "source": "mqtt",
                    "idempotency_key": f"h-{index}",
                    "received_at": now - timedelta(minutes=30),
                    "state": state,
                }
            )
        for seconds in (1, 2, 3, 4):
            received = now - timedelta(minutes=40 + seconds)
            vals.append(
                {
                    "backend_id": cls.backend.id,
                    "event_type": inbox.COMPLETION,
                    "source": "webhook",
                    "idempotency_key": keys.message_key("c", str(seconds)),
                    "received_at": received,
                    "processed_at": received + timedelta(seconds=seconds),
                    "state": inbox.DONE,
                }
            )
        events.create(vals)
        cls.env.flush_all()


@tagged("post_install", "-at_install", "pico_insight")
class TestHealth(HealthMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_health()

    def _open(self):
        return self.backend.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref(HEALTH_TYPE)
        )

    def test_dashboard_figures_of_a_known_world(self):
        now = fields.Datetime.now()
        self._known_world(now)
        figures = self.backend._pico_health_figures(now)
        self.assertEqual(figures["outbox_backlog"], 3)
        self.assertAlmostEqual(figures["outbox_oldest_minutes"], 20.0, delta=0.1)
        self.assertEqual(
            (figures["exchanges_failed"], figures["exchanges_dead"]), (1, 1)
        )
        self.assertEqual(
            figures["events"],
            {"received": 0, "held": 2, "done": 4, "failed": 1, "dead": 1},
        )
        self.assertEqual(figures["failed_rows"], 4)
        # Last hour: 4 exchanges tried (2 failing), 8 events received (2 failing).
        self.assertAlmostEqual(figures["error_rate_hour"], 100 * 4 / 12)
        self.assertAlmostEqual(figures["latency_p50_s"], 2.5)
        self.assertAlmostEqual(figures["latency_p95_s"], 3.85)
        self.assertEqual(
            figures["last_call_at"],
            fields.Datetime.to_string(now - timedelta(minutes=5)),
        )
        self.assertIsNotNone(figures["last_webhook_at"])
        self.assertFalse(figures["mqtt_connected"])
        self.assertIsNone(figures["clock_skew_ms"])
        card = self.backend.health_dashboard
        self.assertEqual(card["status"], "red")
        self.assertEqual(len(card["chart"]), 24)
        self.assertEqual(sum(bar["total"] for bar in card["chart"]), 8)

    def test_thresholds_colour_the_card_and_give_one_activity(self):
        now = fields.Datetime.now()
        self._known_world(now)
        status, checks = self.backend._pico_update_health(now)
        self.assertEqual(status, "red")
        statuses = {check.name: check.status for check in checks}
        self.assertEqual(statuses["error_rate_hour"], "red")  # 33 % >= 25 %
        self.assertEqual(statuses["failed_rows"], "amber")  # 4: >= 1, < 20
        self.assertEqual(statuses["outbox_oldest_minutes"], "amber")  # 20: >= 5
        self.assertEqual(statuses["outbox_backlog"], "green")
        self.assertEqual(self.backend.health_color, 1)
        self.assertIn("Error rate last hour: 33.3 %", self.backend.health_reasons)
        self.assertEqual(len(self._open()), 1)
        self.backend._pico_update_health(now)
        self.assertEqual(len(self._open()), 1)
        # Thresholds raised: amber only, still the same single activity.
        self.backend.write({"health_error_rate_warn": 50, "health_error_rate_crit": 90})
        self.assertEqual(self.backend._pico_update_health(now)[0], "amber")
        self.assertEqual(self.backend.health_color, 2)
        self.assertEqual(len(self._open()), 1)
        # Every threshold off: green, the activity is done.
        self.backend.write(
            {
                "health_failed_warn": 0,
                "health_failed_crit": 0,
                "health_error_rate_warn": 0,
                "health_error_rate_crit": 0,
                "health_oldest_warn": 0,
                "health_oldest_crit": 0,
            }
        )
        self.assertEqual(self.backend._pico_update_health(now)[0], "green")
        self.assertFalse(self._open())
        self.assertEqual(self.backend.health_color, 10)


@tagged("post_install", "-at_install", "pico_insight")
class TestMetrics(HealthMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_health()
        cls.env["ir.config_parameter"].sudo().set_param(TOKEN_PARAM, "s3cret-metrics")

    def _get(self, headers=None):
        return self.url_open(METRICS_ROUTE, headers=headers or {})

    @mute_logger("odoo.http")
    def test_metrics_need_their_token(self):
        self.assertEqual(self._get().status_code, 401)
        self.assertEqual(self._get({"Authorization": "Bearer wrong"}).status_code, 401)
        # Not a Pico secret either.
        self.assertEqual(
            self._get(
                {"Authorization": f"Bearer {self.backend.sudo().webhook_secret}"}
            ).status_code,
            401,
        )
        self.env["ir.config_parameter"].sudo().set_param(TOKEN_PARAM, "")
        self.assertEqual(self._get({"Authorization": "Bearer "}).status_code, 401)

    def test_metrics_figures_with_the_token(self):
        now = fields.Datetime.now()
        self._known_world(now)
        response = self._get({"Authorization": "Bearer s3cret-metrics"})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        lines = set(response.text.splitlines())
        label = 'backend="Plant 1"'
        for line in (
            f"pico_outbox_backlog{{{label}}} 3.0",
            f"pico_exchanges_failed{{{label}}} 1.0",
            f"pico_exchanges_dead{{{label}}} 1.0",
            f'pico_events{{{label},state="held"}} 2.0',
            f'pico_events{{{label},state="dead"}} 1.0',
            f"pico_completion_latency_p50_seconds{{{label}}} 2.5",
            f"pico_mqtt_enabled{{{label}}} 0.0",
            f"pico_health_status{{{label}}} 2.0",
        ):
            self.assertIn(line, lines)
        self.assertIn("# TYPE pico_outbox_backlog gauge", lines)
        rate = next(
            line for line in lines if line.startswith("pico_error_rate_hour_ratio{")
        )
        self.assertAlmostEqual(float(rate.rsplit(" ", 1)[1]), 1 / 3)
