"""Enqueueing deliveries: the one way services start ``webhooks.tasks.deliver``, found by its
registered name (as ``images_app/queue.py``); the task goes to the ``webhooks`` queue
(``CELERY_TASK_ROUTES``), served by workers of its own so image backlogs never delay it.

A task carries a chunk of delivery ids of one endpoint (at most ``WEBHOOK_BATCH_SIZE``):
Celery's own work per message costs about as much as a delivery, so a transaction that
writes many deliveries sends one message per endpoint and chunk, not one per delivery.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from imaging.celery import app

DELIVER_TASK = "webhooks.tasks.deliver"
SWEEP_TASK = "webhooks.tasks.sweep_deliveries"

# (endpoint id, delivery id) written by this thread's open transaction, sent on its commit.
_written = threading.local()


def _deliver():
    return app.tasks[DELIVER_TASK]


def deliveries_enqueue(
    delivery_ids: Iterable[uuid.UUID | str], *, countdown: float | None = None
) -> None:
    """One task for these ids (one endpoint's, at most ``WEBHOOK_BATCH_SIZE``)."""
    ids = [str(pk) for pk in delivery_ids]
    if countdown:
        _deliver().apply_async((ids,), countdown=countdown)
    else:
        _deliver().delay(ids)


def endpoint_chunks(
    pairs: Iterable[tuple[uuid.UUID | str, uuid.UUID | str]],
) -> list[list[uuid.UUID | str]]:
    """Delivery ids grouped by endpoint (in the order given), in chunks of at most
    ``WEBHOOK_BATCH_SIZE``: one task each, so a slow endpoint holds up only its own."""
    size = settings.WEBHOOK_BATCH_SIZE
    by_endpoint: dict[str, list[uuid.UUID | str]] = {}
    for endpoint_id, delivery_id in pairs:
        by_endpoint.setdefault(str(endpoint_id), []).append(delivery_id)
    return [ids[i : i + size] for ids in by_endpoint.values() for i in range(0, len(ids), size)]


def deliveries_enqueue_on_commit(
    pairs: Iterable[tuple[uuid.UUID | str, uuid.UUID | str]],
) -> None:
    """Send the tasks for these (endpoint id, delivery id) once the current transaction
    commits, together with every other delivery it wrote (never for a rolled-back one)."""
    written = getattr(_written, "pairs", None)
    if written is None:
        written = _written.pairs = []
    written.extend(pairs)
    # One callback per call, so that one survives whichever savepoints roll back; the first
    # to run after the commit sends everything the transaction wrote, the others find
    # nothing left. Ids of a rolled-back transaction may ride along with the next commit's:
    # the claim finds no such row.
    transaction.on_commit(_written_send)


def _written_send() -> None:
    pairs = getattr(_written, "pairs", None)
    if not pairs:
        return
    _written.pairs = []
    for chunk in endpoint_chunks(pairs):
        deliveries_enqueue(chunk)


def eager() -> bool:
    """Tasks run in-process (development without Redis): no delayed retries then."""
    return bool(app.conf.task_always_eager)
