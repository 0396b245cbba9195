"""PicoSimulator: a local stand-in for a Pico MES instance (GraphQL, webhooks, MQTT)."""

import hmac
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import control, graph, profiles
from . import work_instructions as wi
from .faults import FaultBox
from .store import SimError, Store, iso, utcnow
from .webhooks import WebhookDispatcher

_logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
GRAPHQL_PATHS = ("/graph/v2", "/graphql")
TOKEN_HEADER = "x-pico-api-org"
BODY_STYLES = ("wrapped", "bare")
PUBLISH_TYPES = ("scrap", "downtime", "quality", "consumption", "note")
CONFIG_KEYS = (
    "schema_profile",
    "introspection",
    "body_style",
    "hmac_secret",
    "webhook_max_tries",
    "webhook_backoff_base",
    "webhook_timeout",
    "max_mutation_fields",
)


class PicoSimulator:
    """A Pico instance on 127.0.0.1: GraphQL, control API, webhooks, optional MQTT."""

    def __init__(
        self,
        port=0,
        token="sim-token",
        fixture=None,
        body_style="wrapped",
        mqtt_host=None,
        mqtt_port=1883,
        mqtt_prefix="pico/sim",
        webhook_max_tries=5,
        webhook_backoff_base=0.2,
        webhook_timeout=5.0,
        hmac_secret=None,
        seed=None,
        host=HOST,
        work_instructions=False,
        schema_profile=profiles.DEFAULT_PROFILE,
        introspection=True,
        max_mutation_fields=0,
    ):
        self.port = port
        # Loopback by default: the control API has no authentication.
        self.host = host
        self.token = token
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.mqtt_prefix = mqtt_prefix
        self._fixture = fixture
        # Pico's alpha Work Instructions API: only on request (see work_instructions).
        self.work_instructions_enabled = bool(work_instructions)
        self.work_instructions = wi.WorkInstructions()
        self._schema_extensions = [wi.sdl()] if work_instructions else []
        self.schema_profile = None
        self.schema = None
        self.introspection = True
        self.max_mutation_fields = 0
        self.store = Store(fixture)
        self.fault_box = FaultBox(seed)
        self.webhooks = WebhookDispatcher(self.fault_box)
        self.body_style = body_style
        self._defaults = {
            "schema_profile": schema_profile,
            "introspection": introspection,
            "body_style": body_style,
            "hmac_secret": hmac_secret,
            "webhook_max_tries": webhook_max_tries,
            "webhook_backoff_base": webhook_backoff_base,
            "webhook_timeout": webhook_timeout,
            "max_mutation_fields": max_mutation_fields,
        }
        self.configure(**self._defaults)
        self.mqtt = None
        self._root = graph.Resolvers(self).root_value()
        if self.work_instructions_enabled:
            self._root.update(wi.Resolvers(self).root_value())
        self._requests = []
        self._requests_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # -- lifecycle --------------------------------------------------------

    @property
    def base_url(self):
        """http://127.0.0.1:<port>, without a trailing slash."""
        # A wildcard bind is reached on loopback from this machine.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self):
        """The GraphQL endpoint, as a Pico customer would be given it."""
        return f"{self.base_url}/graph/v2"

    @property
    def control_url(self):
        """The control API's root, ending in a slash."""
        return f"{self.base_url}{control.PREFIX}"

    def start(self):
        """Connect MQTT (if asked), bind the port and serve in a thread."""
        if self.mqtt_host:
            # Imported here so that a simulator without MQTT never needs paho.
            from .mqtt_publisher import MqttPublisher

            self.mqtt = MqttPublisher(self.mqtt_host, self.mqtt_port, self.mqtt_prefix)
            self.mqtt.start()
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.simulator = self
        self.port = self._server.server_address[1]
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="pico-sim-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving; release held requests; disconnect MQTT."""
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.webhooks.stop()
        if self.mqtt:
            self.mqtt.stop()
            self.mqtt = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def reset(self, fixture=None):
        """Back to the fixture: no orders, completions, subscriptions or faults."""
        self.store.reset(fixture if fixture is not None else self._fixture)
        self.work_instructions.reset()
        self.webhooks.clear()
        self.fault_box.update({}, clear=True)
        self.configure(**self._defaults)
        with self._requests_lock:
            self._requests.clear()

    def configure(self, **options):
        """Change schema_profile, introspection, body_style, hmac_secret or
        webhook_* settings; return them all."""
        unknown = sorted(set(options) - set(CONFIG_KEYS))
        if unknown:
            raise SimError("BAD_USER_INPUT", f"unknown settings: {', '.join(unknown)}")
        if "schema_profile" in options:
            profile = options["schema_profile"]
            if profile not in profiles.PROFILES:
                raise SimError(
                    "BAD_USER_INPUT", f"schema_profile must be in {profiles.PROFILES}"
                )
            if profile != self.schema_profile:
                self.schema = graph.load_schema(profile, self._schema_extensions)
                self.schema_profile = profile
        if "introspection" in options:
            if not isinstance(options["introspection"], bool):
                raise SimError("BAD_USER_INPUT", "introspection must be true or false")
            self.introspection = options["introspection"]
        if "max_mutation_fields" in options:
            value = options["max_mutation_fields"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SimError(
                    "BAD_USER_INPUT",
                    "max_mutation_fields must be a whole number >= 0 (0: no limit)",
                )
            self.max_mutation_fields = value
        if "body_style" in options:
            if options["body_style"] not in BODY_STYLES:
                raise SimError("BAD_USER_INPUT", f"body_style must be in {BODY_STYLES}")
            self.body_style = options["body_style"]
        if "hmac_secret" in options:
            self.webhooks.hmac_secret = options["hmac_secret"] or None
        self._configure_webhook_delivery(options)
        return self.config()

    def _configure_webhook_delivery(self, options):
        """The webhook_max_tries, webhook_backoff_base and webhook_timeout
        settings of `configure`."""
        for key in ("webhook_max_tries", "webhook_backoff_base", "webhook_timeout"):
            if key in options:
                value = options[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SimError("BAD_USER_INPUT", f"{key} must be a number")
                if value <= 0:
                    raise SimError("BAD_USER_INPUT", f"{key} must be positive")
                if key == "webhook_max_tries":
                    value = int(value)
                setattr(self.webhooks, key.removeprefix("webhook_"), value)

    def config(self):
        """The current settings."""
        return {
            "schema_profile": self.schema_profile,
            "introspection": self.introspection,
            "max_mutation_fields": self.max_mutation_fields,
            "body_style": self.body_style,
            "hmac_secret": self.webhooks.hmac_secret,
            "webhook_max_tries": self.webhooks.max_tries,
            "webhook_backoff_base": self.webhooks.backoff_base,
            "webhook_timeout": self.webhooks.timeout,
            "work_instructions": self.work_instructions_enabled,
            "mqtt": (
                {
                    "host": self.mqtt_host,
                    "port": self.mqtt_port,
                    "prefix": self.mqtt_prefix,
                }
                if self.mqtt_host
                else None
            ),
        }

    # -- reading state ----------------------------------------------------

    def operations(self):
        return self.store.list_operations()

    def sub_operations(self):
        return self.store.list_sub_operations()

    def orders(self):
        return self.store.list_orders()

    def completions(self):
        return self.store.list_completions()

    def deliveries(self):
        return self.webhooks.deliveries()

    def subscriptions(self):
        """Subscriptions as stored (without the parsed document)."""
        return [
            {key: value for key, value in record.items() if key != "document"}
            for record in self.store.list_subscriptions()
        ]

    def requests(self):
        """Every GraphQL request received, with the status answered."""
        with self._requests_lock:
            return [dict(entry) for entry in self._requests]

    def mqtt_messages(self):
        return self.mqtt.messages() if self.mqtt else []

    def faults(self):
        return self.fault_box.snapshot()

    def wait_for_deliveries(self, count=1, timeout=5.0, **match):
        """Poll the delivery log until `count` entries match; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                entry
                for entry in self.deliveries()
                if all(entry.get(key) == value for key, value in match.items())
            ]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.02)

    def wait_idle(self, timeout=5.0):
        """Wait until no webhook is queued or on the wire; return whether so."""
        deadline = time.monotonic() + timeout
        while not self.webhooks.idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- driving the floor ------------------------------------------------

    def set_faults(self, clear=False, **faults):
        """Set faults (see faults.Faults); clear=True resets the others first."""
        return self.fault_box.update(faults, clear=clear)

    def deploy_operation(self, operation):
        """Deploy a new version of an operation; fires operationsStream."""
        operation = self.store.deploy_operation(operation)
        self._emit("operationsStream", operation)
        return operation

    def add_sub_operation(self, parent_id, sub_id, sub_group=None):
        """Link a child operation; fires subOperationsStream."""
        link = self.store.add_sub_operation(
            {"parentId": parent_id, "subId": sub_id, "subGroup": sub_group}
        )
        self._emit("subOperationsStream", link)
        return link

    def replace_sub_operations(self, parent_id, sub_ids):
        """Make sub_ids the children of parent_id, in order; fires the stream."""
        links = self.store.replace_sub_operations(parent_id, sub_ids)
        for link in links:
            self._emit("subOperationsStream", link)
        return links

    def deploy_product(self, product_id):
        """Deploy a product made with the Work Instructions API (see deploy)."""
        return wi.deploy(self, product_id)

    def work_instruction_state(self):
        """Stations, processes and products created, and the log of writes."""
        return self.work_instructions.snapshot()

    def start_order(self, external_order_id, order_index=0, operation_id=None):
        """Mark an order started, so that it can no longer be canceled."""
        return self.store.start_order(
            {
                "externalOrderId": external_order_id,
                "orderIndex": order_index,
                "operationId": operation_id,
            }
        )

    def complete(self, data):
        """Record a completion from a control-API style dict; deliver it."""
        completion = self.store.complete_order(data)
        self._emit("operationOrderCompletesStream", completion)
        if self.mqtt:
            self.mqtt.publish("completion", completion)
        return completion

    def complete_order(
        self, external_order_id, order_index=0, operation_id=None, **fields
    ):
        """Complete one unit; fields use the control API's camelCase names."""
        return self.complete(
            {
                "externalOrderId": external_order_id,
                "orderIndex": order_index,
                "operationId": operation_id,
                **fields,
            }
        )

    def note(self, data):
        """An operator writes a note (`full` profile): deliver it to note webhooks.

        Shape as the simulator's NoteEvent guess; operator and station are names.
        """
        if not isinstance(data, dict) or not data.get("text"):
            raise SimError("BAD_USER_INPUT", "a note needs a text")
        note = {
            "id": data.get("id") or str(uuid.uuid4()),
            "kind": data.get("kind") or "note",
            "text": data["text"],
            "externalOrderId": data.get("externalOrderId"),
            "orderIndex": data.get("orderIndex"),
            "serial": data.get("serial"),
            "operator": {"name": data["operator"]} if data.get("operator") else None,
            "station": {"name": data["station"]} if data.get("station") else None,
            "createdAt": data.get("createdAt")
            or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._emit("noteEventsStream", note)
        return note

    def publish(self, kind, payload):
        """Publish a scrap/downtime/quality/consumption event over MQTT."""
        if not self.mqtt:
            raise SimError("CONFLICT", "MQTT is not configured (start with mqtt_host)")
        if kind not in PUBLISH_TYPES:
            raise SimError("BAD_USER_INPUT", f"type must be one of {PUBLISH_TYPES}")
        if not isinstance(payload, dict):
            raise SimError("BAD_USER_INPUT", "payload must be a JSON object")
        payload = {"eventId": str(uuid.uuid4()), **payload}
        return self.mqtt.publish(kind, payload)

    def _emit(self, stream, event):
        """Queue one webhook delivery per subscription following the stream."""
        for record in self.store.subscriptions_for(stream):
            try:
                fields = graph.project(self.schema, record["document"], stream, event)
            except ValueError as exc:
                _logger.warning("webhook %s: %s", record["subscriptionId"], exc)
                continue
            body = (
                {"data": {stream: fields}} if self.body_style == "wrapped" else fields
            )
            self.webhooks.submit(
                record["subscriptionId"],
                stream,
                record["webhookUrl"],
                record["webhookHeaders"],
                json.dumps(body).encode(),
            )

    # -- GraphQL over HTTP ------------------------------------------------

    def handle_graphql(self, path, headers, raw):
        """Answer one GraphQL POST; (None, None) means hang up unanswered."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        known = body if isinstance(body, dict) else {}
        entry = {
            "at": iso(utcnow()),
            "path": path,
            "operationName": known.get("operationName"),
            "query": known.get("query"),
            "variables": known.get("variables"),
            "status": None,
            "fault": None,
        }
        latency, action, argument = self.fault_box.plan_request()
        if latency:
            self._stopping.wait(latency)
        if action == "timeout":
            entry["fault"] = "timeout"
            self._log_request(entry)
            self._stopping.wait(argument)
            return None, None
        if action == "error":
            entry["fault"] = "error"
            status = argument
            payload = graph.error_body(f"simulated HTTP {status}", "SIMULATED_FAULT")
        elif not self._token_ok(headers.get(TOKEN_HEADER)):
            status = 401
            payload = graph.error_body(
                "missing or invalid API token", "UNAUTHENTICATED"
            )
        elif body is None:
            status = 400
            payload = graph.error_body("body is not valid JSON", "BAD_REQUEST")
        else:
            status, payload = graph.run_request(
                self.schema,
                self._root,
                body,
                introspection=self.introspection,
                max_mutation_fields=self.max_mutation_fields,
            )
        entry["status"] = status
        self._log_request(entry)
        return status, payload

    def _token_ok(self, given):
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _log_request(self, entry):
        with self._requests_lock:
            self._requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    """Routes /graph/v2, /graphql and /_control/ to the simulator."""

    protocol_version = "HTTP/1.1"
    server_version = "PicoSimulator/1.0"
    # Drop idle keep-alive connections so they do not pin a thread forever.
    timeout = 60

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def log_message(self, fmt, *args):
        _logger.debug("%s " + fmt, self.address_string(), *args)

    def _route(self, method):
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        try:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self._send(400, graph.error_body("bad Content-Length", "BAD_REQUEST"))
            return
        if path.rstrip("/") in GRAPHQL_PATHS:
            if method != "POST":
                self._send(405, graph.error_body("use POST", "BAD_REQUEST"))
                return
            status, payload = simulator.handle_graphql(path, self.headers, raw)
            if status is None:
                self.close_connection = True
                return
            self._send(status, payload)
        elif path.startswith(control.PREFIX):
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                self._send(
                    400, {"error": "body is not valid JSON", "code": "BAD_REQUEST"}
                )
                return
            self._send(*control.handle(simulator, method, path, body))
        elif path == "/":
            self._send(
                200, {"graphql": simulator.url, "control": simulator.control_url}
            )
        else:
            self._send(404, {"error": f"nothing at {path}", "code": "NOT_FOUND"})

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
