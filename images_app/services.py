"""Image state changes: upload complete, processing, publishing, reprocessing, the sweeper.

Every transition is a compare-and-set (a conditional update or ``select_for_update``) and
records its events in the same transaction, so running any of these twice is harmless.

Processing guarantees (``image_process``):
- A claim is ``pending → processing`` with ``attempts + 1``; the attempt number is the
  claim's token, and the result is written only while that token still holds. A worker that
  died mid-task leaves a claim that a redelivered or retried task, or any task once the claim
  is older than the task time limit, may take over; the dead worker's late result (if its
  process lingers) is then discarded, so an image is processed once however often it runs.
- Download, decode and thumbnail upload happen outside any transaction; the result is written
  in one short ``atomic()`` with its events (``processed``, ``qc_failed``,
  ``processing_failed``).
- A bad file fails the image with the pipeline's code (or ``too_large``) and is never
  retried; once that failure is committed its original and thumbnails are deleted from the
  store (``_image_objects_discard``), the image row and its events keep the reason.
  Transient storage or database errors put the image back to ``pending``, give the attempt
  back (an outage says nothing about the photo) and re-raise for the task's retry; if the
  retries run out first, the sweeper enqueues the image again later. Every other claim counts: after
  ``PROCESS_MAX_ATTEMPTS`` of them (workers killed by the photo, bugs) the image fails with
  ``too_many_attempts``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from events_app.models import Event
from events_app.services import actor_fields, event_record
from images_app import duplicates, published_set, spin_health, storage, uploads
from images_app.models import CheckPolicy, Image
from images_app.queue import image_process_enqueue, image_process_enqueue_on_commit
from images_app.review import (
    reshoot_automatic,
    reshoot_required_gate,
    reshoots_accepted,
    reshoots_fulfil,
)
from images_app.rules import QC_FAIL, qc_failure_reasons
from imaging.api.errors import ApplicationError
from imaging.db import PreparedQuery, id_list_text, in_id_list
from sessions_app.models import CaptureSession
from sessions_app.services import session_detail_changed, session_detail_changed_of_images

logger = logging.getLogger(__name__)

# Errors that say nothing about the image: try again later.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    storage.StorageUnavailable,
    OperationalError,
    InterfaceError,
)
# Failures that say nothing certain about the photo: its original is kept so that a
# reprocess can still succeed. Every other failure code (the pipeline's, ``too_large``)
# is the file's own and permanent: its objects are deleted.
FAILURES_KEEPING_THE_ORIGINAL = frozenset({"timeout", "too_many_attempts", "upload_missing"})
# A session still open after this long has its objects swept too (once; again when it ends).
SWEEP_OPEN_SESSIONS_AFTER = timedelta(days=1)
# A device may retry its PUT for a while after the URL expired (clock skew, a slow link).
UPLOAD_MISSING_GRACE = timedelta(hours=1)
THUMB_CONTENT_TYPE = "image/jpeg"


def _claim_stale_after() -> timedelta:
    """A claim older than the hard task time limit cannot belong to a live task."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def _system_event(image: Image, type: str, *, message: str = "", meta=None) -> None:
    event_record(
        org_id=image.org_id,
        entity_type=Event.EntityType.IMAGE,
        entity_id=image.id,
        type=type,
        message=message,
        meta=meta,
        **actor_fields(None),
    )


# --- upload complete -------------------------------------------------------------------


def image_upload_complete(*, image_id: uuid.UUID) -> bool:
    """Note that the bytes are in the store and enqueue processing, once.

    Only the first ``upload_complete`` of a pending image (``uploaded_at`` still empty)
    enqueues; repeats, and reports about images past ``pending``, change nothing.
    """
    marked = Image.objects.filter(
        pk=image_id, status=Image.Status.PENDING, uploaded_at__isnull=True
    ).update(uploaded_at=timezone.now())
    if marked:
        image_process_enqueue_on_commit(image_id)
    return bool(marked)


def images_upload_complete(*, image_ids: list[uuid.UUID]) -> int:
    """``image_upload_complete`` for many images (a batch of events); returns how many
    started processing.

    One query finds the images still waiting for their first report, so repeated reports,
    the usual case in a telemetry batch, cost nothing more; each waiting image is then
    marked with the same conditional update, which keeps concurrent batches from enqueueing
    an image twice.
    """
    if not image_ids:
        return 0
    rows = _upload_states.rows(None, ids=id_list_text(image_ids))
    waiting = [
        row["pk"]
        for row in rows
        if row["status"] == Image.Status.PENDING and row["uploaded_at"] is None
    ]
    return sum(image_upload_complete(image_id=image_id) for image_id in waiting)


# The upload state of a list of images, by primary key only (compiled once, the ids as one
# parameter: imaging.db). The pending filter is applied here, not in SQL: with a prepared
# statement's generic plan and statistics from before a burst of presigns, PostgreSQL
# would otherwise walk every pending image through the status index for each batch.
_upload_states = PreparedQuery(
    lambda shape, *, ids: Image.objects.filter(pk__in=in_id_list(ids)).values(
        "pk", "status", "uploaded_at"
    )
)


# --- processing ------------------------------------------------------------------------


def qc_failed_checks(qc: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, check in (qc or {}).items()
        if isinstance(check, dict) and check.get("status") == QC_FAIL
    )


def image_process(*, image_id: uuid.UUID | str, reclaim: bool = False) -> str:
    """Process one uploaded image; returns what happened (for logs and tests).

    ``reclaim``: the caller knows the previous attempt is dead (the message was redelivered
    after its worker was lost), so a ``processing`` claim may be taken over at once.
    """
    from images_app import pipeline  # Pillow loads in workers only

    image = _image_claim(image_id=uuid.UUID(str(image_id)), reclaim=reclaim)
    if image is None:
        return "skipped"
    token = image.attempts
    try:
        size = storage.object_size(key=image.storage_key)
        if size is None:
            # The device said "complete" too early or its PUT failed: wait for the object
            # (a later upload_complete or the sweeper enqueues again).
            _image_release(image=image, token=token, clear_uploaded=True)
            logger.warning("image %s: no object at %s yet", image.id, image.storage_key)
            return "upload_missing"
        if size > settings.MAX_UPLOAD_BYTES:
            # Known from the HEAD: the object is never read.
            if _image_fail_too_large(image=image, token=token, size=size):
                _image_objects_discard(image=image)
            return "failed"
        try:
            data = storage.get_bytes(key=image.storage_key, max_bytes=settings.MAX_UPLOAD_BYTES)
        except storage.ObjectNotFound:
            _image_release(image=image, token=token, clear_uploaded=True)
            return "upload_missing"
        except storage.ObjectTooLarge as exc:
            if _image_fail_too_large(image=image, token=token, size=exc.size):
                _image_objects_discard(image=image)
            return "failed"
        try:
            result = pipeline.process_image_bytes(
                data,
                content_type=image.content_type,
                expected_sha256=image.content_sha256,
                # The pipeline merges the org's overrides over its defaults.
                thresholds=image.org.qc_thresholds or None,
                max_jpeg_scans=settings.PROCESS_MAX_JPEG_SCANS,
            )
        except pipeline.PipelineError as exc:
            if _image_fail(image=image, token=token, code=exc.code, message=exc.message):
                _image_objects_discard(image=image)
            return "failed"
        del data
        # Deterministic keys: a second run overwrites the same objects.
        keys = uploads.image_thumb_keys(image=image, site_id=image.session.site_id)
        thumb_keys = {str(px): keys[str(px)] for px in sorted(result.thumbnails)}
        for px, jpeg in result.thumbnails.items():
            storage.put_bytes(key=keys[str(px)], data=jpeg, content_type=THUMB_CONTENT_TYPE)
        outcome = _image_finish(
            image=image, token=token, result=result, thumb_keys=thumb_keys, size=size
        )
        if outcome == "processed" and result.signature is not None:
            _image_checks(image=image, signature=result.signature)
        return outcome
    except TRANSIENT_ERRORS:
        # The store or the database is down, not the photo's fault: an outage longer than
        # the task's retries must not use up the image's attempts and fail it.
        _image_release_quietly(image=image, token=token, refund_attempt=True)
        raise
    except SoftTimeLimitExceeded:
        _image_fail(
            image=image,
            token=token,
            code="timeout",
            message="Processing took longer than the time limit.",
        )
        return "failed"
    except Exception:
        # Not the image's fault as far as we know (a bug, a misconfigured store): leave it
        # pending for a later attempt; the attempts cap stops a loop.
        logger.exception("image %s: unexpected error while processing", image.id)
        _image_release_quietly(image=image, token=token)
        raise


def _image_checks(*, image: Image, signature: Any) -> None:
    """Duplicate photos and spin health (images_app/duplicates.py, spin_health.py). The
    image is processed already: a failure here is logged, never undoes that, and
    ``reprocess_images --signatures`` fills the gap."""
    try:
        duplicates.signature_store(image=image, signature=signature)
        if image.frame_index is not None:
            spin_health.spin_health_refresh(session_id=image.session_id)
    except Exception:
        logger.exception("image %s: duplicate and spin checks failed", image.id)


def _image_claim(*, image_id: uuid.UUID, reclaim: bool) -> Image | None:
    now = timezone.now()
    claimable = Q(status=Image.Status.PENDING) | Q(
        status=Image.Status.PROCESSING, processing_started_at__lt=now - _claim_stale_after()
    )
    if reclaim:
        claimable |= Q(status=Image.Status.PROCESSING)
    max_attempts = settings.PROCESS_MAX_ATTEMPTS
    with transaction.atomic():
        # The session's row first (its detail shows the frame's status), as everywhere.
        session_detail_changed_of_images(image_filter=Q(images__pk=image_id))
        claimed = Image.objects.filter(claimable, pk=image_id, attempts__lt=max_attempts).update(
            status=Image.Status.PROCESSING,
            attempts=F("attempts") + 1,
            processing_started_at=now,
            error="",
        )
        if claimed:
            # Our update holds the row lock until commit, so this reads our own claim.
            return Image.objects.select_related("org", "session").get(pk=image_id)
        exhausted = Image.objects.filter(claimable, pk=image_id, attempts__gte=max_attempts).update(
            status=Image.Status.FAILED, error="too_many_attempts", processed_at=now
        )
        if exhausted:
            image = Image.objects.get(pk=image_id)
            _system_event(
                image,
                Event.Type.PROCESSING_FAILED,
                message=f"Gave up after {image.attempts} attempts.",
                meta={"code": "too_many_attempts", "attempts": image.attempts},
            )
    return None


def _held(image: Image, token: int):
    """The image's row, as long as our claim still holds."""
    return Image.objects.filter(pk=image.pk, status=Image.Status.PROCESSING, attempts=token)


def _image_release(
    *, image: Image, token: int, clear_uploaded: bool = False, refund_attempt: bool = False
) -> None:
    changes: dict[str, Any] = {"status": Image.Status.PENDING, "processing_started_at": None}
    if clear_uploaded:
        changes["uploaded_at"] = None
    if refund_attempt:
        # The claim released is the current one (``_held``): no live claim holds this token
        # any more, so the next claim may get it again.
        changes["attempts"] = F("attempts") - 1
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        _held(image, token).update(**changes)


def _image_release_quietly(*, image: Image, token: int, refund_attempt: bool = False) -> None:
    """Best effort: with the database down the claim goes stale and is taken over later."""
    try:
        _image_release(image=image, token=token, refund_attempt=refund_attempt)
    except DatabaseError:
        logger.warning("image %s: could not release the claim", image.id)


def _image_fail(
    *, image: Image, token: int, code: str, message: str = "", meta: dict | None = None
) -> bool:
    """Fail the image while our claim holds; False when another attempt took it over."""
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        failed = _held(image, token).update(
            status=Image.Status.FAILED, error=code[:64], processed_at=timezone.now()
        )
        if failed:
            _system_event(
                image,
                Event.Type.PROCESSING_FAILED,
                message=message,
                meta={"code": code, **(meta or {})},
            )
    logger.info("image %s failed: %s", image.id, code)
    return bool(failed)


def _image_fail_too_large(*, image: Image, token: int, size: int | None) -> bool:
    limit = settings.MAX_UPLOAD_BYTES
    return _image_fail(
        image=image,
        token=token,
        code="too_large",
        message=f"The upload is over the {limit}-byte limit.",
        meta={"size": size, "max_bytes": limit},
    )


def failure_keeps_the_original(code: str) -> bool:
    return code in FAILURES_KEEPING_THE_ORIGINAL


def _image_objects_discard(*, image: Image) -> None:
    """Delete a permanently failed image's original and thumbnails; call it after the
    failure committed (never inside the transaction: a rollback would leave a row without
    its object). Deleting what is already gone is fine, so running it twice is harmless.

    Best effort: if the store or the database refuses, the session is marked due a sweep,
    and the sweeper deletes the objects of a permanently failed image like an orphan's.
    """
    site_id = image.session.site_id
    keys = [image.storage_key, *uploads.image_thumb_keys(image=image, site_id=site_id).values()]
    try:
        storage.delete_keys(keys=keys)
    except (storage.StorageError, DatabaseError) as exc:
        logger.warning("image %s: could not delete its objects (%s)", image.id, exc)
        try:
            CaptureSession.objects.filter(pk=image.session_id).update(objects_swept_at=None)
        except DatabaseError:
            logger.warning("image %s: could not mark its session due a sweep", image.id)
        return
    logger.info("image %s: deleted its original and thumbnails", image.id)


def _image_finish(
    *, image: Image, token: int, result: Any, thumb_keys: dict[str, str], size: int
) -> str:
    """The result, its events and (the org's ``qc_reshoot`` policy) an automatic reshoot
    item for a QC failure, in one transaction that takes the session's row first."""
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        written = _held(image, token).update(
            status=Image.Status.PROCESSED,
            width=result.width,
            height=result.height,
            exif=result.exif,
            qc=result.qc,
            thumb_keys=thumb_keys,
            size=size,
            error="",
            processed_at=timezone.now(),
        )
        if not written:
            # Another attempt took the claim over (ours was presumed dead): its result counts.
            return "superseded"
        _system_event(
            image,
            Event.Type.PROCESSED,
            meta={"width": result.width, "height": result.height, "attempt": token},
        )
        failed_checks = qc_failed_checks(result.qc)
        if failed_checks:
            _system_event(
                image,
                Event.Type.QC_FAILED,
                message="QC failed: " + ", ".join(failed_checks),
                meta={"failed": failed_checks, "qc": result.qc},
            )
            _qc_reshoot(image=image, qc=result.qc)
        else:
            # A replacement (or a missing shot) that passes QC answers its reshoot.
            reshoots_fulfil(image=image)
    return "processed"


def _qc_reshoot(*, image: Image, qc: dict[str, Any]) -> None:
    """The org's "reshoot on QC failure": an automatic reshoot item for the failed frame or
    shot, in the caller's transaction (which holds the session's row)."""
    mode = duplicates.policy_for(image.org_id).qc_reshoot
    reasons = qc_failure_reasons(qc)
    if mode == CheckPolicy.QcReshoot.OFF or not reasons:
        return
    session = CaptureSession.objects.select_for_update().get(pk=image.session_id)
    reshoot_automatic(
        session=session,
        image=image,
        reasons=reasons,
        required=mode == CheckPolicy.QcReshoot.REQUIRE,
    )


# --- publish and reprocess ---------------------------------------------------------------


def _user_of(actor: Any) -> User | None:
    if isinstance(actor, User):
        return actor
    return getattr(actor, "user", None)


def image_publish(*, image: Image, actor: Any, _heard: bool = True) -> Image:
    """``processed → published``; publishing a published image changes nothing.

    Publishing a replacement supersedes its original (a published original becomes
    ``superseded``) and closes the reshoot items it answers, QC or not: the reviewer
    accepted it. ``actor``: the API's Actor or a User (admin actions). The vehicle's
    publication hears of it in the same transaction (``published_set``).
    """
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)  # the session's row first
        locked = Image.objects.select_for_update().get(pk=image.pk)
        if locked.status == Image.Status.PUBLISHED:
            return locked
        if locked.status != Image.Status.PROCESSED:
            raise ApplicationError(
                "INVALID_TRANSITION",
                f"Only processed images can be published; this one is {locked.status}.",
                status_code=409,
                details={"status": locked.status},
            )
        _coverage_gate(session_id=locked.session_id)
        reshoot_required_gate(image=locked)  # the org's qc_reshoot policy is "require"
        duplicates.publish_check(image=locked)  # the org's duplicate and spin policies
        locked.status = Image.Status.PUBLISHED
        locked.published_at = timezone.now()
        locked.published_by = _user_of(actor)
        locked.save(update_fields=["status", "published_at", "published_by"])
        event_record(
            org_id=locked.org_id,
            entity_type=Event.EntityType.IMAGE,
            entity_id=locked.id,
            type=Event.Type.PUBLISHED,
            **actor_fields(actor),
        )
        if locked.replaces_id is not None:
            Image.objects.filter(pk=locked.replaces_id, status=Image.Status.PUBLISHED).update(
                status=Image.Status.SUPERSEDED
            )
        reshoots_fulfil(image=locked, actor=actor)
        reshoots_accepted(image=locked, actor=actor)
        if _heard:
            published_set.changed(
                vehicle_ids=[locked.vehicle_id],
                actor=actor,
                action="publish",
                image_ids=[locked.id],
            )
    return locked


def image_unpublish(*, image: Image, actor: Any) -> Image:
    """``published → processed``: the photo leaves the vehicle's publication (in the same
    transaction); unpublishing an image that is not published changes nothing."""
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        locked = Image.objects.select_for_update().get(pk=image.pk)
        if locked.status != Image.Status.PUBLISHED:
            return locked
        locked.status = Image.Status.PROCESSED
        locked.published_at = None
        locked.save(update_fields=["status", "published_at"])
        published_set.changed(
            vehicle_ids=[locked.vehicle_id], actor=actor, action="unpublish", image_ids=[locked.id]
        )
    return locked


def _coverage_gate(*, session_id: uuid.UUID) -> None:
    """A session whose shot-list template or organisation (``CheckPolicy.coverage``) blocks
    publishing below full coverage publishes nothing until every required item is covered
    (the default only warns, in the console)."""
    from images_app.selectors import coverage_blocks, template_coverage

    session = CaptureSession.objects.select_related("shot_list_template").get(pk=session_id)
    if not coverage_blocks(session=session):
        return
    coverage = template_coverage(session=session)
    if coverage is not None and coverage.missing:
        raise ApplicationError(
            "COVERAGE_INCOMPLETE",
            f"The shot list is {coverage.percent} % covered; this organisation publishes "
            "only complete sessions.",
            status_code=409,
            details={"missing": coverage.missing, "percent": coverage.percent},
        )


@dataclass
class PublishOutcome:
    """What a publish of several images did, for the reviewer's message."""

    published: list[Image] = field(default_factory=list)
    already_published: list[Image] = field(default_factory=list)
    # Not processed (pending, processing, failed): nothing to publish yet, or ever.
    not_publishable: list[Image] = field(default_factory=list)
    # Processed but failed a quality check, left for the reviewer to confirm.
    skipped_qc_failures: list[Image] = field(default_factory=list)
    # Held back: the session's shot list is not fully covered and its template blocks.
    blocked_by_coverage: list[Image] = field(default_factory=list)
    # Held back: a required automatic reshoot item is open for it (qc_reshoot "require").
    blocked_by_reshoot: list[Image] = field(default_factory=list)


def images_publish(*, images: Iterable[Image], actor: Any) -> PublishOutcome:
    """Publish each image with ``image_publish`` (its own row lock and ``published`` event);
    images that are not processed are reported, not raised. One transaction: each vehicle's
    publication hears of the whole batch once (one version)."""
    outcome = PublishOutcome()
    with transaction.atomic():
        for image in images:
            if image.status == Image.Status.PUBLISHED:
                outcome.already_published.append(image)
                continue
            try:
                outcome.published.append(image_publish(image=image, actor=actor, _heard=False))
            except ApplicationError as exc:
                if exc.code == "COVERAGE_INCOMPLETE":
                    outcome.blocked_by_coverage.append(image)
                elif exc.code == "RESHOOT_REQUIRED":
                    outcome.blocked_by_reshoot.append(image)
                else:
                    outcome.not_publishable.append(image)
        published_set.changed(
            vehicle_ids=[image.vehicle_id for image in outcome.published],
            actor=actor,
            action="bulk_publish" if len(outcome.published) > 1 else "publish",
            image_ids=[image.id for image in outcome.published],
        )
    return outcome


def vehicle_published_set_replace(
    *, vehicle_id: uuid.UUID, image_ids: Iterable[uuid.UUID], actor: Any, action: str
) -> list[uuid.UUID]:
    """Make exactly ``image_ids`` the vehicle's published images, in one transaction (a
    rollback to an earlier version, a withdrawal with none): the others are unpublished,
    those still processed are published again. Returns the ids published afterwards; an id
    no longer processed or published (reprocessed, failed) is left out."""
    wanted = set(image_ids)
    now = timezone.now()
    user = _user_of(actor)
    with transaction.atomic():
        # The vehicle's sessions first (their frames' states change), then the images.
        session_detail_changed_of_images(image_filter=Q(images__vehicle_id=vehicle_id))
        rows = list(
            Image.objects.select_for_update()
            .filter(vehicle_id=vehicle_id)
            .filter(Q(status=Image.Status.PUBLISHED) | Q(pk__in=wanted))
            .order_by("pk")
        )
        leaving = [r.pk for r in rows if r.status == Image.Status.PUBLISHED and r.pk not in wanted]
        coming = [r for r in rows if r.status == Image.Status.PROCESSED and r.pk in wanted]
        Image.objects.filter(pk__in=leaving).update(
            status=Image.Status.PROCESSED, published_at=None
        )
        Image.objects.filter(pk__in=[r.pk for r in coming]).update(
            status=Image.Status.PUBLISHED, published_at=now, published_by=user
        )
        for image in coming:
            event_record(
                org_id=image.org_id,
                entity_type=Event.EntityType.IMAGE,
                entity_id=image.id,
                type=Event.Type.PUBLISHED,
                meta={"action": action},
                **actor_fields(actor),
            )
        published_set.changed(
            vehicle_ids=[vehicle_id],
            actor=actor,
            action=action,
            image_ids=[*leaving, *(r.pk for r in coming)],
        )
    kept = [r.pk for r in rows if r.status == Image.Status.PUBLISHED and r.pk in wanted]
    return kept + [r.pk for r in coming]


def session_publish_processed(
    *, session: CaptureSession, actor: Any, include_qc_failures: bool
) -> PublishOutcome:
    """Publish every processed image of a session, in viewing order.

    Images that failed a quality check are skipped and named in the outcome unless the
    reviewer confirmed them (``include_qc_failures``).
    """
    from images_app.selectors import session_images

    processed = list(session_images(session=session, status=Image.Status.PROCESSED))
    failing = [image for image in processed if qc_failed_checks(image.qc)]
    if include_qc_failures:
        return images_publish(images=processed, actor=actor)
    outcome = images_publish(
        images=[image for image in processed if image not in failing], actor=actor
    )
    outcome.skipped_qc_failures = failing
    return outcome


def images_reprocess(*, images: Iterable[Image], actor: Any = None) -> int:
    """``image_reprocess`` each image; returns how many went back to ``pending``."""
    return sum(image_reprocess(image=image, actor=actor) for image in images)


REPROCESSABLE = (Image.Status.FAILED, Image.Status.PROCESSED)


def image_reprocess(*, image: Image, actor: Any = None) -> bool:
    """``failed | processed → pending`` with a fresh attempts budget, and enqueue.

    Returns False when the image is in any other state, or failed for a reason whose
    original was deleted (nothing left to process; nothing changes).
    """
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        reprocessable = Image.objects.filter(pk=image.pk, status__in=REPROCESSABLE).exclude(
            Q(status=Image.Status.FAILED) & ~Q(error__in=FAILURES_KEEPING_THE_ORIGINAL)
        )
        moved = reprocessable.update(
            status=Image.Status.PENDING, error="", attempts=0, processing_started_at=None
        )
        if not moved:
            return False
        event_record(
            org_id=image.org_id,
            entity_type=Event.EntityType.IMAGE,
            entity_id=image.id,
            type=Event.Type.REPROCESS_REQUESTED,
            meta={"from": image.status},
            **actor_fields(actor),
        )
        image_process_enqueue_on_commit(image.id)
    return True


# --- sweeper ---------------------------------------------------------------------------


@dataclass
class SweepSummary:
    enqueued: list[uuid.UUID] = field(default_factory=list)
    stale_claims: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    waiting: int = 0
    sessions_swept: list[uuid.UUID] = field(default_factory=list)
    objects_deleted: list[str] = field(default_factory=list)
    revoked: list[uuid.UUID] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"enqueued {len(self.enqueued)} uploaded, re-enqueued {len(self.stale_claims)} "
            f"stale claims, failed {len(self.failed)} never uploaded, "
            f"{self.waiting} still within their upload window; "
            f"swept {len(self.sessions_swept)} sessions' objects, "
            f"deleted {len(self.objects_deleted)} no image claims"
        ) + (f", failed {len(self.revoked)} sent by revoked devices" if self.revoked else "")


def uploads_sweep(
    *,
    now: datetime | None = None,
    older_than: timedelta = timedelta(minutes=10),
    limit: int = 1000,
    sessions_limit: int = 50,
) -> SweepSummary:
    """Recover work the broker or the device lost; the database is the truth.

    - A pending image whose object exists is enqueued: the device may never have sent
      ``upload_complete``, or Redis lost the queued task. Only images quiet for
      ``older_than`` are considered, so work that is merely queued is rarely duplicated
      (a duplicate is harmless: the claim lets one run).
    - A ``processing`` claim older than the task time limit belongs to a dead worker: its
      image is enqueued again and the task takes the claim over.
    - A pending image whose upload URL expired over an hour ago and that has no object
      fails with ``upload_missing``.
    - An object nobody reported whose session's device has been revoked is not processed:
      the image fails with ``device_revoked`` and the object is deleted (revocation takes
      effect at once, also for a presigned PUT the device still held).
    - Objects no image claims are deleted, session by session (``_session_objects_sweep``):
      up to ``sessions_limit`` sessions a run, each once it is settled (finished longer
      ago than an upload URL lives) or open for over a day, and again only when something
      under it may have changed (it finished since, or deleting a failed original failed).
    Storage errors propagate (the beat task retries at its next run).
    """
    now = now or timezone.now()
    cutoff = now - older_than
    summary = SweepSummary()

    stale = Image.objects.filter(
        status=Image.Status.PROCESSING, processing_started_at__lt=now - _claim_stale_after()
    ).order_by("processing_started_at", "id")
    for image_id in stale.values_list("pk", flat=True)[:limit]:
        image_process_enqueue(image_id)
        summary.stale_claims.append(image_id)

    expired_before = now - timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS) - UPLOAD_MISSING_GRACE
    quiet_pending = Image.objects.filter(
        Q(uploaded_at__isnull=True, created_at__lt=cutoff) | Q(uploaded_at__lt=cutoff),
        status=Image.Status.PENDING,
    ).order_by("created_at", "id")
    quiet_pending = quiet_pending.annotate(device_revoked_at=F("session__device__revoked_at"))
    for image in quiet_pending.only("id", "org_id", "storage_key", "created_at", "uploaded_at")[
        :limit
    ]:
        if storage.object_size(key=image.storage_key) is not None:
            if image.device_revoked_at is not None and image.uploaded_at is None:
                if _image_fail_device_revoked(image=image):
                    summary.revoked.append(image.pk)
                continue
            Image.objects.filter(
                pk=image.pk, status=Image.Status.PENDING, uploaded_at__isnull=True
            ).update(uploaded_at=now)
            image_process_enqueue(image.pk)
            summary.enqueued.append(image.pk)
        elif image.created_at < expired_before:
            if _image_fail_missing(image=image):
                summary.failed.append(image.pk)
        else:
            summary.waiting += 1

    for session in _sessions_due_a_sweep(now=now)[:sessions_limit]:
        summary.objects_deleted += _session_objects_sweep(session=session, now=now)
        summary.sessions_swept.append(session.pk)
    return summary


def _sessions_due_a_sweep(*, now: datetime):
    """Sessions whose prefix is due a listing, oldest first. Listing per session rather
    than the whole bucket: a run's work is bounded by sessions, each settled session is
    listed once, and a bucket of years of photos is never walked again and again."""
    settled_before = now - timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS)
    # The same condition as the partial index session_sweep_due_idx, so that it is used.
    due = Q(objects_swept_at__isnull=True) | Q(objects_swept_at__lt=F("completed_at"))
    settled = Q(status__in=CaptureSession.FINISHED, completed_at__lt=settled_before)
    open_long = Q(
        status=CaptureSession.Status.ACTIVE, started_at__lt=now - SWEEP_OPEN_SESSIONS_AFTER
    )
    return (
        CaptureSession.objects.filter(due, settled | open_long)
        .order_by("started_at", "id")
        .only("id", "org_id", "site_id")
    )


def _session_objects_sweep(*, session: CaptureSession, now: datetime) -> list[str]:
    """Delete the objects under the session's prefix that no image claims and that are
    older than an upload URL lives (an upload in flight is never touched); returns their keys.

    An image claims its original and its thumbnails, unless it failed for good (then its
    objects should already be gone: ``_image_objects_discard``). The session is marked swept
    before its images are read, so a failed deletion that marks it due again meanwhile wins.
    """
    CaptureSession.objects.filter(pk=session.pk).update(objects_swept_at=now)
    prefix = uploads.session_storage_prefix(
        org_id=session.org_id, site_id=session.site_id, session_id=session.pk
    )
    claimed: set[str] = set()
    for image_id, key, status, error in Image.objects.filter(session_id=session.pk).values_list(
        "id", "storage_key", "status", "error"
    ):
        if status == Image.Status.FAILED and not failure_keeps_the_original(error):
            continue
        claimed.add(key)
        claimed.add(f"{prefix}{image_id}/")  # its thumbnails
    young_after = now - timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS)
    try:
        unclaimed = [
            obj.key
            for obj in storage.objects_under(prefix=prefix)
            if obj.last_modified < young_after
            and obj.key not in claimed
            and obj.key.rpartition("/")[0] + "/" not in claimed
        ]
        storage.delete_keys(keys=unclaimed)
    except storage.StorageError:
        CaptureSession.objects.filter(pk=session.pk).update(objects_swept_at=None)
        raise
    if unclaimed:
        logger.info("session %s: deleted %d unclaimed objects", session.pk, len(unclaimed))
    return unclaimed


def _image_fail_missing(*, image: Image) -> bool:
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        failed = Image.objects.filter(pk=image.pk, status=Image.Status.PENDING).update(
            status=Image.Status.FAILED, error="upload_missing", processed_at=timezone.now()
        )
        if failed:
            _system_event(
                image,
                Event.Type.PROCESSING_FAILED,
                message="The upload never arrived.",
                meta={"code": "upload_missing"},
            )
    return bool(failed)


def _image_fail_device_revoked(*, image: Image) -> bool:
    """Fails an unreported upload of a revoked device and deletes its object."""
    with transaction.atomic():
        session_detail_changed(session_id=image.session_id)
        failed = Image.objects.filter(
            pk=image.pk, status=Image.Status.PENDING, uploaded_at__isnull=True
        ).update(status=Image.Status.FAILED, error="device_revoked", processed_at=timezone.now())
        if failed:
            _system_event(
                image,
                Event.Type.PROCESSING_FAILED,
                message="Uploaded after its device was revoked.",
                meta={"code": "device_revoked"},
            )
    if failed:
        storage.delete_keys(keys=[image.storage_key])
    return bool(failed)
