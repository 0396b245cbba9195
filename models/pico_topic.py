# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..core import inbox

IGNORE = "ignore"
# Event types a topic can carry (production versions only come by webhook), plus
# "ignore": telemetry and the like, counted and dropped, never stored.
TOPIC_KINDS = [
    (inbox.COMPLETION, "Work order completion"),
    (inbox.CONSUMPTION, "Component consumption"),
    (inbox.SCRAP, "Scrap"),
    (inbox.DOWNTIME, "Downtime"),
    (inbox.QUALITY, "Quality result"),
    (inbox.NOTE, "Operator note"),
    (IGNORE, "Ignore (telemetry)"),
]
# Created for every new backend: one topic per event type under the prefix.
DEFAULT_TOPICS = [
    ("completion", inbox.COMPLETION),
    ("consumption", inbox.CONSUMPTION),
    ("scrap", inbox.SCRAP),
    ("downtime", inbox.DOWNTIME),
    ("quality", inbox.QUALITY),
    ("telemetry/#", IGNORE),
]


class PicoTopic(models.Model):
    """Which event type arrives on which MQTT topic under a backend's prefix."""

    _name = "pico.topic"
    _description = "Pico MES MQTT Topic"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one(
        "pico.backend", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, readonly=True
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    name = fields.Char(
        string="Topic",
        required=True,
        help="Topic under the backend's prefix, e.g. 'scrap' or 'line1/+/scrap'. "
        "MQTT wildcards are allowed: '+' for one level, '#' as the last level.",
    )
    event_type = fields.Selection(
        TOPIC_KINDS,
        required=True,
        help="What the messages of this topic are. 'Ignore' counts and drops them.",
    )
    full_topic = fields.Char(compute="_compute_full_topic")

    _backend_name_uniq = models.Constraint(
        "UNIQUE(backend_id, name)", "This topic is already mapped for this backend."
    )

    @api.depends("name", "backend_id.mqtt_topic_prefix")
    def _compute_full_topic(self):
        for topic in self:
            prefix = (topic.backend_id.mqtt_topic_prefix or "").strip("/")
            name = (topic.name or "").strip("/")
            topic.full_topic = f"{prefix}/{name}" if prefix else name

    @api.constrains("name")
    def _check_name(self):
        for topic in self:
            levels = (topic.name or "").split("/")
            if topic.name != topic.name.strip() or topic.name.startswith("/"):
                raise ValidationError(
                    self.env._(
                        "Topic %s must not start with '/' or a space.", topic.name
                    )
                )
            for index, level in enumerate(levels):
                if "#" in level and (level != "#" or index != len(levels) - 1):
                    raise ValidationError(
                        self.env._("'#' must be the whole last level: %s", topic.name)
                    )
                if "+" in level and level != "+":
                    raise ValidationError(
                        self.env._("'+' must be a whole level: %s", topic.name)
                    )

    @api.model
    def _pico_create_defaults(self, backends):
        """Give backends without topics the default topic per event type."""
        vals_list = []
        for backend in backends:
            if self.with_context(active_test=False).search_count(
                [("backend_id", "=", backend.id)], limit=1
            ):
                continue
            vals_list += [
                {
                    "backend_id": backend.id,
                    "sequence": 10 * (position + 1),
                    "name": name,
                    "event_type": event_type,
                }
                for position, (name, event_type) in enumerate(DEFAULT_TOPICS)
            ]
        return self.create(vals_list)

    @api.model
    def _pico_topic_map(self, backend):
        """Return {topic under the prefix: event type, or None to drop}, in order."""
        topics = self.search([("backend_id", "=", backend.id)])
        return {
            topic.name: None if topic.event_type == IGNORE else topic.event_type
            for topic in topics
        }
