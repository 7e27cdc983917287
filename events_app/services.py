"""Recording events. Services call ``event_record`` explicitly, inside their transaction."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction

from events_app.models import Event
from imaging.api.errors import ApplicationError

if TYPE_CHECKING:
    from imaging.api.authentication import Actor


def event_record(
    *,
    org_id: uuid.UUID,
    actor_type: str,
    actor_id: uuid.UUID | None,
    entity_type: str,
    entity_id: uuid.UUID,
    type: str,
    message: str = "",
    meta: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Event:
    return Event.objects.create(
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        entity_type=entity_type,
        entity_id=entity_id,
        type=type,
        message=message,
        meta=meta or {},
        request_id=request_id or "",
    )


def actor_fields(actor: Any) -> dict[str, Any]:
    """``actor_type``/``actor_id`` for an API Actor, a User, a Device or None (the system)."""
    from accounts.models import Device, User

    if actor is None:
        return {"actor_type": Event.ActorType.SYSTEM, "actor_id": None}
    if isinstance(actor, User):
        return {"actor_type": Event.ActorType.USER, "actor_id": actor.id}
    if isinstance(actor, Device):
        return {"actor_type": Event.ActorType.DEVICE, "actor_id": actor.id}
    return {"actor_type": actor.kind, "actor_id": actor.id}


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
    from images_app.services import images_upload_complete

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
        Event.objects.bulk_create(
            Event(
                org_id=actor.org_id,
                entity_type=e["entity_type"],
                entity_id=e["entity_id"],
                type=e["type"],
                message=e.get("message", ""),
                meta=e.get("meta") or {},
                request_id=request_id or "",
                **who,
            )
            for e in events
        )
        images_upload_complete(image_ids=uploaded_image_ids)
    return len(events)


def _invisible_indexes(*, actor: Actor, events: list[dict[str, Any]]) -> list[int]:
    from images_app.selectors import images_visible_to, sessions_visible_to

    wanted: dict[str, set[uuid.UUID]] = {t: set() for t in Event.EntityType.values}
    for e in events:
        wanted[e["entity_type"]].add(e["entity_id"])
    visible: set[tuple[str, uuid.UUID]] = set()
    lookups = {
        Event.EntityType.SESSION: lambda ids: sessions_visible_to(actor=actor).filter(pk__in=ids),
        Event.EntityType.IMAGE: lambda ids: images_visible_to(actor=actor).filter(pk__in=ids),
        Event.EntityType.DEVICE: lambda ids: _devices_visible_to(actor=actor).filter(pk__in=ids),
    }
    for entity_type, ids in wanted.items():
        if not ids:
            continue
        if entity_type == Event.EntityType.DEVICE and actor.is_device:
            found = {actor.id} & ids  # a device only speaks for itself; no query needed
        else:
            found = set(lookups[entity_type](ids).values_list("pk", flat=True))
        visible.update((entity_type, pk) for pk in found)
    return [i for i, e in enumerate(events) if (e["entity_type"], e["entity_id"]) not in visible]


def _devices_visible_to(*, actor: Actor):
    from accounts.models import Device

    devices = Device.objects.filter(org_id=actor.org_id)
    return devices.filter(pk=actor.id) if actor.is_device else devices
