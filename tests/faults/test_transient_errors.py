"""An outage of the store says nothing about the photo: the claim is released without using
up one of the image's attempts, so an outage that outlasts the task's retries fails no
photo, and the sweeper finishes the work once the store is back.

In-process and quick (part of the normal suite); test_storage_outage.py shows the same with
a real worker and a real SeaweedFS stopped and started again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from celery.utils.time import get_exponential_backoff_interval
from django.utils import timezone

from devtools.seaweed import free_ports
from events_app.models import Event
from images_app import storage
from images_app.services import image_process, image_upload_complete, uploads_sweep
from images_app.tasks import process_image
from images_app.tests.image_factories import ImageFactory
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

FIXTURES = Path(__file__).resolve().parents[2] / "images_app" / "tests" / "fixtures"


@pytest.fixture
def reported(org, site, django_capture_on_commit_callbacks):
    """An uploaded photo whose ``upload_complete`` was accepted (its task not run yet)."""
    data = (FIXTURES / "Portrait_1.jpg").read_bytes()
    image = ImageFactory(
        session=CaptureSessionFactory(org=org, site=site),
        content_sha256=hashlib.sha256(data).hexdigest(),
    )
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    with django_capture_on_commit_callbacks(execute=False):
        assert image_upload_complete(image_id=image.id)
    return image


def test_an_outage_longer_than_the_attempts_budget_fails_no_photo(reported, settings):
    store = settings.S3_ENDPOINT_URL
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens

    for _ in range(settings.PROCESS_MAX_ATTEMPTS + 2):
        with pytest.raises(storage.StorageUnavailable):
            image_process(image_id=reported.id)

    reported.refresh_from_db()
    assert (reported.status, reported.attempts, reported.error) == ("pending", 0, "")
    assert reported.uploaded_at is not None  # still reported: the sweeper will pick it up
    assert not Event.objects.filter(entity_id=reported.id).exists()

    settings.S3_ENDPOINT_URL = store
    assert image_process(image_id=reported.id) == "processed"
    reported.refresh_from_db()
    assert reported.attempts == 1


def test_the_sweeper_finishes_a_photo_whose_retries_ran_out_during_an_outage(
    reported, settings, django_capture_on_commit_callbacks
):
    store = settings.S3_ENDPOINT_URL
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{free_ports(1)[0]}"
    for _ in range(settings.PROCESS_MAX_ATTEMPTS):
        with pytest.raises(storage.StorageUnavailable):
            image_process(image_id=reported.id)
    settings.S3_ENDPOINT_URL = store

    # The task gave up; the next sweep, once the upload has been quiet long enough:
    summary = uploads_sweep(now=timezone.now() + timedelta(minutes=11))

    assert summary.enqueued == [reported.id]
    reported.refresh_from_db()
    assert (reported.status, reported.attempts) == ("processed", 1)
    assert Event.objects.filter(entity_id=reported.id, type="processed").count() == 1


def test_an_unexpected_error_still_uses_up_an_attempt(reported, settings):
    settings.AWS_SECRET_ACCESS_KEY = "not-the-secret"  # refused: permanent, not transient

    with pytest.raises(storage.StorageError):
        image_process(image_id=reported.id)

    reported.refresh_from_db()
    # Left pending for a later attempt, but counted: a bug cannot loop for ever.
    assert (reported.status, reported.attempts) == ("pending", 1)


def test_the_retries_span_a_restart_of_the_store_not_just_a_blip():
    ceilings = [
        get_exponential_backoff_interval(
            factor=process_image.retry_backoff,
            retries=retry,
            maximum=process_image.retry_backoff_max,
            full_jitter=False,
        )
        for retry in range(process_image.max_retries)
    ]

    # Each retry waits a random time up to its ceiling (full jitter).
    assert ceilings == [5, 10, 20, 40, 80]
