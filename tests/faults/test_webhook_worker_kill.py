"""``kill -9`` of the webhooks worker in the middle of a chunk, while the receiver is still
answering its first delivery: every delivery of the chunk ends delivered, each with its own
webhook-id, once another worker takes them over (the broker hands the task back; the
attempts' claim expires and the sweeper enqueues them again)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

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


def test_a_worker_killed_mid_chunk_ends_delivered_with_the_same_webhook_ids(
    org, site, receiver, webhook_workers, settings
):
    settings.WEBHOOKS_ALLOW_INSECURE = True
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    # The first request hangs (the receiver is slow); every later one is answered at once.
    receiver.answer(Answer(200, sleep=20), Answer(200))
    first = webhook_workers()
    sessions = [CaptureSessionFactory(org=org, site=site) for _ in range(3)]
    with transaction.atomic():  # one transaction: one chunk, one task
        for session in sessions:
            session_finish(session=session, status="complete", completed_at=None, actor=None)

    [hanging] = receiver.wait_for(1)
    first.kill_main()
    wait_until(lambda: not process_group_alive(first.pid), what="the worker's children to die")
    deliveries = WebhookDelivery.objects.order_by("message_id")
    # The chunk died with it: claimed (an attempt each), none recorded.
    assert [(d.status, d.attempts) for d in deliveries] == [("pending", 1)] * 3
    assert hanging.webhook_id == deliveries[0].message.msg_id

    webhook_workers()

    def swept_and_delivered() -> bool:
        services.deliveries_sweep()  # beat's job: the claims expire, the chunk is sent again
        return set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}

    wait_until(swept_and_delivered, what="the chunk to be taken over and delivered")
    received = receiver.wait_for(4)
    assert sorted(r.webhook_id for r in received) == sorted(
        [hanging.webhook_id] + [d.message.msg_id for d in deliveries]
    )
    for r in received:
        r.verify(endpoint.secret)
    assert {r.verify(endpoint.secret)["data"]["session_id"] for r in received} == {
        str(s.id) for s in sessions
    }
    assert [d.attempts for d in WebhookDelivery.objects.all()] == [2] * 3
