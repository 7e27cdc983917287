"""The review loop: rejecting images with reasons, and the reshoot requests that go back to
the device.

- ``image_reject``: ``processed | published → rejected`` with reasons from
  ``rules.REJECT_REASONS`` and a note. A rejected image is not published: if it was, it
  leaves the publication (its status says so; ``published_at`` is cleared). Rejecting
  adds the image's frame or shot to the session's reshoot request.
- ``reshoot_request``: a reviewer asks for a frame or shot that was never taken.
- A session's open ``ReshootItem``s are its reshoot request; at most one per frame or shot.
  A device uploads a replacement with ``replaces_image_id`` (``uploads``), even into a
  finished session, only while the item is open. ``reshoots_fulfil`` closes the items a
  processed image answers once it passes QC, or once a reviewer publishes it anyway.

Automatic items (the org's ``CheckPolicy.qc_reshoot``): ``reshoot_automatic`` adds one, in
the transaction that marks an image processed, when the image fails QC (sharpness →
``blurred``, exposure → ``underexposed`` / ``overexposed``); ``automatic`` is true and
``requested_by`` null. With ``suggest`` it is a to-do for the device like a reviewer's;
with ``require`` (``required`` true) the failed image cannot be published while the item
is open (``reshoot_required_gate``, a 409 ``RESHOOT_REQUIRED``): a replacement that passes
QC fulfils it, or a reviewer dismisses it ("accept as is", ``reshoot_dismiss``), which
makes the image publishable again.

Spin health (``spin_health.spin_health_refresh``) calls ``reshoots_spin_health`` in its
transaction, with the session's row locked: under the same policy, a frame found repeating
its neighbour or out of order gets an automatic item with ``wrong_angle`` and the finding's
message as the note (``spin_health_only`` while nothing else asks for it); once a later
refresh no longer reports the finding, such an item still open is withdrawn (``cancelled``,
a ``reshoot_dismissed`` event with ``withdrawn``). A skipped angle names no frame to take
again (its ``frame_index`` is the frame after the gap), so it is left to the reviewer.

Every change takes the session's row lock first (items are per session), bumps the
session's detail version (its ETag) and records its events in the same transaction, like
the rest of the image services.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status as http

from accounts.models import User
from events_app.models import Event
from events_app.services import actor_fields, event_record
from images_app import published_set
from images_app.models import CheckPolicy, Image, ReshootItem
from images_app.rules import REJECT_REASONS, WRONG_ANGLE_FINDINGS
from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession
from sessions_app.services import session_detail_changed

REJECTABLE = (Image.Status.PROCESSED, Image.Status.PUBLISHED)
NOTE_MAX_LENGTH = 1000


def _user_of(actor: Any) -> User | None:
    if isinstance(actor, User):
        return actor
    return getattr(actor, "user", None)


def _misplaced(field: str, message: str) -> ApplicationError:
    """The frame or shot does not fit this session (its mode decides): a 409, as the body
    alone is valid."""
    return ApplicationError(
        "PLACEMENT_CONFLICT",
        message,
        status_code=http.HTTP_409_CONFLICT,
        details={field: [message]},
    )


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "VALIDATION_ERROR", "The request is not valid.", details={field: [message]}
    )


def reasons_clean(reasons: Any, *, required: bool = True) -> list[str]:
    """The reasons as given, once each, in the documented order; anything else is a 400."""
    if not isinstance(reasons, list | tuple) or not all(isinstance(r, str) for r in reasons):
        raise _invalid("reasons", "Must be a list of reason codes.")
    unknown = sorted(set(reasons) - set(REJECT_REASONS))
    if unknown:
        raise _invalid("reasons", f"Unknown reasons: {', '.join(unknown)}.")
    if required and not reasons:
        raise _invalid("reasons", "Give at least one reason.")
    return [code for code in REJECT_REASONS if code in reasons]


def _note_clean(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise _invalid("note", f"At most {NOTE_MAX_LENGTH} characters.")
    return note


def _session_lock(session_id: uuid.UUID) -> CaptureSession:
    """The session's row, locked for this transaction, its detail version bumped."""
    session_detail_changed(session_id=session_id)
    return CaptureSession.objects.select_for_update().get(pk=session_id)


def _same_place(*, frame_index: int | None, shot_name: str | None) -> Q | None:
    if frame_index is not None:
        return Q(frame_index=frame_index)
    if shot_name is not None:
        return Q(shot_name=shot_name)
    return None


def _item_add(
    *,
    session: CaptureSession,
    actor: Any,
    image: Image | None,
    frame_index: int | None,
    angle_deg: int | None,
    shot_name: str | None,
    reasons: list[str],
    note: str,
    automatic: bool = False,
    required: bool = False,
    spin_health: bool = False,
) -> ReshootItem:
    """The open item for this frame or shot, created or with these reasons added. The
    caller holds the session's lock. ``spin_health``: asked for by a spin-health finding;
    anything else adding to an item makes it no longer the finding's alone."""
    place = _same_place(frame_index=frame_index, shot_name=shot_name)
    open_items = ReshootItem.objects.filter(session_id=session.pk, status=ReshootItem.Status.OPEN)
    item = None
    if place is not None:
        item = open_items.filter(place).first()
    elif image is not None:
        item = open_items.filter(image_id=image.pk).first()
    if item is None:
        item = ReshootItem.objects.create(
            org_id=session.org_id,
            session=session,
            image=image,
            frame_index=frame_index,
            angle_deg=angle_deg,
            shot_name=shot_name,
            reasons=reasons,
            note=note,
            requested_by=_user_of(actor),
            automatic=automatic,
            required=required,
            spin_health_only=spin_health,
        )
    else:
        item.reasons = [code for code in REJECT_REASONS if code in {*item.reasons, *reasons}]
        if note and note not in item.note:
            item.note = f"{item.note}\n{note}".strip()[:NOTE_MAX_LENGTH]
        if item.image_id is None and image is not None:
            item.image = image
        if not spin_health:
            item.spin_health_only = False
        item.save(update_fields=["reasons", "note", "image", "spin_health_only"])
    event_record(
        org_id=session.org_id,
        entity_type=Event.EntityType.SESSION,
        entity_id=session.pk,
        type=Event.Type.RESHOOT_REQUESTED,
        message=str(item),
        meta={
            "reshoot_id": str(item.pk),
            "image_id": str(image.pk) if image is not None else None,
            "frame_index": frame_index,
            "shot_name": shot_name,
            "reasons": reasons,
            "automatic": automatic,
            "required": item.required,
            "spin_health": spin_health,
        },
        **actor_fields(actor),
    )
    return item


def reshoot_automatic(
    *, session: CaptureSession, image: Image, reasons: list[str], required: bool
) -> ReshootItem:
    """The automatic item for an image that failed QC (``reasons`` from
    ``rules.qc_failure_reasons``); call it in the transaction that marks the image
    processed, holding the session's row. An item already open for the frame or shot (a
    reviewer's, or the one a failed replacement answers) gets the reasons added instead."""
    return _item_add(
        session=session,
        actor=None,
        image=image,
        frame_index=image.frame_index,
        angle_deg=image.angle_deg,
        shot_name=image.shot_name,
        reasons=reasons,
        note="",
        automatic=True,
        required=required,
    )


def reshoots_spin_health(*, session: CaptureSession, findings: list[dict[str, Any]]) -> bool:
    """Bring the session's spin-health items in line with ``findings`` (the refresh's); call
    it in the refresh's transaction, holding the session's row. Returns whether an item
    was made, added to or withdrawn (the session's detail version is then bumped).

    Under ``qc_reshoot`` suggest or require, each ``duplicate`` or ``out_of_order`` finding
    of a processed frame asks for it again (``wrong_angle``), unless its item already says
    so or a reviewer has decided about it (fulfilled, or dismissed: accepted as is). Whatever
    the policy, an open item that only a finding asked for (``spin_health_only``) is
    withdrawn once no finding names its image. Items made by QC or a reviewer, or added to
    by them, are never withdrawn."""
    wrong = {}
    for finding in findings:
        if finding.get("type") in WRONG_ANGLE_FINDINGS and finding.get("image_id"):
            wrong.setdefault(str(finding["image_id"]), finding)
    changed = False
    for item in ReshootItem.objects.select_for_update().filter(
        session_id=session.pk, status=ReshootItem.Status.OPEN, spin_health_only=True
    ):
        if str(item.image_id) not in wrong:
            if not changed:
                session_detail_changed(session_id=session.pk)
                changed = True
            _dismissed(item, actor=None, note="", withdrawn=True)
    mode = (
        CheckPolicy.objects.filter(org_id=session.org_id)
        .values_list("qc_reshoot", flat=True)
        .first()
    )
    if not wrong or mode not in (CheckPolicy.QcReshoot.SUGGEST, CheckPolicy.QcReshoot.REQUIRE):
        return changed
    asked = ReshootItem.objects.filter(
        session_id=session.pk, image_id__in=list(wrong), reasons__contains=["wrong_angle"]
    ).exclude(status=ReshootItem.Status.CANCELLED, spin_health_only=True)  # withdrawn
    decided = {str(image_id) for image_id in asked.values_list("image_id", flat=True)}
    images = Image.objects.filter(
        session_id=session.pk, pk__in=list(wrong), status=Image.Status.PROCESSED
    ).exclude(pk__in=list(decided))
    for image in images.order_by("frame_index", "created_at"):
        if not changed:
            session_detail_changed(session_id=session.pk)
            changed = True
        _item_add(
            session=session,
            actor=None,
            image=image,
            frame_index=image.frame_index,
            angle_deg=image.angle_deg,
            shot_name=image.shot_name,
            reasons=["wrong_angle"],
            note=str(wrong[str(image.pk)].get("message") or "")[:NOTE_MAX_LENGTH],
            automatic=True,
            required=mode == CheckPolicy.QcReshoot.REQUIRE,
            spin_health=True,
        )
    return changed


def reshoot_required_gate(*, image: Image) -> None:
    """Refuse to publish an image while a required automatic item asks for it again."""
    item = (
        ReshootItem.objects.filter(
            session_id=image.session_id,
            image_id=image.pk,
            status=ReshootItem.Status.OPEN,
            required=True,
        )
        .only("id", "reasons")
        .first()
    )
    if item is not None:
        raise ApplicationError(
            "RESHOOT_REQUIRED",
            "This image failed QC and the organisation requires a reshoot: upload a "
            "replacement, or dismiss the reshoot item to accept it as is.",
            status_code=http.HTTP_409_CONFLICT,
            details={"reshoot_id": str(item.pk), "reasons": item.reasons},
        )


def reshoot_dismiss(*, item: ReshootItem, actor: Any, note: str | None = "") -> ReshootItem:
    """``open → cancelled``: a reviewer accepts the frame as it is ("accept as is"). Any
    open item may be dismissed, automatic or not; dismissing a dismissed item changes
    nothing; a fulfilled one is a 409."""
    note = _note_clean(note)
    with transaction.atomic():
        _session_lock(item.session_id)
        locked = ReshootItem.objects.select_for_update().get(pk=item.pk)
        if locked.status == ReshootItem.Status.CANCELLED:
            return locked
        if locked.status != ReshootItem.Status.OPEN:
            raise ApplicationError(
                "INVALID_TRANSITION",
                f"Only open reshoot items can be dismissed; this one is {locked.status}.",
                status_code=http.HTTP_409_CONFLICT,
                details={"status": locked.status},
            )
        _dismissed(locked, actor=actor, note=note)
    return locked


def _dismissed(item: ReshootItem, *, actor: Any, note: str, withdrawn: bool = False) -> None:
    """Cancel an open item: a reviewer's "accept as is", or (``withdrawn``) the server
    taking back an item whose spin-health finding is gone. A reviewer's decision is final:
    the item is no longer the finding's alone, so the finding never asks again."""
    item.status = ReshootItem.Status.CANCELLED
    item.dismissed_at = timezone.now()
    item.dismissed_by = _user_of(actor)
    if not withdrawn:
        item.spin_health_only = False
    if note:
        item.note = f"{item.note}\n{note}".strip()[:NOTE_MAX_LENGTH]
    item.save(update_fields=["status", "dismissed_at", "dismissed_by", "note", "spin_health_only"])
    event_record(
        org_id=item.org_id,
        entity_type=Event.EntityType.SESSION,
        entity_id=item.session_id,
        type=Event.Type.RESHOOT_DISMISSED,
        message=str(item),
        meta={
            "reshoot_id": str(item.pk),
            "image_id": str(item.image_id) if item.image_id else None,
            "automatic": item.automatic,
            "required": item.required,
            "note": note,
            "withdrawn": withdrawn,
        },
        **actor_fields(actor),
    )


def reshoots_accepted(*, image: Image, actor: Any) -> list[ReshootItem]:
    """A reviewer publishes an image that has an open automatic item of its own (a
    suggested one; a required one refuses first): that is accepting it as is, so the item
    is dismissed. Call it in the publishing transaction, which holds the session's row."""
    items = list(
        ReshootItem.objects.select_for_update().filter(
            session_id=image.session_id,
            image_id=image.pk,
            status=ReshootItem.Status.OPEN,
            automatic=True,
        )
    )
    for item in items:
        _dismissed(item, actor=actor, note="")
    return items


def image_reject(
    *, image: Image, actor: Any, reasons: Any, note: str | None = ""
) -> tuple[Image, ReshootItem | None]:
    """``processed | published → rejected``; rejecting a rejected image changes nothing.

    Returns the image and the session's open reshoot item for its frame or shot.
    ``actor``: the API's Actor or a User (the console).
    """
    reasons = reasons_clean(reasons)
    note = _note_clean(note)
    with transaction.atomic():
        session = _session_lock(image.session_id)
        locked = Image.objects.select_for_update().get(pk=image.pk)
        if locked.status == Image.Status.REJECTED:
            return locked, reshoot_open_for(image=locked)
        if locked.status not in REJECTABLE:
            raise ApplicationError(
                "INVALID_TRANSITION",
                f"Only processed or published images can be rejected; this one is {locked.status}.",
                status_code=http.HTTP_409_CONFLICT,
                details={"status": locked.status},
            )
        was_published = locked.status == Image.Status.PUBLISHED
        locked.status = Image.Status.REJECTED
        locked.reject_reasons = reasons
        locked.reject_note = note
        locked.rejected_at = timezone.now()
        locked.rejected_by = _user_of(actor)
        # No longer published: the image leaves the publication.
        locked.published_at = None
        locked.published_by = None
        locked.save(
            update_fields=[
                "status",
                "reject_reasons",
                "reject_note",
                "rejected_at",
                "rejected_by",
                "published_at",
                "published_by",
            ]
        )
        if was_published:
            # It leaves the vehicle's live publication: a new version, in this transaction.
            published_set.changed(
                vehicle_ids=[locked.vehicle_id],
                actor=actor,
                action="unpublish",
                image_ids=[locked.pk],
            )
        event_record(
            org_id=locked.org_id,
            entity_type=Event.EntityType.IMAGE,
            entity_id=locked.pk,
            type=Event.Type.REJECTED,
            message=", ".join(reasons),
            meta={"reasons": reasons, "note": note, "was_published": was_published},
            **actor_fields(actor),
        )
        item = _item_add(
            session=session,
            actor=actor,
            image=locked,
            frame_index=locked.frame_index,
            angle_deg=locked.angle_deg,
            shot_name=locked.shot_name,
            reasons=reasons,
            note=note,
        )
    return locked, item


def reshoot_request(
    *,
    session: CaptureSession,
    actor: Any,
    frame_index: int | None = None,
    shot_name: str | None = None,
    reasons: Any = (),
    note: str | None = "",
) -> ReshootItem:
    """Ask for a frame (spins) or shot (stills) without an image to reject: one that is
    missing, or one to take again anyway."""
    reasons = reasons_clean(list(reasons), required=False)
    note = _note_clean(note)
    angle_deg = None
    if session.is_spin:
        frame_count = session.frame_count
        if shot_name is not None or frame_index is None:
            raise _misplaced("frame_index", "A spin session's reshoot names a frame_index.")
        if not isinstance(frame_count, int) or not 0 <= frame_index < frame_count:
            raise ApplicationError(
                "PLACEMENT_CONFLICT",
                f"Must be below the session's frame_count ({frame_count}).",
                status_code=http.HTTP_409_CONFLICT,
                details={"frame_index": [f"Must be below {frame_count}."]},
            )
        angle_deg = frame_index * 360 // frame_count
    else:
        if frame_index is not None or not shot_name:
            raise _misplaced("shot_name", "A stills session's reshoot names a shot_name.")
        names = session.still_names
        if names and shot_name not in names:
            raise ApplicationError(
                "PLACEMENT_CONFLICT",
                "Not in this session's shot list.",
                status_code=http.HTTP_409_CONFLICT,
                details={"shot_name": ["Not in this session's shot list."]},
            )
    with transaction.atomic():
        locked = _session_lock(session.pk)
        return _item_add(
            session=locked,
            actor=actor,
            image=None,
            frame_index=frame_index,
            angle_deg=angle_deg,
            shot_name=shot_name,
            reasons=reasons,
            note=note,
        )


def reshoot_open_for(*, image: Image) -> ReshootItem | None:
    """The open item a replacement of ``image`` answers: the one naming the image, or the
    one for its frame or shot (a rejected replacement's original may be named instead)."""
    condition = Q(image_id=image.pk)
    place = _same_place(frame_index=image.frame_index, shot_name=image.shot_name)
    if place is not None:
        condition |= place
    return (
        ReshootItem.objects.filter(
            condition, session_id=image.session_id, status=ReshootItem.Status.OPEN
        )
        .order_by("created_at", "id")
        .first()
    )


def reshoot_open_for_place(
    *, session_id: uuid.UUID, frame_index: int | None, shot_name: str | None
) -> ReshootItem | None:
    """The open item asking for this frame or shot (a missing one), if any."""
    place = _same_place(frame_index=frame_index, shot_name=shot_name)
    if place is None:
        return None
    return ReshootItem.objects.filter(
        place, session_id=session_id, status=ReshootItem.Status.OPEN
    ).first()


def reshoots_fulfil(*, image: Image, actor: Any = None) -> list[ReshootItem]:
    """Close the open items ``image`` answers (it replaces their image, or takes their
    frame or shot); call it inside the transaction that made the image good: processed
    with QC passed, or published by a reviewer (which has bumped the session's detail
    version already)."""
    condition = Q()
    if image.replaces_id is not None:
        condition |= Q(image_id=image.replaces_id)
    place = _same_place(frame_index=image.frame_index, shot_name=image.shot_name)
    if place is not None:
        condition |= place
    if not condition:
        return []
    items = list(
        ReshootItem.objects.select_for_update()
        .filter(condition, session_id=image.session_id, status=ReshootItem.Status.OPEN)
        .exclude(image_id=image.pk)
    )
    now = timezone.now()
    for item in items:
        item.status = ReshootItem.Status.FULFILLED
        item.fulfilled_at = now
        item.replacement = image
        item.save(update_fields=["status", "fulfilled_at", "replacement"])
        event_record(
            org_id=image.org_id,
            entity_type=Event.EntityType.SESSION,
            entity_id=image.session_id,
            type=Event.Type.RESHOOT_FULFILLED,
            message=str(item),
            meta={"reshoot_id": str(item.pk), "image_id": str(image.pk)},
            **actor_fields(actor),
        )
    return items
