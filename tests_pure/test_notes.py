"""Operator notes: the fragment built from Pico's schema, a note read by roles."""

import pytest

from core import features, inbox, notes, webhook
from core.client import PicoClient
from core.errors import PayloadError
from simulator import PicoSimulator


def test_fragment_selects_what_the_type_has():
    """Leaves as they are, objects through their leaves, deeper objects left out."""
    leaf = {"kind": "SCALAR", "name": "String"}
    type_info = {
        "name": "Ticket",
        "fields": [
            {"name": "id", "type": {"kind": "NON_NULL", "ofType": leaf}},
            {"name": "body", "type": leaf},
            {
                "name": "author",
                "type": {
                    "kind": "OBJECT",
                    "name": "User",
                    "fields": [
                        {"name": "name", "type": {"kind": "SCALAR"}},
                        {"name": "team", "type": {"kind": "OBJECT"}},
                    ],
                },
            },
            {
                "name": "attachments",
                "type": {
                    "kind": "LIST",
                    "ofType": {"kind": "OBJECT", "name": "File", "fields": []},
                },
            },
        ],
    }
    assert notes.fragment_from_type(type_info) == (
        "fragment PicoNote on Ticket {\n  id\n  body\n  author { name }\n}\n"
    )
    assert notes.fragment_from_type({"name": "Empty", "fields": []}) == ""
    assert notes.fragment_from_type(None) == ""


def test_read_by_roles():
    note = notes.read(
        {
            "id": "n1",
            "body": "Torque checked twice",
            "author": {"name": "Dana"},
            "serialNumber": "DR-1",
            "createdAt": "2026-11-22T10:00:00+01:00",
            "category": "quality_issue",
        }
    )
    assert (note.text, note.author, note.serial, note.kind) == (
        "Torque checked twice",
        "Dana",
        "DR-1",
        "quality_issue",
    )
    assert str(note.at) == "2026-11-22 09:00:00"
    assert note.external_order_id is None


@pytest.mark.parametrize(
    "data, field",
    [
        ({"serial": "DR-1"}, "text"),
        ({"text": "hello"}, "serial"),
        ({"text": "  ", "serial": "DR-1"}, "text"),
    ],
)
def test_unreadable_notes_say_why(data, field):
    with pytest.raises(PayloadError) as info:
        notes.read(data)
    assert info.value.field == field


def test_note_webhook_body_is_an_inbox_event():
    """The door takes a wrapped note; an edited note (same id) is a new event."""
    body = {"data": {"noteEventsStream": {"id": "n1", "text": "x", "serial": "S"}}}
    first = inbox.intake(webhook.KINDS["note"], body, 1)
    assert first.event_type == inbox.NOTE
    assert first.data == body["data"]["noteEventsStream"]
    edited = {
        "id": "n1",
        "text": "y",
        "serial": "S",
        "updatedAt": "2026-11-22T10:00:00Z",
    }
    assert inbox.intake(inbox.NOTE, edited, 1).key != first.key
    with pytest.raises(PayloadError):
        inbox.intake(inbox.NOTE, {}, 1)


@pytest.mark.parametrize(
    "profile, offered", [("documented", False), ("legacy", False), ("full", True)]
)
def test_detection_finds_notes_only_where_served(profile, offered):
    with (
        PicoSimulator(schema_profile=profile, introspection=True) as sim,
        PicoClient(sim.url, sim.token) as client,
    ):
        detection = client.detect_features()
    assert (features.NOTES in detection.features) is offered
    assert bool(detection.note_fragment) is offered
    if offered:
        assert detection.note_fragment.startswith("fragment PicoNote on NoteEvent {")
        assert "  operator { name }" in detection.note_fragment
