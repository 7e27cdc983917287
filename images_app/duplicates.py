"""Duplicate and wrong-vehicle photos: the same picture twice within an organisation.

**Exact**: the same SHA-256. **Near**: pHashes (64 bits, `pipeline.signature_measure`)
at most `NEAR_DISTANCE` bits apart, calibrated on the real fixture photos (bench/duplicates.py,
docs/spin-health.md). The same photo on another vehicle is a possible wrong vehicle or a
reused photo; on the same vehicle in another session, a re-upload. Frames of one session
are never compared with each other (neighbouring spin frames look alike by design).

The lookup is indexed: each signature stores its hash's four 16-bit quarters, each in an
index led by the org. Two hashes at most 7 bits apart differ in at most one bit in one of
their quarters (pigeonhole: four quarters with two or more each would be 8 bits), so asking
each index for the quarter and its 16 one-bit neighbours (4 x 17 values) finds every hash
within `NEAR_DISTANCE` <= 7, and PostgreSQL checks the exact distance of those candidates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from images_app.models import CheckPolicy, DuplicateDismissal, Image, ImageSignature
from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession

NEAR_DISTANCE = 6
GUARANTEED_DISTANCE = 7  # what the 4 x 17 band lookup can never miss
DEFAULT_WINDOW_DAYS = 90

assert NEAR_DISTANCE <= GUARANTEED_DISTANCE

_MASK = (1 << 64) - 1

# The 4 x 17 candidate band values go in as four int[] parameters. Each branch is an
# index-only scan that checks the distance on the index's own copy of the hash; only the
# matches are read from the table, for the window and the session.
_NEAR_SQL = """
WITH near AS (
  SELECT image_id FROM images_app_imagesignature
  WHERE org_id = %(org)s AND band0 = ANY(%(b0)s) AND bit_count((phash # %(q)s)::bit(64)) <= %(d)s
  UNION
  SELECT image_id FROM images_app_imagesignature
  WHERE org_id = %(org)s AND band1 = ANY(%(b1)s) AND bit_count((phash # %(q)s)::bit(64)) <= %(d)s
  UNION
  SELECT image_id FROM images_app_imagesignature
  WHERE org_id = %(org)s AND band2 = ANY(%(b2)s) AND bit_count((phash # %(q)s)::bit(64)) <= %(d)s
  UNION
  SELECT image_id FROM images_app_imagesignature
  WHERE org_id = %(org)s AND band3 = ANY(%(b3)s) AND bit_count((phash # %(q)s)::bit(64)) <= %(d)s
)
SELECT s.image_id, bit_count((s.phash # %(q)s)::bit(64)) AS distance
FROM images_app_imagesignature s JOIN near USING (image_id)
WHERE s.created_at >= %(since)s AND s.session_id <> %(session)s
"""


def phash_bands(phash: int) -> tuple[int, int, int, int]:
    """The four 16-bit quarters of a 64-bit hash (given signed, as stored)."""
    unsigned = phash & _MASK
    return tuple((unsigned >> shift) & 0xFFFF for shift in (48, 32, 16, 0))  # type: ignore[return-value]


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return ((a ^ b) & _MASK).bit_count()


def band_candidates(band: int) -> list[int]:
    """A quarter and its 16 one-bit neighbours."""
    return [band] + [band ^ (1 << bit) for bit in range(16)]


def near_lookup_params(
    *, org_id: Any, phash: int, since, session_id: Any, distance: int = NEAR_DISTANCE
):
    bands = phash_bands(phash)
    return {
        "org": org_id,
        "q": phash,
        "d": distance,
        "since": since,
        "session": session_id,
        **{f"b{n}": band_candidates(band) for n, band in enumerate(bands)},
    }


def policy_for(org_id: Any) -> CheckPolicy:
    return CheckPolicy.objects.filter(org_id=org_id).first() or CheckPolicy(org_id=org_id)


def image_duplicates(*, image: Image) -> list[dict[str, Any]]:
    """Other images of the org within the window that are the same photo as `image`
    (exact or near), without the pairs a reviewer dismissed; closest first."""
    signature = ImageSignature.objects.filter(image_id=image.pk).first()
    if signature is None:
        return []
    policy = policy_for(image.org_id)
    since = signature.created_at - timedelta(days=policy.duplicate_window_days)
    found: dict[Any, dict[str, Any]] = {}
    for other_id in (
        ImageSignature.objects.filter(
            org_id=image.org_id, sha256=signature.sha256, created_at__gte=since
        )
        .exclude(session_id=signature.session_id)
        .values_list("image_id", flat=True)
    ):
        found[other_id] = {"distance": 0, "kind": "exact"}
    with connection.cursor() as cursor:
        cursor.execute(
            _NEAR_SQL,
            near_lookup_params(
                org_id=image.org_id,
                phash=signature.phash,
                since=since,
                session_id=signature.session_id,
            ),
        )
        for other_id, distance in cursor.fetchall():
            found.setdefault(other_id, {"distance": distance, "kind": "near"})
    if not found:
        return []
    dismissed = _dismissed_with(image.pk, found)
    others = Image.objects.filter(pk__in=[i for i in found if i not in dismissed]).select_related(
        "vehicle"
    )
    result = []
    for other in others:
        match = found[other.pk]
        result.append(
            {
                "image_id": other.pk,
                "session_id": other.session_id,
                "vehicle_id": other.vehicle_id,
                "vin": other.vehicle.vin,
                "stock": other.vehicle.stock,
                "distance": match["distance"],
                "kind": match["kind"],
                "reason": "re_upload"
                if other.vehicle_id == image.vehicle_id
                else "possible_wrong_vehicle",
            }
        )
    return sorted(result, key=lambda d: (d["distance"], str(d["image_id"])))


def _dismissed_with(image_id, others) -> set:
    others = list(others)
    pairs = DuplicateDismissal.objects.filter(
        Q(image_a_id=image_id, image_b_id__in=others)
        | Q(image_b_id=image_id, image_a_id__in=others)
    ).values_list("image_a_id", "image_b_id")
    return {b if a == image_id else a for a, b in pairs}


def signature_store(*, image: Image, signature: Any) -> str:
    """Keep a processed image's signature and flag it (and the photos it duplicates) as
    the org's policy says; returns the image's ``duplicate_state``."""
    bands = phash_bands(signature.phash)
    ImageSignature.objects.update_or_create(
        image_id=image.pk,
        defaults={
            "org_id": image.org_id,
            "vehicle_id": image.vehicle_id,
            "session_id": image.session_id,
            "frame_index": image.frame_index,
            "created_at": image.created_at,
            "sha256": image.content_sha256,
            "phash": signature.phash,
            **{f"band{n}": band for n, band in enumerate(bands)},
            "tiny": signature.tiny,
        },
    )
    matches = image_duplicates(image=image)
    if not matches:
        state = ""
    elif policy_for(image.org_id).duplicates == CheckPolicy.Duplicates.REJECT:
        state = "rejected"
    else:
        state = "warn"
    with transaction.atomic():
        ImageSignature.objects.filter(image_id=image.pk).update(duplicate_state=state)
        # The earlier photo is flagged too, never rejected after the fact.
        ImageSignature.objects.filter(
            image_id__in=[m["image_id"] for m in matches], duplicate_state=""
        ).update(duplicate_state="warn")
    return state


def duplicate_dismiss(*, image: Image, other: Image, user: Any) -> None:
    """A reviewer's "not a duplicate": the pair is never reported again."""
    a, b = sorted([image.pk, other.pk], key=str)
    DuplicateDismissal.objects.get_or_create(
        image_a_id=a, image_b_id=b, defaults={"org_id": image.org_id, "decided_by": user}
    )
    for one in (image, other):
        if not image_duplicates(image=one):
            ImageSignature.objects.filter(image_id=one.pk).update(duplicate_state="")


def publish_check(*, image: Image) -> None:
    """Refuse to publish what the org's policy holds back: a photo rejected as a duplicate
    (until a reviewer says "not a duplicate"), or a frame of an unhealthy spin when the org
    blocks those. Raises the error envelope's ``PUBLISH_BLOCKED`` (409) with the reasons."""
    reasons = []
    if ImageSignature.objects.filter(image_id=image.pk, duplicate_state="rejected").exists():
        reasons.append("duplicate")
    if image.frame_index is not None:
        health = (
            CaptureSession.objects.filter(pk=image.session_id)
            .values_list("spin_health", flat=True)
            .first()
        )
        if (
            isinstance(health, dict)
            and health.get("status") == "unhealthy"
            and policy_for(image.org_id).spin_health == CheckPolicy.SpinHealth.BLOCK
        ):
            reasons.append("unhealthy_spin")
    if reasons:
        raise ApplicationError(
            "PUBLISH_BLOCKED",
            "The organisation's checks hold this image back: " + ", ".join(reasons) + ".",
            status_code=409,
            details={"reasons": reasons},
        )


def window_start(days: int = DEFAULT_WINDOW_DAYS):
    return timezone.now() - timedelta(days=days)
