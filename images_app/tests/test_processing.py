"""image_process, upload complete, reprocess and the sweeper, against a real S3 (SeaweedFS).

Tasks run in-process here (no REDIS_URL: CELERY_TASK_ALWAYS_EAGER); the worker itself is
exercised in test_worker_e2e.py.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image as PILImage
from PIL.TiffImagePlugin import IFDRational

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.services import (
    _held,
    _image_claim,
    _image_finish,
    _image_objects_discard,
    image_process,
    image_reprocess,
    image_upload_complete,
    uploads_sweep,
)
from images_app.tasks import sweep_uploads
from images_app.tests.image_factories import ImageFactory, processed
from images_app.uploads import image_thumb_keys, session_storage_prefix
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]


# --- photos ----------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


def photo_jpeg(size=(2400, 1800), *, seed: int = 1, orientation: int | None = None) -> bytes:
    """A sharp, well-exposed JPEG with camera EXIF (noise has plenty of edges)."""
    noise = PILImage.effect_noise(size, 60).point(lambda v: min(235, max(20, v)))
    image = PILImage.merge("RGB", [noise, noise.rotate(seed), noise.transpose(0)])
    exif = PILImage.Exif()
    exif_ifd = {
        0x8827: 200,  # ISO
        0x829A: IFDRational(1, 120),  # exposure time
        0x829D: IFDRational(28, 10),  # f-number
        0x9003: "2025:01:15 10:01:00",  # taken
    }
    if orientation:
        exif[0x0112] = orientation
    exif[0x8769] = exif_ifd
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def flat_jpeg(size=(1600, 1200), value: int = 128) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (value, value, value)).save(out, "JPEG")
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def session(org, site):
    return CaptureSessionFactory(org=org, site=site)


def uploaded(session, data: bytes, *, declared: bytes | None = None, **fields) -> Image:
    """A pending image whose bytes are in the store, as after the device's PUT."""
    image = ImageFactory(session=session, content_sha256=sha256(declared or data), **fields)
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    return image


def events_of(image, type=None):
    events = Event.objects.filter(entity_id=image.id)
    return events.filter(type=type) if type else events


def thumb_sizes(image) -> dict[str, tuple[int, int]]:
    return {
        size: PILImage.open(io.BytesIO(storage.get_bytes(key=key, max_bytes=10**7))).size
        for size, key in image.thumb_keys.items()
    }


# --- processing --------------------------------------------------------------------------


def test_an_uploaded_jpeg_is_processed_with_thumbnails_exif_and_qc(session):
    data = photo_jpeg((2400, 1800))
    image = uploaded(session, data)
    assert image_process(image_id=image.id) == "processed"
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert (image.width, image.height, image.size) == (2400, 1800, len(data))
    assert image.exif == {
        "iso": 200,
        "shutter": "1/120",
        "aperture": "f/2.8",
        "timestamp": "2025-01-15T10:01:00Z",
    }
    assert image.qc["sharpness"]["status"] == "pass"
    assert image.qc["exposure"]["status"] == "pass"
    assert (image.attempts, image.error) == (1, "")
    assert thumb_sizes(image) == {"1200": (1200, 900), "600": (600, 450), "150": (150, 113)}
    assert image.thumb_keys["150"].endswith(f"/{image.id}/thumb_150.jpg")
    [event] = events_of(image)
    assert (event.type, event.actor_type) == ("processed", "system")


def test_orientation_is_applied_so_dimensions_are_upright(session):
    image = uploaded(session, photo_jpeg((2400, 1800), orientation=6))
    image_process(image_id=image.id)
    image.refresh_from_db()
    assert (image.width, image.height) == (1800, 2400)
    assert thumb_sizes(image)["1200"] == (900, 1200)


def test_a_qc_failure_is_processed_and_recorded_with_its_scores(session):
    image = uploaded(session, flat_jpeg())
    assert image_process(image_id=image.id) == "processed"
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert image.qc["sharpness"] == {"score": 0.0, "status": "fail"}
    [qc_event] = events_of(image, "qc_failed")
    assert qc_event.meta["failed"] == ["sharpness"]
    assert qc_event.meta["qc"] == image.qc


def test_the_orgs_thresholds_override_the_defaults(session, org):
    org.qc_thresholds = {"sharpness_fail_below": 0, "sharpness_warn_below": 0}
    org.save()
    image = uploaded(session, flat_jpeg())
    image_process(image_id=image.id)
    image.refresh_from_db()
    assert image.qc["sharpness"]["status"] == "pass"
    assert not events_of(image, "qc_failed").exists()


def test_a_checksum_mismatch_fails_without_thumbnails(session):
    image = uploaded(session, photo_jpeg(), declared=b"what the device said it would send")
    assert image_process(image_id=image.id) == "failed"
    image.refresh_from_db()
    assert (image.status, image.error, image.thumb_keys) == ("failed", "checksum_mismatch", {})
    expected_keys = image_thumb_keys(image=image).values()
    assert [storage.object_size(key=key) for key in expected_keys] == [None, None, None]
    [event] = events_of(image)
    assert (event.type, event.meta["code"]) == ("processing_failed", "checksum_mismatch")


PHONE_JPEG = "mei_samsung_sm-j327t1_orient6.jpg"  # Samsung SM-J327T1, EXIF Orientation 6
IPHONE_HEIC = "pillowheif_arrow_iphone8plus_orient6.heic"  # iPhone 8 Plus, rotated in HEIF


@pytest.mark.parametrize(
    ("name", "content_type", "upright", "exif"),
    [
        (
            PHONE_JPEG,
            "image/jpeg",
            (1932, 2576),
            {
                "iso": 40,
                "shutter": "1/2801",
                "aperture": "f/1.9",
                "timestamp": "2019-09-26T16:38:00Z",
            },
        ),
        (
            IPHONE_HEIC,
            "image/heic",
            (3024, 4032),
            {
                "iso": 25,
                "shutter": "1/33",
                "aperture": "f/1.8",
                "timestamp": "2018-07-31T14:52:07Z",
            },
        ),
    ],
    ids=["phone-jpeg", "iphone-heic"],
)
def test_real_phone_photos_are_processed_upright(session, name, content_type, upright, exif):
    image = uploaded(session, fixture(name), content_type=content_type)
    assert image_process(image_id=image.id) == "processed"
    image.refresh_from_db()
    assert (image.width, image.height) == upright
    assert image.exif == exif
    sizes = thumb_sizes(image)
    assert [max(sizes[s]) for s in ("1200", "600", "150")] == [1200, 600, 150]
    assert all(w < h for w, h in sizes.values())  # portrait, like the original


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (fixture("broken/jpeg_truncated_pillow.jpg"), "image/jpeg", "corrupt_image"),
        (fixture("broken/bomb_jpeg_64250x64250_lottapixel.jpg"), "image/jpeg", "too_many_pixels"),
        (fixture("pillowheif_samsung_s24ultra_200MP.heic"), "image/heic", "too_many_pixels"),
        (fixture("broken/heic_corrupted_pillowheif.heic"), "image/heic", "corrupt_image"),
        (fixture("broken/bomb_gif_pillow.gif"), "image/jpeg", "unsupported_format"),
        (fixture("broken/wrong_magic_gif_header_php_body.gif"), "image/jpeg", "unsupported_format"),
        (b"<html><script>alert(1)</script></html>", "image/jpeg", "unsupported_format"),
        (b"", "image/heic", "empty_file"),
    ],
    ids=[
        "truncated-jpeg",
        "jpeg-bomb",
        "200mp-heic",
        "corrupt-heic",
        "gif-bomb",
        "php-named-jpg",
        "html-named-jpg",
        "empty",
    ],
)
def test_hostile_files_fail_with_a_code_and_are_not_retried(session, data, content_type, code):
    image = uploaded(session, data, content_type=content_type)
    assert image_process(image_id=image.id) == "failed"
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", code)
    assert image_process(image_id=image.id) == "skipped"
    assert events_of(image, "processing_failed").count() == 1
    # Retrying cannot help: the original does not stay in the bucket.
    assert storage.object_size(key=image.storage_key) is None


def test_a_jpeg_declared_as_heic_fails_with_format_mismatch(session):
    image = uploaded(session, photo_jpeg(), content_type=Image.ContentType.HEIC)
    image_process(image_id=image.id)
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "format_mismatch")


def test_an_object_over_the_size_limit_fails_before_download(session, settings, monkeypatch):
    settings.MAX_UPLOAD_BYTES = 10_000
    image = uploaded(session, photo_jpeg())

    def never_read(**kwargs):
        raise AssertionError("the object was read; its HEAD already said it is too large")

    monkeypatch.setattr(storage, "get_bytes", never_read)
    assert image_process(image_id=image.id) == "failed"
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "too_large")
    assert events_of(image, "processing_failed").get().meta["max_bytes"] == 10_000
    assert storage.object_size(key=image.storage_key) is None


# --- what a failure leaves in the bucket ---------------------------------------------------


def test_a_permanently_failed_original_and_its_thumbnails_are_deleted_its_reason_kept(session):
    # Processed once (thumbnails written), then the checksum on record no longer matches.
    data = photo_jpeg()
    image = uploaded(session, data)
    image_process(image_id=image.id)
    image.refresh_from_db()
    thumbs = list(image.thumb_keys.values())
    assert [storage.object_size(key=key) is not None for key in thumbs] == [True] * 3
    Image.objects.filter(pk=image.pk).update(content_sha256=sha256(b"another photo"))
    image_reprocess(image=image)

    assert image_process(image_id=image.id) == "failed"

    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "checksum_mismatch")
    assert events_of(image, "processing_failed").get().meta["code"] == "checksum_mismatch"
    assert [storage.object_size(key=key) for key in [image.storage_key, *thumbs]] == [None] * 4


def test_deleting_a_failed_images_objects_twice_is_harmless(session):
    image = uploaded(session, b"<html></html>")
    image_process(image_id=image.id)
    image = Image.objects.select_related("session").get(pk=image.pk)

    _image_objects_discard(image=image)

    assert storage.object_size(key=image.storage_key) is None
    assert image.session.objects_swept_at is None  # nothing left for the sweeper


def test_a_time_limit_failure_keeps_the_original_for_a_reprocess(session, monkeypatch):
    from images_app import pipeline

    def overran(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    image = uploaded(session, photo_jpeg())
    monkeypatch.setattr(pipeline, "process_image_bytes", overran)
    assert image_process(image_id=image.id) == "failed"
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "timeout")
    assert storage.object_size(key=image.storage_key) is not None


def test_running_out_of_attempts_keeps_the_original(session, settings):
    image = uploaded(session, photo_jpeg())
    Image.objects.filter(pk=image.pk).update(attempts=settings.PROCESS_MAX_ATTEMPTS)
    assert image_process(image_id=image.id) == "skipped"
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "too_many_attempts")
    assert storage.object_size(key=image.storage_key) is not None


def test_a_store_refusing_the_deletion_leaves_the_failure_and_the_sweeper_finishes_it(
    session, monkeypatch
):
    session.objects_swept_at = timezone.now()
    session.save(update_fields=["objects_swept_at"])
    image = uploaded(session, b"GIF89a not a photo")

    def unavailable(**kwargs):
        raise storage.StorageUnavailable("delete: SlowDown")

    with monkeypatch.context() as patched:
        patched.setattr(storage, "delete_keys", unavailable)
        assert image_process(image_id=image.id) == "failed"

    image.refresh_from_db()
    session.refresh_from_db()
    assert (image.status, image.error) == ("failed", "unsupported_format")
    assert storage.object_size(key=image.storage_key) is not None
    assert session.objects_swept_at is None  # due a sweep again
    session.status, session.completed_at = "complete", timezone.now()
    session.save(update_fields=["status", "completed_at"])
    summary = uploads_sweep(now=settled(timezone.now()))
    assert summary.objects_deleted == [image.storage_key]
    assert storage.object_size(key=image.storage_key) is None


def test_without_an_object_the_image_waits_as_pending(session):
    image = ImageFactory(session=session, uploaded_at=timezone.now())
    assert image_process(image_id=image.id) == "upload_missing"
    image.refresh_from_db()
    assert (image.status, image.uploaded_at) == ("pending", None)
    assert not events_of(image).exists()


def test_processing_twice_processes_once(session):
    image = uploaded(session, photo_jpeg())
    assert image_process(image_id=image.id) == "processed"
    assert image_process(image_id=image.id) == "skipped"
    assert image_process(image_id=image.id, reclaim=True) == "skipped"
    assert events_of(image, "processed").count() == 1


def test_a_live_claim_is_left_alone_unless_the_message_was_redelivered(session):
    image = uploaded(session, photo_jpeg())
    Image.objects.filter(pk=image.pk).update(
        status="processing", attempts=1, processing_started_at=timezone.now()
    )
    assert image_process(image_id=image.id) == "skipped"
    assert image_process(image_id=image.id, reclaim=True) == "processed"
    image.refresh_from_db()
    assert (image.status, image.attempts) == ("processed", 2)


def test_a_claim_older_than_the_task_time_limit_is_taken_over(session, settings):
    image = uploaded(session, photo_jpeg())
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    Image.objects.filter(pk=image.pk).update(
        status="processing", attempts=1, processing_started_at=long_ago
    )
    assert image_process(image_id=image.id) == "processed"


def test_the_late_result_of_a_superseded_claim_is_discarded(session):
    image = uploaded(session, photo_jpeg())
    presumed_dead = _image_claim(image_id=image.id, reclaim=False)
    assert image_process(image_id=image.id, reclaim=True) == "processed"
    image.refresh_from_db()
    finished_at = image.processed_at

    class Late:
        width, height, exif, qc = 1, 1, {}, {}

    outcome = _image_finish(
        image=presumed_dead, token=presumed_dead.attempts, result=Late, thumb_keys={}, size=1
    )
    assert outcome == "superseded"
    image.refresh_from_db()
    assert (image.width, image.processed_at) == (2400, finished_at)
    assert not _held(image, presumed_dead.attempts).exists()
    assert events_of(image, "processed").count() == 1


def test_attempts_are_capped_in_the_database(session, settings):
    settings.PROCESS_MAX_ATTEMPTS = 3
    image = uploaded(session, photo_jpeg())
    Image.objects.filter(pk=image.pk).update(attempts=3)
    assert image_process(image_id=image.id) == "skipped"
    image.refresh_from_db()
    assert (image.status, image.error) == ("failed", "too_many_attempts")
    assert events_of(image, "processing_failed").get().meta["code"] == "too_many_attempts"


def test_an_unreachable_store_puts_the_image_back_and_raises_for_a_retry(session, settings):
    image = uploaded(session, photo_jpeg())
    endpoint = settings.S3_ENDPOINT_URL
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: connection refused
    with pytest.raises(storage.StorageUnavailable):
        image_process(image_id=image.id)
    image.refresh_from_db()
    # An outage is not the photo's fault: the attempt is given back, the original kept.
    assert (image.status, image.attempts, image.processing_started_at) == ("pending", 0, None)
    assert not events_of(image).exists()
    settings.S3_ENDPOINT_URL = endpoint
    assert storage.object_size(key=image.storage_key) is not None


# --- upload complete, in-process ------------------------------------------------------


def test_upload_complete_runs_processing_after_commit_without_a_broker(
    session, django_capture_on_commit_callbacks
):
    image = uploaded(session, photo_jpeg())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert image_upload_complete(image_id=image.id) is True
    assert len(callbacks) == 1
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert image_upload_complete(image_id=image.id) is False
    assert callbacks == []


# --- reprocess ---------------------------------------------------------------------------


def test_reprocess_moves_a_processed_image_back_to_pending_and_enqueues_it(
    session, django_capture_on_commit_callbacks
):
    image = processed(ImageFactory(session=session), attempts=2)
    with django_capture_on_commit_callbacks() as callbacks:
        assert image_reprocess(image=image) is True
    image.refresh_from_db()
    assert (image.status, image.attempts) == ("pending", 0)
    assert len(callbacks) == 1
    [event] = events_of(image)
    assert (event.type, event.meta) == ("reprocess_requested", {"from": "processed"})


@pytest.mark.parametrize("status", ["pending", "processing", "published"])
def test_reprocess_leaves_other_states_alone(session, status):
    image = ImageFactory(session=session, status=status)
    assert image_reprocess(image=image) is False
    image.refresh_from_db()
    assert image.status == status


@pytest.mark.parametrize(
    ("error", "reprocessed"), [("checksum_mismatch", False), ("timeout", True)]
)
def test_reprocess_refuses_an_image_whose_original_was_deleted(session, error, reprocessed):
    image = ImageFactory(session=session, status="failed", error=error)

    assert image_reprocess(image=image) is reprocessed

    image.refresh_from_db()
    assert image.status == ("pending" if reprocessed else "failed")


def test_the_reprocess_command_requeues_by_status_and_reprocesses(
    session, django_capture_on_commit_callbacks
):
    ok = uploaded(session, photo_jpeg())
    broken = uploaded(session, photo_jpeg(seed=2))
    image_process(image_id=ok.id)
    # A worker overran the time limit (its original is kept): reprocess the failures only.
    Image.objects.filter(pk=broken.pk).update(status=Image.Status.FAILED, error="timeout")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reprocess_images", "--status", "failed", stdout=out)
    assert out.getvalue().strip() == "requeued 1 image(s)"
    broken.refresh_from_db()
    assert broken.status == Image.Status.PROCESSED
    assert events_of(ok, "reprocess_requested").count() == 0


def test_the_reprocess_command_needs_a_selection():
    with pytest.raises(CommandError, match="--session --status --all is required"):
        call_command("reprocess_images")


# --- sweeper -----------------------------------------------------------------------------


def test_the_sweeper_enqueues_an_upload_nobody_reported(session):
    image = uploaded(session, photo_jpeg())
    Image.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    summary = uploads_sweep()
    assert summary.enqueued == [image.id]
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert image.uploaded_at is not None
    assert uploads_sweep().enqueued == []


def test_the_sweeper_leaves_recent_uploads_to_the_device(session):
    uploaded(session, photo_jpeg())
    assert uploads_sweep().enqueued == []


def test_the_sweeper_reenqueues_a_task_the_broker_lost(session):
    image = uploaded(session, photo_jpeg())
    Image.objects.filter(pk=image.pk).update(uploaded_at=timezone.now() - timedelta(hours=1))
    assert uploads_sweep().enqueued == [image.id]
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED


def test_the_sweeper_fails_uploads_that_never_arrived(session):
    now = timezone.now()
    gone = ImageFactory(session=session, created_at=now - timedelta(hours=2))
    late = ImageFactory(session=session, created_at=now - timedelta(minutes=30))
    summary = uploads_sweep(now=now)
    assert summary.failed == [gone.id]
    assert summary.waiting == 1
    gone.refresh_from_db()
    late.refresh_from_db()
    assert (gone.status, gone.error) == ("failed", "upload_missing")
    assert late.status == Image.Status.PENDING
    assert events_of(gone, "processing_failed").get().meta == {"code": "upload_missing"}
    assert uploads_sweep(now=now).failed == []


def test_the_sweeper_takes_over_a_dead_workers_claim(session, settings):
    image = uploaded(session, photo_jpeg())
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    Image.objects.filter(pk=image.pk).update(
        status="processing", attempts=1, processing_started_at=long_ago, uploaded_at=long_ago
    )
    assert uploads_sweep().stale_claims == [image.id]
    image.refresh_from_db()
    assert (image.status, image.attempts) == ("processed", 2)


def test_the_sweep_command_prints_a_summary(session):
    ImageFactory(session=session, created_at=timezone.now() - timedelta(hours=2))
    out = io.StringIO()
    call_command("sweep_uploads", stdout=out)
    assert out.getvalue().strip() == (
        "enqueued 0 uploaded, re-enqueued 0 stale claims, failed 1 never uploaded, "
        "0 still within their upload window; swept 0 sessions' objects, deleted 0 no image "
        "claims"
    )


def test_the_sweep_command_takes_a_number_of_sessions(session):
    with pytest.raises(CommandError):
        call_command("sweep_uploads", "--sessions", "-1")
    call_command("sweep_uploads", "--sessions", "0", stdout=io.StringIO())


# --- sweeper: objects no image claims ------------------------------------------------------


def settled(moment):
    """A moment at which every upload URL signed before ``moment`` has expired."""
    from django.conf import settings

    return moment + timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS + 60)


def finished_session(org, site, *, ago=timedelta(hours=1), **fields):
    return CaptureSessionFactory(
        org=org, site=site, status="complete", completed_at=timezone.now() - ago, **fields
    )


def stray(session, name: str = "") -> str:
    """An object under the session's prefix that no image row knows."""
    prefix = session_storage_prefix(
        org_id=session.org_id, site_id=session.site_id, session_id=session.id
    )
    key = prefix + (name or f"{uuid.uuid4()}.jpg")
    storage.put_bytes(key=key, data=b"stray", content_type="image/jpeg")
    return key


def test_the_sweeper_deletes_objects_no_image_claims_and_keeps_the_claimed(org, site):
    session = finished_session(org, site)
    kept = processed(uploaded(session, b"original bytes"))
    for key in kept.thumb_keys.values():
        storage.put_bytes(key=key, data=b"thumb", content_type="image/jpeg")
    orphans = [stray(session), stray(session, f"{uuid.uuid4()}/thumb_600.jpg")]

    summary = uploads_sweep(now=settled(timezone.now()))

    assert summary.sessions_swept == [session.id]
    assert sorted(summary.objects_deleted) == sorted(orphans)
    assert [storage.object_size(key=key) for key in orphans] == [None, None]
    claimed = [kept.storage_key, *kept.thumb_keys.values()]
    assert all(storage.object_size(key=key) is not None for key in claimed)
    session.refresh_from_db()
    assert session.objects_swept_at is not None


def test_a_swept_session_is_not_listed_again(org, site):
    session = finished_session(org, site)
    stray(session)
    now = settled(timezone.now())
    assert uploads_sweep(now=now).sessions_swept == [session.id]

    late = stray(session)
    summary = uploads_sweep(now=now + timedelta(minutes=5))

    assert summary.sessions_swept == []
    assert storage.object_size(key=late) is not None


def test_the_sweeper_keeps_objects_younger_than_an_upload_url_lives(org, site, settings):
    session = finished_session(
        org, site, ago=timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS + 5)
    )
    young = stray(session)  # written now: it could be an upload in flight

    summary = uploads_sweep()

    assert summary.sessions_swept == [session.id]
    assert summary.objects_deleted == []
    assert storage.object_size(key=young) is not None


def test_sessions_finished_within_an_upload_url_lifetime_are_not_swept_yet(org, site):
    session = finished_session(org, site, ago=timedelta(minutes=1))
    orphan = stray(session)

    assert uploads_sweep().sessions_swept == []
    assert storage.object_size(key=orphan) is not None


def test_open_sessions_are_swept_only_once_a_day_old_and_again_when_they_end(org, site):
    fresh = CaptureSessionFactory(org=org, site=site)
    old = CaptureSessionFactory(org=org, site=site, started_at=timezone.now() - timedelta(days=2))
    keys = [stray(fresh), stray(old)]
    now = settled(timezone.now())

    assert uploads_sweep(now=now).sessions_swept == [old.id]
    assert [storage.object_size(key=key) is None for key in keys] == [False, True]
    assert uploads_sweep(now=now).sessions_swept == []

    later = stray(old)
    old.status, old.completed_at = "complete", now + timedelta(minutes=1)
    old.save(update_fields=["status", "completed_at"])
    assert uploads_sweep(now=settled(settled(now))).sessions_swept == [old.id]
    assert storage.object_size(key=later) is None


def test_the_objects_of_a_permanently_failed_image_are_not_claimed(org, site):
    session = finished_session(org, site)
    gone = uploaded(session, b"GIF89a", status="failed", error="unsupported_format")
    kept = uploaded(session, photo_jpeg(), status="failed", error="timeout")

    summary = uploads_sweep(now=settled(timezone.now()))

    assert summary.objects_deleted == [gone.storage_key]
    assert storage.object_size(key=kept.storage_key) is not None


def test_the_sweeper_lists_a_bounded_number_of_sessions_oldest_first(org, site):
    sessions = [
        finished_session(org, site, started_at=timezone.now() - timedelta(hours=hours))
        for hours in (3, 5, 4)
    ]
    for session in sessions:
        stray(session)
    now = settled(timezone.now())

    runs = [uploads_sweep(now=now, sessions_limit=2).sessions_swept for _ in range(3)]

    assert runs == [[sessions[1].id, sessions[2].id], [sessions[0].id], []]


def test_a_store_failing_mid_sweep_leaves_the_session_due(org, site, settings):
    session = finished_session(org, site)
    stray(session)
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"

    with pytest.raises(storage.StorageUnavailable):
        uploads_sweep(now=settled(timezone.now()), limit=0)

    session.refresh_from_db()
    assert session.objects_swept_at is None


def test_finding_the_sessions_due_a_sweep_uses_its_partial_index(org, site):
    from django.db import connection

    from images_app.services import _sessions_due_a_sweep

    CaptureSessionFactory.create_batch(3, org=org, site=site)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = _sessions_due_a_sweep(now=timezone.now())[:50].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "session_sweep_due_idx" in plan


def test_the_beat_task_runs_the_sweeper(session, settings):
    gone = ImageFactory(session=session, created_at=timezone.now() - timedelta(hours=2))
    assert "sweep-uploads" in settings.CELERY_BEAT_SCHEDULE
    result = sweep_uploads.apply().result
    assert result.startswith("enqueued 0 uploaded, re-enqueued 0 stale claims, failed 1")
    gone.refresh_from_db()
    assert gone.error == "upload_missing"


def test_the_queue_enqueues_the_registered_process_image_task_by_its_name():
    from images_app import tasks
    from images_app.queue import PROCESS_IMAGE_TASK

    assert tasks.process_image.name == PROCESS_IMAGE_TASK


def test_a_fresh_process_has_the_processing_task_registered_for_the_queue():
    # A web process never imports images_app.tasks itself; the app's ready() must.
    import subprocess
    import sys

    from django.conf import settings as django_settings

    code = (
        "import django; django.setup(); from celery import current_app; "
        "from images_app.queue import PROCESS_IMAGE_TASK; "
        "print(PROCESS_IMAGE_TASK in current_app.tasks)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
