"""Enqueueing an image's processing: the one way services and the worker's turn-taking start
``images_app.tasks.process_image``.

The task is found by its registered name in Celery's registry (``app.tasks``), not
imported: tasks are entry points, like views, that sit above the services they call, so the
services never import them back. The task object itself is used, so its options (retries,
time limits) and the eager mode of development apply as with ``process_image.delay``. A
name that is not registered raises ``KeyError`` at the first enqueue (and a test holds the
name to the task's).
"""

from __future__ import annotations

import uuid

from imaging.celery import app

PROCESS_IMAGE_TASK = "images_app.tasks.process_image"


def _process_image():
    # The project's app, not ``celery.current_app``: that is per thread, and in a thread
    # other than the one that made the app (a threaded server) it is an empty default app.
    return app.tasks[PROCESS_IMAGE_TASK]


def image_process_enqueue(image_id: uuid.UUID | str) -> None:
    """Send the task now (the caller's writes are already committed)."""
    _process_image().delay(str(image_id))


def image_process_enqueue_on_commit(image_id: uuid.UUID | str) -> None:
    """Send the task once the current transaction commits (never for a rolled-back one)."""
    _process_image().delay_on_commit(str(image_id))
