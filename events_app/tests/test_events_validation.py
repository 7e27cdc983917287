"""The batch fast path of ``events_validate`` accepts exactly what ``EventIn`` accepts."""

from __future__ import annotations

import uuid

import pytest
from rest_framework import serializers

from events_app.models import Event
from images_app.api.event_serializers import (
    MAX_MESSAGE_CHARS,
    EventIn,
    _plainly_valid,
    events_validate,
)

ID = "5F0C2A8E-3D4B-4C41-9A53-0D2F3C6B7A10"

VALID = [
    *(
        {"entity_type": kind, "entity_id": ID, "type": type_}
        for kind in Event.CLIENT_ENTITY_TYPES
        for type_ in Event.CLIENT_TYPES
    ),
    {"entity_type": "image", "entity_id": ID.lower(), "type": "upload_failed", "message": ""},
    {
        "entity_type": "image",
        "entity_id": ID,
        "type": "upload_failed",
        "message": "PUT timed out ✈ " * 10,
        "meta": {"attempt": 2, "net": {"kind": "wifi", "rssi": [-61, None, 1.5, True]}},
        "ignored": {"extra": "keys"},
    },
    {"entity_type": "session", "entity_id": ID, "type": "qc_failed", "meta": {}},
    {"entity_type": "device", "entity_id": ID, "type": "upload_started", "message": "x" * 2000},
]

NOT_PLAIN = [
    {"entity_type": "image", "entity_id": ID},
    {"entity_type": "image", "entity_id": ID, "type": "processed"},
    {"entity_type": "vehicle", "entity_id": ID, "type": "upload_started"},
    {"entity_type": ["image"], "entity_id": ID, "type": "upload_started"},
    {"entity_type": "image", "entity_id": ID.replace("-", ""), "type": "upload_started"},
    {"entity_type": "image", "entity_id": f"{{{ID}}}", "type": "upload_started"},
    {"entity_type": "image", "entity_id": 5, "type": "upload_started"},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "message": None},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "message": 5},
    {
        "entity_type": "image",
        "entity_id": ID,
        "type": "upload_started",
        "message": "x" * (MAX_MESSAGE_CHARS + 1),
    },
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "message": "a\x00b"},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "message": "\ud800"},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "meta": None},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "meta": [1]},
    {"entity_type": "image", "entity_id": ID, "type": "upload_started", "meta": {"a": "x" * 5000}},
    {
        "entity_type": "image",
        "entity_id": ID,
        "type": "upload_started",
        "meta": {"a": {"b": {"c": {"d": {"e": 1}}}}},
    },
]


@pytest.mark.parametrize("item", VALID)
def test_a_valid_event_reads_as_the_serializer_reads_it(item):
    serializer = EventIn(data=item)
    assert serializer.is_valid(), serializer.errors

    assert _plainly_valid(item) == serializer.validated_data
    assert events_validate({"events": [item, item]}) == [serializer.validated_data] * 2
    assert isinstance(_plainly_valid(item)["entity_id"], uuid.UUID)


@pytest.mark.parametrize("item", NOT_PLAIN)
def test_anything_else_is_left_to_the_serializer_and_refused_as_before(item):
    assert _plainly_valid(item) is None
    serializer = EventIn(data=item)
    assert not serializer.is_valid()

    with pytest.raises(serializers.ValidationError) as refused:
        events_validate({"events": [VALID[0], item]})
    assert refused.value.detail == {"events": {"1": serializer.errors}}
