# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Test bases: a Pico simulator per test class and a backend pointing at it."""

import json

from odoo.tests import HttpCase, TransactionCase

from ..core.webhook import SECRET_HEADER
from ..simulator import PicoSimulator


class PicoSimulatorMixin:
    """Starts one simulator for the class; every test starts from its fixture."""

    simulator_options = {}

    @classmethod
    def _setup_pico(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = PicoSimulator(**cls.simulator_options)
        cls.simulator.start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.backend = cls.env["pico.backend"].create(
            {
                "name": "Simulated Pico",
                "endpoint_url": cls.simulator.url,
                "api_token": cls.simulator.token,
                "connect_timeout": 2.0,
                "read_timeout": 5.0,
                "retry_base_delay": 1,
                "max_attempts": 4,
            }
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()
        self.simulator.set_faults(clear=True)

    def use_pico_schema(self, profile="full", introspection=True):
        """Serve another schema profile for this test (the default is Pico's
        documented schema); the backend sees it when it next detects features."""
        self.simulator.configure(schema_profile=profile, introspection=introspection)


class PicoCase(PicoSimulatorMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pico()


class PicoHttpCase(PicoSimulatorMixin, HttpCase):
    """For tests that go through Odoo's real HTTP server (webhooks)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pico()
        cls.backend.webhook_base_url = cls.base_url()

    def post_webhook(self, kind, body, secret=None, headers=None, backend=None):
        """POST a body (dict or bytes) to a backend's webhook; return the response."""
        backend = backend or self.backend
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        all_headers = {
            "Content-Type": "application/json",
            SECRET_HEADER: backend.webhook_secret if secret is None else secret,
        }
        all_headers.update(headers or {})
        url = getattr(backend, f"webhook_{kind}_url", None) or (
            f"{self.base_url()}/pico_mes/webhook/{backend.webhook_key}/{kind}"
        )
        return self.url_open(url, data=body, headers=all_headers)
