"""Races on real PostgreSQL: processing claims, spin frames, repeated presigns,
upload_complete, publish.

Each test holds the contested row locked on the test's own connection, starts the racers
(each on its own connection), waits until PostgreSQL reports every one of them blocked by
that lock, and only then lets go: all of them reach the contested statement at once, on
every run, instead of whenever the scheduler lets them.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.tasks import process_image
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from sessions_app.tests.test_sessions_concurrency import JOIN_TIMEOUT_SECONDS, RequestThread
from tests.helpers import presign, upload_complete

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[2] / "images_app" / "tests" / "fixtures"
RACERS = 4


def race(locked_rows, racers: list[RequestThread]) -> list:
    """Start the racers behind our lock on ``locked_rows``; their results once released."""
    with transaction.atomic():
        list(locked_rows.select_for_update())
        for racer in racers:
            racer.start()
        wait_until_all_blocked(racers)
    return [racer.finish() for racer in racers]


def wait_until_all_blocked(racers: list[RequestThread]) -> None:
    """Until every racer's backend waits on a lock: ours, or (queued behind the first
    waiter, as PostgreSQL queues row-lock waiters) the lock of a racer that waits on ours."""
    for racer in racers:
        racer.connected.wait(JOIN_TIMEOUT_SECONDS)
        assert racer.pid is not None, racer.error
    pids = [racer.pid for racer in racers]
    deadline = time.monotonic() + JOIN_TIMEOUT_SECONDS
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM unnest(%s::int[]) AS pid"
                " WHERE cardinality(pg_blocking_pids(pid)) > 0",
                [pids],
            )
            if cursor.fetchone()[0] == len(pids):
                return
            assert all(racer.is_alive() for racer in racers), "a racer finished without waiting"
            assert time.monotonic() < deadline, "the racers never all waited for our lock"
            time.sleep(0.01)


@pytest.mark.usefixtures("s3")
def test_workers_racing_for_one_image_process_it_once(org, site):
    data = (FIXTURES / "Portrait_1.jpg").read_bytes()
    image = ImageFactory(
        session=CaptureSessionFactory(org=org, site=site),
        content_sha256=hashlib.sha256(data).hexdigest(),
    )
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    # The same task, delivered to several workers at once (a redelivery, a sweeper run).
    racers = [
        RequestThread(lambda: process_image.apply(args=[str(image.id)]).result)
        for _ in range(RACERS)
    ]

    outcomes = race(Image.objects.filter(pk=image.pk), racers)

    assert sorted(outcomes) == ["processed"] + ["skipped"] * (RACERS - 1)
    image.refresh_from_db()
    assert (image.status, image.attempts) == ("processed", 1)
    assert Event.objects.filter(entity_id=image.id, type="processed").count() == 1


def test_presigns_racing_for_the_next_free_frame_get_different_frames(api, org, site, device):
    spin = CaptureSessionFactory(org=org, site=site, device=device)  # 24 frames
    client = api(device)
    racers = [
        RequestThread(lambda n=n: presign(client, spin, f"frame {n}".encode()))
        for n in range(RACERS)
    ]

    responses = race(CaptureSession.objects.filter(pk=spin.pk), racers)

    assert [r.status_code for r in responses] == [200] * RACERS
    frames = sorted(r.json()["frame_index"] for r in responses)
    assert frames == list(range(RACERS))
    assert sorted(r.json()["angle_deg"] for r in responses) == [f * 15 for f in frames]


def test_repeats_of_one_photo_presigned_at_once_get_one_image(api, org, site, device):
    """A client retrying while its first presign is still in flight: every answer names the
    same pending image, whichever request took the session's lock first."""
    spin = CaptureSessionFactory(org=org, site=site, device=device)
    client = api(device)
    racers = [
        RequestThread(lambda: presign(client, spin, b"the same photo")) for _ in range(RACERS)
    ]

    responses = race(CaptureSession.objects.filter(pk=spin.pk), racers)

    assert [r.status_code for r in responses] == [200] * RACERS
    assert len({r.json()["image_id"] for r in responses}) == 1
    assert Image.objects.filter(session=spin).count() == 1


def test_repeats_of_one_photo_for_a_named_frame_presigned_at_once_get_one_image(
    api, org, site, device
):
    """The same retry for a named frame, which takes no lock: the racers meet at the
    one-pending-image-per-photo constraint. They start behind our own uncommitted insert of
    that photo, so all of them insert at once when we roll it back."""
    spin = CaptureSessionFactory(org=org, site=site, device=device)
    client = api(device)
    sha256 = hashlib.sha256(b"the same photo").hexdigest()
    racers = [
        RequestThread(lambda: presign(client, spin, b"the same photo", frame_index=5))
        for _ in range(RACERS)
    ]

    with transaction.atomic():
        ImageFactory(session=spin, frame_index=5, content_sha256=sha256)
        for racer in racers:
            racer.start()
        wait_until_all_blocked(racers)
        transaction.set_rollback(True)
    responses = [racer.finish() for racer in racers]

    assert [r.status_code for r in responses] == [200] * RACERS
    assert len({r.json()["image_id"] for r in responses}) == 1
    assert Image.objects.filter(session=spin).count() == 1


def test_parallel_upload_complete_events_for_one_image_enqueue_it_once(
    api, org, site, device, local_broker
):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    image = ImageFactory(session=session)
    client = api(device)
    racers = [RequestThread(lambda: upload_complete(client, image.id)) for _ in range(RACERS)]

    responses = race(Image.objects.filter(pk=image.pk), racers)

    assert [r.status_code for r in responses] == [201] * RACERS
    [message] = local_broker.queued()
    assert message["headers"]["task"] == "images_app.tasks.process_image"
    assert message["headers"]["argsrepr"] == repr((str(image.id),))
    # Every report is kept as telemetry; only the first one marked the upload.
    assert Event.objects.filter(entity_id=image.id, type="upload_complete").count() == RACERS
    assert Image.objects.get(pk=image.pk).uploaded_at is not None


def test_concurrent_publishes_of_one_image_record_one_published_event(
    api, org, site, reviewer, admin
):
    image = processed(ImageFactory(session=CaptureSessionFactory(org=org, site=site)))
    clients = [api(reviewer), api(admin)]
    racers = [
        RequestThread(lambda c=clients[n % 2]: c.post(f"/v1/images/{image.id}/publish"))
        for n in range(RACERS)
    ]

    responses = race(Image.objects.filter(pk=image.pk), racers)

    assert [r.status_code for r in responses] == [200] * RACERS
    assert len({r.json()["published_at"] for r in responses}) == 1
    assert Event.objects.filter(entity_id=image.id, type="published").count() == 1
