"""Starting the render of a publication version by the task's registered name (services never
import tasks; see images_app/queue.py)."""

from __future__ import annotations

from celery import current_app

RENDER_TASK = "publishing.tasks.render_publication"


def render_enqueue_on_commit(*, publication_id, number: int) -> None:
    """Once the version's transaction commits (never for a rolled-back one)."""
    current_app.tasks[RENDER_TASK].delay_on_commit(str(publication_id), number)
