"""Which audit events a webhook announces, and the payload of each (thin: ids, the few
fields a receiver needs, links to the API). The JSON Schema of every payload is
``webhooks/payloads.schema.json``; docs/webhooks.md shows an example of each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from django.conf import settings

from events_app.models import Event
from images_app.models import Image, ReshootItem
from sessions_app.models import CaptureSession

IMAGE_PROCESSED = "image.processed"
IMAGE_FAILED = "image.failed"
SESSION_COMPLETED = "session.completed"
VEHICLE_PUBLISHED = "vehicle.published"
VEHICLE_WITHDRAWN = "vehicle.withdrawn"
IMAGE_REJECTED = "image.rejected"
RESHOOT_REQUESTED = "reshoot.requested"
RESHOOT_FULFILLED = "reshoot.fulfilled"
PING = "ping"

# What an endpoint may subscribe to (``ping`` is sent by the test action only, always).
EVENT_TYPES = (
    IMAGE_PROCESSED,
    IMAGE_FAILED,
    SESSION_COMPLETED,
    VEHICLE_PUBLISHED,
    VEHICLE_WITHDRAWN,
    IMAGE_REJECTED,
    RESHOOT_REQUESTED,
    RESHOOT_FULFILLED,
)

AUDIT_TYPES = {
    Event.Type.PROCESSED: IMAGE_PROCESSED,
    Event.Type.PROCESSING_FAILED: IMAGE_FAILED,
    Event.Type.SESSION_FINISHED: SESSION_COMPLETED,
    Event.Type.PUBLICATION_PUBLISHED: VEHICLE_PUBLISHED,
    Event.Type.PUBLICATION_WITHDRAWN: VEHICLE_WITHDRAWN,
    Event.Type.REJECTED: IMAGE_REJECTED,
    Event.Type.RESHOOT_REQUESTED: RESHOOT_REQUESTED,
    Event.Type.RESHOOT_FULFILLED: RESHOOT_FULFILLED,
}


def webhook_type(event: Event) -> str | None:
    """The webhook type announcing ``event``, or None. Only a session that ends
    ``complete`` is announced (abandoned and failed ones are not)."""
    kind = AUDIT_TYPES.get(event.type)
    if kind == SESSION_COMPLETED and (event.meta or {}).get("status") != "complete":
        return None
    return kind


def link(path: str) -> str:
    """An API URL: absolute with ``WEBHOOKS_API_BASE_URL``, else the path from the API root."""
    return f"{settings.WEBHOOKS_API_BASE_URL.rstrip('/')}{path}"


def _timestamp(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _image(image_id) -> dict[str, Any]:
    row = (
        Image.objects.filter(pk=image_id)
        .values("id", "session_id", "vehicle_id", "frame_index", "angle_deg", "shot_name")
        .first()
    )
    if row is None:  # pragma: no cover - the event was written with the image
        return {"image_id": str(image_id)}
    return {
        "image_id": str(row["id"]),
        "session_id": str(row["session_id"]),
        "vehicle_id": str(row["vehicle_id"]),
        "frame_index": row["frame_index"],
        "angle_deg": row["angle_deg"],
        "shot_name": row["shot_name"],
        "links": {
            "image": link(f"/v1/images/{row['id']}"),
            "session": link(f"/v1/sessions/{row['session_id']}"),
        },
    }


def _image_processed(event: Event) -> dict[str, Any]:
    meta = event.meta or {}
    return {**_image(event.entity_id), "width": meta.get("width"), "height": meta.get("height")}


def _image_failed(event: Event) -> dict[str, Any]:
    return {**_image(event.entity_id), "error": (event.meta or {}).get("code", "")}


def _image_rejected(event: Event) -> dict[str, Any]:
    meta = event.meta or {}
    return {
        **_image(event.entity_id),
        "reasons": meta.get("reasons", []),
        "was_published": bool(meta.get("was_published")),
    }


def _session_completed(event: Event) -> dict[str, Any]:
    row = (
        CaptureSession.objects.filter(pk=event.entity_id)
        .values("id", "vehicle_id", "site_id", "mode", "completed_at")
        .first()
    ) or {"id": event.entity_id, "vehicle_id": None, "site_id": None, "mode": None}
    completed_at = row.get("completed_at")
    return {
        "session_id": str(row["id"]),
        "vehicle_id": str(row["vehicle_id"]) if row["vehicle_id"] else None,
        "site_id": str(row["site_id"]) if row["site_id"] else None,
        "mode": row["mode"],
        "completed_at": _timestamp(completed_at) if completed_at else None,
        "links": {"session": link(f"/v1/sessions/{row['id']}")},
    }


def _reshoot(event: Event) -> dict[str, Any]:
    meta = event.meta or {}
    item = (
        ReshootItem.objects.filter(pk=meta.get("reshoot_id"))
        .values("id", "session_id", "session__vehicle_id", "frame_index", "shot_name", "reasons")
        .first()
    )
    session_id = str(event.entity_id)
    data: dict[str, Any] = {
        "reshoot_id": meta.get("reshoot_id"),
        "session_id": session_id,
        "vehicle_id": str(item["session__vehicle_id"]) if item else None,
        "image_id": meta.get("image_id"),
        "frame_index": item["frame_index"] if item else meta.get("frame_index"),
        "shot_name": item["shot_name"] if item else meta.get("shot_name"),
        "links": {"session": link(f"/v1/sessions/{session_id}")},
    }
    if event.type == Event.Type.RESHOOT_REQUESTED:
        data["reasons"] = item["reasons"] if item else meta.get("reasons", [])
    return data


def _vehicle(event: Event) -> dict[str, Any]:
    meta = event.meta or {}
    vehicle_id = str(event.entity_id)
    return {
        "vehicle_id": vehicle_id,
        "version": meta.get("version"),
        "action": meta.get("action"),
        "manifest_url": meta.get("manifest_url"),
        "links": {"publication": link(f"/v1/vehicles/{vehicle_id}/publication")},
    }


BUILDERS: dict[str, Callable[[Event], dict[str, Any]]] = {
    IMAGE_PROCESSED: _image_processed,
    IMAGE_FAILED: _image_failed,
    SESSION_COMPLETED: _session_completed,
    VEHICLE_PUBLISHED: _vehicle,
    VEHICLE_WITHDRAWN: _vehicle,
    IMAGE_REJECTED: _image_rejected,
    RESHOOT_REQUESTED: _reshoot,
    RESHOOT_FULFILLED: _reshoot,
}


def payload(kind: str, event: Event) -> dict[str, Any]:
    return {"type": kind, "timestamp": _timestamp(event.created_at), "data": BUILDERS[kind](event)}


def ping_payload(*, endpoint_id, now) -> dict[str, Any]:
    return {
        "type": PING,
        "timestamp": _timestamp(now),
        "data": {
            "endpoint_id": str(endpoint_id),
            "links": {"endpoint": link(f"/v1/webhooks/{endpoint_id}")},
        },
    }
