"""The control API: JSON endpoints under /_control/ that drive the simulator."""

from .store import SimError

PREFIX = "/_control/"

GET_ROUTES = {
    "orders": lambda sim: sim.orders(),
    "completions": lambda sim: sim.completions(),
    "deliveries": lambda sim: sim.deliveries(),
    "subscriptions": lambda sim: sim.subscriptions(),
    "requests": lambda sim: sim.requests(),
    "operations": lambda sim: sim.operations(),
    "suboperations": lambda sim: sim.sub_operations(),
    "faults": lambda sim: sim.faults(),
    "config": lambda sim: sim.config(),
    "mqtt": lambda sim: sim.mqtt_messages(),
    "workinstructions": lambda sim: sim.work_instruction_state(),
}


def _reset(sim, body):
    sim.reset(body.get("fixture"))
    return {"reset": True}


def _start(sim, body):
    return sim.start_order(
        body.get("externalOrderId"),
        body.get("orderIndex") or 0,
        body.get("operationId"),
    )


def _faults(sim, body):
    changes = dict(body)
    clear = bool(changes.pop("clear", False))
    return sim.set_faults(clear=clear, **changes)


POST_ROUTES = {
    "reset": _reset,
    "operations": lambda sim, body: sim.deploy_operation(body),
    "suboperations": lambda sim, body: sim.add_sub_operation(
        body.get("parentId"), body.get("subId"), body.get("subGroup")
    ),
    "start": _start,
    "complete": lambda sim, body: sim.complete(body),
    "note": lambda sim, body: sim.note(body),
    "publish": lambda sim, body: sim.publish(body.get("type"), body.get("payload")),
    "faults": _faults,
    "config": lambda sim, body: sim.configure(**body),
    "deploy": lambda sim, body: sim.deploy_product(body.get("productId")),
}


def handle(sim, method, path, body):
    """Serve one control request; return (HTTP status, JSON payload)."""
    name = path[len(PREFIX) :].strip("/")
    routes = GET_ROUTES if method == "GET" else POST_ROUTES
    if name not in GET_ROUTES and name not in POST_ROUTES:
        return 404, {"error": f"no control endpoint {path}", "code": "NOT_FOUND"}
    if name not in routes:
        return 405, {"error": f"{method} not allowed on {path}", "code": "BAD_METHOD"}
    try:
        if method == "GET":
            return 200, routes[name](sim)
        if not isinstance(body, dict):
            raise SimError("BAD_USER_INPUT", "the body must be a JSON object")
        return 200, routes[name](sim, body)
    except SimError as exc:
        return exc.status, {"error": exc.message, **exc.extensions}
