"""Vehicles and the capture sessions that photograph them."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Device, Organization, Site, User


class Vehicle(models.Model):
    """A car in a dealer's stock, identified within its org by VIN and/or stock number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="vehicles")
    vin = models.CharField(max_length=17, null=True, blank=True)
    stock = models.CharField(max_length=64, null=True, blank=True)
    # Whether the ISO 3779 check digit (position 9) holds; informative, never enforced.
    vin_check_digit_ok = models.BooleanField(null=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "vin"], condition=Q(vin__isnull=False), name="vehicle_unique_vin"
            ),
            models.UniqueConstraint(
                fields=["org", "stock"],
                condition=Q(stock__isnull=False),
                name="vehicle_unique_stock",
            ),
        ]

    def __str__(self) -> str:
        return self.vin or self.stock or str(self.id)


class CaptureSession(models.Model):
    """One sitting in which a device or operator photographs one vehicle at one site.

    Status: ``active → complete | abandoned | failed``. A finished session never changes
    again; ``completed_at`` is set when it finishes.
    """

    class Mode(models.TextChoices):
        STUDIO360 = "studio360", "Studio 360° spin"
        WALK360 = "walk360", "Walk-around 360° spin"
        STILLS = "stills", "Stills"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETE = "complete", "Complete"
        ABANDONED = "abandoned", "Abandoned"
        FAILED = "failed", "Failed"

    SPIN_MODES = (Mode.STUDIO360, Mode.WALK360)
    FINISHED = (Status.COMPLETE, Status.ABANDONED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sessions")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="sessions")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="sessions")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    shot_list = models.JSONField(default=dict, blank=True)
    # The template the shot list came from, if any: its required items are the coverage.
    shot_list_template = models.ForeignKey(
        "ShotListTemplate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    operator = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the storage sweeper last listed the objects under this session's prefix; cleared
    # when that must happen again.
    objects_swept_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Written by the image pipeline as each spin frame is processed (images_app/spin_health.py).
    spin_health = models.JSONField(null=True, blank=True, editable=False)
    # Bumped in every transaction that changes what the apps above add to the session's
    # detail (its frames, its reshoot items): with the row itself it makes the detail's ETag.
    detail_version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["org", "-started_at", "-id"], name="session_org_started_idx"),
            models.Index(
                fields=["org", "site", "status", "-started_at"], name="session_site_status_idx"
            ),
            models.Index(fields=["org", "status", "-started_at"], name="session_status_idx"),
            models.Index(fields=["org", "vehicle", "-started_at"], name="session_vehicle_idx"),
            # The sessions whose objects are due a sweep: never swept, or not since finishing.
            models.Index(
                fields=["started_at"],
                condition=Q(objects_swept_at__isnull=True)
                | Q(objects_swept_at__lt=F("completed_at")),
                name="session_sweep_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} of {self.vehicle_id} ({self.status})"

    @property
    def is_spin(self) -> bool:
        return self.mode in self.SPIN_MODES

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def frame_count(self) -> int | None:
        """Frames expected in a spin, from ``shot_list[mode].frame_count``."""
        spec = (self.shot_list or {}).get(self.mode)
        if self.is_spin and isinstance(spec, dict):
            return spec.get("frame_count")
        return None

    @property
    def still_names(self) -> list[str]:
        names = (self.shot_list or {}).get("stills")
        return list(names) if isinstance(names, list) else []


class ShotListTemplate(models.Model):
    """An organisation's standard shot list: stills items (``code``, ``label``,
    ``category``, ``required``, in order) and, for spins, a frame count. A session created
    with it takes its items as its stills and is held to its required ones (coverage)."""

    class Category(models.TextChoices):
        EXTERIOR = "exterior", "Exterior"
        INTERIOR = "interior", "Interior"
        DETAIL = "detail", "Detail"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="shot_list_templates"
    )
    name = models.CharField(max_length=100)
    # [{"code": "front_3q_left", "label": "Front 3/4 left", "category": "exterior",
    #   "required": true}, ...] in shooting order.
    items = models.JSONField(default=list)
    spin_frame_count = models.PositiveSmallIntegerField(null=True, blank=True)
    # Below 100 % coverage of the required items: warn (default) or refuse publishing.
    block_publishing_below_full_coverage = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="shot_list_template_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def required_codes(self) -> list[str]:
        return [item["code"] for item in self.items if item.get("required")]
