"""SECURITY.md, "Celery (nothing lost)", line by line.

These run the processing task in-process against the database and a real store. The same
lines with real processes (a killed pool child, a killed worker, a Redis restarted without
persistence) are in tests/faults/ (``make test-faults``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.tasks import process_image, sweep_uploads
from images_app.tests.image_factories import ImageFactory
from imaging.celery import app as celery_app
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

FIXTURES = Path(__file__).resolve().parents[2] / "images_app" / "tests" / "fixtures"
PHOTO = (FIXTURES / "Portrait_1.jpg").read_bytes()


@pytest.fixture
def uploaded(org, site):
    """A pending image whose bytes are in the store, as after the device's PUT."""
    session = CaptureSessionFactory(org=org, site=site)
    image = ImageFactory(session=session, content_sha256=hashlib.sha256(PHOTO).hexdigest())
    storage.put_bytes(key=image.storage_key, data=PHOTO, content_type=image.content_type)
    return image


def detail(api, admin, image) -> dict:
    response = api(admin).get(f"/v1/images/{image.id}")
    assert response.status_code == 200
    return response.json()


# --- early ack / acks_late alone / reject_on_worker_lost + attempts in the database


def test_the_processing_task_is_acked_late_and_requeued_when_its_worker_is_lost():
    assert process_image.acks_late is True
    assert process_image.reject_on_worker_lost is True
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    # One message per worker process: a dying worker holds no backlog of unacked tasks.
    assert celery_app.conf.worker_prefetch_multiplier == 1


def test_an_image_whose_claims_keep_dying_fails_once_the_attempts_are_used_up(
    api, admin, uploaded, settings
):
    # Every earlier claim was taken and never finished (its worker was killed).
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    Image.objects.filter(pk=uploaded.pk).update(
        status="processing", attempts=settings.PROCESS_MAX_ATTEMPTS, processing_started_at=stale
    )

    assert process_image.apply(args=[str(uploaded.id)]).result == "skipped"

    body = detail(api, admin, uploaded)
    assert (body["status"], body["error"]) == ("failed", "too_many_attempts")
    [event] = Event.objects.filter(entity_id=uploaded.id, type="processing_failed")
    assert event.meta == {"code": "too_many_attempts", "attempts": settings.PROCESS_MAX_ATTEMPTS}


# --- visibility timeout above the longest task; work claimed with a conditional update


def test_the_visibility_timeout_outlasts_the_longest_task_and_retry_countdown():
    visibility = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    assert visibility > django_settings.CELERY_TASK_TIME_LIMIT
    assert django_settings.CELERY_TASK_SOFT_TIME_LIMIT < django_settings.CELERY_TASK_TIME_LIMIT
    # A retry waits in the worker, unacknowledged, until its countdown ends: a countdown
    # longer than the visibility timeout would have Redis hand it out a second time.
    assert visibility > process_image.retry_backoff_max


def test_one_image_has_a_time_budget_far_below_the_default_task_time_limit():
    # At the soft limit the image fails with ``timeout`` and the process takes the next task;
    # a claim is presumed dead only after CELERY_TASK_TIME_LIMIT, which no image outlives.
    assert process_image.soft_time_limit == django_settings.PROCESS_SOFT_TIME_LIMIT == 60
    assert process_image.time_limit == django_settings.PROCESS_TIME_LIMIT == 90
    assert process_image.time_limit <= django_settings.CELERY_TASK_TIME_LIMIT / 5


def test_a_task_delivered_twice_processes_the_image_once(api, admin, uploaded):
    first = process_image.apply(args=[str(uploaded.id)]).result
    second = process_image.apply(args=[str(uploaded.id)]).result

    assert (first, second) == ("processed", "skipped")
    assert detail(api, admin, uploaded)["status"] == "processed"
    assert Image.objects.get(pk=uploaded.pk).attempts == 1
    assert Event.objects.filter(entity_id=uploaded.id, type="processed").count() == 1


def test_a_live_claim_is_not_taken_over_by_a_second_delivery(api, admin, uploaded):
    Image.objects.filter(pk=uploaded.pk).update(
        status="processing", attempts=1, processing_started_at=timezone.now()
    )

    assert process_image.apply(args=[str(uploaded.id)]).result == "skipped"
    assert Image.objects.get(pk=uploaded.pk).attempts == 1


# --- the database is the truth: the sweeper re-enqueues what the broker lost


def test_the_sweeper_re_enqueues_an_upload_whose_task_the_broker_lost(api, admin, uploaded):
    # upload_complete was accepted long ago; its queued task vanished with Redis.
    Image.objects.filter(pk=uploaded.pk).update(uploaded_at=timezone.now() - timedelta(hours=1))

    summary = sweep_uploads.apply().result

    assert summary.startswith("enqueued 1 uploaded")
    assert detail(api, admin, uploaded)["status"] == "processed"
