"""Operator notes (Pico's `noteEventsStream`): detect the shape, read a note.

pico-api.md documents the stream (operator notes, quality issues, tickets) but not
its type nor its fields. So nothing here assumes them: the type and its fields are
read from Pico's schema (introspection) before a webhook is registered, the
fragment selects what Pico says exists, and a received note is read by the first
field name of each role found in it (see docs/DECISIONS_ASBUILT.md). A note
whose unit cannot be told is kept, visible, as a failed event.
"""

from dataclasses import dataclass

from .clock import parse_odoo_datetime
from .errors import PayloadError

NOTE_STREAM = "noteEventsStream"
FRAGMENT_NAME = "PicoNote"

# Introspection of the stream's own type, once its name is known.
NOTE_TYPE_QUERY = """\
query PicoNoteType($name: String!) {
  note: __type(name: $name) {
    name
    fields { name type { kind name fields { name type { kind ofType { kind } } }
      ofType { kind name fields { name type { kind ofType { kind } } }
        ofType { kind name fields { name type { kind ofType { kind } } } } } } }
  }
}
"""

# Roles of a note's fields: the first name present wins. Names are guesses where
# the docs are silent, widened to the usual GraphQL spellings; an object field is
# read through its `name`, `value` or `id`.
TEXT_FIELDS = ("text", "note", "body", "message", "content", "description", "title")
KIND_FIELDS = ("kind", "type", "category", "noteType", "eventType")
AUTHOR_FIELDS = ("operator", "author", "createdBy", "user", "operatorName")
STATION_FIELDS = ("station", "stationName", "workstation")
TIME_FIELDS = ("createdAt", "at", "updatedAt", "timestamp", "time")
SERIAL_FIELDS = ("serial", "serialNumber", "producedSerial", "unitSerial")
ORDER_FIELDS = ("externalOrderId",)
INDEX_FIELDS = ("orderIndex",)
ID_FIELDS = ("id", "eventId", "noteId")
LEAF_KINDS = ("SCALAR", "ENUM")


def _unwrap_kind(type_ref):
    """(kind, named type dict) of a field type, through NON_NULL and LIST."""
    while type_ref and type_ref.get("kind") in ("NON_NULL", "LIST"):
        type_ref = type_ref.get("ofType") or {}
    return (type_ref or {}).get("kind"), type_ref or {}


def _leaf(type_ref):
    return _unwrap_kind(type_ref)[0] in LEAF_KINDS


def stream_type(subscription_fields):
    """The note type's name from the Subscription type's introspected fields."""
    for field in subscription_fields or ():
        if isinstance(field, dict) and field.get("name") == NOTE_STREAM:
            return _unwrap_kind(field.get("type"))[1].get("name")
    return None


def fragment_from_type(type_info):
    """The webhook fragment selecting what Pico's note type has; "" if unusable.

    Leaf fields are selected as they are; an object field by its leaf subfields
    (an operator { name }, a station { id name }); deeper objects are left out.
    """
    if not isinstance(type_info, dict) or not type_info.get("name"):
        return ""
    lines = []
    for field in type_info.get("fields") or ():
        if not isinstance(field, dict) or not field.get("name"):
            continue
        kind, named = _unwrap_kind(field.get("type"))
        if kind in LEAF_KINDS:
            lines.append(f"  {field['name']}")
        elif kind in ("OBJECT", "INTERFACE"):
            leaves = [
                sub["name"]
                for sub in named.get("fields") or ()
                if isinstance(sub, dict) and sub.get("name") and _leaf(sub.get("type"))
            ]
            if leaves:
                lines.append(f"  {field['name']} {{ {' '.join(leaves)} }}")
    if not lines:
        return ""
    return (
        f"fragment {FRAGMENT_NAME} on {type_info['name']} {{\n"
        + "\n".join(lines)
        + "\n}\n"
    )


def detect_fragment(client, subscription_fields):
    """Ask Pico for the note type's fields; return its fragment ("" when none)."""
    name = stream_type(subscription_fields)
    if not name:
        return ""
    data = client.execute(NOTE_TYPE_QUERY, {"name": name})
    return fragment_from_type((data or {}).get("note"))


@dataclass(frozen=True)
class Note:
    """A note as the addon reads it; `raw` keeps every field Pico sent."""

    text: str
    kind: str | None
    author: str | None
    station: str | None
    at: object  # naive UTC datetime or None
    serial: str | None
    external_order_id: str | None
    order_index: int | None
    note_id: str | None
    raw: dict


def _first(data, names):
    for name in names:
        value = data.get(name)
        if isinstance(value, dict):
            value = value.get("name") or value.get("value") or value.get("id")
        if value not in (None, ""):
            return value
    return None


def _text(value):
    return None if value is None else str(value).strip() or None


def read(data):
    """The Note of one received note object; raise PayloadError when it says
    nothing (no text of any known name) or names no unit at all."""
    if not isinstance(data, dict):
        raise PayloadError("", "a note is a JSON object")
    text = _text(_first(data, TEXT_FIELDS))
    if not text:
        raise PayloadError(
            "text",
            "no note text in any of the fields "
            + ", ".join(TEXT_FIELDS)
            + f"; fields received: {', '.join(sorted(data)) or 'none'}",
        )
    serial = _text(_first(data, SERIAL_FIELDS))
    order = _text(_first(data, ORDER_FIELDS))
    index = data.get(INDEX_FIELDS[0])
    if not isinstance(index, int) or isinstance(index, bool):
        index = None
    if not serial and not order:
        raise PayloadError(
            "serial",
            "the note names no unit (none of "
            + ", ".join(SERIAL_FIELDS + ORDER_FIELDS)
            + ")",
        )
    at = None
    for name in TIME_FIELDS:
        if data.get(name):
            try:
                at = parse_odoo_datetime(data[name], name)
            except PayloadError:
                continue
            break
    return Note(
        text=text,
        kind=_text(_first(data, KIND_FIELDS)),
        author=_text(_first(data, AUTHOR_FIELDS)),
        station=_text(_first(data, STATION_FIELDS)),
        at=at,
        serial=serial,
        external_order_id=order,
        order_index=index,
        note_id=_text(_first(data, ID_FIELDS)),
        raw=data,
    )
