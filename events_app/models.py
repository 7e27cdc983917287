"""The append-only audit and telemetry trail."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Event(models.Model):
    """Something that happened to a session, image or device. Rows are never updated."""

    class ActorType(models.TextChoices):
        DEVICE = "device", "Device"
        USER = "user", "User"
        SYSTEM = "system", "System"

    class EntityType(models.TextChoices):
        SESSION = "session", "Session"
        IMAGE = "image", "Image"
        DEVICE = "device", "Device"
        # Recorded by the server only: shot-list templates (the console's editor) and
        # vehicles (their publications).
        TEMPLATE = "template", "Shot-list template"
        VEHICLE = "vehicle", "Vehicle"

    class Type(models.TextChoices):
        UPLOAD_STARTED = "upload_started", "Upload started"
        UPLOAD_COMPLETE = "upload_complete", "Upload complete"
        UPLOAD_FAILED = "upload_failed", "Upload failed"
        QC_FAILED = "qc_failed", "QC failed"
        PUBLISHED = "published", "Published"
        # Recorded by the server only.
        SESSION_CREATED = "session_created", "Session created"
        SESSION_FINISHED = "session_finished", "Session finished"
        PROCESSED = "processed", "Processed"
        PROCESSING_FAILED = "processing_failed", "Processing failed"
        REPROCESS_REQUESTED = "reprocess_requested", "Reprocess requested"
        REJECTED = "rejected", "Rejected"
        RESHOOT_REQUESTED = "reshoot_requested", "Reshoot requested"
        RESHOOT_FULFILLED = "reshoot_fulfilled", "Reshoot fulfilled"
        RESHOOT_DISMISSED = "reshoot_dismissed", "Reshoot dismissed"
        DEVICE_ENROLLED = "device_enrolled", "Device enrolled"
        DEVICE_REVOKED = "device_revoked", "Device revoked"
        TEMPLATE_CREATED = "template_created", "Shot-list template created"
        TEMPLATE_CHANGED = "template_changed", "Shot-list template changed"
        TEMPLATE_DELETED = "template_deleted", "Shot-list template deleted"
        # A vehicle's publication: a new live version (publish, unpublish, rollback), withdrawn.
        PUBLICATION_PUBLISHED = "publication_published", "Publication published"
        PUBLICATION_WITHDRAWN = "publication_withdrawn", "Publication withdrawn"

    # What clients may post to /events (entity and event types); the rest are the server's own.
    CLIENT_ENTITY_TYPES = (EntityType.SESSION, EntityType.IMAGE, EntityType.DEVICE)
    CLIENT_TYPES = (
        Type.UPLOAD_STARTED,
        Type.UPLOAD_COMPLETE,
        Type.UPLOAD_FAILED,
        Type.QC_FAILED,
        Type.PUBLISHED,
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="events"
    )
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_id = models.UUIDField(null=True, blank=True)
    entity_type = models.CharField(max_length=8, choices=EntityType.choices)
    entity_id = models.UUIDField()
    type = models.CharField(max_length=32, choices=Type.choices)
    message = models.TextField(blank=True, default="")
    meta = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["org", "entity_type", "entity_id", "-created_at"], name="event_entity_idx"
            ),
            models.Index(fields=["org", "type", "-created_at"], name="event_type_idx"),
            models.Index(fields=["org", "-created_at"], name="event_org_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.entity_type}:{self.entity_id}"
