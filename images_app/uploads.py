"""Starting an upload: the pending Image row, its server-built key and a presigned PUT.

Storage keys are built here and nowhere else:
``org/{org}/site/{site}/session/{session}/{image}.{jpg|heic}`` for originals and
``org/{org}/site/{site}/session/{session}/{image}/thumb_{150|600|1200}.jpg`` for thumbnails.
The client's file name is metadata only; it never reaches a key.

Who may presign for a session (the database decides, on every request):
- another organisation's session, or a user without access to the session's site → 404;
- a device: only for sessions it created, at a site it may still use → otherwise 403;
- a user: the session's own operator, or an admin of the org → otherwise 403;
- the session must be ``active`` → otherwise 409 ``SESSION_NOT_ACTIVE``, except for a
  reshoot: a replacement (``replaces_image_id``) of an image with an open reshoot item, or
  a frame or shot with an open item of its own, is taken by a finished session too.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper
from rest_framework import status

from accounts.access import actor_of_shape, may, may_use_site_of_row, visibility_shape
from images_app import storage
from images_app.models import Image
from images_app.review import reshoot_open_for, reshoot_open_for_place
from images_app.rules import THUMB_SIZES
from imaging.api.errors import ApplicationError
from imaging.db import PreparedQuery, insert_new
from sessions_app.models import CaptureSession
from sessions_app.services import session_detail_changed

CONTENT_TYPE_EXTENSIONS = {
    Image.ContentType.JPEG.value: "jpg",
    Image.ContentType.HEIC.value: "heic",
}


def image_storage_key(
    *,
    org_id: uuid.UUID,
    site_id: uuid.UUID,
    session_id: uuid.UUID,
    image_id: uuid.UUID,
    content_type: str,
) -> str:
    extension = CONTENT_TYPE_EXTENSIONS.get(content_type)
    if extension is None:
        raise ValueError(f"no storage key for content type {content_type!r}")
    return f"{_image_prefix(org_id, site_id, session_id, image_id)}.{extension}"


def thumb_storage_key(
    *,
    org_id: uuid.UUID,
    site_id: uuid.UUID,
    session_id: uuid.UUID,
    image_id: uuid.UUID,
    size: int,
) -> str:
    if size not in THUMB_SIZES:
        raise ValueError(f"no thumbnail size {size}")
    return f"{_image_prefix(org_id, site_id, session_id, image_id)}/thumb_{size}.jpg"


def image_thumb_keys(*, image: Image, site_id: uuid.UUID | None = None) -> dict[str, str]:
    """``{"150": key, "600": key, "1200": key}`` for an image (``thumb_keys`` shape)."""
    site = site_id or image.session.site_id
    return {
        str(size): thumb_storage_key(
            org_id=image.org_id,
            site_id=site,
            session_id=image.session_id,
            image_id=image.id,
            size=size,
        )
        for size in sorted(THUMB_SIZES)
    }


def session_storage_prefix(*, org_id: uuid.UUID, site_id: uuid.UUID, session_id: uuid.UUID) -> str:
    """The prefix every object of the session's images starts with (ends with ``/``)."""
    # uuid.UUID() refuses anything else, so nothing but hex and dashes reaches a key.
    parts = [str(uuid.UUID(str(v))) for v in (org_id, site_id, session_id)]
    return "org/{}/site/{}/session/{}/".format(*parts)


def _image_prefix(
    org_id: uuid.UUID, site_id: uuid.UUID, session_id: uuid.UUID, image_id: uuid.UUID
) -> str:
    session_prefix = session_storage_prefix(org_id=org_id, site_id=site_id, session_id=session_id)
    return f"{session_prefix}{uuid.UUID(str(image_id))}"


def spin_angle(*, frame_index: int, frame_count: int) -> int:
    """The angle of a spin frame: floor(index * 360 / frame_count)."""
    return frame_index * 360 // frame_count


def _frame_at_angle(*, angle_deg: int, frame_count: int | None) -> int | None:
    """The frame whose angle is exactly ``angle_deg``, if the spin has one."""
    if not frame_count:
        return None
    index = -(-angle_deg * frame_count // 360)  # ceil: the first frame at or past the angle
    if index < frame_count and spin_angle(frame_index=index, frame_count=frame_count) == angle_deg:
        return index
    return None


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "VALIDATION_ERROR", "The request is not valid.", details={field: [message]}
    )


def _misplaced(field: str, message: str) -> ApplicationError:
    """A well-formed placement that does not fit this session (its mode, frames or shot
    list): a conflict with the session's state, not a malformed request."""
    return ApplicationError(
        "PLACEMENT_CONFLICT",
        message,
        status_code=status.HTTP_409_CONFLICT,
        details={field: [message]},
    )


# What presigning reads of the session (compiled once, imaging.db): the columns placement
# and keys need, and whether the caller may still use the session's site.
_UPLOAD_SESSION_FIELDS = (
    "id",
    "org_id",
    "site_id",
    "vehicle_id",
    "mode",
    "shot_list",
    "status",
    "operator_id",
    "device_id",
)

_locked_session_for_upload = PreparedQuery(
    lambda shape, *, org_id, principal_id, session_id: (
        CaptureSession.objects.select_for_update()
        .filter(pk=session_id, org_id=org_id)
        .annotate(
            caller_may_use_site=ExpressionWrapper(
                may_use_site_of_row(
                    actor=actor_of_shape(shape, org_id=org_id, principal_id=principal_id)
                ),
                output_field=BooleanField(),
            )
        )
        .values(*_UPLOAD_SESSION_FIELDS, "caller_may_use_site")
    )
)


def _not_active(session: CaptureSession) -> ApplicationError:
    return ApplicationError(
        "SESSION_NOT_ACTIVE",
        f"The session is {session.status}; uploads need an active session.",
        status_code=status.HTTP_409_CONFLICT,
        details={"status": session.status},
    )


def _session_for_upload(
    *, actor: Any, session_id: uuid.UUID, only_active: bool = True
) -> CaptureSession:
    """The caller's session, row-locked for the rest of the transaction.

    Whether the caller may still use the session's site is read in the same query.
    """
    # By primary key: no LIMIT (which would follow the FOR UPDATE).
    rows = _locked_session_for_upload.rows(
        visibility_shape(actor), org_id=actor.org_id, principal_id=actor.id, session_id=session_id
    )
    row = rows[0] if rows else None
    if row is None:
        raise ApplicationError("NOT_FOUND", "Session not found.", status_code=404)
    caller_may_use_site = row.pop("caller_may_use_site")
    session = CaptureSession(**row)
    if not caller_may_use_site and not actor.is_device:
        raise ApplicationError("NOT_FOUND", "Session not found.", status_code=404)
    if not caller_may_use_site or not may(actor, "image.upload", session):
        raise ApplicationError(
            "FORBIDDEN", "This session belongs to another caller.", status_code=403
        )
    if only_active and session.status != CaptureSession.Status.ACTIVE:
        raise _not_active(session)
    return session


def _replacement_placement(
    *,
    session: CaptureSession,
    replaces_image_id: uuid.UUID,
    angle_deg: int | None,
    frame_index: int | None,
    shot_name: str | None,
) -> tuple[int | None, int | None, str | None]:
    """The original's frame or shot, if it has an open reshoot item."""
    original = (
        Image.objects.filter(pk=replaces_image_id, session_id=session.id)
        .only("id", "session_id", "frame_index", "angle_deg", "shot_name")
        .first()
    )
    if original is None:
        raise ApplicationError(
            "NOT_FOUND",
            "No image of this session has that id.",
            status_code=status.HTTP_404_NOT_FOUND,
            details={"replaces_image_id": ["Not an image of this session."]},
        )
    if reshoot_open_for(image=original) is None:
        raise ApplicationError(
            "RESHOOT_NOT_OPEN",
            "That image has no open reshoot request; only requested reshoots are replaced.",
            status_code=status.HTTP_409_CONFLICT,
            details={"replaces_image_id": ["No open reshoot request."]},
        )
    given = {"angle_deg": angle_deg, "frame_index": frame_index, "shot_name": shot_name}
    for field, value in given.items():
        if value is not None and value != getattr(original, field):
            raise _misplaced(field, "A replacement takes its original's frame or shot.")
    return original.frame_index, original.angle_deg, original.shot_name


# Frames with an image that has not failed (compiled once, imaging.db).
_taken_frames = PreparedQuery(
    lambda shape, *, session_id: (
        Image.objects.filter(session_id=session_id, frame_index__isnull=False)
        .exclude(status=Image.Status.FAILED)
        .values("frame_index")
    )
)

# The pending image a repeated presign (same photo, same session) is for.
_pending_retry = PreparedQuery(
    lambda shape, *, session_id, content_sha256, content_type: (
        Image.objects.filter(
            session_id=session_id,
            content_sha256=content_sha256,
            content_type=content_type,
            status=Image.Status.PENDING,
        )
        .order_by("created_at", "id")
        .values("id")
    )
)


def _pending_image(photo: dict[str, Any]) -> Image | None:
    """The pending image a repeated presign of ``photo`` is for, if any."""
    found = _pending_retry.first(None, **photo)
    return None if found is None else Image.objects.get(pk=found["id"])


def _placement(
    *,
    session: CaptureSession,
    angle_deg: int | None,
    frame_index: int | None,
    shot_name: str | None,
) -> tuple[int | None, int | None, str | None]:
    """``(frame_index, angle_deg, shot_name)`` for a new image of this session."""
    if not session.is_spin:
        if angle_deg is not None or frame_index is not None:
            field = "angle_deg" if angle_deg is not None else "frame_index"
            raise _misplaced(field, "Only spin sessions (studio360, walk360) take angles/frames.")
        names = session.still_names
        if shot_name is not None and names and shot_name not in names:
            raise _misplaced("shot_name", "Not in this session's shot list.")
        return None, None, shot_name

    if shot_name is not None:
        raise _misplaced("shot_name", "Spin sessions take angle_deg or frame_index, not shots.")
    if angle_deg is not None and frame_index is not None:
        raise _invalid("non_field_errors", "Send angle_deg or frame_index, not both.")
    frame_count = session.frame_count
    if isinstance(frame_count, bool) or not isinstance(frame_count, int) or frame_count < 1:
        frame_count = None  # a shot list edited by hand: no frames to assign
    if frame_index is not None:
        if not frame_count or frame_index >= frame_count:
            raise _misplaced(
                "frame_index", f"Must be below the session's frame_count ({frame_count})."
            )
        return frame_index, spin_angle(frame_index=frame_index, frame_count=frame_count), None
    if angle_deg is not None:
        return _frame_at_angle(angle_deg=angle_deg, frame_count=frame_count), angle_deg, None
    if not frame_count:
        return None, None, None
    taken = {row["frame_index"] for row in _taken_frames.rows(None, session_id=session.id)}
    free = next((i for i in range(frame_count) if i not in taken), None)
    if free is None:
        raise ApplicationError(
            "NO_FREE_FRAME",
            "Every frame of this spin has an upload; send frame_index to retake one.",
            status_code=status.HTTP_409_CONFLICT,
            details={"frame_count": frame_count},
        )
    return free, spin_angle(frame_index=free, frame_count=frame_count), None


def image_upload_start(
    *,
    actor: Any,
    session_id: uuid.UUID,
    file_name: str,
    content_type: str,
    content_sha256: str,
    angle_deg: int | None = None,
    frame_index: int | None = None,
    shot_name: str | None = None,
    content_length: int | None = None,
    replaces_image_id: uuid.UUID | None = None,
    request_id: str | None = None,
) -> tuple[Image, storage.PresignedPut]:
    """Create the pending Image (or find the one a retry is for) and presign its PUT.

    A retry — the same SHA-256 and content type for the same session while that image is
    still pending — gets the same image and key with a fresh URL. Spin frames without an
    explicit ``frame_index``/``angle_deg`` get the lowest free frame (one whose images all
    failed counts as free); the session row lock makes that assignment atomic.

    ``content_length`` (1 to ``MAX_UPLOAD_BYTES``), when given, is signed into the URL: the
    store refuses a body of any other length. It is not stored: each URL, a retry's too,
    signs the length its own request declares. The SHA-256 already fixes the bytes, so a
    retry declaring another length gets a URL for a body that cannot match the checksum
    as well, and the store refuses it; the retry with the true length uploads.

    ``replaces_image_id``: the upload replaces that image of the session, which must have
    an open reshoot item; it gets the original's frame or shot, and the session may be
    finished. A finished session also takes a frame or shot with an open item of its own.

    Records no event: the device reports ``upload_started``/``upload_complete`` itself.
    ``request_id`` is accepted for symmetry with the other services.
    """
    if content_type not in CONTENT_TYPE_EXTENSIONS:
        raise _invalid("content_type", "Must be image/jpeg or image/heic.")
    if content_length is not None and not 1 <= content_length <= settings.MAX_UPLOAD_BYTES:
        raise _invalid("content_length", f"Must be from 1 to {settings.MAX_UPLOAD_BYTES} bytes.")
    sha256 = content_sha256.lower()
    photo = {"session_id": session_id, "content_sha256": sha256, "content_type": content_type}
    with transaction.atomic():
        is_reshoot = replaces_image_id is not None
        session = _session_for_upload(actor=actor, session_id=session_id, only_active=False)
        # A finished session takes only what a reviewer asked for (checked below).
        closed = session.status != CaptureSession.Status.ACTIVE and not is_reshoot
        try:
            if is_reshoot:
                frame, angle, shot = _replacement_placement(
                    session=session,
                    replaces_image_id=replaces_image_id,
                    angle_deg=angle_deg,
                    frame_index=frame_index,
                    shot_name=shot_name,
                )
            else:
                frame, angle, shot = _placement(
                    session=session,
                    angle_deg=angle_deg,
                    frame_index=frame_index,
                    shot_name=shot_name,
                )
        except ApplicationError:
            if closed:
                raise _not_active(session) from None
            # A repeat is answered with its image even where a new one would not fit (its
            # own frame may be the last free one).
            image = _pending_image(photo)
            if image is None:
                raise
        else:
            if closed and not reshoot_open_for_place(
                session_id=session.id, frame_index=frame, shot_name=shot
            ):
                raise _not_active(session)
            image_id = uuid.uuid4()
            image = Image(
                id=image_id,
                replaces_id=replaces_image_id,
                org_id=session.org_id,
                session=session,
                vehicle_id=session.vehicle_id,
                frame_index=frame,
                angle_deg=angle,
                shot_name=shot,
                file_name=file_name,
                content_type=content_type,
                content_sha256=sha256,
                storage_key=image_storage_key(
                    org_id=session.org_id,
                    site_id=session.site_id,
                    session_id=session.id,
                    image_id=image_id,
                    content_type=content_type,
                ),
            )
            # Inserted unless this photo already has a pending image (a repeat), checked by
            # the INSERT itself: one statement, after the session's lock is held.
            if insert_new(image, unless=_pending_retry.sql(None, **photo)):
                # A new frame in the session's detail (the lock is held already).
                session_detail_changed(session_id=session.id)
            else:
                image = _pending_image(photo)
    presigned = storage.presigned_put(
        key=image.storage_key,
        content_type=image.content_type,
        sha256_hex=image.content_sha256,
        content_length=content_length,
    )
    return image, presigned
