"""Celery tasks: thin shells around ``images_app.services``.

``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is redelivered, not
lost; the service's claim makes the second run safe. Only transient errors are retried.
Images are processed in turn per organisation (``images_app/fairness.py``), each within
its own time limits (``PROCESS_SOFT_TIME_LIMIT``: the image fails with ``timeout``).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from images_app import fairness, services
from images_app.storage import StorageUnavailable


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StorageUnavailable, OperationalError, InterfaceError),
    # Retries within 5, 10, 20, 40, 80 s (full jitter): together they outlast a restart of
    # the store or the database. With a 1 s base all five could fall within a few seconds.
    # After the last one the image stays pending and the sweeper enqueues it again.
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.PROCESS_MAX_ATTEMPTS,
    # One image's budget, far below the default limits: at the soft limit the service fails
    # the image with ``timeout`` (no retry) and the process is free for the next task.
    soft_time_limit=settings.PROCESS_SOFT_TIME_LIMIT,
    time_limit=settings.PROCESS_TIME_LIMIT,
)
def process_image(self, image_id: str) -> str:
    # A redelivered message means the worker that held it died (or outlived the visibility
    # timeout, which exceeds the hard time limit): its claim may be taken over at once.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return fairness.image_process_in_turn(image_id=image_id, reclaim=redelivered)


@shared_task(acks_late=True, ignore_result=True)
def sweep_uploads() -> str:
    return str(services.uploads_sweep())
