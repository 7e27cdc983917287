"""Enqueueing a delivery: the one way services start ``webhooks.tasks.deliver``, found by its
registered name (as ``images_app/queue.py``); the task goes to the ``webhooks`` queue
(``CELERY_TASK_ROUTES``), served by workers of its own so image backlogs never delay it."""

from __future__ import annotations

import uuid

from imaging.celery import app

DELIVER_TASK = "webhooks.tasks.deliver"
SWEEP_TASK = "webhooks.tasks.sweep_deliveries"


def _deliver():
    return app.tasks[DELIVER_TASK]


def delivery_enqueue(delivery_id: uuid.UUID | str, *, countdown: float | None = None) -> None:
    if countdown:
        _deliver().apply_async((str(delivery_id),), countdown=countdown)
    else:
        _deliver().delay(str(delivery_id))


def delivery_enqueue_on_commit(delivery_id: uuid.UUID | str) -> None:
    """Send the task once the current transaction commits (never for a rolled-back one)."""
    _deliver().delay_on_commit(str(delivery_id))


def eager() -> bool:
    """Tasks run in-process (development without Redis): no delayed retries then."""
    return bool(app.conf.task_always_eager)
