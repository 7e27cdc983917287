"""Client events (``POST /v1/events``): a batch of telemetry about the caller's sessions,
images and device, checked against what the caller sees, stored in the audit log, and
``upload_complete`` handed to the images' own handling."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import actor_of_shape, visibility_shape
from accounts.actors import Actor
from accounts.models import Device
from events_app.models import Event
from events_app.services import actor_fields, events_insert
from images_app.selectors import images_visible_to
from images_app.services import images_upload_complete
from imaging.api.errors import ApplicationError
from imaging.db import PreparedQuery, id_list_text, in_id_list
from sessions_app.selectors import sessions_visible_to


def events_ingest(
    *, actor: Actor, events: list[dict[str, Any]], request_id: str | None = None
) -> int:
    """Store a validated batch of client events, all or nothing, and apply their side effects.

    Every entity must be visible to the caller: a device may post about itself and the
    sessions (and their images) it created; a user about sessions and images at their sites
    (an admin: the whole org) and the org's devices. Anything else — another org's id or a
    missing one — is a 404 naming the first offending index. One query per entity type.

    ``upload_complete`` on an image starts its processing (once; see
    ``image_upload_complete``). Other client types are recorded as telemetry only: a
    client's ``published`` event does not publish anything.
    """
    missing = _invisible_indexes(actor=actor, events=events)
    if missing:
        details = {str(i): {"entity_id": ["Not found."]} for i in missing}
        raise ApplicationError(
            "NOT_FOUND",
            f"Event {missing[0]}: {events[missing[0]]['entity_type']} not found.",
            status_code=404,
            details={"events": details} if len(events) > 1 else details[str(missing[0])],
        )
    who = actor_fields(actor)
    uploaded_image_ids = list(
        dict.fromkeys(
            e["entity_id"]
            for e in events
            if e["entity_type"] == Event.EntityType.IMAGE
            and e["type"] == Event.Type.UPLOAD_COMPLETE
        )
    )
    with transaction.atomic():
        events_insert(
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": actor.org_id,
                    "entity_type": e["entity_type"],
                    "entity_id": e["entity_id"],
                    "type": e["type"],
                    "message": e.get("message", ""),
                    "meta": e.get("meta") or {},
                    "request_id": request_id or "",
                    "created_at": timezone.now(),  # the model's default, row by row
                    **who,
                }
                for e in events
            ]
        )
        images_upload_complete(image_ids=uploaded_image_ids)
    return len(events)


@functools.cache
def _visible_entities(entity_type: str) -> PreparedQuery:
    """Which of a batch's ids of ``entity_type`` the caller sees, compiled once per caller
    shape (``ids``: ``imaging.db.id_list_text``, one parameter however many)."""
    visible_to = {
        Event.EntityType.SESSION: sessions_visible_to,
        Event.EntityType.IMAGE: images_visible_to,
        Event.EntityType.DEVICE: _devices_visible_to,
    }[entity_type]

    def build(shape: str, *, org_id: uuid.UUID, principal_id: uuid.UUID, ids: str):
        actor = actor_of_shape(shape, org_id=org_id, principal_id=principal_id)
        return visible_to(actor=actor).filter(pk__in=in_id_list(ids)).values("pk")

    return PreparedQuery(build)


def _invisible_indexes(*, actor: Actor, events: list[dict[str, Any]]) -> list[int]:
    wanted: dict[str, set[uuid.UUID]] = {t.value: set() for t in Event.CLIENT_ENTITY_TYPES}
    for e in events:
        wanted[e["entity_type"]].add(e["entity_id"])
    visible: set[tuple[str, uuid.UUID]] = set()
    for entity_type, ids in wanted.items():
        if not ids:
            continue
        if entity_type == Event.EntityType.DEVICE and actor.is_device:
            found = {actor.id} & ids  # a device only speaks for itself; no query needed
        else:
            rows = _visible_entities(entity_type).rows(
                visibility_shape(actor),
                org_id=actor.org_id,
                principal_id=actor.id,
                ids=id_list_text(ids),
            )
            found = {row["pk"] for row in rows}
        visible.update((entity_type, pk) for pk in found)
    return [i for i, e in enumerate(events) if (e["entity_type"], e["entity_id"]) not in visible]


def _devices_visible_to(*, actor: Actor):
    devices = Device.objects.filter(org_id=actor.org_id)
    return devices.filter(pk=actor.id) if actor.is_device else devices
