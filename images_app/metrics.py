"""The images' own metrics and task log fields, registered with the platform's
observability (``imaging/observability.py`` names no domain app)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from images_app.models import Image
from images_app.queue import PROCESS_IMAGE_TASK
from imaging.observability import backlog_gauge, task_outcome

IMAGES_PROCESSED = Counter("imaging_images_processed", "Images processed successfully.")
IMAGES_FAILED = Counter(
    "imaging_images_failed", "Images whose processing failed, by error code.", ["code"]
)
PROCESSING_SECONDS = Histogram(
    "imaging_image_processing_seconds",
    "Duration of one image processing task (download, pipeline, thumbnails), by outcome.",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)


@backlog_gauge
def images_unfinished() -> Iterable[GaugeMetricFamily]:
    unfinished = GaugeMetricFamily(
        "imaging_images_unfinished",
        "Images waiting for their upload or being processed.",
        labels=["status"],
    )
    counts = dict.fromkeys((Image.Status.PENDING, Image.Status.PROCESSING), 0)
    rows = (
        Image.objects.filter(status__in=list(counts))
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    for status, count in counts.items():
        unfinished.add_metric([str(status)], float(count))
    yield unfinished


def _image_error_code(image_id: Any) -> str:
    try:
        code = Image.objects.filter(pk=image_id).values_list("error", flat=True).first()
    except Exception:  # a log line must never fail a task
        return "unknown"
    return code or "unknown"


@task_outcome(PROCESS_IMAGE_TASK)
def process_image_outcome(
    *, args: Any, kwargs: Any, retval: Any, state: str | None, duration: float | None
) -> tuple[str, dict[str, Any]]:
    """The task returns the image's new status ("processed", "failed", ...) on success."""
    if state == "SUCCESS":
        outcome = retval if isinstance(retval, str) else "success"
    else:
        outcome = (state or "unknown").lower()
    image_id = (list(args or []) or [None])[0] or (kwargs or {}).get("image_id")
    fields: dict[str, Any] = {"image_id": str(image_id) if image_id else None}
    if outcome == "processed":
        IMAGES_PROCESSED.inc()
    elif outcome == "failed":
        code = _image_error_code(image_id)
        fields["error_code"] = code
        IMAGES_FAILED.labels(code).inc()
    if duration is not None:
        PROCESSING_SECONDS.labels(outcome).observe(duration)
    return outcome, fields
