"""Every GraphQL document the addon sends to Pico."""

from . import features

# Stream fields of Pico's Subscription type; a webhook fragment's type condition picks
# one, and a wrapped webhook body is keyed by it.
COMPLETION_STREAM = "operationOrderCompletesStream"
OPERATION_STREAM = "operationsStream"
SUB_OPERATION_STREAM = "subOperationsStream"

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
