"""The GraphQL side: schema from schema.graphql, root resolvers, webhook fragments."""

from urllib.parse import urlsplit

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.utilities import get_operation_ast

from . import profiles
from .store import SimError

# decision: error code of a document that fails validation (Apollo's spelling;
# Pico's codes are not documented).
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
NO_INTROSPECTION_RULES = (*specified_rules, NoSchemaIntrospectionCustomRule)

# The fragment's type condition picks the stream a webhook follows.
STREAMS = {
    "OperationOrderComplete": "operationOrderCompletesStream",
    "Operation": "operationsStream",
    "SubOperation": "subOperationsStream",
    # Served by the `full` profile only; elsewhere a note fragment fails validation.
    "NoteEvent": "noteEventsStream",
}


def load_schema(profile=profiles.DEFAULT_PROFILE, extensions=()):
    """Build the executable schema of a profile (see profiles.py), plus extension
    SDL texts (the alpha Work Instructions API)."""
    schema = profiles.build_profile_schema(profile, extensions)
    # SDL cannot say how to pick a union member; SubscriptionHandle is the only one.
    union = schema.get_type("webhookSubscribe_response")
    union.resolve_type = lambda *_: "SubscriptionHandle"
    return schema


def error_body(message, code):
    """A GraphQL-style error envelope for errors raised outside execution."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _call(function, *args):
    """Run a store call, turning SimError into a GraphQL error with a code."""
    try:
        return function(*args)
    except SimError as exc:
        raise GraphQLError(exc.message, extensions=exc.extensions) from exc


def compile_fragment(schema, fragment):
    """Check a webhook responseFragment; return (stream field, subscription doc)."""
    try:
        document = parse(fragment)
    except GraphQLError as exc:
        raise SimError("BAD_USER_INPUT", f"responseFragment: {exc.message}") from exc
    definitions = document.definitions
    if not definitions or not all(
        isinstance(node, FragmentDefinitionNode) for node in definitions
    ):
        raise SimError(
            "BAD_USER_INPUT", "responseFragment must hold fragment definitions only"
        )
    main = definitions[0]
    type_name = main.type_condition.name.value
    stream = STREAMS.get(type_name)
    if stream is None:
        raise SimError(
            "BAD_USER_INPUT",
            f"responseFragment must be on one of {', '.join(STREAMS)}, not {type_name}",
        )
    # Wrap it in the subscription Pico would run, so validation is the real one.
    wrapped = parse(
        f"subscription PicoWebhook {{ {stream} {{ ...{main.name.value} }} }}\n"
        + fragment
    )
    errors = validate(schema, wrapped)
    if errors:
        raise SimError(
            "BAD_USER_INPUT",
            "responseFragment: " + " ".join(error.message for error in errors),
        )
    return stream, wrapped


def project(schema, document, stream, event):
    """Return the event as the subscription document selects it."""
    result = execute(schema, document, root_value={stream: event})
    if result.errors:
        raise ValueError("; ".join(error.message for error in result.errors))
    return result.data[stream]


class Resolvers:
    """Root field resolvers; root_value() maps the GraphQL names onto them."""

    def __init__(self, simulator):
        self.sim = simulator

    def root_value(self):
        """The root value: graphql-core calls a callable entry as a resolver."""
        return {
            "operations": self.operations,
            "subOperations": self.sub_operations,
            "operationOrderCompletes": self.completions,
            "webhookSubscriptions": self.subscriptions,
            "operationOrderSave": self.save,
            "operationOrderCancel": self.cancel,
            "webhookSubscribe": self.subscribe,
            "webhookUnsubscribe": self.unsubscribe,
        }

    def operations(self, info):
        return self.sim.store.list_operations()

    def sub_operations(self, info):
        return self.sim.store.list_sub_operations()

    def completions(self, info):
        return self.sim.store.list_completions()

    def subscriptions(self, info):
        return self.sim.store.list_subscriptions()

    # Arguments arrive under their GraphQL names ("input", "subscriptionID").
    def save(self, info, **args):
        return {"message": _call(self.sim.store.save_order, args["input"])}

    def cancel(self, info, **args):
        return {"message": _call(self.sim.store.cancel_order, args["input"])}

    def subscribe(self, info, **args):
        return _call(self._subscribe, args["input"])

    def unsubscribe(self, info, **args):
        return self.sim.store.unsubscribe(args["subscriptionID"])

    def _subscribe(self, data):
        url = data["webhookUrl"]
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise SimError("BAD_USER_INPUT", "webhookUrl must be an http(s) URL")
        headers = data.get("webhookHeaders") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in headers.items()
        ):
            raise SimError(
                "BAD_USER_INPUT", "webhookHeaders must be an object of strings"
            )
        stream, document = compile_fragment(self.sim.schema, data["responseFragment"])
        return self.sim.store.subscribe(
            {
                "subscriptionId": data["subscriptionID"],
                "responseFragment": data["responseFragment"],
                "webhookUrl": url,
                "webhookHeaders": headers,
                "stream": stream,
                "document": document,
            }
        )


def _validation_errors(errors):
    """The formatted validation errors, each with the validation code."""
    formatted = []
    for error in errors:
        entry = error.formatted
        entry["extensions"] = {
            **(entry.get("extensions") or {}),
            "code": VALIDATION_FAILED,
        }
        formatted.append(entry)
    return {"errors": formatted}


def run_request(schema, root, body, introspection=True, max_mutation_fields=0):
    """Run one GraphQL-over-HTTP request body; return (HTTP status, JSON).

    With introspection off, a document asking for __schema or __type fails
    validation, as on servers that disable introspection in production. With
    max_mutation_fields > 0, a mutation with more root fields is refused before
    it runs (a server that limits batching); 0 is GraphQL's own rule: no limit.
    """
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, error_body("body must be a JSON object with a query", "BAD_REQUEST")
    variables = body.get("variables")
    operation_name = body.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return 400, error_body("variables must be an object", "BAD_REQUEST")
    if operation_name is not None and not isinstance(operation_name, str):
        return 400, error_body("operationName must be a string", "BAD_REQUEST")
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return 400, {"errors": [exc.formatted]}
    rules = None if introspection else NO_INTROSPECTION_RULES
    errors = validate(schema, document, rules)
    if errors:
        return 400, _validation_errors(errors)
    operation = get_operation_ast(document, operation_name)
    if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
        return 400, error_body(
            "the simulator delivers subscriptions by webhook only (webhookSubscribe)",
            "BAD_REQUEST",
        )
    if (
        max_mutation_fields
        and operation is not None
        and operation.operation == OperationType.MUTATION
        and len(operation.selection_set.selections) > max_mutation_fields
    ):
        return 400, error_body(
            f"at most {max_mutation_fields} field(s) per mutation",
            VALIDATION_FAILED,
        )
    result = execute(
        schema,
        document,
        root_value=root,
        variable_values=variables,
        operation_name=operation_name,
    )
    # Errors without a path come before execution (variables, operation name).
    if result.data is None and all(error.path is None for error in result.errors):
        return 400, {"errors": [error.formatted for error in result.errors]}
    return 200, result.formatted
