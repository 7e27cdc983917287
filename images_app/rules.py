"""What a photo may be and what processing makes of it, said once for both sides.

The worker's pipeline knows nothing about Django and the web side never loads Pillow, so
these live in a module of plain Python that both import: the model, the upload key builder,
the pipeline, the API's serializers and schema, the selectors and the console.
"""

from __future__ import annotations

from collections.abc import Iterable

# The content types a device may upload (``Image.content_type``).
JPEG = "image/jpeg"
HEIC = "image/heic"
CONTENT_TYPES = (JPEG, HEIC)

# Thumbnails, by their longest side in pixels, largest first: the pipeline makes each from
# the one before. ``Image.thumb_keys`` and the API's ``thumb_urls`` are keyed by their text.
THUMB_SIZES = (1200, 600, 150)
THUMB_LARGE, THUMB_MEDIUM, THUMB_SMALL = (str(size) for size in THUMB_SIZES)
# The keys of ``thumb_keys`` / ``thumb_urls`` in the order they are stored and published.
THUMB_KEYS = tuple(str(size) for size in sorted(THUMB_SIZES))

# The status of a QC check, best first; an image's verdict is the worst of its checks.
QC_PASS, QC_WARN, QC_FAIL = QC_STATUSES = ("pass", "warn", "fail")
_QC_RANK = {status: rank for rank, status in enumerate(QC_STATUSES)}
# A check with one of these statuses flags the photo: it points at reject reasons.
QC_FLAGGED = (QC_WARN, QC_FAIL)


def qc_worst(statuses: Iterable[object]) -> str | None:
    """The worst of ``statuses`` (anything that is not a QC status is ignored), or None."""
    return max(
        (s for s in statuses if isinstance(s, str) and s in _QC_RANK),
        key=_QC_RANK.__getitem__,
        default=None,
    )


# Web renditions of a published photo (publishing/): widths in pixels, ascending, never
# larger than the upright original; each in every format of RENDITION_FORMATS.
RENDITION_WIDTHS = (320, 640, 1024, 1600)
RENDITION_FORMATS = ("jpeg", "webp")
RENDITION_CONTENT_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp"}
# The placeholder painted before any rendition arrives: a tiny JPEG as a data URI.
PLACEHOLDER_WIDTH = 16
# A 4:3 centre crop for listing feeds that take only 4:3 images (Google vehicle ads):
# CROP_4X3_WIDTH wide (never enlarged), made only when the crop is at least
# CROP_4X3_MIN_WIDTH wide (800 x 600). JPEG only.
CROP_4X3_WIDTH = 1200
CROP_4X3_MIN_WIDTH = 800


def crop_4x3_size(width: int, height: int) -> tuple[int, int] | None:
    """The size of the 4:3 centre crop of an image of ``width`` x ``height`` (the decoded
    web preview), exactly 4:3, or None when it would be under the minimum."""
    across = min(width, height * 4 // 3)
    out = min(CROP_4X3_WIDTH, across) // 4 * 4
    if out < CROP_4X3_MIN_WIDTH:
        return None
    return out, out * 3 // 4


# Why a reviewer rejects a photo: a fixed list (the API refuses anything else), in the order
# the console offers them. ``docs/console.md`` prints it.
REJECT_REASONS: dict[str, str] = {
    "blurred": "Blurred",
    "underexposed": "Underexposed",
    "overexposed": "Overexposed",
    "glare": "Glare / reflection",
    "wrong_angle": "Wrong angle",
    "cropped": "Cropped",
    "obstructed": "Obstructed",
    "dirty_vehicle": "Dirty vehicle",
    "wet_snow": "Wet / snow",
    "plate_visible": "Plate visible",
    "wrong_vehicle": "Wrong vehicle",
    "duplicate": "Duplicate",
    "low_resolution": "Low resolution",
    "other": "Other",
}


# Spin-health findings (images_app/spin_health.py) that make a frame the wrong angle.
WRONG_ANGLE_FINDINGS = ("out_of_order", "duplicate")


def reject_reasons_suggested(
    qc: object, *, duplicate: bool = False, spin_findings: Iterable[str] = ()
) -> list[str]:
    """The reasons the checks point at, for the console to pre-select: a failed (or
    warned) sharpness check is a blurred photo; exposure by which end clips; a photo flagged
    as a duplicate of another (``duplicate``) a duplicate; a spin frame found out of order or
    repeating its neighbour (``spin_findings``: the types of its findings) the wrong angle."""
    suggested = set()
    if isinstance(qc, dict):
        sharpness = qc.get("sharpness")
        if isinstance(sharpness, dict) and sharpness.get("status") in QC_FLAGGED:
            suggested.add("blurred")
        exposure = qc.get("exposure")
        if isinstance(exposure, dict) and exposure.get("status") in QC_FLAGGED:
            shadows = exposure.get("clipped_shadows") or 0
            highlights = exposure.get("clipped_highlights") or 0
            mean = exposure.get("mean")
            dark = shadows > highlights or (
                isinstance(mean, int | float) and mean < 128 and not highlights
            )
            suggested.add("underexposed" if dark else "overexposed")
    if duplicate:
        suggested.add("duplicate")
    if set(spin_findings) & set(WRONG_ANGLE_FINDINGS):
        suggested.add("wrong_angle")
    return [code for code in REJECT_REASONS if code in suggested]


def qc_failure_reasons(qc: object) -> list[str]:
    """The reject reasons of the checks that *failed* (a warning is not a failure), for an
    automatic reshoot item: sharpness → blurred, exposure → under- or overexposed."""
    if not isinstance(qc, dict):
        return []
    failed = {
        name: check
        for name, check in qc.items()
        if isinstance(check, dict) and check.get("status") == QC_FAIL
    }
    return reject_reasons_suggested(failed)
