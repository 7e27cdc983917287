"""Celery tasks: thin shells around ``webhooks.services`` (queue ``webhooks``).

``acks_late`` + ``reject_on_worker_lost``: a delivery whose worker dies is handed out again;
the claim (``services.delivery_attempt``) makes sure one attempt is sent by one worker, and
the sweeper picks up whatever the broker lost. Retries of an endpoint's failures are the
service's schedule, not Celery's; only the database's transient errors retry here.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from webhooks import services


@shared_task(
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
def deliver(delivery_id: str) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_deliveries() -> str:
    return str(services.deliveries_sweep())
