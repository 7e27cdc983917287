"""Redis restarted without persistence while tasks are queued: the queue is gone, the
database still knows which uploads are pending, and the sweeper re-enqueues every one.

The Redis is this test process's own (tests/local_redis.py, ``--save "" --appendonly no``):
a ``kill -9`` and a start on the same port is a restart that keeps nothing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from events_app.models import Event
from images_app.models import Image
from images_app.tests.test_worker_e2e import (
    report_complete,
    session_open,
    small_jpeg,
    upload,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BATCH = 4
COMMAND_TIMEOUT_SECONDS = 60


def sweep(worker_env: dict[str, str]) -> str:
    """``manage.py sweep_uploads`` as beat or an operator would run it: its own process."""
    done = subprocess.run(
        [sys.executable, "manage.py", "sweep_uploads", "--older-than", "0"],
        cwd=django_settings.BASE_DIR,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=True,
    )
    return done.stdout.strip()


def test_after_a_redis_restart_the_sweeper_recovers_every_queued_upload(
    web, workers, worker_env, local_broker, tmp_path
):
    session_id = session_open(web, "stills", {})
    image_ids = [upload(web, session_id, small_jpeg(n), "image/jpeg") for n in range(BATCH)]
    hold = tmp_path / "hold"
    hold.touch()
    worker = workers(hold_file=hold)
    report_complete(web, *image_ids)
    # One task is running (held mid-pipeline), the others wait in Redis.
    wait_until(lambda: len(local_broker.queued()) == BATCH - 1, what="the tasks to be queued")

    local_broker.redis.restart()

    assert local_broker.queued() == []
    hold.unlink()
    # The running task finishes; the queued ones are gone with Redis.
    wait_until(
        lambda: Image.objects.filter(pk__in=image_ids, status="processed").count() == 1,
        what="the task that was running to finish",
    )
    lost = Image.objects.filter(pk__in=image_ids, status="pending")
    assert lost.count() == BATCH - 1
    assert all(image.uploaded_at is not None for image in lost)  # reported, never processed

    summary = sweep(worker_env)

    assert summary.startswith(f"enqueued {BATCH - 1} uploaded")
    wait_until(
        lambda: Image.objects.filter(pk__in=image_ids, status="processed").count() == BATCH,
        what="the swept uploads to be processed",
    )
    assert not Image.objects.filter(pk__in=image_ids).exclude(status="processed").exists()
    processed_events = Event.objects.filter(entity_id__in=image_ids, type="processed")
    assert sorted(str(e.entity_id) for e in processed_events) == sorted(image_ids)
    assert worker.process.poll() is None  # the worker reconnected to the new Redis
    assert sweep(worker_env).startswith("enqueued 0 uploaded")
