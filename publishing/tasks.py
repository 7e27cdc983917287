"""Celery tasks: thin shells around ``publishing.services``."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from images_app.storage import StorageUnavailable
from publishing import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StorageUnavailable, OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def render_publication(publication_id: str, number: int) -> str:
    return services.publication_render_start(publication_id=publication_id, number=number)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StorageUnavailable, OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def render_image(publication_id: str, number: int, image_id: str) -> str:
    return services.publication_image_rendered(
        publication_id=publication_id, number=number, image_id=image_id
    )


@shared_task(acks_late=True, ignore_result=True)
def sweep_publications() -> str:
    return f"swept {len(services.publications_sweep())} withdrawn publications"
