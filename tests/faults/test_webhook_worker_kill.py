"""``kill -9`` of the webhooks worker while the receiver is still answering: the delivery
ends delivered, with the same webhook-id, once another worker takes it over (the broker
hands the task back; the attempt's claim expires and the sweeper enqueues it again)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from images_app.tests.test_worker_e2e import process_group_alive, wait_until
from sessions_app.services import session_finish
from sessions_app.tests.factories import CaptureSessionFactory
from webhooks import services, transport
from webhooks.models import WebhookDelivery
from webhooks.tests.receiver import Answer, Receiver
from webhooks.tests.workers import WebhookWorker

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().up()
    try:
        yield server
    finally:
        server.down()
        transport.pools_clear()


@pytest.fixture
def webhook_workers(worker_env, tmp_path):
    started: list[WebhookWorker] = []

    def start(**env: str) -> WebhookWorker:
        worker = WebhookWorker(worker_env, tmp_path).start(**env)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def test_a_worker_killed_mid_delivery_ends_delivered_with_the_same_webhook_id(
    org, site, receiver, webhook_workers, settings
):
    settings.WEBHOOKS_ALLOW_INSECURE = True
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    # The first request hangs (the receiver is slow); every later one is answered at once.
    receiver.answer(Answer(200, sleep=20), Answer(200))
    first = webhook_workers()
    session = CaptureSessionFactory(org=org, site=site)
    session_finish(session=session, status="complete", completed_at=None, actor=None)

    [hanging] = receiver.wait_for(1)
    first.kill_main()
    wait_until(lambda: not process_group_alive(first.pid), what="the worker's children to die")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1  # the attempt died with it

    webhook_workers()

    def swept_and_delivered() -> bool:
        services.deliveries_sweep()  # beat's job: the claim expires, the attempt is sent again
        return WebhookDelivery.objects.get().status == "delivered"

    wait_until(swept_and_delivered, what="the delivery to be taken over and delivered")
    received = receiver.wait_for(2)
    assert {r.webhook_id for r in received} == {hanging.webhook_id}
    for r in received:
        assert r.verify(endpoint.secret)["data"]["session_id"] == str(session.id)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
