"""Starting the render of a publication version by the task's registered name (services never
import tasks; see images_app/queue.py)."""

from __future__ import annotations

from imaging.celery import app

RENDER_TASK = "publishing.tasks.render_publication"
RENDER_IMAGE_TASK = "publishing.tasks.render_image"


def render_enqueue_on_commit(*, publication_id, number: int) -> None:
    """Once the version's transaction commits (never for a rolled-back one)."""
    app.tasks[RENDER_TASK].delay_on_commit(str(publication_id), number)


def render_enqueue(*, publication_id, number: int) -> None:
    """Now (the sweeper: a version whose render was lost)."""
    app.tasks[RENDER_TASK].delay(str(publication_id), number)


def render_image_enqueue(*, publication_id, number: int, image_id) -> None:
    """One image's renditions, in whichever worker process is free."""
    app.tasks[RENDER_IMAGE_TASK].delay(str(publication_id), number, str(image_id))
