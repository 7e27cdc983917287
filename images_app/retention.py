"""Retention: stale active sessions become ``abandoned``; old abandoned sessions are purged.

- ``sessions_stale`` / ``session_expire``: an active session with no activity (its start, or
  an image presigned or uploaded) for a while was left open by a device that crashed or lost
  its network. Expiring finishes it as ``abandoned`` with a ``session_finished`` event
  (``meta.reason = "expired"``), as if the device had said so.
- ``sessions_purgeable`` / ``session_purge``: an abandoned session finished long ago is
  deleted with its images, after its originals and thumbnails are deleted from the store.
  Events are kept (they reference ids, not rows): the audit trail outlives the data.

Both are idempotent: a session already changed by someone else is skipped, a purge that
failed half way (the store was unreachable) leaves the rows and runs again next time.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import Organization
from sessions_app.models import CaptureSession
from sessions_app.services import session_finished_write

logger = logging.getLogger(__name__)


def _with_last_activity(sessions: QuerySet[CaptureSession]) -> QuerySet[CaptureSession]:
    return sessions.annotate(
        last_activity=Greatest(
            "started_at",
            Coalesce(Max("images__created_at"), "started_at"),
            Coalesce(Max("images__uploaded_at"), "started_at"),
        )
    )


def sessions_stale(
    *, idle_for: timedelta, now: datetime | None = None, org: Organization | None = None
) -> QuerySet[CaptureSession]:
    """Active sessions whose last activity is older than ``idle_for``, oldest first."""
    now = now or timezone.now()
    sessions = CaptureSession.objects.filter(status=CaptureSession.Status.ACTIVE)
    if org is not None:
        sessions = sessions.filter(org=org)
    return (
        _with_last_activity(sessions)
        .filter(last_activity__lt=now - idle_for)
        .order_by("started_at", "id")
    )


def session_expire(
    *, session: CaptureSession, idle_for: timedelta, now: datetime | None = None
) -> bool:
    """``active → abandoned`` if the session is still active and still idle; else False.

    Checked again under the row lock: a device may have uploaded since the session was
    selected.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = CaptureSession.objects.select_for_update().filter(pk=session.pk).first()
        if locked is None or locked.status != CaptureSession.Status.ACTIVE:
            return False
        if not sessions_stale(idle_for=idle_for, now=now).filter(pk=locked.pk).exists():
            return False
        session_finished_write(
            locked=locked,
            status=CaptureSession.Status.ABANDONED,
            completed_at=now,
            completed_at_source="server",
            actor=None,
            message=f"Expired after {idle_for} without activity.",
            meta={"reason": "expired", "idle_hours": round(idle_for.total_seconds() / 3600, 2)},
        )
    return True


def sessions_purgeable(
    *, finished_before: datetime, org: Organization | None = None
) -> QuerySet[CaptureSession]:
    """Abandoned sessions that finished before ``finished_before``, oldest first."""
    sessions = CaptureSession.objects.filter(
        status=CaptureSession.Status.ABANDONED, completed_at__lt=finished_before
    )
    if org is not None:
        sessions = sessions.filter(org=org)
    return sessions.order_by("completed_at", "id")


@dataclass(frozen=True)
class PurgeResult:
    session_id: uuid.UUID
    images: int
    objects: int
    purged: bool


def session_storage_keys(*, session: CaptureSession) -> list[str]:
    """Every key the session's images may have in the store: originals and thumbnails.

    Thumbnail keys are deterministic, so they are listed even where ``thumb_keys`` is empty
    (a worker that died after writing them); deleting a missing key is harmless.
    """
    from images_app.uploads import image_thumb_keys

    keys: list[str] = []
    for image in session.images.only("id", "org_id", "session_id", "storage_key", "thumb_keys"):
        keys.append(image.storage_key)
        keys.extend((image.thumb_keys or {}).values())
        keys.extend(image_thumb_keys(image=image, site_id=session.site_id).values())
    return list(dict.fromkeys(keys))


def session_purge(*, session: CaptureSession, finished_before: datetime) -> PurgeResult:
    """Delete the session's objects from the store, then its rows; keep its events.

    The store first: if it is unreachable (``StorageUnavailable``) nothing is deleted from
    the database and the next run tries again, so no object is ever orphaned.
    """
    from images_app import storage

    keys = session_storage_keys(session=session)
    image_count = session.images.count()
    storage.delete_keys(keys=keys)
    with transaction.atomic():
        deleted = sessions_purgeable(finished_before=finished_before).filter(pk=session.pk)
        locked = deleted.select_for_update().first()
        if locked is None:
            return PurgeResult(session.id, 0, len(keys), purged=False)
        locked.images.all().delete()
        locked.delete()
    logger.info(
        "purged session %s: %d image(s), %d object key(s)",
        session.id,
        image_count,
        len(keys),
        extra={"session_id": str(session.id), "org_id": str(session.org_id)},
    )
    return PurgeResult(session.id, image_count, len(keys), purged=True)
