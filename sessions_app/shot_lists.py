"""Shot-list templates: the organisation's standard shots, and the default a dealership
starts from.

A session created with ``shot_list_template_id`` takes the template's item codes as its
``stills`` (and its frame count for a spin, unless the body gives one) and keeps the link:
the template's required items are what the session's coverage counts.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import status as http

from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession, ShotListTemplate

DEFAULT_NAME = "Dealership default"
DEFAULT_FRAME_COUNT = 24

_E, _I, _D = (c.value for c in ShotListTemplate.Category)
# (code, label, category, required), in shooting order.
DEALERSHIP_DEFAULT: tuple[tuple[str, str, str, bool], ...] = (
    ("front", "Front", _E, True),
    ("front_3q_left", "Front 3/4 left", _E, True),
    ("side_left", "Left side", _E, True),
    ("rear_3q_left", "Rear 3/4 left", _E, True),
    ("rear", "Rear", _E, True),
    ("rear_3q_right", "Rear 3/4 right", _E, True),
    ("side_right", "Right side", _E, True),
    ("front_3q_right", "Front 3/4 right", _E, True),
    ("dash", "Dashboard", _I, True),
    ("odometer", "Odometer", _I, True),
    ("front_seats", "Front seats", _I, True),
    ("rear_seats", "Rear seats", _I, False),
    ("trunk", "Trunk", _I, False),
    ("engine_bay", "Engine bay", _D, True),
    ("wheel", "Wheel and tyre", _D, True),
    ("vin_plate", "VIN plate", _D, True),
    ("keys", "Keys", _D, False),
)


def default_items() -> list[dict[str, Any]]:
    return [
        {"code": code, "label": label, "category": category, "required": required}
        for code, label, category, required in DEALERSHIP_DEFAULT
    ]


def shot_list_template_default(*, org_id: uuid.UUID) -> ShotListTemplate:
    """The organisation's default template, made on first use."""
    found = ShotListTemplate.objects.filter(org_id=org_id, name=DEFAULT_NAME).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ShotListTemplate.objects.create(
                org_id=org_id,
                name=DEFAULT_NAME,
                items=default_items(),
                spin_frame_count=DEFAULT_FRAME_COUNT,
            )
    except IntegrityError:  # made meanwhile by a concurrent first use
        return ShotListTemplate.objects.get(org_id=org_id, name=DEFAULT_NAME)


def shot_list_templates_of(*, org_id: uuid.UUID) -> list[ShotListTemplate]:
    shot_list_template_default(org_id=org_id)
    return list(ShotListTemplate.objects.filter(org_id=org_id).order_by("name", "id"))


def shot_list_from_template(
    *, org_id: uuid.UUID, template_id: uuid.UUID, mode: str, shot_list: dict[str, Any]
) -> tuple[ShotListTemplate, dict[str, Any]]:
    """The template (of the caller's org: another's is a 404) and the session's shot list:
    the template's codes as ``stills``, its frame count for a spin unless the body names
    one. A body that names its own stills as well is a 409: one or the other."""
    template = ShotListTemplate.objects.filter(org_id=org_id, pk=template_id).first()
    if template is None:
        raise ApplicationError(
            "NOT_FOUND", "Shot list template not found.", status_code=http.HTTP_404_NOT_FOUND
        )
    if "stills" in (shot_list or {}):
        # The body alone is valid; it conflicts with the template it names (a 409).
        raise ApplicationError(
            "SHOT_LIST_CONFLICT",
            "Send shot_list.stills or shot_list_template_id, not both.",
            status_code=http.HTTP_409_CONFLICT,
            details={"shot_list": ["Send shot_list.stills or shot_list_template_id, not both."]},
        )
    built = dict(shot_list or {})
    if mode in CaptureSession.SPIN_MODES and mode not in built:
        built[mode] = {"frame_count": template.spin_frame_count or DEFAULT_FRAME_COUNT}
    built["stills"] = [item["code"] for item in template.items]
    return template, built
