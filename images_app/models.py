"""Photos: one row per uploaded original, with its thumbnails and quality checks."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Organization, User
from images_app import rules
from sessions_app.models import CaptureSession, Vehicle


class Image(models.Model):
    """One photo of a capture session.

    Status: ``pending → processing → processed | failed``; ``processed → published``.
    Staff reprocessing moves ``failed | processed`` back to ``pending``. A reviewer may
    reject a processed or published image (``→ rejected``: it is no longer published); a
    published image whose replacement is published is ``superseded``. The id is the
    ``{uuid}`` of the server-built ``storage_key``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending upload"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"

    class ContentType(models.TextChoices):
        JPEG = rules.JPEG, "JPEG"
        HEIC = rules.HEIC, "HEIC"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes of their own: image_org_status_idx and the session_* indexes
    # start with these columns, and every presign would maintain two indexes more.
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="images", db_index=False
    )
    session = models.ForeignKey(
        CaptureSession, on_delete=models.CASCADE, related_name="images", db_index=False
    )
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="images")
    frame_index = models.PositiveSmallIntegerField(null=True, blank=True)
    angle_deg = models.PositiveSmallIntegerField(null=True, blank=True)
    shot_name = models.CharField(max_length=64, null=True, blank=True)
    file_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=16, choices=ContentType.choices)
    content_sha256 = models.CharField(max_length=64)
    # Unique (see Meta): a constraint rather than unique=True, which on PostgreSQL adds a
    # LIKE index no query uses.
    storage_key = models.CharField(max_length=512)
    size = models.BigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    exif = models.JSONField(default=dict, blank=True)
    thumb_keys = models.JSONField(default=dict, blank=True)
    qc = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    # When the current processing claim was taken; a claim older than the task time limit
    # belongs to a dead worker and may be taken over.
    processing_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="published_images"
    )
    # Rejection: the reasons (codes of rules.REJECT_REASONS), the reviewer's note, who, when.
    reject_reasons = models.JSONField(default=list, blank=True)
    reject_note = models.CharField(max_length=1000, blank=True, default="")
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="rejected_images"
    )
    # The image this one was uploaded to replace (``replaces_image_id`` on presign): it has
    # the same frame or shot, and publishing it supersedes the original.
    replaces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replacements"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["session", "angle_deg", "created_at"], name="image_spin_order_idx"
            ),
            models.Index(fields=["session", "created_at"], name="image_session_created_idx"),
            models.Index(fields=["session", "status"], name="image_session_status_idx"),
            models.Index(fields=["session", "content_sha256"], name="image_session_sha_idx"),
            models.Index(fields=["status", "created_at"], name="image_status_created_idx"),
            models.Index(fields=["org", "status", "-created_at"], name="image_org_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["storage_key"], name="image_storage_key_unique"),
            # A photo (its bytes and type) waits for its upload once per session: presigning
            # it again while it waits is a retry and gets the same image (images_app/uploads.py).
            models.UniqueConstraint(
                fields=["session", "content_sha256", "content_type"],
                condition=models.Q(status="pending"),
                name="image_one_pending_upload_per_photo",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name


class ReshootItem(models.Model):
    """One shot or spin frame a session must capture again: its rejected image's, or one
    that is missing. A session's open items are its reshoot request.

    Status: ``open → fulfilled`` when a replacement (or the missing shot) is processed and
    passes QC; ``open → cancelled`` when the reviewer publishes or accepts it anyway.
    At most one open item per frame or shot of a session: a second rejection adds to it.

    ``automatic``: made by the server when the image failed QC or a spin-health finding
    named its frame (the org's ``qc_reshoot`` policy; ``requested_by`` is null);
    ``required``: the policy is ``require``, so the image cannot be published while the item
    is open (images_app/review.py). ``spin_health_only``: the item exists only because of a
    spin-health finding (no QC failure, no reviewer has added to it or dismissed it): when
    a later recomputation no longer reports the finding, the open item is withdrawn.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="reshoot_items", db_index=False
    )
    session = models.ForeignKey(
        CaptureSession, on_delete=models.CASCADE, related_name="reshoot_items", db_index=False
    )
    # The rejected image, or null for a shot that was never taken.
    image = models.ForeignKey(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="reshoot_items"
    )
    frame_index = models.PositiveSmallIntegerField(null=True, blank=True)
    angle_deg = models.PositiveSmallIntegerField(null=True, blank=True)
    shot_name = models.CharField(max_length=64, null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=1000, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="reshoot_items"
    )
    created_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    replacement = models.ForeignKey(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="fulfilled_items"
    )
    automatic = models.BooleanField(default=False)
    required = models.BooleanField(default=False)
    spin_health_only = models.BooleanField(default=False)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["session", "status"], name="reshoot_session_status_idx"),
            models.Index(fields=["org", "status", "created_at"], name="reshoot_org_open_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "frame_index"],
                condition=models.Q(status="open", frame_index__isnull=False),
                name="reshoot_one_open_per_frame",
            ),
            models.UniqueConstraint(
                fields=["session", "shot_name"],
                condition=models.Q(status="open", shot_name__isnull=False),
                name="reshoot_one_open_per_shot",
            ),
        ]

    def __str__(self) -> str:
        if self.angle_deg is not None:
            return f"{self.angle_deg}°"
        return self.shot_name or str(self.id)


class FailedImage(Image):
    """The console's failed-processing view of images (same rows, status ``failed``)."""

    class Meta:
        proxy = True
        verbose_name = "failed image"
        verbose_name_plural = "failed processing"


class ImageSignature(models.Model):
    """The perceptual signature of a processed image, kept apart from the hot Image row.

    ``phash`` is the 64-bit pHash as a signed bigint; ``band0..band3`` are its four 16-bit
    quarters, each indexed with the org first: a hash within 7 bits of another differs in
    at most one bit in one of its quarters (pigeonhole), so the near-duplicate lookup asks
    the indexes for each quarter and its 16 one-bit neighbours, never scans
    (images_app/duplicates.py). ``tiny`` is a 64x48 grey thumbnail for the spin checks.
    """

    image = models.OneToOneField(
        Image, on_delete=models.CASCADE, primary_key=True, related_name="signature"
    )
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, db_index=False)
    session = models.ForeignKey(CaptureSession, on_delete=models.CASCADE, db_index=False)
    frame_index = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    sha256 = models.CharField(max_length=64)
    phash = models.BigIntegerField()
    band0 = models.IntegerField()
    band1 = models.IntegerField()
    band2 = models.IntegerField()
    band3 = models.IntegerField()
    tiny = models.BinaryField()
    # What the duplicate check found when the image was processed: "" (nothing), "warn"
    # (flagged for the reviewer) or "rejected" (the org's policy rejects duplicates; the
    # image is kept from publishing until a reviewer says "not a duplicate").
    duplicate_state = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        # Each band index carries the hash and the image id: a lookup checks the distance
        # in the index (an index-only scan) and reads only the matching rows.
        indexes = [
            models.Index(
                fields=["org", f"band{n}"],
                include=["phash", "image"],
                name=f"imagesig_org_band{n}_idx",
            )
            for n in range(4)
        ] + [
            models.Index(fields=["org", "sha256"], name="imagesig_org_sha_idx"),
            models.Index(fields=["session", "frame_index"], name="imagesig_session_frame_idx"),
        ]

    def __str__(self) -> str:
        return f"signature of {self.image_id}"


class DuplicateDismissal(models.Model):
    """A reviewer's "not a duplicate" for a pair of images (stored with ``image_a < image_b``)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    image_a = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    image_b = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image_a", "image_b"], name="dup_dismissal_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.image_a_id} is not a duplicate of {self.image_b_id}"


class CheckPolicy(models.Model):
    """An organisation's choices for the spin, duplicate and coverage checks (defaults: warn),
    and whether a QC failure asks the device for a reshoot at once (default: off).

    ``coverage``: block publishing any image of a session made from a shot-list template
    until every required item is covered; a template's own
    ``block_publishing_below_full_coverage`` blocks too (either one blocking blocks)."""

    class SpinHealth(models.TextChoices):
        WARN = "warn", "Warn"
        BLOCK = "block", "Block publishing an unhealthy spin"

    class Duplicates(models.TextChoices):
        WARN = "warn", "Warn"
        REJECT = "reject", "Reject automatically as a duplicate"

    class QcReshoot(models.TextChoices):
        OFF = "off", "Off"
        SUGGEST = "suggest", "Suggest a reshoot of a frame that fails QC"
        REQUIRE = "require", "Require it: the frame is not published until retaken or accepted"

    class Coverage(models.TextChoices):
        WARN = "warn", "Warn"
        BLOCK = "block", "Block publishing below 100 % required coverage"

    org = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="check_policy"
    )
    spin_health = models.CharField(
        max_length=8, choices=SpinHealth.choices, default=SpinHealth.WARN
    )
    duplicates = models.CharField(max_length=8, choices=Duplicates.choices, default=Duplicates.WARN)
    duplicate_window_days = models.PositiveSmallIntegerField(default=90)
    coverage = models.CharField(max_length=8, choices=Coverage.choices, default=Coverage.WARN)
    qc_reshoot = models.CharField(
        max_length=8,
        choices=QcReshoot.choices,
        default=QcReshoot.OFF,
        help_text="Reshoot on QC failure: an automatic reshoot item as soon as a frame fails.",
    )

    class Meta:
        verbose_name = "check policy"
        verbose_name_plural = "check policies"

    def __str__(self) -> str:
        return f"checks of {self.org_id}"
