"""A vehicle's publication: what the outside world sees of it, and every version of that."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Organization, User
from sessions_app.models import Vehicle


class Publication(models.Model):
    """One per vehicle that was ever published.

    ``version`` is the latest version written; ``live_version`` the one whose files are
    complete and that ``manifest.json`` in the public store names (it trails ``version``
    while the render task works, and never goes back).
    """

    class Status(models.TextChoices):
        LIVE = "live", "Live"
        WITHDRAWN = "withdrawn", "Withdrawn"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="publications")
    vehicle = models.OneToOneField(Vehicle, on_delete=models.CASCADE, related_name="publication")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LIVE)
    version = models.PositiveIntegerField(default=0)
    live_version = models.PositiveIntegerField(default=0)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper deleted a withdrawn vehicle's renditions (after the grace period).
    renditions_deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "id"]
        indexes = [
            models.Index(
                fields=["org", "status", "-updated_at"], name="publication_org_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Publication of {self.vehicle_id} (v{self.version}, {self.status})"


class PublicationVersion(models.Model):
    """An immutable version: who, when, which images (``content``), what changed (``diff``).

    ``manifest`` is the public manifest once its files are in the public store.
    """

    class Action(models.TextChoices):
        PUBLISH = "publish", "Publish"
        BULK_PUBLISH = "bulk_publish", "Bulk publish"
        UNPUBLISH = "unpublish", "Unpublish"
        ROLLBACK = "rollback", "Rollback"
        WITHDRAW = "withdraw", "Withdraw"

    id = models.BigAutoField(primary_key=True)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    status = models.CharField(max_length=16, choices=Publication.Status.choices)
    # {"spin": {"session_id", "frames": [image ids in angle order]} | null,
    #  "stills": [{"shot", "image"}]}
    content = models.JSONField()
    # {"added": [image ids], "removed": [image ids], "status": [before, after] | null,
    #  "rolled_back_to": n | null}
    diff = models.JSONField()
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    manifest = models.JSONField(null=True, blank=True, editable=False)
    rendered_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "number"], name="publication_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} ({self.action})"


class Rendition(models.Model):
    """The web renditions of one original, by its content (shared by every image with
    those bytes): the upright size, the placeholder, and the sizes written
    (``sizes[format] = [[width, height], …]`` ascending, and ``sizes["crop_4x3"]`` the 4:3
    centre crop for listing feeds, empty when the original is too small). Their keys follow
    from the sha256 (``public_store.rendition_keys``)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    placeholder = models.TextField()
    sizes = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256
