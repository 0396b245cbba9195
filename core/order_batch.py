"""Orders out in batches: several `operationOrderSave` fields in one mutation.

GraphQL executes the root fields of a mutation one after the other, in the
order of the document, each to completion before the next (GraphQL spec,
"Normal and Serial Execution"), and names the field of each error in its
`path`. So one request can carry the saves of many units under aliases
(`u0`, `u1`, ...) and each unit learns its own answer. pico-api.md shows only
one save per document: batching is our inference from the spec, so the first
batched document is also the test of it (a refused document executes nothing),
and a Pico that refuses such documents gets one save per request (the backend
says so). docs/DECISIONS_ORDERS.md has the reasoning.

How an answer maps back to its units (`read_answer`):

- an alias with an answer: that save is done (Pico's message, created/updated);
- an alias named by an error's path: that unit is refused (its own error);
- `operationOrderSave` is non-null, so one refusal nulls the whole `data`:
  an alias *before* the first refused one ran to completion before it (serial
  execution): done, its message withheld; an alias *after* it may not have run:
  sent again. A save is idempotent on (externalOrderId, operationId,
  orderIndex), so a second save of a unit that did run creates nothing new
  (Pico answers "updated");
- errors without a path and no data (refused before any field ran: validation,
  variables): an error naming a variable (`$o3`) refuses that unit and the
  others are sent again; any other means the document itself was refused
  (`BatchRefused`), and so does data that leaves some aliases unanswered
  without an error (a server that ran only the first field): every unit goes
  again, one per request.

A failure of the whole request (network, timeout, 5xx, 408, 429, 401) is the
caller's: every unit of the document retries, as one request would.
"""

import json
import re
from dataclasses import dataclass, replace

from .errors import PicoPermanentError

ALIAS_PREFIX = "u"
VARIABLE_PREFIX = "o"
# The documents' input type and answer selection (documents.SAVE_ORDER_MUTATION).
INPUT_TYPE = "OperationOrderSaveInput!"
SELECTION = "{ message }"
# HTTP statuses with which a GraphQL server refuses a document before running
# it (parse, validation, variables; 413 for a body too large for it).
DOCUMENT_REFUSAL_STATUSES = frozenset({400, 413, 422})
_VARIABLE_NAME = re.compile(rf"\$({VARIABLE_PREFIX}\d+)\b")


class BatchRefused(PicoPermanentError):
    """Pico refused the batched document itself; nothing in it ran."""


@dataclass(frozen=True)
class Outcome:
    """What became of one unit's save in a batch: exactly one field is set."""

    # Pico's message ("created"/"updated"), or the note of a withheld answer.
    message: str | None = None
    # Pico's refusal of this unit (a PicoPermanentError).
    error: Exception | None = None
    # Why this unit must be sent again (it may not have run).
    again: str | None = None


def alias(index):
    return f"{ALIAS_PREFIX}{index}"


def variable(index):
    return f"{VARIABLE_PREFIX}{index}"


def save_document(count):
    """The mutation document of `count` aliased saves, one variable each."""
    if count < 1:
        raise ValueError("a batch holds at least one save")
    arguments = ", ".join(f"${variable(i)}: {INPUT_TYPE}" for i in range(count))
    fields = "\n".join(
        f"  {alias(i)}: operationOrderSave(input: ${variable(i)}) {SELECTION}"
        for i in range(count)
    )
    return f"mutation SaveOrders({arguments}) {{\n{fields}\n}}\n"


def save_variables(orders):
    """The variables of `save_document(len(orders))`: one input per unit."""
    return {variable(i): order for i, order in enumerate(orders)}


def _error_text(error):
    if not isinstance(error, dict):
        return str(error), None
    message = str(error.get("message") or "GraphQL error without a message")
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return message, code


def _refusal(error, status):
    message, code = _error_text(error)
    return PicoPermanentError(
        message, status=status, code=code, body=json.dumps(error, default=str)
    )


def redacted(outcome, redact):
    """The outcome with `redact` (str -> str) applied to what Pico said."""
    if outcome.message is not None:
        return replace(outcome, message=redact(outcome.message))
    error = outcome.error
    if error is not None:
        error = PicoPermanentError(
            redact(error.message),
            status=error.status,
            code=error.code,
            body=redact(error.body) if error.body else error.body,
        )
        return replace(outcome, error=error)
    return outcome


def _alias_index(path, count):
    """The unit an error's path names, or None."""
    if not isinstance(path, list) or not path or not isinstance(path[0], str):
        return None
    name = path[0]
    if not name.startswith(ALIAS_PREFIX) or not name[len(ALIAS_PREFIX) :].isdigit():
        return None
    index = int(name[len(ALIAS_PREFIX) :])
    return index if index < count else None


def _variable_indexes(errors, count):
    """{unit: error} for document errors that name one of the variables."""
    named = {}
    for error in errors:
        message, _code = _error_text(error)
        for name in _VARIABLE_NAME.findall(message):
            index = int(name[len(VARIABLE_PREFIX) :])
            if index < count:
                named.setdefault(index, error)
    return named


def read_answer(payload, count, status=200):
    """One Outcome per unit of a batch of `count`, in the batch's order.

    Raise BatchRefused when the document as a whole was refused.
    """
    if not isinstance(payload, dict):
        raise BatchRefused(
            "Pico answered a batch of saves with a body that is not a GraphQL answer",
            status=status,
        )
    errors = payload.get("errors")
    errors = errors if isinstance(errors, list) else []
    data = payload.get("data")
    by_alias, loose = {}, []
    for error in errors:
        index = _alias_index(
            error.get("path") if isinstance(error, dict) else None, count
        )
        if index is None:
            loose.append(error)
        else:
            by_alias.setdefault(index, error)
    if isinstance(data, dict):
        missing = [
            alias(i)
            for i in range(count)
            if i not in by_alias and not isinstance(data.get(alias(i)), dict)
        ]
        if missing:
            # A server that ran only some of the fields (or dropped aliases)
            # does not batch: every unit goes again, one per request.
            raise BatchRefused(
                f"Pico answered {count - len(missing)} of {count} saves of one "
                f"request (no answer for {', '.join(missing[:5])})",
                status=status,
            )
        return [_answered(data, by_alias, i, status) for i in range(count)]
    if by_alias:
        return _nulled(by_alias, count, status)
    named = _variable_indexes(loose, count)
    if named:
        again = "not run: Pico refused the input of another unit in the same request"
        return [
            Outcome(error=_refusal(named[i], status))
            if i in named
            else Outcome(again=again)
            for i in range(count)
        ]
    message, code = (
        _error_text(loose[0])
        if loose
        else (
            "Pico answered a batch of saves without data or errors",
            None,
        )
    )
    raise BatchRefused(message, status=status, code=code)


def _answered(data, by_alias, index, status):
    """The outcome of a unit in an answer that has data."""
    if index in by_alias:
        return Outcome(error=_refusal(by_alias[index], status))
    answer = data[alias(index)]
    if answer.get("message") is None:
        return Outcome(
            error=PicoPermanentError(
                f"Pico's answer to {alias(index)} has no message", status=status
            )
        )
    return Outcome(message=str(answer["message"]))


def _nulled(by_alias, count, status):
    """Outcomes when refusals nulled the whole data (a non-null field failed)."""
    first = min(by_alias)
    outcomes = []
    for i in range(count):
        if i in by_alias:
            outcomes.append(Outcome(error=_refusal(by_alias[i], status)))
        elif i < first:
            outcomes.append(
                Outcome(
                    message=(
                        f"accepted (Pico withheld its answer because {alias(first)} "
                        "was refused in the same request)"
                    )
                )
            )
        else:
            outcomes.append(
                Outcome(
                    again=(
                        f"not confirmed: {alias(first)} was refused earlier in the "
                        "same request; sent again"
                    )
                )
            )
    return outcomes
