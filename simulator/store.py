"""In-memory state of the simulated Pico instance: catalogue, orders, completions."""

import copy
import itertools
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEFAULT_FIXTURE = Path(__file__).parent / "fixtures" / "default.json"
DEFAULT_CYCLE_MS = 60_000

OPERATION_KEYS = (
    "id",
    "externalId",
    "externalRevision",
    "externalCodes",
    "name",
    "templateID",
    "variantName",
    "consumedSerials",
    "updatedAt",
    "archivedAt",
)


# Control API status for each error code (GraphQL answers 200 with the code).
ERROR_STATUS = {
    "NOT_FOUND": 404,
    "ORDER_STARTED": 409,
    "CONFLICT": 409,
    "BAD_USER_INPUT": 400,
}


class SimError(Exception):
    """A business error, shown as a GraphQL error code or a control API status."""

    def __init__(self, code, message, **extensions):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = {"code": code, **extensions}

    @property
    def status(self):
        """HTTP status used by the control API."""
        return ERROR_STATUS.get(self.code, 400)


def utcnow():
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def iso(moment):
    """Format a datetime the way the simulator's Time scalar does."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value, field):
    """Parse an ISO-8601 string given to the control API."""
    try:
        # Python 3.10's fromisoformat does not accept a "Z" suffix.
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise SimError("BAD_USER_INPUT", f"{field} is not an ISO-8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def load_fixture(fixture=None):
    """Return fixture data from None (default file), a path, or a dict."""
    if fixture is None:
        fixture = DEFAULT_FIXTURE
    if isinstance(fixture, dict):
        return copy.deepcopy(fixture)
    return json.loads(Path(fixture).read_text())


def normalise_attribute(attr):
    """Return an Attribute dict with every schema field present."""
    return {
        "id": attr.get("id"),
        "externalId": attr.get("externalId"),
        "value": attr.get("value"),
    }


def normalise_operation(data, default_updated_at):
    """Return an Operation dict with every schema field present."""
    if not data.get("id") or not data.get("name"):
        raise SimError("BAD_USER_INPUT", "an operation needs an id and a name")
    operation = {key: data.get(key) for key in OPERATION_KEYS}
    operation["externalCodes"] = list(data.get("externalCodes") or [])
    operation["consumedSerials"] = [
        normalise_attribute(attr) for attr in data.get("consumedSerials") or []
    ]
    operation["updatedAt"] = data.get("updatedAt") or default_updated_at
    return operation


def named(value, default):
    """Accept "Name" or {"name": "Name"} for a Station/Operator."""
    if isinstance(value, dict):
        return {"name": value.get("name")}
    return {"name": value or default}


class Store:
    """Every piece of simulator state, guarded by one lock."""

    def __init__(self, fixture=None):
        self.lock = threading.RLock()
        self.reset(fixture)

    def reset(self, fixture=None):
        """Drop all orders, completions and subscriptions; reload the fixture."""
        data = load_fixture(fixture)
        stamp = iso(utcnow())
        with self.lock:
            self.operations = {}
            for raw in data.get("operations", []):
                operation = normalise_operation(raw, stamp)
                self.operations[operation["id"]] = operation
            self.sub_operations = [
                {
                    "parentId": link["parentId"],
                    "subId": link["subId"],
                    "subGroup": link.get("subGroup"),
                    "updatedAt": link.get("updatedAt") or stamp,
                }
                for link in data.get("subOperations", [])
            ]
            self.orders = {}
            self.completions = []
            self.subscriptions = {}
            self._serials = itertools.count(1)

    # -- catalogue --------------------------------------------------------

    def list_operations(self):
        """Every operation, archived ones included (they carry archivedAt)."""
        with self.lock:
            return copy.deepcopy(list(self.operations.values()))

    def list_sub_operations(self):
        """Every parent -> child link, in routing order."""
        with self.lock:
            return copy.deepcopy(self.sub_operations)

    def _operation(self, operation_id):
        operation = self.operations.get(operation_id)
        if operation is None:
            raise SimError("NOT_FOUND", f"unknown operation {operation_id!r}")
        return operation

    def deploy_operation(self, data):
        """Create or update an operation as a new version; return it."""
        with self.lock:
            previous = self.operations.get(data.get("id"), {})
            stamp = utcnow()
            if previous:
                # A new version must sort after the old one even within one second.
                old = parse_time(previous["updatedAt"], "updatedAt")
                stamp = max(stamp, old + timedelta(seconds=1))
            operation = normalise_operation({**previous, **data}, iso(stamp))
            operation["updatedAt"] = iso(stamp)
            self.operations[operation["id"]] = operation
            return copy.deepcopy(operation)

    def add_sub_operation(self, data):
        """Add (or replace) a parent -> child link; return it."""
        parent_id, sub_id = data.get("parentId"), data.get("subId")
        with self.lock:
            self._operation(parent_id)
            self._operation(sub_id)
            link = {
                "parentId": parent_id,
                "subId": sub_id,
                "subGroup": data.get("subGroup"),
                "updatedAt": iso(utcnow()),
            }
            self.sub_operations = [
                old
                for old in self.sub_operations
                if (old["parentId"], old["subId"]) != (parent_id, sub_id)
            ]
            self.sub_operations.append(link)
            return copy.deepcopy(link)

    def replace_sub_operations(self, parent_id, sub_ids):
        """Make sub_ids the children of parent_id, in this order; return them."""
        with self.lock:
            self._operation(parent_id)
            for sub_id in sub_ids:
                self._operation(sub_id)
            stamp = iso(utcnow())
            links = [
                {
                    "parentId": parent_id,
                    "subId": sub_id,
                    "subGroup": None,
                    "updatedAt": stamp,
                }
                for sub_id in sub_ids
            ]
            self.sub_operations = [
                old for old in self.sub_operations if old["parentId"] != parent_id
            ] + links
            return copy.deepcopy(links)

    # -- orders -----------------------------------------------------------

    def list_orders(self):
        """Every order with its state, oldest first."""
        with self.lock:
            return copy.deepcopy(list(self.orders.values()))

    def save_order(self, data):
        """Apply operationOrderSave; return "created" or "updated"."""
        external_id = data.get("externalOrderId")
        if not external_id:
            raise SimError("BAD_USER_INPUT", "externalOrderId is required")
        # The older snapshot's operationIndex (legacy profile) means the same.
        index = data.get("orderIndex")
        if index is None:
            index = data.get("operationIndex") or 0
        if index < 0:
            raise SimError("BAD_USER_INPUT", "orderIndex must be >= 0")
        with self.lock:
            operation = self._operation(data["operationId"])
            if operation["archivedAt"]:
                raise SimError(
                    "BAD_USER_INPUT", f"operation {operation['id']!r} is archived"
                )
            optional = list(
                data.get("selectOptionalOperationIds")
                or data.get("selectGroupOperations")
                or []
            )
            for operation_id in optional:
                self._operation(operation_id)
            key = (external_id, operation["id"], index)
            stamp = iso(utcnow())
            order = self.orders.get(key)
            if order and order["state"] != "canceled":
                order["saveCount"] += 1
                order["updatedAt"] = stamp
                return "updated"
            self.orders[key] = {
                "externalOrderId": external_id,
                "operationId": operation["id"],
                "orderIndex": index,
                "state": "created",
                "reservedSerialNumber": data.get("reservedSerialNumber"),
                "secondaryExternalOrderId": data.get("secondaryExternalOrderId"),
                "selectOptionalOperationIds": optional,
                "saveCount": 1,
                "createdAt": stamp,
                "updatedAt": stamp,
                "startedAt": None,
                "completedAt": None,
                "canceledAt": None,
            }
            return "created"

    def cancel_order(self, data):
        """Apply operationOrderCancel; return "canceled" or raise."""
        external_id, operation_id = data.get("externalOrderId"), data["operationId"]
        with self.lock:
            if data.get("cancelAll"):
                matched = [
                    order
                    for (ext, op, _index), order in self.orders.items()
                    if ext == external_id and op == operation_id
                ]
            else:
                # Orders saved without orderIndex are stored as index 0.
                key = (external_id, operation_id, data.get("orderIndex") or 0)
                matched = [self.orders[key]] if key in self.orders else []
            if not matched:
                raise SimError(
                    "NOT_FOUND",
                    f"no order {external_id!r} for operation {operation_id!r}"
                    + ("" if data.get("cancelAll") else f" index {key[2]}"),
                )
            stamp = iso(utcnow())
            started = []
            for order in matched:
                if order["state"] == "created":
                    order.update(state="canceled", canceledAt=stamp, updatedAt=stamp)
                elif order["state"] in ("started", "completed"):
                    started.append(order)
            if started:
                indexes = [order["orderIndex"] for order in started]
                raise SimError(
                    "ORDER_STARTED",
                    f"order {external_id!r} for operation {operation_id!r} already "
                    f"started at index {', '.join(map(str, indexes))}; not canceled",
                    orderIndexes=indexes,
                )
            return "canceled"

    def _find_order(self, external_id, index, operation_id=None):
        matches = [
            order
            for (ext, op, idx), order in self.orders.items()
            if ext == external_id
            and idx == index
            and (operation_id is None or op == operation_id)
        ]
        live = [order for order in matches if order["state"] != "canceled"]
        if len(live) > 1:
            raise SimError(
                "CONFLICT", "several operations match this order: give operationId"
            )
        return (live or matches or [None])[0]

    def start_order(self, data):
        """Mark an order started (what an operator does on the floor)."""
        with self.lock:
            order = self._find_order(
                data.get("externalOrderId"),
                data.get("orderIndex") or 0,
                data.get("operationId"),
            )
            if order is None:
                raise SimError("NOT_FOUND", "no such order")
            if order["state"] in ("canceled", "completed"):
                raise SimError("CONFLICT", f"order is {order['state']}")
            if order["state"] == "created":
                stamp = iso(utcnow())
                order.update(state="started", startedAt=stamp, updatedAt=stamp)
            return copy.deepcopy(order)

    def complete_order(self, data):
        """Record a completion; return it with its eventId."""
        external_id = data.get("externalOrderId")
        index = data.get("orderIndex") or 0
        with self.lock:
            order = self._find_order(external_id, index, data.get("operationId"))
            if order is None and not data.get("operationId"):
                raise SimError("NOT_FOUND", "no such order (give operationId to force)")
            if order is not None and order["state"] == "canceled":
                raise SimError("CONFLICT", "order is canceled")
            operation_id = order["operationId"] if order else data["operationId"]
            operation = self._operation(operation_id)
            at = parse_time(data["at"], "at") if data.get("at") else utcnow()
            started_at = data.get("startedAt") or (order or {}).get("startedAt")
            if started_at:
                started = parse_time(started_at, "startedAt")
            else:
                cycle_ms = data.get("cycleTime") or DEFAULT_CYCLE_MS
                started = at - timedelta(milliseconds=cycle_ms)
            cycle_time = data.get("cycleTime")
            if cycle_time is None:
                cycle_time = int((at - started).total_seconds() * 1000)
            serial_no = next(self._serials)
            produced = (
                data.get("producedSerial")
                or (order or {}).get("reservedSerialNumber")
                or f"SIM-{serial_no:06d}"
            )
            end_state = {
                "producedSerial": produced,
                "at": iso(at),
                "station": named(data.get("station"), "Sim Station 1"),
                "operator": named(data.get("operator"), "Sim Operator"),
            }
            completion = {
                "externalOrderId": external_id,
                "operation": copy.deepcopy(operation),
                "orderIndex": index,
                "at": iso(at),
                "operationSummary": {
                    "startedAt": iso(started),
                    "cycleTime": cycle_time,
                    "consumedSerials": self._consumed(
                        operation, data.get("consumedSerials"), serial_no
                    ),
                    "endState": copy.deepcopy(end_state),
                },
                "endState": end_state,
                "reservedSerialNumber": (order or {}).get("reservedSerialNumber"),
                "secondaryExternalOrderId": (order or {}).get(
                    "secondaryExternalOrderId"
                ),
                "wip": bool(data.get("wip", False)),
                "eventId": str(uuid.uuid4()),
            }
            if order is not None:
                order.update(
                    state="completed",
                    startedAt=order["startedAt"] or iso(started),
                    completedAt=iso(at),
                    updatedAt=iso(utcnow()),
                )
            self.completions.append(completion)
            return copy.deepcopy(completion)

    @staticmethod
    def _consumed(operation, given, serial_no):
        definitions = {
            attr["externalId"]: attr for attr in operation["consumedSerials"]
        }
        if given is None:
            # No serials given: invent one per component the operation consumes.
            return [
                {**attr, "value": f"{attr['externalId']}-SN{serial_no:05d}"}
                for attr in operation["consumedSerials"]
            ]
        result = []
        for item in given:
            known = definitions.get(item.get("externalId"), {})
            result.append(
                {
                    "id": item.get("id") or known.get("id"),
                    "externalId": item.get("externalId"),
                    "value": item.get("value"),
                }
            )
        return result

    def list_completions(self):
        """Every completion recorded so far, oldest first."""
        with self.lock:
            return copy.deepcopy(self.completions)

    # -- webhook subscriptions -------------------------------------------

    def subscribe(self, record):
        """Store a subscription (same id replaces); return the stored record."""
        with self.lock:
            old = self.subscriptions.get(record["subscriptionId"])
            record = {
                **record,
                "createdAt": old["createdAt"] if old else iso(utcnow()),
                "lastEventAt": old["lastEventAt"] if old else None,
            }
            self.subscriptions[record["subscriptionId"]] = record
            return dict(record)

    def unsubscribe(self, subscription_id):
        """Remove a subscription; return whether it existed."""
        with self.lock:
            return self.subscriptions.pop(subscription_id, None) is not None

    def list_subscriptions(self):
        """Every subscription record (the parsed document included)."""
        with self.lock:
            return [dict(record) for record in self.subscriptions.values()]

    def subscriptions_for(self, stream):
        """Subscriptions following a stream; marks their lastEventAt."""
        stamp = iso(utcnow())
        with self.lock:
            matched = []
            for record in self.subscriptions.values():
                if record["stream"] == stream:
                    record["lastEventAt"] = stamp
                    matched.append(dict(record))
            return matched
