"""Test helper: a webhook fragment wrapped in the subscription Pico runs it in.

The addon sends its webhook fragments to Pico (subscribe mutation); Pico runs each
under a stream of its Subscription type. Wrapped so, a fragment validates against
Pico's schema and runs in the simulator like any document.
"""

import re

from core import documents

STREAM_BY_TYPE = {
    "OperationOrderComplete": documents.COMPLETION_STREAM,
    "Operation": documents.OPERATION_STREAM,
    "SubOperation": documents.SUB_OPERATION_STREAM,
}
_FRAGMENT_HEAD = re.compile(r"^\s*fragment\s+(\w+)\s+on\s+(\w+)")


def stream_field(fragment):
    """The subscription field a fragment's type condition follows."""
    return STREAM_BY_TYPE[_FRAGMENT_HEAD.match(fragment).group(2)]


def stream_subscription(fragment):
    """`subscription { <stream> { ...Fragment } }` followed by the fragment."""
    name = _FRAGMENT_HEAD.match(fragment).group(1)
    return f"subscription {{ {stream_field(fragment)} {{ ...{name} }} }}\n{fragment}"
