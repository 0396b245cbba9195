"""Every GraphQL document the addon sends to Pico."""

import re

from . import features

# Stream fields of Pico's Subscription type; a webhook fragment's type condition picks
# one, and a wrapped webhook body is keyed by it.
COMPLETION_STREAM = "operationOrderCompletesStream"
OPERATION_STREAM = "operationsStream"
SUB_OPERATION_STREAM = "subOperationsStream"

STREAM_BY_TYPE = {
    "OperationOrderComplete": COMPLETION_STREAM,
    "Operation": OPERATION_STREAM,
    "SubOperation": SUB_OPERATION_STREAM,
}

COMPLETION_FRAGMENT_NAME = features.COMPLETION_FRAGMENT_NAME
OPERATION_FRAGMENT_NAME = features.OPERATION_FRAGMENT_NAME

# The documents of the documented minimum (no optional feature). The Odoo side
# builds them from the features it detected on its Pico (core.features).
COMPLETION_FRAGMENT = features.completion_fragment(features.MINIMUM)
OPERATION_FRAGMENT = features.operation_fragment(features.MINIMUM)
OPERATIONS_QUERY = features.operations_query(features.MINIMUM)
OPERATION_ORDER_COMPLETES_QUERY = features.completions_query(features.MINIMUM)
INTROSPECTION_QUERY = features.INTROSPECTION_QUERY

SUB_OPERATIONS_QUERY = """\
query SubOperations {
  subOperations { parentId subId subGroup updatedAt }
}
"""

WEBHOOK_SUBSCRIPTIONS_QUERY = """\
query WebhookSubscriptions {
  webhookSubscriptions {
    subscriptionId
    responseFragment
    webhookUrl
    createdAt
    lastEventAt
  }
}
"""

# Only `message` is documented on the order mutations; asking for more would break
# against the real Pico if its wrapper type differs from the simulator's.
SAVE_ORDER_MUTATION = """\
mutation Save($input: OperationOrderSaveInput!) {
  operationOrderSave(input: $input) { message }
}
"""

CANCEL_ORDER_MUTATION = """\
mutation Cancel($input: OperationOrderCancelInput!) {
  operationOrderCancel(input: $input) { message }
}
"""

SUBSCRIBE_WEBHOOK_MUTATION = features.subscribe_mutation(features.MINIMUM)

# assumed, not documented: the unsubscribe mutation's name and signature
# (pico-api.md 3.3's placeholder).
UNSUBSCRIBE_WEBHOOK_MUTATION = """\
mutation Unsubscribe($subscriptionID: String!) {
  webhookUnsubscribe(subscriptionID: $subscriptionID)
}
"""

ALL_DOCUMENTS = {
    "operations": OPERATIONS_QUERY,
    "sub_operations": SUB_OPERATIONS_QUERY,
    "operation_order_completes": OPERATION_ORDER_COMPLETES_QUERY,
    "webhook_subscriptions": WEBHOOK_SUBSCRIPTIONS_QUERY,
    "save_order": SAVE_ORDER_MUTATION,
    "cancel_order": CANCEL_ORDER_MUTATION,
    "subscribe_webhook": SUBSCRIBE_WEBHOOK_MUTATION,
    "unsubscribe_webhook": UNSUBSCRIBE_WEBHOOK_MUTATION,
    "introspection": INTROSPECTION_QUERY,
}

FRAGMENTS = {
    COMPLETION_STREAM: COMPLETION_FRAGMENT,
    OPERATION_STREAM: OPERATION_FRAGMENT,
}

_FRAGMENT_HEAD = re.compile(r"^\s*fragment\s+(\w+)\s+on\s+(\w+)")


def fragment_head(fragment):
    """Return (fragment name, type condition) of a fragment document."""
    match = _FRAGMENT_HEAD.match(fragment)
    if not match:
        raise ValueError("not a GraphQL fragment: expected 'fragment <Name> on <Type>'")
    return match.group(1), match.group(2)


def stream_field(fragment):
    """Return the subscription field a fragment's type condition follows."""
    type_name = fragment_head(fragment)[1]
    if type_name not in STREAM_BY_TYPE:
        raise ValueError(f"no Pico stream delivers type {type_name!r}")
    return STREAM_BY_TYPE[type_name]


def stream_subscription(fragment):
    """Return `subscription { <stream> { ...Fragment } }` followed by the fragment."""
    name = fragment_head(fragment)[0]
    return f"subscription {{ {stream_field(fragment)} {{ ...{name} }} }}\n{fragment}"
