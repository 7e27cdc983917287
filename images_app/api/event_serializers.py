"""Shapes of ``POST /events``: one event, or ``{"events": [...]}``."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events_app.models import Event
from imaging.api.fields import UUID_PATTERN, StrictCharField, StrictUUIDField

MAX_BATCH = 500
MAX_MESSAGE_CHARS = 2000
MAX_META_BYTES = 4096
MAX_META_DEPTH = 4


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, walked without recursion (a scalar is 0)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            deepest = max(deepest, depth + 1)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
            deepest = max(deepest, depth + 1)
    return deepest


def _json_value_schema(containers: int) -> dict[str, Any]:
    """Any JSON value with at most ``containers`` levels of arrays/objects inside it."""
    scalars: list[dict[str, Any]] = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
    if containers > 0:
        inner = _json_value_schema(containers - 1)
        scalars += [
            {"type": "array", "items": inner},
            {"type": "object", "additionalProperties": inner},
        ]
    return {"nullable": True, "anyOf": scalars}


@extend_schema_field(
    {
        "type": "object",
        "description": f"Free-form details: at most {MAX_META_BYTES} bytes as JSON, nested at "
        f"most {MAX_META_DEPTH} levels (this object included).",
        "additionalProperties": _json_value_schema(MAX_META_DEPTH - 1),
    },
    component_name="EventMeta",  # one component for both event shapes
)
class MetaField(serializers.DictField):
    pass


# Named in the schema as EventTypeEnum (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
CLIENT_EVENT_TYPE_CHOICES = [(t.value, t.label) for t in Event.CLIENT_TYPES]


class EventIn(serializers.Serializer):
    """One event. Other keys are ignored (clients may send more than we store)."""

    entity_type = serializers.ChoiceField(
        choices=[(t.value, t.label) for t in Event.CLIENT_ENTITY_TYPES]
    )
    entity_id = StrictUUIDField()
    type = serializers.ChoiceField(choices=CLIENT_EVENT_TYPE_CHOICES)
    message = StrictCharField(max_length=MAX_MESSAGE_CHARS, required=False, allow_blank=True)
    meta = MetaField(required=False)

    def validate_meta(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_META_BYTES:
            raise serializers.ValidationError(f"meta is over {MAX_META_BYTES} bytes of JSON.")
        if _depth(value) > MAX_META_DEPTH:
            raise serializers.ValidationError(f"meta is nested over {MAX_META_DEPTH} levels.")
        return value


class EventSingleIn(EventIn):
    """A body of one event: the event's own keys, without ``events`` (that makes a batch).

    Documentation of the shape; ``events_validate`` checks it.
    """

    schema_rules = {"not": {"required": ["events"]}}


class EventBatchIn(serializers.Serializer):
    """A body of up to 500 events and nothing else (the whole batch is refused otherwise).

    Documentation of the shape; ``events_validate`` checks it item by item.
    """

    schema_rules = {"additionalProperties": False}

    events = serializers.ListField(child=EventIn(), min_length=1, max_length=MAX_BATCH)


class EventsAccepted(serializers.Serializer):
    accepted = serializers.IntegerField()


_ENTITY_TYPES = frozenset(t.value for t in Event.CLIENT_ENTITY_TYPES)
_CLIENT_TYPES = frozenset(t.value for t in Event.CLIENT_TYPES)
# What DRF's CharField refuses in any string: NUL and lone surrogates.
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _meta_fits(meta: dict[str, Any]) -> bool:
    return (
        len(json.dumps(meta, ensure_ascii=False).encode()) <= MAX_META_BYTES
        and _depth(meta) <= MAX_META_DEPTH
    )


def _plainly_valid(item: dict[str, Any]) -> dict[str, Any] | None:
    """What ``EventIn`` returns for an event it accepts, checked without building a
    serializer (a batch of 100 through ``EventIn`` costs about 15 ms of CPU here); None
    when anything is off, and ``EventIn`` then says what, exactly as before."""
    entity_type, entity_id, type_ = item.get("entity_type"), item.get("entity_id"), item.get("type")
    if not (
        isinstance(entity_type, str)
        and entity_type in _ENTITY_TYPES
        and isinstance(type_, str)
        and type_ in _CLIENT_TYPES
        and isinstance(entity_id, str)
        and UUID_PATTERN.fullmatch(entity_id)
    ):
        return None
    event: dict[str, Any] = {
        "entity_type": entity_type,
        "entity_id": uuid.UUID(entity_id),
        "type": type_,
    }
    if "message" in item:
        message = item["message"]
        if (
            not isinstance(message, str)
            or len(message) > MAX_MESSAGE_CHARS
            or _REFUSED_CHARACTERS.search(message)
        ):
            return None
        event["message"] = message
    if "meta" in item:
        meta = item["meta"]
        if not isinstance(meta, dict) or not _meta_fits(meta):
            return None
        event["meta"] = meta
    return event


def events_validate(data: Any) -> list[dict[str, Any]]:
    """Validate either shape, all or nothing; a batch's errors are keyed by item index.

    Unknown keys inside an event are ignored (clients may send more than we store).
    """
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    if "events" not in data:
        single = EventIn(data=data)
        single.is_valid(raise_exception=True)
        return [single.validated_data]
    if set(data) != {"events"}:
        raise serializers.ValidationError(
            {"non_field_errors": ['Send one event or {"events": [...]}, not both.']}
        )
    items = data["events"]
    if not isinstance(items, list):
        raise serializers.ValidationError({"events": ["Expected a list of events."]})
    if not items:
        raise serializers.ValidationError({"events": ["The batch is empty."]})
    if len(items) > MAX_BATCH:
        raise serializers.ValidationError(
            {"events": [f"At most {MAX_BATCH} events per batch; got {len(items)}."]}
        )
    validated: list[dict[str, Any]] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = {"non_field_errors": ["Expected a JSON object."]}
            continue
        event = _plainly_valid(item)
        if event is not None:
            validated.append(event)
            continue
        serializer = EventIn(data=item)
        if serializer.is_valid():
            validated.append(serializer.validated_data)
        else:
            errors[str(index)] = serializer.errors
    if errors:
        raise serializers.ValidationError({"events": errors})
    return validated
