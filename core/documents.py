"""Every GraphQL document the addon sends to Pico."""

import re

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

COMPLETION_FRAGMENT_NAME = "PicoCompletion"
OPERATION_FRAGMENT_NAME = "PicoOperation"

# Registered as the webhook's responseFragment, so it must name every field the
# completion processor reads: Pico only sends what the fragment asks for.
COMPLETION_FRAGMENT = """\
fragment PicoCompletion on OperationOrderComplete {
  externalOrderId
  orderIndex
  at
  reservedSerialNumber
  secondaryExternalOrderId
  wip
  operation { id externalId externalRevision name }
  operationSummary {
    startedAt
    cycleTime
    consumedSerials { id externalId value label }
  }
  endState {
    producedSerial
    at
    station { name }
    operator { name }
  }
}
"""

OPERATION_FRAGMENT = """\
fragment PicoOperation on Operation {
  id
  externalId
  externalRevision
  externalCodes
  name
  templateID
  variantName
  consumedSerials { id externalId label }
  updatedAt
  archivedAt
}
"""

OPERATIONS_QUERY = (
    """\
query Operations {
  operations { ...PicoOperation }
}
"""
    + OPERATION_FRAGMENT
)

SUB_OPERATIONS_QUERY = """\
query SubOperations {
  subOperations { parentId subId subGroup updatedAt }
}
"""

OPERATION_ORDER_COMPLETES_QUERY = (
    """\
query OperationOrderCompletes {
  operationOrderCompletes { ...PicoCompletion }
}
"""
    + COMPLETION_FRAGMENT
)

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

SUBSCRIBE_WEBHOOK_MUTATION = """\
mutation Subscribe($input: SubscribeRequest_Input!) {
  webhookSubscribe(input: $input) {
    ... on SubscriptionHandle {
      subscriptionId
      responseFragment
      webhookUrl
      createdAt
      lastEventAt
    }
  }
}
"""

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
