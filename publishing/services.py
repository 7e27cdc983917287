"""Vehicle publications: versions written in the changing transaction, rendered after it.

- ``publication_version_record`` hears every change to a vehicle's published images
  (``images_app.published_set``: publish, bulk publish, unpublish, and the set replaced by
  ``publication_rollback`` / ``publication_withdraw``) and writes the next immutable
  version in that same transaction, under the publication's row lock, when the live set or
  the status changed. Then, after commit, ``publication_render`` runs in the worker.
- ``publication_render`` writes, in this order, the renditions the version needs (from the
  originals, content-addressed, skipped when already there), ``v{n}.json``, then
  ``manifest.json``, so a reader never sees a manifest naming a missing file. It fails
  (and the task retries) before touching ``manifest.json``: the live manifest stays the
  previous version until the new one is complete, and never goes back to an older one.
- ``publications_sweep`` deletes the renditions of vehicles withdrawn longer than the grace
  period (``PUBLICATION_WITHDRAW_GRACE_DAYS``).
"""

from __future__ import annotations

import base64
import contextvars
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from events_app.models import Event
from events_app.services import actor_fields, event_record
from images_app import services as image_services
from images_app import storage
from images_app.models import Image
from imaging.api.errors import ApplicationError
from publishing import public_store
from publishing.manifest import content_image_ids, manifest_build
from publishing.models import Publication, PublicationVersion, Rendition
from publishing.queue import render_enqueue, render_enqueue_on_commit, render_image_enqueue
from sessions_app.models import Vehicle

logger = logging.getLogger(__name__)

Action = PublicationVersion.Action
RENDER_LOST_AFTER = timedelta(minutes=15)
# A Rendition row this recipe need not render again: its 4:3 crop done (or impossible, ``[]``),
# or the original unreadable (no sizes). Rows written before the crop existed get it then.
RENDITION_COMPLETE = Q(sizes__has_key=public_store.CROP_4X3) | Q(sizes={})
# The version a rollback in progress returns to (read by the version it writes).
_rolling_back_to: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "rolling_back_to", default=None
)


# The session's measured turn (images_app/spin_health.py) → the manifest's spelling.
SPIN_DIRECTIONS = {"clockwise": "clockwise", "counter_clockwise": "counterclockwise"}


def _user_of(actor: Any) -> User | None:
    if isinstance(actor, User):
        return actor
    return getattr(actor, "user", None)


# --- what is live --------------------------------------------------------------------------


def live_content(*, vehicle_id: uuid.UUID) -> dict[str, Any]:
    """The vehicle's live set from its published images: the spin of its most recent session
    with published frames (one per angle, the latest published), and for each still shot the
    most recently published image of it (in the shot list's order)."""
    rows = list(
        Image.objects.filter(vehicle_id=vehicle_id, status=Image.Status.PUBLISHED)
        .order_by("published_at", "created_at", "id")
        .values(
            "id",
            "session_id",
            "session__started_at",
            "session__shot_list",
            "session__spin_health",
            "angle_deg",
            "shot_name",
            "published_at",
        )
    )
    frames = [r for r in rows if r["angle_deg"] is not None]
    spin = None
    if frames:
        latest = max(frames, key=lambda r: (r["session__started_at"], str(r["session_id"])))
        by_angle: dict[int, dict[str, Any]] = {}
        for row in frames:
            if row["session_id"] == latest["session_id"]:
                by_angle[row["angle_deg"]] = row  # later published wins
        ordered = [by_angle[angle] for angle in sorted(by_angle)]
        spin = {
            "session_id": str(latest["session_id"]),
            "frames": [str(r["id"]) for r in ordered],
            "angles": [r["angle_deg"] for r in ordered],
        }
        direction = SPIN_DIRECTIONS.get((latest["session__spin_health"] or {}).get("direction"))
        if direction is not None:  # unmeasured: the manifest's default
            spin["direction"] = direction
    by_shot: dict[str, dict[str, Any]] = {}
    order: dict[str, int] = {}
    for row in rows:
        if row["angle_deg"] is not None:
            continue
        shot = row["shot_name"] or f"photo-{row['id']}"
        by_shot[shot] = row
        names = (row["session__shot_list"] or {}).get("stills")
        if isinstance(names, list) and row["shot_name"] in names:
            order.setdefault(shot, names.index(row["shot_name"]))
    stills = [
        {"shot": by_shot[shot]["shot_name"] or "", "image": str(by_shot[shot]["id"])}
        for shot in sorted(by_shot, key=lambda s: (order.get(s, len(order) + 1000), s))
    ]
    return {"spin": spin, "stills": stills}


# --- versions ------------------------------------------------------------------------------


def publication_version_record(
    *, vehicle_ids: list[uuid.UUID], actor: Any, action: str, image_ids: list[uuid.UUID]
) -> None:
    """``images_app.published_set`` listener: a version per vehicle whose set changed."""
    for vehicle_id in vehicle_ids:
        _version_write(vehicle_id=vehicle_id, actor=actor, action=action)


def _version_write(*, vehicle_id: uuid.UUID, actor: Any, action: str) -> PublicationVersion | None:
    org_id = Vehicle.objects.values_list("org_id", flat=True).get(pk=vehicle_id)
    Publication.objects.get_or_create(vehicle_id=vehicle_id, defaults={"org_id": org_id})
    publication = Publication.objects.select_for_update().get(vehicle_id=vehicle_id)
    previous = publication.versions.order_by("-number").first()
    content = live_content(vehicle_id=vehicle_id)
    status = Publication.Status.WITHDRAWN if action == Action.WITHDRAW else Publication.Status.LIVE
    if status == Publication.Status.WITHDRAWN:
        content = {"spin": None, "stills": []}
    before = previous.content if previous else {"spin": None, "stills": []}
    before_status = previous.status if previous else None
    if previous is not None and before == content and before_status == status:
        return None  # nothing the outside world sees changed
    old_ids, new_ids = content_image_ids(before), content_image_ids(content)
    diff = {
        "added": [i for i in new_ids if i not in set(old_ids)],
        "removed": [i for i in old_ids if i not in set(new_ids)],
        "status": [before_status, status] if before_status != status else None,
        "rolled_back_to": _rolling_back_to.get() if action == Action.ROLLBACK else None,
    }
    now = timezone.now()
    version = PublicationVersion.objects.create(
        org_id=org_id,
        publication=publication,
        number=publication.version + 1,
        action=action,
        status=status,
        content=content,
        diff=diff,
        created_by=_user_of(actor),
        created_at=now,
    )
    publication.version = version.number
    publication.status = status
    publication.updated_at = now
    if status == Publication.Status.WITHDRAWN:
        publication.withdrawn_at = now
    else:
        publication.withdrawn_at = None
        publication.renditions_deleted_at = None
    publication.save(
        update_fields=["version", "status", "updated_at", "withdrawn_at", "renditions_deleted_at"]
    )
    # The audit log (and what listens to it: webhooks) hears of the version in this
    # transaction, so a rolled-back change leaves no trace.
    withdrawn = status == Publication.Status.WITHDRAWN
    event_record(
        org_id=org_id,
        entity_type=Event.EntityType.VEHICLE,
        entity_id=vehicle_id,
        type=Event.Type.PUBLICATION_WITHDRAWN if withdrawn else Event.Type.PUBLICATION_PUBLISHED,
        message=f"v{version.number} ({action})",
        meta={
            "publication_id": str(publication.pk),
            "version": version.number,
            "action": action,
            "manifest_url": publication_manifest_url(vehicle_id),
            "added": len(diff["added"]),
            "removed": len(diff["removed"]),
        },
        **actor_fields(actor),
    )
    render_enqueue_on_commit(publication_id=publication.pk, number=version.number)
    return version


def _refused(message: str, code: str = "INVALID_TRANSITION", http_status: int = 409, **details):
    return ApplicationError(code, message, status_code=http_status, details=details or None)


def image_unpublish(*, image: Image, actor: Any) -> Image:
    """The image leaves its vehicle's publication (a new version); 409 unless published."""
    if image.status != Image.Status.PUBLISHED:
        raise _refused(
            f"Only published images can be unpublished; this one is {image.status}.",
            status=image.status,
        )
    return image_services.image_unpublish(image=image, actor=actor)


def publication_rollback(*, publication: Publication, number: int, actor: Any) -> Publication:
    """Make version ``number``'s images the live set again (a new version, ``rollback``):
    every other image of the vehicle is unpublished, those of that version published again.
    Images no longer publishable (reprocessed, failed) are left out of the new version."""
    target = publication.versions.filter(number=number).first()
    if target is None:
        raise _refused(
            f"Version {number} does not exist.",
            code="NOT_FOUND",
            http_status=404,
            version=number,
        )
    action = Action.WITHDRAW if target.status == Publication.Status.WITHDRAWN else Action.ROLLBACK
    token = _rolling_back_to.set(number)
    try:
        image_services.vehicle_published_set_replace(
            vehicle_id=publication.vehicle_id,
            image_ids=[uuid.UUID(i) for i in content_image_ids(target.content)],
            actor=actor,
            action=action,
        )
    finally:
        _rolling_back_to.reset(token)
    publication.refresh_from_db()
    return publication


def publication_withdraw(*, publication: Publication, actor: Any) -> Publication:
    """The car is sold: ``withdrawn`` at once (a version; the public manifest says so as
    soon as the worker writes it), every image unpublished, renditions deleted by the
    sweeper after the grace period. Withdrawing again changes nothing."""
    image_services.vehicle_published_set_replace(
        vehicle_id=publication.vehicle_id, image_ids=[], actor=actor, action=Action.WITHDRAW
    )
    publication.refresh_from_db()
    return publication


# --- rendering (the worker) ----------------------------------------------------------------


def _placeholder_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def renditions_ensure(*, image_ids: list[str]) -> int:
    """Write the renditions of these images that are not in the public store yet; returns
    how many originals were rendered. A ``Rendition`` row is written only after all its
    files, so its presence means they are there."""
    from images_app import pipeline  # Pillow loads in workers only

    rows = list(
        Image.objects.filter(pk__in=image_ids).values(
            "id", "content_sha256", "storage_key", "content_type"
        )
    )
    done = set(
        Rendition.objects.filter(
            RENDITION_COMPLETE, sha256__in=[r["content_sha256"] for r in rows]
        ).values_list("sha256", flat=True)
    )
    rendered = 0
    for row in rows:
        sha = row["content_sha256"]
        if sha in done:
            continue
        try:
            data = storage.get_bytes(key=row["storage_key"], max_bytes=settings.MAX_UPLOAD_BYTES)
            result = pipeline.web_renditions(data, content_type=row["content_type"])
        except (storage.ObjectNotFound, storage.ObjectTooLarge, pipeline.PipelineError) as exc:
            # Not worth retrying: noted (no sizes) so the version goes live without it.
            logger.warning("image %s: no renditions (%s)", row["id"], exc)
            Rendition.objects.get_or_create(
                sha256=sha, defaults={"width": 1, "height": 1, "placeholder": "", "sizes": {}}
            )
            continue
        del data
        sizes: dict[str, list[list[int]]] = {}
        for (fmt, width), (height, body) in sorted(result.files.items()):
            public_store.put_bytes(
                key=public_store.rendition_key(sha256=sha, width=width, fmt=fmt), data=body
            )
            sizes.setdefault(fmt, []).append([width, height])
        sizes[public_store.CROP_4X3] = []
        if result.crop_4x3 is not None:
            width, height, body = result.crop_4x3
            public_store.put_bytes(
                key=public_store.crop_4x3_key(sha256=sha, width=width), data=body
            )
            sizes[public_store.CROP_4X3] = [[width, height]]
        Rendition.objects.update_or_create(
            sha256=sha,
            defaults={
                "width": result.width,
                "height": result.height,
                "placeholder": _placeholder_uri(result.placeholder),
                "sizes": sizes,
            },
        )
        done.add(sha)
        rendered += 1
    return rendered


def _missing_renditions(version: PublicationVersion) -> list[str]:
    if version.status != Publication.Status.LIVE:
        return []
    ids = content_image_ids(version.content)
    shas = dict(Image.objects.filter(pk__in=ids).values_list("id", "content_sha256"))
    done = set(
        Rendition.objects.filter(RENDITION_COMPLETE, sha256__in=set(shas.values())).values_list(
            "sha256", flat=True
        )
    )
    return [str(i) for i, sha in shas.items() if sha not in done]


def publication_render_start(*, publication_id: uuid.UUID | str, number: int) -> str:
    """The render task's first step: with several originals to render, one task per image
    (the worker's processes share them; the last to finish makes the version live,
    ``publication_image_rendered``); otherwise render at once."""
    version = PublicationVersion.objects.filter(
        publication_id=publication_id, number=number
    ).first()
    if version is None:
        return "missing"
    if Publication.objects.filter(pk=publication_id, live_version__gte=number).exists():
        return "stale"
    missing = _missing_renditions(version)
    if len(missing) <= 1:
        return publication_render(publication_id=publication_id, number=number)
    for image_id in missing:
        render_image_enqueue(publication_id=publication_id, number=number, image_id=image_id)
    return f"rendering {len(missing)} images"


def publication_image_rendered(
    *, publication_id: uuid.UUID | str, number: int, image_id: str
) -> str:
    """One image's renditions; then, if none of the version's is missing any more, the
    version's manifests (two finishing at once both try: the row lock lets one win)."""
    renditions_ensure(image_ids=[image_id])
    version = PublicationVersion.objects.filter(
        publication_id=publication_id, number=number
    ).first()
    if version is None or _missing_renditions(version):
        return "waiting"
    return publication_render(publication_id=publication_id, number=number)


def publication_render(*, publication_id: uuid.UUID | str, number: int) -> str:
    """Renditions, then ``v{n}.json``, then ``manifest.json`` (unless a newer version is
    live already). Idempotent: a retry rewrites the same keys with the same bytes."""
    version = (
        PublicationVersion.objects.select_related("publication__vehicle")
        .filter(publication_id=publication_id, number=number)
        .first()
    )
    if version is None:
        return "missing"
    if version.publication.live_version >= number:
        return "stale"
    if version.status == Publication.Status.LIVE:
        renditions_ensure(image_ids=content_image_ids(version.content))
    manifest = manifest_build(version=version)
    vehicle_id = version.publication.vehicle_id
    public_store.put_json(key=public_store.version_key(vehicle_id, number), document=manifest)
    PublicationVersion.objects.filter(pk=version.pk).update(
        manifest=manifest, rendered_at=timezone.now()
    )
    with transaction.atomic():
        publication = Publication.objects.select_for_update().get(pk=publication_id)
        if publication.live_version >= number:
            return "stale"  # a newer version went live while we rendered
        # Under the row lock: two renders cannot interleave their manifest.json writes.
        public_store.put_json(key=public_store.manifest_key(vehicle_id), document=manifest)
        Publication.objects.filter(pk=publication_id).update(live_version=number)
    return "live"


# --- withdrawn vehicles --------------------------------------------------------------------


def publications_sweep(*, now: datetime | None = None, limit: int = 100) -> list[uuid.UUID]:
    """Delete the renditions of vehicles withdrawn longer than the grace period; returns
    the publications swept. Renditions another vehicle still publishes (same original) stay."""
    now = now or timezone.now()
    # A version not live a while after it was written: its render was lost (the broker, a
    # worker killed past its retries). Render it again (idempotent; a newer live one wins).
    lost = Publication.objects.filter(
        live_version__lt=F("version"), updated_at__lt=now - RENDER_LOST_AFTER
    ).values_list("pk", "version")[:limit]
    for publication_id, number in lost:
        render_enqueue(publication_id=publication_id, number=number)
    cutoff = now - timedelta(days=settings.PUBLICATION_WITHDRAW_GRACE_DAYS)
    due = Publication.objects.filter(
        status=Publication.Status.WITHDRAWN,
        withdrawn_at__lt=cutoff,
        renditions_deleted_at__isnull=True,
    ).order_by("withdrawn_at")[:limit]
    swept = []
    for publication in due:
        shas = set(
            Image.objects.filter(vehicle_id=publication.vehicle_id).values_list(
                "content_sha256", flat=True
            )
        )
        shas -= set(
            Image.objects.filter(content_sha256__in=shas, status=Image.Status.PUBLISHED)
            .exclude(vehicle_id=publication.vehicle_id)
            .values_list("content_sha256", flat=True)
        )
        renditions = list(Rendition.objects.filter(sha256__in=shas))
        keys = [
            key
            for r in renditions
            for key in public_store.rendition_keys(sha256=r.sha256, sizes=r.sizes)
        ]
        public_store.delete_keys(keys)
        with transaction.atomic():
            Rendition.objects.filter(sha256__in=[r.sha256 for r in renditions]).delete()
            # Only while still withdrawn: a republish meanwhile renders them again anyway.
            Publication.objects.filter(
                pk=publication.pk, status=Publication.Status.WITHDRAWN
            ).update(renditions_deleted_at=now)
        swept.append(publication.pk)
    return swept


def publication_manifest_url(vehicle: Vehicle | uuid.UUID) -> str:
    """The public URL of the vehicle's live manifest (what a dealer's page embeds)."""
    vehicle_id = vehicle.pk if isinstance(vehicle, Vehicle) else vehicle
    return public_store.url(public_store.manifest_key(vehicle_id))


def vehicle_publication_ensure(*, vehicle_id: uuid.UUID, actor: Any = None) -> Publication | None:
    """A publication for a vehicle whose images were published before publications existed
    (the demo seed of an older run): writes version 1 from its published images."""
    with transaction.atomic():
        if not Publication.objects.filter(vehicle_id=vehicle_id).exists():
            if not Image.objects.filter(
                vehicle_id=vehicle_id, status=Image.Status.PUBLISHED
            ).exists():
                return None
            _version_write(vehicle_id=vehicle_id, actor=actor, action=Action.BULK_PUBLISH)
    return Publication.objects.filter(vehicle_id=vehicle_id).first()
