"""Reads of webhook endpoints and deliveries, scoped to the caller's organisation first."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_of(*, org_id: uuid.UUID) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(org_id=org_id).order_by("created_at", "id")


def endpoint_get(*, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(org_id=org_id, pk=endpoint_id).first()


def deliveries_of(
    *, org_id: uuid.UUID, endpoint_id: uuid.UUID, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    rows = WebhookDelivery.objects.filter(org_id=org_id, endpoint_id=endpoint_id)
    if status:
        rows = rows.filter(status=status)
    return rows.select_related("message").order_by("-created_at", "-id")


def delivery_get(*, org_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_related("message")
        .filter(org_id=org_id, pk=delivery_id)
        .first()
    )
