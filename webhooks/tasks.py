"""Celery tasks: thin shells around ``webhooks.services`` (queue ``webhooks``).

``acks_late`` + ``reject_on_worker_lost``: a chunk whose worker dies is handed out again;
the claim (``services.deliveries_attempt``) makes sure one attempt is sent by one worker,
and the sweeper picks up whatever the broker lost. Retries of an endpoint's failures are the
service's schedule, not Celery's; only the database's transient errors retry here.
"""

from __future__ import annotations

from collections import Counter

from celery import shared_task
from django.db import InterfaceError, OperationalError, close_old_connections

from webhooks import services


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def deliver(self, delivery_ids: list[str] | str) -> str:
    # As at the start of a request: a broken or expired connection is replaced (the webhooks
    # worker keeps its connection across tasks, CELERY_DB_REUSE_MAX). Not when run in-process
    # after a commit (development): that connection is the caller's.
    if not self.request.is_eager:
        close_old_connections()
    if isinstance(delivery_ids, str):  # a message of one id, enqueued before chunks
        delivery_ids = [delivery_ids]
    outcomes = services.deliveries_attempt(delivery_ids=delivery_ids)
    return ", ".join(f"{what}: {n}" for what, n in Counter(outcomes.values()).items())


@shared_task(acks_late=True, ignore_result=True)
def sweep_deliveries() -> str:
    return str(services.deliveries_sweep())
