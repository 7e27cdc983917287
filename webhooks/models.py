"""Webhook endpoints of an organisation, the messages we owe them, one delivery per pair.

The outbox: a ``WebhookMessage`` and its ``WebhookDelivery`` rows are written in the
transaction of the change they announce (``webhooks/services.py``), so a rolled-back change
sends nothing and a committed one is delivered even if the broker loses the task (the
sweeper finds it). A message's ``msg_id`` is its ``webhook-id``: the same on every retry
and replay, so receivers deduplicate on it.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Organization


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Webhook event types (webhooks/events.py); empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # Why the endpoint was disabled by us (410 Gone, failing for days); empty otherwise.
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret signs too, until it expires (two signatures).
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Since when every attempt failed (cleared by a success); disabled after WEBHOOK_DISABLE_AFTER.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["org", "enabled"], name="webhook_endpoint_org_idx")]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    id = models.BigAutoField(primary_key=True)
    msg_id = models.CharField(max_length=40, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=40)
    # The body as sent: {"type", "timestamp", "data"}; serialised the same way every time.
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "-created_at"], name="webhook_message_org_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due (pending only); a claimed attempt holds it until
    # ``claimed_until``, after which another worker may take it over (its sender died).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When a task for the due attempt was last sent to the broker (the sweeper sends it
    # again only after ``WEBHOOK_REENQUEUE_SECONDS``: the broker lost it).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.endpoint_id} ({self.status})"
