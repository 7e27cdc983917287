"""Recording events. Services call ``event_record`` explicitly, inside their transaction."""

from __future__ import annotations

import uuid
from typing import Any

from events_app.models import Event


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
