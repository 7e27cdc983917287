"""Capture sessions: starting one (finding or creating its vehicle) and finishing it.

Every rule the API, the admin and the commands share lives here; callers pass raw values
and get the domain exception (``ApplicationError``) back when a rule says no.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from rest_framework import status as http

from accounts.access import sites_usable_by
from accounts.actors import Actor
from accounts.models import Site
from events_app.models import Event
from events_app.services import actor_fields, event_record
from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession, Vehicle
from sessions_app.shot_lists import (
    FRAME_COUNT_MAX,
    FRAME_COUNT_MIN,
    STILLS_MAX,
    shot_list_from_template,
)
from sessions_app.vin import InvalidVin, vin_check_digit_ok, vin_normalize

STILL_NAME_MAX_LENGTH = 64
STILL_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
STOCK_MAX_LENGTH = 64
# A device clock a little ahead of ours is normal; further ahead is not believed.
COMPLETED_AT_MAX_CLOCK_SKEW = timedelta(minutes=5)
# Concurrent creates of one vehicle: the loser re-reads; a third collision is a real fault.
VEHICLE_UPSERT_ATTEMPTS = 3


class VehicleKeys(TypedDict, total=False):
    vin: str | None
    stock: str | None


def _invalid(details: dict[str, Any]) -> ApplicationError:
    """The same envelope a serializer's validation error produces."""
    return ApplicationError("VALIDATION_ERROR", "The request is not valid.", details=details)


# --- Shot lists


def shot_list_clean(*, mode: str, shot_list: Any) -> dict[str, Any]:
    """Check a shot list against its session's mode and return it as sent.

    ``{"studio360": {"frame_count": N}}`` or ``{"walk360": {"frame_count": N}}`` is required
    for a spin (N a whole number 1-360); ``"stills": [names]`` is optional in every mode.
    Keys of another mode are refused rather than silently dropped.
    """
    if shot_list is None:
        shot_list = {}
    if not isinstance(shot_list, dict):
        raise _invalid({"shot_list": ["Must be an object keyed by mode."]})
    allowed = {mode, "stills"} if mode in CaptureSession.SPIN_MODES else {"stills"}
    unexpected = sorted(set(shot_list) - allowed)
    if unexpected:
        raise _invalid(
            {
                "shot_list": [
                    f"Keys not allowed for mode {mode}: {', '.join(unexpected)}; "
                    f"allowed: {', '.join(sorted(allowed))}."
                ]
            }
        )
    if mode in CaptureSession.SPIN_MODES:
        _spin_spec_check(mode=mode, spec=shot_list.get(mode))
    if "stills" in shot_list:
        _still_names_check(shot_list["stills"])
    return dict(shot_list)


def _spin_spec_check(*, mode: str, spec: Any) -> None:
    if spec is None:
        raise _invalid({"shot_list": {mode: ['A spin needs {"frame_count": N}.']}})
    if not isinstance(spec, dict) or set(spec) != {"frame_count"}:
        raise _invalid({"shot_list": {mode: ['Must be exactly {"frame_count": N}.']}})
    frame_count = spec["frame_count"]
    # bool is an int in Python; JSON true is not a frame count.
    if (
        isinstance(frame_count, bool)
        or not isinstance(frame_count, int)
        or not FRAME_COUNT_MIN <= frame_count <= FRAME_COUNT_MAX
    ):
        raise _invalid(
            {
                "shot_list": {
                    mode: {
                        "frame_count": [
                            f"Must be a whole number from {FRAME_COUNT_MIN} to {FRAME_COUNT_MAX}."
                        ]
                    }
                }
            }
        )


def _still_names_check(names: Any) -> None:
    def fail(message: str) -> ApplicationError:
        return _invalid({"shot_list": {"stills": [message]}})

    if not isinstance(names, list):
        raise fail("Must be a list of shot names.")
    if len(names) > STILLS_MAX:
        raise fail(f"At most {STILLS_MAX} shot names.")
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not isinstance(name, str) or not STILL_NAME_PATTERN.fullmatch(name):
            raise fail(
                f"Item {index}: a shot name is 1-{STILL_NAME_MAX_LENGTH} characters of a-z, "
                "0-9, '_' and '-', starting with a letter or digit."
            )
        if name in seen:
            raise fail(f"Item {index}: {name!r} appears twice; shot names are unique.")
        seen.add(name)


# --- Vehicles


def stock_normalize(raw: str) -> str:
    """A stock number without surrounding spaces; ValueError if empty, long or odd."""
    stock = raw.strip()
    if not 1 <= len(stock) <= STOCK_MAX_LENGTH:
        raise ValueError(f"A stock number is 1-{STOCK_MAX_LENGTH} characters.")
    # Control, format (e.g. bidi overrides) and line/paragraph separator characters.
    if any(unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" for char in stock):
        raise ValueError("A stock number may not contain control characters.")
    return stock


def vehicle_keys_clean(*, vin: str | None, stock: str | None) -> tuple[str | None, str | None]:
    """Normalized (vin, stock); a missing or blank value is None, and one of them is needed."""
    errors: dict[str, list[str]] = {}
    clean_vin = clean_stock = None
    if vin is not None and vin.strip():
        try:
            clean_vin = vin_normalize(vin)
        except InvalidVin as exc:
            errors["vin"] = [str(exc)]
    if stock is not None and stock.strip():
        try:
            clean_stock = stock_normalize(stock)
        except ValueError as exc:
            errors["stock"] = [str(exc)]
    if errors:
        raise _invalid({"vehicle": errors})
    if clean_vin is None and clean_stock is None:
        raise _invalid({"vehicle": {"non_field_errors": ["Give a vin, a stock number or both."]}})
    return clean_vin, clean_stock


def vehicle_upsert(*, org_id: uuid.UUID, vin: str | None, stock: str | None) -> Vehicle:
    """The org's vehicle with this VIN or stock number, created if there is none.

    The VIN names the car: a vehicle with that VIN is used (and given the stock number if
    it has none and no other vehicle holds it). Otherwise a vehicle with that stock number
    is used (and given the VIN if it has none). A stock number whose vehicle has another
    VIN is a contradiction the caller must resolve: 409 ``VEHICLE_CONFLICT``.
    Two requests creating the same vehicle at once end with one row: the loser of the
    unique constraint re-reads.
    """
    vin, stock = vehicle_keys_clean(vin=vin, stock=stock)
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                return _vehicle_find_or_create(org_id=org_id, vin=vin, stock=stock)
        except IntegrityError:
            if attempt >= VEHICLE_UPSERT_ATTEMPTS:
                raise
            attempt += 1


def _vehicle_find_or_create(*, org_id: uuid.UUID, vin: str | None, stock: str | None) -> Vehicle:
    vehicles = Vehicle.objects.filter(org_id=org_id)
    if vin is not None:
        by_vin = vehicles.filter(vin=vin).first()
        if by_vin is not None:
            if (
                by_vin.stock is None
                and stock is not None
                and not vehicles.filter(stock=stock).exists()
            ):
                # Conditional: a concurrent request may have given it one meanwhile.
                vehicles.filter(pk=by_vin.pk, stock__isnull=True).update(stock=stock)
                by_vin.refresh_from_db(fields=["stock"])
            return by_vin
    if stock is not None:
        by_stock = vehicles.filter(stock=stock).first()
        if by_stock is not None:
            if vin is None:
                return by_stock
            if by_stock.vin is not None:
                raise ApplicationError(
                    "VEHICLE_CONFLICT",
                    "This stock number belongs to a vehicle with another VIN.",
                    status_code=http.HTTP_409_CONFLICT,
                    details={"vin": vin, "stock": stock, "vehicle_id": str(by_stock.id)},
                )
            updated = vehicles.filter(pk=by_stock.pk, vin__isnull=True).update(
                vin=vin, vin_check_digit_ok=vin_check_digit_ok(vin)
            )
            if not updated:
                # Someone gave it a VIN meanwhile: decide again on fresh rows.
                raise IntegrityError("vehicle changed concurrently")
            by_stock.refresh_from_db(fields=["vin", "vin_check_digit_ok"])
            return by_stock
    return Vehicle.objects.create(
        org_id=org_id,
        vin=vin,
        stock=stock,
        vin_check_digit_ok=vin_check_digit_ok(vin) if vin is not None else None,
    )


# --- Sessions


def _site_for_new_session(*, actor: Actor, site_id: uuid.UUID) -> Site:
    site = (
        Site.objects.filter(pk=site_id, org_id=actor.org_id)
        .annotate(usable=Exists(sites_usable_by(actor=actor).filter(pk=OuterRef("pk"))))
        .first()
    )
    if site is None:
        # Another org's site reads exactly like a missing one.
        raise ApplicationError("NOT_FOUND", "Site not found.", status_code=http.HTTP_404_NOT_FOUND)
    if not site.usable:
        raise ApplicationError(
            "FORBIDDEN", "You may not capture at this site.", status_code=http.HTTP_403_FORBIDDEN
        )
    return site


def session_create(
    *,
    actor: Actor,
    site_id: uuid.UUID,
    vehicle: VehicleKeys,
    mode: str,
    shot_list: Any,
    shot_list_template_id: uuid.UUID | None = None,
    request_id: str | None = None,
) -> CaptureSession:
    """Start an active session at a site the actor may use, for the vehicle named by VIN/stock.

    ``shot_list_template_id``: take the stills (and a spin's frame count) from that
    template of the org (``shot_lists``). Input errors (400) come before access (404/403);
    nothing is written unless all pass.
    """
    if mode not in CaptureSession.Mode.values:
        raise _invalid({"mode": [f"Must be one of {', '.join(CaptureSession.Mode.values)}."]})
    template = None
    if shot_list_template_id is not None:
        template, shot_list = shot_list_from_template(
            org_id=actor.org_id,
            template_id=shot_list_template_id,
            mode=mode,
            shot_list=shot_list if isinstance(shot_list, dict) else {},
        )
    clean_shot_list = shot_list_clean(mode=mode, shot_list=shot_list)
    vin, stock = vehicle_keys_clean(vin=vehicle.get("vin"), stock=vehicle.get("stock"))
    site = _site_for_new_session(actor=actor, site_id=site_id)
    with transaction.atomic():
        vehicle_row = vehicle_upsert(org_id=actor.org_id, vin=vin, stock=stock)
        session = CaptureSession.objects.create(
            org_id=actor.org_id,
            site=site,
            vehicle=vehicle_row,
            mode=mode,
            shot_list=clean_shot_list,
            shot_list_template=template,
            operator=actor.user,
            device=actor.device,
        )
        event_record(
            org_id=actor.org_id,
            entity_type=Event.EntityType.SESSION,
            entity_id=session.id,
            type=Event.Type.SESSION_CREATED,
            meta={"site_id": str(site.id), "vehicle_id": str(vehicle_row.id), "mode": mode},
            request_id=request_id,
            **actor_fields(actor),
        )
    return session


def completed_at_choose(
    *, requested: datetime | None, started_at: datetime, now: datetime
) -> tuple[datetime, str]:
    """The client's finish time if it is plausible, else ours; and which one it was.

    Plausible: not before the session started and at most a few minutes ahead of our clock
    (devices that were offline report when they really finished).
    """
    if requested is not None:
        if timezone.is_naive(requested):
            requested = requested.replace(tzinfo=UTC)
        if started_at <= requested <= now + COMPLETED_AT_MAX_CLOCK_SKEW:
            return requested, "client"
    return now, "server"


def session_finish(
    *,
    session: CaptureSession,
    status: str,
    completed_at: datetime | None,
    actor: Actor | None,
    request_id: str | None = None,
) -> CaptureSession:
    """``active → complete | abandoned | failed``, once: a finished session is a 409.

    The row is locked, so of two concurrent finishes exactly one wins.
    """
    if status not in CaptureSession.FINISHED:
        allowed = ", ".join(CaptureSession.FINISHED)
        raise _invalid({"status": [f"Must be one of {allowed}."]})
    with transaction.atomic():
        locked = CaptureSession.objects.select_for_update().get(pk=session.pk)
        if locked.is_finished:
            raise ApplicationError(
                "INVALID_TRANSITION",
                f"The session is already {locked.status}; a finished session does not change.",
                status_code=http.HTTP_409_CONFLICT,
                details={"status": locked.status},
            )
        finished_at, source = completed_at_choose(
            requested=completed_at, started_at=locked.started_at, now=timezone.now()
        )
        session_finished_write(
            locked=locked,
            status=status,
            completed_at=finished_at,
            completed_at_source=source,
            actor=actor,
            request_id=request_id,
        )
    return locked


def session_finished_write(
    *,
    locked: CaptureSession,
    status: str,
    completed_at: datetime,
    completed_at_source: str,
    actor: Actor | None,
    request_id: str | None = None,
    message: str = "",
    meta: dict[str, Any] | None = None,
) -> None:
    """The finish itself, on an active session the caller holds locked in its transaction:
    the new status and time, and the ``session_finished`` event (``meta`` adds to its own).

    Every way a session ends (the API, the admin, expiry) goes through here, so they all
    leave the same row and the same event (which apps above hear through the audit log's
    listeners).
    """
    locked.status = status
    locked.completed_at = completed_at
    locked.save(update_fields=["status", "completed_at"])
    event_record(
        org_id=locked.org_id,
        entity_type=Event.EntityType.SESSION,
        entity_id=locked.id,
        type=Event.Type.SESSION_FINISHED,
        message=message,
        meta={"status": status, "completed_at_source": completed_at_source, **(meta or {})},
        request_id=request_id,
        **actor_fields(actor),
    )


def session_detail_changed(*, session_id: uuid.UUID) -> None:
    """Say that what an app above adds to the session's detail changed (its frames, its
    reshoot items): bumps ``detail_version``, which the detail's ETag is made of.

    Call it inside the transaction that made the change, before locking the image rows it
    changes: the session row is locked first, as the review services do, so two writers
    never wait on each other in opposite orders.
    """
    CaptureSession.objects.filter(pk=session_id).update(detail_version=F("detail_version") + 1)


def session_detail_changed_of_images(*, image_filter: Q) -> None:
    """``session_detail_changed`` for the sessions of the images ``image_filter`` names
    (``Q`` on the images' reverse relation, e.g. ``Q(images__pk=...)``), in one statement."""
    CaptureSession.objects.filter(
        pk__in=CaptureSession.objects.filter(image_filter).values("pk")
    ).update(detail_version=F("detail_version") + 1)
