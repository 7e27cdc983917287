"""End to end with a real Celery worker on the ``webhooks`` queue: a committed change is
delivered to a loopback receiver (signature verified), a failure is retried through the
broker with the same webhook-id, and a receiver down for a while gets everything from the
sweeper once it is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from images_app.tests.test_worker_e2e import broker, wait_until, worker_env
from sessions_app.services import session_finish
from sessions_app.tests.factories import CaptureSessionFactory
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.receiver import Answer
from webhooks.tests.workers import WebhookWorker

__all__ = ["broker", "worker_env"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def webhook_workers(worker_env, tmp_path) -> Iterator[Callable[..., WebhookWorker]]:
    started: list[WebhookWorker] = []

    def start(**kwargs: Any) -> WebhookWorker:
        worker = WebhookWorker(worker_env, tmp_path).start(**kwargs)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def endpoint(org, receiver, insecure):
    return services.endpoint_create(org_id=org.id, url=receiver.url())


def finish_sessions(org, site, count: int) -> list:
    sessions = [CaptureSessionFactory(org=org, site=site) for _ in range(count)]
    for session in sessions:
        session_finish(session=session, status="complete", completed_at=None, actor=None)
    return sessions


def statuses() -> list[str]:
    return sorted(WebhookDelivery.objects.values_list("status", flat=True))


def test_a_committed_change_is_delivered_by_the_webhooks_worker(
    org, site, endpoint, receiver, webhook_workers
):
    worker = webhook_workers()
    [session] = finish_sessions(org, site, 1)
    [received] = receiver.wait_for(1)
    payload = received.verify(endpoint.secret)
    assert payload["type"] == "session.completed"
    assert payload["data"]["session_id"] == str(session.id)
    wait_until(lambda: statuses() == ["delivered"], what="the delivery to be recorded")
    assert "webhooks.tasks.deliver" in worker.log()


def test_a_failure_is_retried_through_the_broker_with_the_same_id(
    org, site, endpoint, receiver, webhook_workers
):
    receiver.answer(Answer(503), Answer(500), Answer(200))
    webhook_workers()
    finish_sessions(org, site, 1)
    first, second, third = receiver.wait_for(3)
    assert first.webhook_id == second.webhook_id == third.webhook_id
    for received in (first, second, third):
        received.verify(endpoint.secret)
    wait_until(lambda: statuses() == ["delivered"], what="the delivery to be recorded")
    assert WebhookDelivery.objects.get().attempts == 3


def test_a_receiver_down_for_a_while_gets_everything_once_back(
    org, site, endpoint, receiver, webhook_workers
):
    # Every retry waits for the sweeper (none in the broker), as a long one does.
    webhook_workers(WEBHOOK_COUNTDOWN_MAX_SECONDS="0", WEBHOOK_RETRY_SCALE="0.001")
    receiver.down()
    finish_sessions(org, site, 3)
    wait_until(
        lambda: WebhookDelivery.objects.filter(attempts__gte=1).count() == 3,
        what="a first attempt of each",
    )
    assert statuses() == ["pending"] * 3
    receiver.up()

    def swept_and_delivered() -> bool:
        services.deliveries_sweep()  # what beat runs every WEBHOOK_SWEEP_SECONDS
        return statuses() == ["delivered"] * 3

    wait_until(swept_and_delivered, what="the sweeper to deliver everything")
    received = receiver.wait_for(3)
    assert len({r.webhook_id for r in received}) == 3
    for r in received:
        r.verify(endpoint.secret)
