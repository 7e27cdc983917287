"""Shot-list templates: the organisation's standard shots, and the default a dealership
starts from.

A session created with ``shot_list_template_id`` takes the template's item codes as its
``stills`` (and its frame count for a spin, unless the body gives one) and keeps the link:
the template's required items are what the session's coverage counts.

An organisation's admins create, change and delete templates in the console
(``sessions_app/admin.py``) through ``shot_list_template_save`` and
``shot_list_template_delete``; each records an audit event in its transaction. A session
keeps its own copy of the codes (``shot_list.stills``), so deleting a template leaves the
sessions made from it as they are, without the link (``on_delete=SET_NULL``).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import status as http

from accounts.access import console_may, is_platform_operator, may
from accounts.actors import Actor
from events_app.models import Event
from events_app.services import actor_fields, event_record
from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession, ShotListTemplate

DEFAULT_NAME = "Dealership default"
DEFAULT_FRAME_COUNT = 24

# What a session's shot list accepts (``services.shot_list_clean``); a template is held to
# the same bounds, so a session made from any template is valid.
FRAME_COUNT_MIN = 1
FRAME_COUNT_MAX = 360
STILLS_MAX = 100
TEMPLATE_NAME_MAX_LENGTH = 100
ITEM_LABEL_MAX_LENGTH = 100
ITEM_CODE_MAX_LENGTH = 50
# A slug that is also a valid shot name of a session (those start with a letter or digit).
ITEM_CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,49}")
ITEM_KEYS = frozenset({"code", "label", "category", "required"})
MANAGE_ACTION = "shot_list_template.manage"

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


def shot_list_templates_ensure(*, org_id: uuid.UUID) -> None:
    """An organisation without any template gets the dealership default. One that renamed
    or deleted it but kept others is left alone."""
    if not ShotListTemplate.objects.filter(org_id=org_id).exists():
        shot_list_template_default(org_id=org_id)


def shot_list_templates_of(*, org_id: uuid.UUID) -> list[ShotListTemplate]:
    templates = list(ShotListTemplate.objects.filter(org_id=org_id).order_by("name", "id"))
    if templates:
        return templates
    return [shot_list_template_default(org_id=org_id)]


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


# --- editing (the console)


def _invalid(details: dict[str, Any]) -> ApplicationError:
    return ApplicationError(
        "VALIDATION_ERROR", "The shot-list template is not valid.", details=details
    )


def _visible_text(value: Any, *, max_length: int, what: str) -> tuple[str, str | None]:
    """``value`` without surrounding spaces, and what is wrong with it (None: nothing)."""
    if not isinstance(value, str):
        return "", f"{what} must be text."
    text = value.strip()
    if not text:
        return text, f"{what} may not be empty."
    if len(text) > max_length:
        return text, f"{what} is at most {max_length} characters."
    # Control, format (e.g. bidi overrides) and line/paragraph separator characters.
    if any(unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" for char in text):
        return text, f"{what} may not contain control characters."
    return text, None


def _item_clean(item: Any, *, seen: set[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    if not isinstance(item, dict) or set(item) != ITEM_KEYS:
        return {}, {"code": ["An item is exactly a code, a label, a category and required."]}
    errors: dict[str, list[str]] = {}
    code = item["code"]
    if not isinstance(code, str) or not ITEM_CODE_PATTERN.fullmatch(code):
        errors["code"] = [
            f"A code is 1-{ITEM_CODE_MAX_LENGTH} characters of a-z, 0-9 and '_', "
            "starting with a letter or digit."
        ]
    elif code in seen:
        errors["code"] = [f"The code {code!r} is already used above; codes are unique."]
    else:
        seen.add(code)
    label, problem = _visible_text(item["label"], max_length=ITEM_LABEL_MAX_LENGTH, what="A label")
    if problem:
        errors["label"] = [problem]
    if item["category"] not in ShotListTemplate.Category.values:
        errors["category"] = [f"Must be one of {', '.join(ShotListTemplate.Category.values)}."]
    if not isinstance(item["required"], bool):
        errors["required"] = ["Must be true or false."]
    cleaned = {
        "code": code,
        "label": label,
        "category": item["category"],
        "required": item["required"],
    }
    return cleaned, errors


def shot_list_template_clean(
    *,
    org_id: uuid.UUID,
    template_id: uuid.UUID | None,
    name: Any,
    items: Any,
    spin_frame_count: Any,
    block_publishing_below_full_coverage: Any,
) -> dict[str, Any]:
    """The template's fields as stored, or a ``VALIDATION_ERROR`` naming every problem.

    ``details``: ``name``, ``spin_frame_count``, ``block_publishing_below_full_coverage``:
    a list of messages each; ``items``: a list of messages about the list as a whole, or
    ``{"<index>": {"<key>": [messages]}}`` about single items.
    """
    errors: dict[str, Any] = {}
    clean_name, problem = _visible_text(name, max_length=TEMPLATE_NAME_MAX_LENGTH, what="A name")
    if problem:
        errors["name"] = [problem]
    else:
        taken = ShotListTemplate.objects.filter(org_id=org_id, name__iexact=clean_name)
        if template_id is not None:
            taken = taken.exclude(pk=template_id)
        if taken.exists():
            errors["name"] = [f"There is already a template called {clean_name!r}."]
    if spin_frame_count is not None and (
        isinstance(spin_frame_count, bool)
        or not isinstance(spin_frame_count, int)
        or not FRAME_COUNT_MIN <= spin_frame_count <= FRAME_COUNT_MAX
    ):
        errors["spin_frame_count"] = [
            f"Must be empty or a whole number from {FRAME_COUNT_MIN} to {FRAME_COUNT_MAX}."
        ]
    if not isinstance(block_publishing_below_full_coverage, bool):
        errors["block_publishing_below_full_coverage"] = ["Must be true or false."]
    clean_items: list[dict[str, Any]] = []
    if not isinstance(items, list) or not items:
        errors["items"] = ["A template has at least one item."]
    elif len(items) > STILLS_MAX:
        errors["items"] = [f"A template has at most {STILLS_MAX} items."]
    else:
        seen: set[str] = set()
        item_errors: dict[str, Any] = {}
        for index, item in enumerate(items):
            cleaned, problems = _item_clean(item, seen=seen)
            clean_items.append(cleaned)
            if problems:
                item_errors[str(index)] = problems
        if item_errors:
            errors["items"] = item_errors
    if errors:
        raise _invalid(errors)
    return {
        "name": clean_name,
        "items": clean_items,
        "spin_frame_count": spin_frame_count,
        "block_publishing_below_full_coverage": block_publishing_below_full_coverage,
    }


def _manager_org_check(*, actor: Any, org_id: uuid.UUID) -> None:
    """The actor may manage the templates of ``org_id``: an admin of that organisation (the
    API's Actor or a console User), a platform operator, or the system (None). Another
    organisation's template is not found; a role that may not manage them is refused."""
    if actor is None:
        return
    user = actor.user if isinstance(actor, Actor) else actor
    if user is not None and is_platform_operator(user):
        return
    if actor.org_id != org_id:
        raise ApplicationError(
            "NOT_FOUND", "Shot list template not found.", status_code=http.HTTP_404_NOT_FOUND
        )
    allowed = (
        may(actor, MANAGE_ACTION) if isinstance(actor, Actor) else console_may(actor, MANAGE_ACTION)
    )
    if not allowed:
        raise ApplicationError(
            "FORBIDDEN",
            "You may not change shot-list templates.",
            status_code=http.HTTP_403_FORBIDDEN,
        )


def _summary(template: ShotListTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "items": [item["code"] for item in template.items],
        "required": template.required_codes,
        "spin_frame_count": template.spin_frame_count,
        "block_publishing_below_full_coverage": template.block_publishing_below_full_coverage,
    }


def shot_list_template_save(
    *,
    actor: Any,
    template: ShotListTemplate | None = None,
    org_id: uuid.UUID | None = None,
    name: Any,
    items: Any,
    spin_frame_count: Any,
    block_publishing_below_full_coverage: Any,
    request_id: str | None = None,
) -> ShotListTemplate:
    """Create a template (``template=None``) in ``org_id`` (default: the actor's
    organisation), or change ``template``; every field is checked
    (``shot_list_template_clean``) and the change is recorded as an audit event in the
    same transaction. ``actor``: the API's Actor, a console User, or None (the system)."""
    if template is None:
        org_id = org_id or getattr(actor, "org_id", None)
        if org_id is None:
            raise _invalid({"org": ["Choose the organisation of the template."]})
    else:
        org_id = template.org_id
    _manager_org_check(actor=actor, org_id=org_id)
    fields = shot_list_template_clean(
        org_id=org_id,
        template_id=template.pk if template is not None else None,
        name=name,
        items=items,
        spin_frame_count=spin_frame_count,
        block_publishing_below_full_coverage=block_publishing_below_full_coverage,
    )
    try:
        with transaction.atomic():
            if template is None:
                saved = ShotListTemplate.objects.create(org_id=org_id, **fields)
                event_type, meta = Event.Type.TEMPLATE_CREATED, _summary(saved)
            else:
                saved = ShotListTemplate.objects.select_for_update().get(
                    pk=template.pk, org_id=org_id
                )
                before = _summary(saved)
                for field, value in fields.items():
                    setattr(saved, field, value)
                saved.save(update_fields=list(fields))
                after = _summary(saved)
                event_type = Event.Type.TEMPLATE_CHANGED
                meta = {
                    "name": saved.name,
                    "changed": {
                        key: {"from": before[key], "to": after[key]}
                        for key in after
                        if before[key] != after[key]
                    },
                }
            event_record(
                org_id=org_id,
                entity_type=Event.EntityType.TEMPLATE,
                entity_id=saved.pk,
                type=event_type,
                meta=meta,
                request_id=request_id,
                **actor_fields(actor),
            )
    except IntegrityError as exc:  # the same name saved meanwhile by someone else
        raise _invalid(
            {"name": [f"There is already a template called {fields['name']!r}."]}
        ) from exc
    except ShotListTemplate.DoesNotExist as exc:  # deleted meanwhile
        raise ApplicationError(
            "NOT_FOUND", "Shot list template not found.", status_code=http.HTTP_404_NOT_FOUND
        ) from exc
    return saved


def shot_list_template_delete(
    *, actor: Any, template: ShotListTemplate, request_id: str | None = None
) -> None:
    """Delete a template. The sessions made from it keep their shot list (their own copy of
    the codes) and lose the link, so no coverage is counted for them any more."""
    _manager_org_check(actor=actor, org_id=template.org_id)
    with transaction.atomic():
        sessions = CaptureSession.objects.filter(shot_list_template_id=template.pk).count()
        deleted, _ = ShotListTemplate.objects.filter(pk=template.pk).delete()
        if not deleted:
            return
        event_record(
            org_id=template.org_id,
            entity_type=Event.EntityType.TEMPLATE,
            entity_id=template.pk,
            type=Event.Type.TEMPLATE_DELETED,
            meta={**_summary(template), "sessions": sessions},
            request_id=request_id,
            **actor_fields(actor),
        )
