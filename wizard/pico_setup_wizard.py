# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The first-run assistant: from an endpoint and a token to a mapped BOM.

Each step runs the backend's own button (Test Connection, Synchronize Processes,
Register Webhooks, Suggest Mapping on BOMs) and says what went wrong in a
planner's words. Every step writes its result on the backend as it goes, so the
assistant can be closed at any step: the backend's "Setup" field then names the
step missing (models/pico_backend_setup.py), and the assistant reopens there.
"""

from odoo import api, fields, models

STEPS = [
    ("endpoint", "Endpoint and Token"),
    ("connection", "Connection"),
    ("catalogue", "Processes"),
    ("webhooks", "Webhooks"),
    ("mapping", "Bills of Materials"),
    ("done", "Done"),
]
STEP_KEYS = [key for key, _label in STEPS]
# Steps whose check runs as soon as the step is reached (the others wait for input).
AUTO_RUN = ("connection", "catalogue", "mapping")
# Backend setup state -> the assistant's step that does it.
SETUP_TO_STEP = {
    "endpoint": "endpoint",
    "connection": "connection",
    "catalogue": "catalogue",
    "webhooks": "webhooks",
    "reachability": "webhooks",
    "mapping": "mapping",
    "done": "mapping",
}


class PicoSetupWizard(models.TransientModel):
    _name = "pico.setup.wizard"
    _description = "Pico Setup Assistant"

    backend_id = fields.Many2one("pico.backend", ondelete="cascade")
    step = fields.Selection(STEPS, default="endpoint", required=True)
    ran = fields.Boolean(help="The current step's check has run.")
    ok = fields.Boolean(help="The current step's check passed.")
    result_message = fields.Text()
    problem = fields.Text(help="What is wrong, in a planner's words.")
    # Step 1
    name = fields.Char(default="Pico")
    endpoint_url = fields.Char(string="Pico API Address")
    api_token = fields.Char(string="API Token", groups="base.group_system")
    company_id = fields.Many2one(
        "res.company", default=lambda self: self.env.company, required=True
    )
    # Step 2
    features_html = fields.Html(related="backend_id.pico_features_html")
    features_state = fields.Selection(related="backend_id.pico_features_state")
    # Step 3
    process_count = fields.Integer(string="Operations in Odoo")
    # Step 4
    webhook_base_url = fields.Char(string="Public Odoo URL")
    # Step 5
    mapped_bom_ids = fields.Many2many(
        "mrp.bom",
        "pico_setup_wizard_mapped_bom_rel",
        string="Mapped",
        readonly=True,
    )
    attention_bom_ids = fields.Many2many(
        "mrp.bom",
        "pico_setup_wizard_attention_bom_rel",
        string="Need a Person",
        readonly=True,
    )
    setup_state = fields.Selection(related="backend_id.pico_setup_state")
    setup_message = fields.Text(related="backend_id.pico_setup_message")

    # --- Opening ------------------------------------------------------------------
    @api.model
    def _pico_open_for(self, backend):
        """A new assistant on `backend`, at its first missing step."""
        step = SETUP_TO_STEP[backend.pico_setup_state]
        wizard = self.create(
            {
                "backend_id": backend.id,
                "name": backend.name,
                "endpoint_url": backend.endpoint_url,
                "company_id": backend.company_id.id,
                "step": step,
                "webhook_base_url": backend.webhook_base_url
                or self._pico_default_base_url(),
            }
        )
        if step in AUTO_RUN:
            wizard._pico_run_step()
        return wizard._pico_reopen()

    @api.model
    def _pico_default_base_url(self):
        return self.env["ir.config_parameter"].sudo().get_param("web.base.url")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "webhook_base_url" in fields_list and not values.get("webhook_base_url"):
            values["webhook_base_url"] = self._pico_default_base_url()
        return values

    def _pico_reopen(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Pico Setup Assistant"),
        }

    # --- Buttons ------------------------------------------------------------------
    def action_next(self):
        """Run the current step (again, if it failed), or go on to the next one."""
        self.ensure_one()
        if not self.ok:
            self._pico_run_step()
        elif self.step != "done":
            self._pico_go(STEP_KEYS[STEP_KEYS.index(self.step) + 1])
        return self._pico_reopen()

    def action_back(self):
        self.ensure_one()
        index = STEP_KEYS.index(self.step)
        if index:
            self._pico_go(STEP_KEYS[index - 1], run=False)
            if self.step == "endpoint":
                self.endpoint_url = self.backend_id.endpoint_url
        return self._pico_reopen()

    def action_open_backend(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pico.backend",
            "res_id": self.backend_id.id,
            "view_mode": "form",
            "target": "current",
        }

    # --- Steps --------------------------------------------------------------------
    def _pico_go(self, step, run=True):
        self.write(
            {
                "step": step,
                "ran": False,
                "ok": step == "done",
                "problem": False,
                "result_message": False,
            }
        )
        if run and step in AUTO_RUN:
            self._pico_run_step()

    def _pico_run_step(self):
        ok, message, problem = getattr(self, f"_pico_step_{self.step}")()
        self.write(
            {
                "ran": True,
                "ok": ok,
                "result_message": message or False,
                "problem": problem or False,
            }
        )
        if ok and self.step == "endpoint":
            # Saved: check the connection at once.
            self._pico_go("connection")

    @staticmethod
    def _pico_notification(result):
        """(type, message) of a button's display_notification."""
        params = result.get("params", {}) if isinstance(result, dict) else {}
        return params.get("type"), params.get("message") or ""

    def _pico_step_endpoint(self):
        url = (self.endpoint_url or "").strip()
        if not url:
            return (
                False,
                None,
                self.env._(
                    "Enter the address of Pico's API: it ends with /graph/v2, e.g. "
                    "https://yourcompany.picomes.com/graph/v2. Pico support gives it "
                    "with the token."
                ),
            )
        if not url.startswith(("http://", "https://")):
            return (
                False,
                None,
                self.env._("%s is not a web address: it starts with https://.", url),
            )
        token = self.sudo().api_token
        backend = self.backend_id
        if not token and not (backend and backend.sudo().api_token):
            if not self.env.user.has_group("base.group_system"):
                return (
                    False,
                    None,
                    self.env._(
                        "Only a system administrator may enter Pico's API token: ask "
                        "one to enter it on the backend (or to run this assistant), "
                        "then continue here."
                    ),
                )
            return (
                False,
                None,
                self.env._(
                    "Enter the API token: Pico support issues one per Pico instance "
                    "(it is sent as the x-pico-api-org header)."
                ),
            )
        values = {"name": self.name or url, "endpoint_url": url}
        if token:
            values["api_token"] = token
        if backend:
            backend.write(values)
        else:
            values["company_id"] = self.company_id.id
            self.backend_id = self.env["pico.backend"].create(values)
        # The token is kept on the backend only (system administrators read it).
        self.sudo().api_token = False
        return True, None, None

    def _pico_step_connection(self):
        kind, message = self._pico_notification(
            self.backend_id.action_test_connection()
        )
        if kind == "danger":
            return False, None, self._pico_explain(message)
        text = (
            self.env._("Pico answers at %s.", self.backend_id.endpoint_url)
            + " "
            + self.backend_id._pico_features_summary()
        )
        if kind == "warning":
            text += " " + self.env._(
                "Odoo could not ask which optional features Pico has, and uses "
                "the documented minimum until it can."
            )
        return True, text, None

    def _pico_step_catalogue(self):
        kind, message = self._pico_notification(
            self.backend_id.action_sync_operations()
        )
        if kind == "danger":
            return False, None, self._pico_explain(message)
        count = self.env["pico.operation"].search_count(
            [("backend_id", "=", self.backend_id.id)]
        )
        self.process_count = count
        if kind == "info":
            return True, message, None
        if not count:
            return (
                True,
                None,
                self.env._(
                    "Pico lists no product or process yet: build the product's "
                    "workflow in Pico (or send a bill of materials with Send to Pico), "
                    "then synchronize again."
                ),
            )
        text = self.env._(
            "%(count)s Pico products and processes are now known to Odoo (%(stats)s)",
            count=count,
            stats=message,
        )
        return True, text, None

    def _pico_step_webhooks(self):
        backend = self.backend_id
        base = (self.webhook_base_url or "").strip().rstrip("/")
        if base and base != (backend.webhook_base_url or self._pico_default_base_url()):
            backend.webhook_base_url = base
        kind, message = self._pico_notification(backend.action_register_webhooks())
        if kind == "danger":
            return False, None, self._pico_explain(message)
        result, ping_message = backend._pico_check_public_url()
        text = self.env._(
            "Pico will send finished units to %s.", (backend.webhook_completion_url)
        )
        if not result.ok:
            return False, text, ping_message
        return True, f"{text} {ping_message}", None

    def _pico_step_mapping(self):
        backend = self.backend_id
        boms = self._pico_matching_boms()
        if not boms:
            return (
                False,
                None,
                self.env._(
                    "No bill of materials has a product whose internal reference is "
                    "the part number of a Pico product. Give the product the part "
                    "number Pico knows it by (Internal Reference), or map a bill of "
                    "materials by hand on its Pico tab; then try again."
                ),
            )
        boms.action_pico_suggest_mapping()
        boms.invalidate_recordset()
        # Not stored, and computed from the BOMs it does not depend on.
        backend.invalidate_recordset(["pico_setup_state", "pico_setup_message"])
        mapped = boms.filtered(lambda b: b.pico_mapping_state == "valid")
        attention = boms - mapped
        self.write(
            {
                "mapped_bom_ids": [fields.Command.set(mapped.ids)],
                "attention_bom_ids": [fields.Command.set(attention.ids)],
            }
        )
        text = self.env._(
            "%(mapped)s bill(s) of materials mapped to %(backend)s.",
            mapped=len(mapped),
            backend=backend.name,
        )
        if attention:
            problem = self.env._(
                "%s bill(s) of materials need a person: open each one below, read "
                "the problems on its Pico tab and choose what is missing.",
                len(attention),
            )
            return bool(mapped), text, problem
        return True, text, None

    def _pico_matching_boms(self):
        """BOMs of this backend, and those without backend whose product's part
        number is one of Pico's (what Suggest Mapping would find)."""
        backend = self.backend_id
        codes = set()
        for operation in self.env["pico.operation"].search(
            [("backend_id", "=", backend.id), ("external_id", "!=", False)]
        ):
            codes |= {operation.external_id, operation.external_id.upper()}
            codes.add(operation.external_id.lower())
        boms = self.env["mrp.bom"]
        domain = [("company_id", "in", [False, backend.company_id.id])]
        own = boms.search([*domain, ("pico_backend_id", "=", backend.id)])
        if not codes:
            return own
        unmapped = boms.search(
            [
                *domain,
                ("pico_backend_id", "=", False),
                "|",
                ("product_tmpl_id.default_code", "in", list(codes)),
                ("product_id.default_code", "in", list(codes)),
            ]
        )
        matched = boms
        for bom in unmapped:
            # Asked of a copy in memory: a BOM nothing matches is left untouched.
            draft = bom.new(
                {
                    "product_tmpl_id": bom.product_tmpl_id.id,
                    "product_id": bom.product_id.id,
                    "code": bom.code,
                    "company_id": bom.company_id.id,
                    "pico_backend_id": backend.id,
                }
            )
            if draft._pico_suggest_operation():
                matched |= bom
        matched.pico_backend_id = backend
        return own | matched

    def _pico_explain(self, message):
        """A failed button's message, said in a planner's words."""
        _ = self.env._
        backend = self.backend_id
        text = message or ""
        if "HTTP 401" in text or "HTTP 403" in text:
            return _(
                "Pico refused the API token. Copy it again from Pico support's "
                "message (the token of this Pico instance), go back and enter it."
            )
        if "timeout calling Pico" in text:
            return _(
                "Pico did not answer within %(seconds)s seconds at %(url)s. Try "
                "again; if it repeats, check the address and Pico's status.",
                seconds=backend.read_timeout,
                url=backend.endpoint_url,
            )
        if "cannot reach Pico" in text:
            return _(
                "Odoo cannot reach %(url)s: check the address (go back to fix it), "
                "and that this server may open connections to it (firewall, "
                "proxy). Details: %(detail)s",
                url=backend.endpoint_url,
                detail=text,
            )
        if "invalid request to Pico" in text:
            return _(
                "%(url)s is not a valid address: it looks like "
                "https://yourcompany.picomes.com/graph/v2. Go back and fix it.",
                url=backend.endpoint_url,
            )
        if "HTTP 404" in text or "not JSON" in text or "without a data" in text:
            return _(
                "%(url)s answered, but it is not Pico's API: check the end of the "
                "address (usually /graph/v2). Go back and fix it.",
                url=backend.endpoint_url,
            )
        if "HTTP 5" in text:
            return _(
                "Pico is in trouble right now (%(detail)s). Try again in a few "
                "minutes.",
                detail=text,
            )
        return _(
            "Pico answered with an error: %s. Try again; if it repeats, send this "
            "message to Pico support.",
            text,
        )
