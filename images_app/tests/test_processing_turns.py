"""Processing in turn (images_app/fairness.py): an org at its cap waits, other orgs do not.

The task runs in-process against the real Redis and the real store; the image ids that a
freed turn enqueues are read back from the broker's queue in Redis. The whole story with a
real worker (one org floods the queue, another's photo goes through) is in
test_worker_e2e.py.
"""

from __future__ import annotations

import ast
import json

import pytest
import redis

from events_app.models import Event
from images_app import fairness
from images_app.models import Image
from images_app.services import image_process
from images_app.tasks import process_image
from images_app.tests.test_processing import photo_jpeg, uploaded
from images_app.tests.test_worker_e2e import REDIS_URL, broker  # noqa: F401 (a fixture)
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]


class Queue:
    """The image ids waiting in the broker's queue (this test's key prefix)."""

    def __init__(self, prefix: str) -> None:
        self.key = f"{prefix}celery"
        self.client = redis.Redis.from_url(REDIS_URL)

    def image_ids(self) -> set[str]:
        messages = [json.loads(raw) for raw in self.client.lrange(self.key, 0, -1)]
        return {ast.literal_eval(m["headers"]["argsrepr"])[0] for m in messages}


@pytest.fixture
def queue(request, settings) -> Queue:
    """Tasks go to Redis (test_worker_e2e's broker fixture); turns are counted there too."""
    prefix = request.getfixturevalue("broker")
    settings.REDIS_URL = REDIS_URL
    settings.PROCESS_ORG_CONCURRENCY = 1
    return Queue(prefix)


@pytest.fixture
def session(org, site):
    return CaptureSessionFactory(org=org, site=site)


def photos(session, count: int) -> list[Image]:
    return [uploaded(session, photo_jpeg((640, 480), seed=seed)) for seed in range(count)]


def in_process(image: Image) -> None:
    """As if a task of `image` were processing it on another worker right now."""
    turn = fairness.turn_take_or_park(org_id=image.org_id, image_id=image.id, cap=1, reclaim=False)
    assert turn == fairness.TAKEN


def run(image: Image) -> str:
    return process_image.apply(args=[str(image.id)]).result


def test_an_image_whose_org_is_at_its_cap_waits_without_a_claim_or_an_attempt(queue, session):
    first, second = photos(session, 2)
    in_process(first)

    assert run(second) == "waiting"

    second.refresh_from_db()
    assert (second.status, second.attempts) == ("pending", 0)
    assert not Event.objects.filter(entity_id=second.id).exists()


def test_another_orgs_image_is_processed_while_the_first_org_is_at_its_cap(
    queue, session, other_org, other_site_of_other_org
):
    [first] = photos(session, 1)
    other_session = CaptureSessionFactory(org=other_org, site=other_site_of_other_org)
    [other] = photos(other_session, 1)
    in_process(first)

    assert run(other) == "processed"


def test_a_freed_turn_enqueues_the_orgs_waiting_images_one_at_a_time(queue, session):
    first, second, third = photos(session, 3)
    in_process(first)
    assert [run(second), run(third)] == ["waiting", "waiting"]

    # first's task (redelivered, say) finishes: its turn goes to the image waiting longest.
    assert fairness.image_process_in_turn(image_id=first.id, reclaim=True) == "processed"
    assert queue.image_ids() == {str(second.id)}

    assert run(second) == "processed"
    assert queue.image_ids() == {str(second.id), str(third.id)}
    assert run(third) == "processed"


def test_a_second_delivery_of_an_image_in_process_is_skipped_but_a_redelivery_takes_over(
    queue, session
):
    [image] = photos(session, 1)
    in_process(image)

    assert run(image) == "skipped"
    # A redelivered message: the worker holding the turn died; its lease is taken over.
    assert fairness.image_process_in_turn(image_id=image.id, reclaim=True) == "processed"


def test_a_woken_image_that_was_already_processed_passes_the_turn_on(queue, session):
    first, second, third = photos(session, 3)
    in_process(first)
    assert [run(second), run(third)] == ["waiting", "waiting"]
    assert image_process(image_id=second.id) == "processed"  # e.g. a duplicate message

    fairness.image_process_in_turn(image_id=first.id, reclaim=True)
    assert run(second) == "skipped"

    assert queue.image_ids() == {str(second.id), str(third.id)}


def test_when_redis_fails_the_image_is_processed_anyway(queue, session, settings):
    [image] = photos(session, 1)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    assert run(image) == "processed"


def test_a_sessions_first_frame_goes_before_another_sessions_backlog(queue, org, site, session):
    """Per-session turns within the org: the backlog of one session holds rounds 1..n, the
    first frame of a session that starts meanwhile takes the next round."""
    busy = photos(session, 1)[0]
    backlog = photos(session, 4)
    in_process(busy)
    assert [run(image) for image in backlog] == ["waiting"] * 4
    other_session = CaptureSessionFactory(org=org, site=site)
    newest = uploaded(other_session, photo_jpeg((640, 480), seed=99))
    assert run(newest) == "waiting"

    woken = []
    for n in range(5):
        before = queue.image_ids()
        freed = busy.id if n == 0 else None  # then the woken images never take their turn
        fairness.turn_free_and_wake_next(org_id=org.id, image_id=freed, cap=1)
        (next_id,) = queue.image_ids() - before
        woken.append(next_id)
    # One of the backlog, then the other session's frame (the same round, by id), then the
    # rest of the backlog in its order.
    assert set(woken[:2]) == {str(backlog[0].id), str(newest.id)}
    assert woken[2:] == [str(image.id) for image in backlog[1:]]


def test_sessions_take_turns_round_by_round(queue, org, site, session):
    busy = photos(session, 1)[0]
    in_process(busy)
    second = CaptureSessionFactory(org=org, site=site)
    a = photos(session, 3)
    b = [uploaded(second, photo_jpeg((640, 480), seed=50 + n)) for n in range(3)]
    for image in [*a, *b]:  # session a's backlog arrived first
        assert run(image) == "waiting"

    order = []
    for n in range(6):
        before = queue.image_ids()
        freed = busy.id if n == 0 else None
        fairness.turn_free_and_wake_next(org_id=org.id, image_id=freed, cap=1)
        (next_id,) = queue.image_ids() - before
        order.append(next_id)
    rounds = [set(order[i : i + 2]) for i in range(0, 6, 2)]
    assert rounds == [{str(a[n].id), str(b[n].id)} for n in range(3)]
