"""``kill -9`` of a Celery worker mid-task, for a batch of uploads: nothing is lost, and
every photo is processed exactly once.

A device uploads a studio spin through the HTTP API (live server, SeaweedFS) and reports it
in one ``upload_complete`` batch; the worker (prefork, one child) is held at the pipeline
(see images_app/tests/e2e_worker.py) so the kill lands mid-task, at a known point.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from events_app.models import Event
from images_app.models import Image
from images_app.tests.test_worker_e2e import (
    process_group_alive,
    report_complete,
    session_open,
    small_jpeg,
    upload,
    wait_until,
)
from tests.helpers import full_log

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BATCH = 5


def spin_uploaded(web) -> list[str]:
    """A spin of BATCH frames in the store, not yet reported."""
    session_id = session_open(web, "studio360", {"studio360": {"frame_count": BATCH}})
    return [
        upload(web, session_id, small_jpeg(frame), "image/jpeg", frame_index=frame)
        for frame in range(BATCH)
    ]


def reached(hold: Path) -> Path:
    return Path(f"{hold}.reached")


def wait_for_a_task_at_the_hold(hold: Path) -> None:
    wait_until(reached(hold).exists, what="a task to reach the pipeline")
    reached(hold).unlink()


def all_processed(image_ids: list[str]) -> bool:
    return Image.objects.filter(pk__in=image_ids, status="processed").count() == len(image_ids)


def assert_each_processed_exactly_once(web, image_ids: list[str]) -> None:
    listing = web["admin"].ok("GET", f"/images?session_id={spin_session(image_ids)}")
    assert [item["status"] for item in listing["data"]] == ["processed"] * len(image_ids)
    assert all(set(item["thumb_urls"]) == {"150", "600", "1200"} for item in listing["data"])
    processed_events = Event.objects.filter(entity_id__in=image_ids, type="processed")
    assert sorted(str(e.entity_id) for e in processed_events) == sorted(image_ids)


def spin_session(image_ids: list[str]) -> str:
    return str(Image.objects.get(pk=image_ids[0]).session_id)


def test_pool_children_killed_mid_task_lose_nothing_and_process_every_photo_once(
    web, workers, tmp_path
):
    image_ids = spin_uploaded(web)
    hold = tmp_path / "hold"
    hold.touch()
    worker = workers(hold_file=hold)
    report_complete(web, *image_ids)

    kills = 2
    for _ in range(kills):
        wait_for_a_task_at_the_hold(hold)
        [child] = worker.pool_children()
        os.kill(child, signal.SIGKILL)
        # The main process replaces the child, and the broker hands the task out again.
        wait_until(
            lambda child=child: worker.pool_children() not in ([], [child]), what="a new child"
        )
    hold.unlink()

    wait_until(lambda: all_processed(image_ids), what="the whole spin to be processed")
    assert_each_processed_exactly_once(web, image_ids)
    # Each killed attempt is counted in the database (that is what caps a photo that keeps
    # killing its worker); the rest took one attempt each.
    attempts = Image.objects.filter(pk__in=image_ids).values_list("attempts", flat=True)
    assert sum(attempts) == BATCH + kills
    assert worker.process.poll() is None  # the main process carried on
    assert full_log(worker).count("WorkerLostError") >= kills


def test_a_worker_killed_mid_task_loses_nothing_once_another_starts(web, workers, tmp_path):
    image_ids = spin_uploaded(web)
    hold = tmp_path / "hold"
    hold.touch()
    first = workers(hold_file=hold)
    report_complete(web, *image_ids)
    wait_for_a_task_at_the_hold(hold)
    [in_flight] = Image.objects.filter(pk__in=image_ids, status="processing")

    first.kill_main()
    # The pool child dies with its parent: the whole worker is gone, mid-task.
    wait_until(lambda: not process_group_alive(first.pid), what="the worker's children to die")
    assert Image.objects.get(pk=in_flight.pk).status == "processing"
    hold.unlink()

    workers()  # the unacknowledged task comes back once its visibility timeout has passed

    wait_until(lambda: all_processed(image_ids), what="the whole spin to be processed")
    assert_each_processed_exactly_once(web, image_ids)
    attempts = dict(Image.objects.filter(pk__in=image_ids).values_list("id", "attempts"))
    assert attempts.pop(in_flight.id) == 2  # the dead attempt's claim was taken over
    assert set(attempts.values()) == {1}
