"""Image processing core: the bytes of one uploaded photo in, a `PipelineResult` out.

This is the only module that touches Pillow, pillow-heif and numpy for image work. It knows
nothing about Django, storage or Celery: the worker task downloads the object, calls
`process_image_bytes()` and stores what comes back.

What one call does, in order:

1. Integrity: the SHA-256 of the bytes must equal the one the device declared
   (``checksum_mismatch``); zero bytes are ``empty_file``.
2. Format: the magic bytes decide (`sniff_format`). Only JPEG and HEIC/HEIF with an HEVC brand
   are accepted; anything else (PNG, GIF, PHP or HTML named ``.jpg``) is
   ``unsupported_format`` and is rejected before any decoder runs. Real image bytes that
   contradict the declared content type are ``format_mismatch``.
3. Work bound, JPEG: the marker stream is walked before any decoder runs (`jpeg_scan_count`)
   and a progressive JPEG with more than `MAX_JPEG_SCANS` scans is ``too_many_scans``, a file
   with more than `MAX_JPEG_SEGMENTS` marker segments ``too_many_segments``. Each scan costs a
   pass over every 8x8 block of the components it covers however few bytes it has: one 15-byte
   scan repeated thousands of times makes a file of a few hundred KB that libjpeg needs minutes
   of CPU to decode, and libjpeg's own API has no limit on scans (djpeg's ``-maxscans`` and
   TurboJPEG's scan limit are the application's progress monitor, which Pillow does not set).
4. Decode once. JPEG uses ``draft()`` so libjpeg decodes at the most reduced 1/2, 1/4 or 1/8
   scale that still covers the 1200 px thumbnail; HEIC is fully decoded by pillow-heif
   (libheif cannot decode at a reduced scale). Truncated or corrupt data is
   ``corrupt_image``; ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never turned on.
5. Orientation is applied exactly once. JPEG: EXIF Orientation 1-8, invalid values (0, a
   string, a float) are ignored. HEIC: libheif already applies the container's ``irot`` /
   ``imir`` transforms, and the EXIF Orientation inside a HEIC is only informative, so it is
   never applied again (doing so would turn an iPhone portrait on its side).
6. Width and height are those of the upright original at full resolution.
7. Thumbnails 1200 -> 600 -> 150 px on the longest side, each made from the previous one,
   re-encoded as baseline RGB JPEG (quality 85) with no EXIF, GPS, XMP or ICC segments.
   Photos tagged with a non-sRGB ICC profile (Display P3 on iPhones) are converted to sRGB
   first, so the untagged thumbnails show the right colours. Nothing is ever upscaled.
8. QC on the 1200 px grayscale: sharpness is the variance of the 3x3 Laplacian, so the score
   does not depend on the sensor size; exposure comes from the luminance histogram (mean,
   share of pixels at or below 2 and at or above 253). Statuses ``pass``/``warn``/``fail``
   use `DEFAULT_QC_THRESHOLDS` with the organisation's overrides merged over them.
9. Signatures from the same grey image (`signature_measure`): a 64-bit pHash (imagehash) for
   duplicate photos and a 64x48 grey thumbnail for the spin checks (images_app/spin_health.py).

EXIF summary: ``iso``, ``shutter`` (``1/250``, ``0.5s``, ``2s``), ``aperture`` (``f/1.8``) and
``timestamp`` (ISO 8601 UTC with ``Z``). The timestamp is DateTimeOriginal corrected by
OffsetTimeOriginal when the camera wrote one; most cameras and older phones write no offset,
and then the local clock time is reported as if it were UTC, because the true zone cannot be
known from the file. A tag with a wrong type or an impossible value becomes ``None``.

Pixel limit: `MAX_IMAGE_PIXELS` is 64 million pixels, set on Pillow at import and checked
again by us. That admits every default phone mode (12-50 MP, including 48/50 MP full-sensor
modes) and 61 MP full-frame cameras, and keeps a full HEIC decode near 300 MB. The 200 MP
Samsung Galaxy S24 Ultra HEIC (16320 x 12240) is a genuine photo but is rejected with
``too_many_pixels``: libheif can only decode it at full size (about 600 MB of RGB plus the
decoder's planes, per image, per worker process) and the largest thing we make from it is a
1200 px thumbnail. The capture app should shoot in the default 12 MP mode instead. Pillow
itself only warns between 1x and 2x its limit; during our decode that warning is an error.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import struct
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import imagehash
import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageCms

from images_app.rules import CONTENT_TYPES as SUPPORTED_CONTENT_TYPES
from images_app.rules import (
    HEIC,
    JPEG,
    PLACEHOLDER_WIDTH,
    RENDITION_FORMATS,
    RENDITION_WIDTHS,
    THUMB_SIZES,
    crop_4x3_size,
    qc_worst,
)

THUMB_JPEG_QUALITY = 85
RENDITION_JPEG_QUALITY = 82
RENDITION_WEBP_QUALITY = 80

# The spin signature: a grey thumbnail small enough to store with every image (3 KB) and
# large enough to see a car turn 10 degrees.
SIGNATURE_SIZE = (64, 48)

# 64 MP: every default phone mode and 61 MP cameras pass, 108/200 MP modes do not (see above).
MAX_IMAGE_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Progressive JPEGs from cameras, phones, browsers, Pillow, libjpeg and mozjpeg have 6 to
# about 20 scans (a baseline JPEG has one). A file may split the coefficients finer, but
# no encoder in use does: past 100 scans the extra decode work buys a photo nothing.
MAX_JPEG_SCANS = 100
# Other marker segments of one JPEG (APPn, DQT, DHT, SOF, ...): photos have 10 to 60.
# The walk below and Pillow's own header parser both take one Python step per segment.
MAX_JPEG_SEGMENTS = 1000

# Registered once per process. Embedded HEIF thumbnails are never wanted (draft() could pick
# one instead of the photo), nor depth maps and gain maps.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

DEFAULT_QC_THRESHOLDS: dict[str, float] = {
    # Laplacian variance on the 1200 px grayscale. Detailed sharp photos score 150 to several
    # thousand, defocused or shaken ones 10 to 90. Sharp photos of plain scenes (a white wall,
    # a sheet of paper) also score under 100: the measure sees edges, not focus.
    "sharpness_fail_below": 100.0,
    "sharpness_warn_below": 150.0,
    # Mean luminance, 0-255.
    "exposure_mean_fail_below": 35.0,
    "exposure_mean_warn_below": 60.0,
    "exposure_mean_warn_above": 200.0,
    "exposure_mean_fail_above": 225.0,
    # Share of pixels at or below 2 / at or above 253, 0-1.
    "clipped_shadows_warn_above": 0.05,
    "clipped_shadows_fail_above": 0.20,
    "clipped_highlights_warn_above": 0.05,
    "clipped_highlights_fail_above": 0.20,
}

_FORMAT_BY_CONTENT_TYPE = {JPEG: "JPEG", HEIC: "HEIF"}
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})

# What Pillow and pillow-heif raise on hostile bytes, beyond their documented OSError.
_BAD_DATA_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    RuntimeError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)

# EXIF Orientation -> the transpose that makes the stored pixels upright.
_UPRIGHT_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS_ORIENTATIONS = frozenset({5, 6, 7, 8})

# JPEG markers, read as libjpeg reads them (jdmarker.c next_marker, jdhuff.c): 0xFF, any
# number of 0xFF fill bytes, then the code. Between segments a code of 0x00 is not a marker
# (libjpeg skips such bytes as garbage); inside entropy-coded data 0xFF 0x00 is a stuffed
# 0xFF and RST0-7 belong to the scan. One byte of lookahead: linear, no backtracking.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xff]")
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
# Markers without a length: TEM, RST0-7, SOI.
_JPEG_PARAMETERLESS = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})
# Start of frame, and those libjpeg decodes sequentially (baseline, extended, lossless;
# Huffman or arithmetic): their first scan, if it covers every component, is the only one.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_SOF_SEQUENTIAL = frozenset({0xC0, 0xC1, 0xC3, 0xC9, 0xCB})

_EXIF_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


class PipelineError(Exception):
    """The photo cannot be processed; `code` is a short snake_case reason stored on the Image."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PipelineResult:
    """What the worker stores: upright full-resolution size, EXIF summary, JPEG thumbnails
    keyed by their longest side, and the QC checks (each with a ``status``)."""

    width: int
    height: int
    exif: dict[str, Any]
    thumbnails: dict[int, bytes]
    qc: dict[str, dict[str, Any]]
    # Perceptual signatures (duplicates and spin health), from the same reduced image.
    signature: Signature | None = None

    @property
    def qc_status(self) -> str:
        """The worst status of all checks: ``fail``, ``warn`` or ``pass``."""
        return _worst(*(check["status"] for check in self.qc.values()))


@dataclass(frozen=True)
class Signature:
    """A 64-bit pHash (signed, as PostgreSQL's bigint stores it) and a tiny grey thumbnail
    (`SIGNATURE_SIZE`, row-major bytes) for comparing neighbouring frames of a spin."""

    phash: int
    tiny: bytes


@dataclass(frozen=True)
class UprightPreview:
    """The decoded photo reduced to the largest thumbnail size, upright, sRGB, mode RGB."""

    image: Image.Image
    width: int
    height: int
    exif: dict[str, Any]


def sniff_format(data: bytes) -> str | None:
    """The content type the magic bytes prove, or None for anything we do not accept."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if len(data) >= 16 and data[4:8] == b"ftyp":
        box_size = int.from_bytes(data[:4], "big")
        brands_end = min(box_size, len(data), 4096) if box_size >= 16 else 12
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, brands_end - 3, 4)}
        if brands & _HEVC_BRANDS:
            return HEIC
    return None


def jpeg_scan_count(data: bytes, *, max_scans: int, max_segments: int = MAX_JPEG_SEGMENTS) -> int:
    """How many scans (SOS segments) libjpeg would decode from `data`, walking the marker
    stream as libjpeg does, up to EOI or the end of the bytes; a sequential JPEG whose first
    scan covers every component (a baseline camera JPEG) has that one scan only.

    Raises ``too_many_scans`` past `max_scans`, ``too_many_segments`` past `max_segments`
    other markers. Cost: one regex search (C speed) per segment, so linear in the bytes and
    bounded by `max_scans` + `max_segments` Python steps. Truncated or garbage input ends
    the walk quietly: telling a broken file is the decoder's job, counting its work is ours.
    Segment payloads (an EXIF thumbnail's own scans) and whatever follows EOI (an MPF image,
    a motion photo's video) are never counted; garbage between segments is skipped as
    libjpeg skips it, so it cannot hide a scan.
    """
    scans = segments = frames = 0
    single_scan_components = None  # a sequential frame's component count
    position = 2  # after SOI
    size = len(data)
    while True:
        found = _JPEG_NEXT_MARKER.search(data, position)
        if found is None:
            return scans
        marker = data[found.end() - 1]
        position = found.end()
        if marker != _JPEG_SOS:
            segments += 1
            if segments > max_segments:
                raise PipelineError(
                    "too_many_segments", f"more than {max_segments} JPEG marker segments"
                )
        if marker == _JPEG_EOI:
            return scans
        if marker in _JPEG_PARAMETERLESS:
            continue
        if position + 3 > size:
            return scans
        # libjpeg reads the two length bytes and skips what remains: never less than nothing.
        length = int.from_bytes(data[position : position + 2], "big")
        if marker in _JPEG_SOF:
            frames += 1
            if marker in _JPEG_SOF_SEQUENTIAL and position + 7 < size:
                single_scan_components = data[position + 7]
        elif (
            marker == _JPEG_SOS
            and scans == 0
            and frames == 1
            and data[position + 2] == single_scan_components
        ):
            # One sequential scan of every component: libjpeg decodes it and refuses a second
            # SOS (JERR_EOI_EXPECTED). Nearly every camera JPEG ends the walk here, before its
            # entropy-coded data.
            return 1
        position += max(length, 2)
        if marker == _JPEG_SOS:
            scans += 1
            if scans > max_scans:
                raise PipelineError(
                    "too_many_scans",
                    f"more than {max_scans} scans; a progressive JPEG needs about 10",
                )
            scan_end = _JPEG_SCAN_END.search(data, position)
            if scan_end is None:
                return scans
            position = scan_end.start()


def qc_thresholds_resolve(overrides: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Defaults with an organisation's overrides on top; unknown keys and non-numbers are
    ignored so a bad setting can never stop processing."""
    thresholds = dict(DEFAULT_QC_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if (
            key in thresholds
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            thresholds[key] = float(value)
    return thresholds


def process_image_bytes(
    data: bytes,
    *,
    content_type: str,
    expected_sha256: str | None = None,
    thresholds: Mapping[str, Any] | None = None,
    max_jpeg_scans: int = MAX_JPEG_SCANS,
) -> PipelineResult:
    """Verify, decode once, and return dimensions, EXIF summary, thumbnails and QC.

    Raises `PipelineError` for every file that cannot be processed; never anything else for
    bad bytes. `thresholds` are an organisation's QC overrides (see `qc_thresholds_resolve`).
    """
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.strip().lower():
            raise PipelineError("checksum_mismatch", f"content SHA-256 is {actual}")
    preview = upright_preview(data, content_type=content_type, max_jpeg_scans=max_jpeg_scans)
    thumbnails = _thumbnails_encode(preview)
    gray = preview.image.convert("L")
    return PipelineResult(
        width=preview.width,
        height=preview.height,
        exif=preview.exif,
        thumbnails=thumbnails,
        qc=qc_measure(gray, thresholds=qc_thresholds_resolve(thresholds)),
        signature=signature_measure(gray),
    )


def signature_measure(gray: Image.Image) -> Signature:
    """pHash and tiny thumbnail of the grey preview the QC already holds.

    The grey 1200 px image is box-reduced to about 128 px first (a whole-factor `reduce`, the
    cheapest resize Pillow has), then the 32x32 image pHash needs and the tiny thumbnail are
    made from that: the signature costs a few percent of the pipeline, not a second resize of
    the full preview."""
    factor = max(1, min(gray.width, gray.height) // 128)
    small = gray.reduce(factor) if factor >= 2 else gray
    tiny = small.resize(SIGNATURE_SIZE, Image.Resampling.BILINEAR)
    phash = imagehash.phash(small.resize((32, 32), Image.Resampling.BILINEAR))
    return Signature(phash=phash_to_int(phash.hash), tiny=tiny.tobytes())


def phash_to_int(bits: Any) -> int:
    """imagehash's 8x8 bool array as a signed 64-bit integer (PostgreSQL bigint)."""
    packed = np.packbits(np.asarray(bits, dtype=bool).reshape(-1)).tobytes()
    return int.from_bytes(packed, "big", signed=True)


def upright_preview(
    data: bytes,
    *,
    content_type: str,
    max_jpeg_scans: int = MAX_JPEG_SCANS,
    upright_width: int | None = None,
) -> UprightPreview:
    """Check the format, decode once and reduce to the largest thumbnail, upright and sRGB.

    ``upright_width``: reduce to that upright width instead (never enlarged), for the web
    renditions."""
    if not data:
        raise PipelineError("empty_file", "the object has no bytes")
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise PipelineError("unsupported_format", f"content type {content_type!r} is not accepted")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise PipelineError("unsupported_format", "the bytes are neither JPEG nor HEIC")
    if sniffed != content_type:
        raise PipelineError("format_mismatch", f"declared {content_type}, the bytes are {sniffed}")
    if content_type == JPEG:
        jpeg_scan_count(data, max_scans=max_jpeg_scans)

    with _decode_guard():
        image = Image.open(io.BytesIO(data), formats=[_FORMAT_BY_CONTENT_TYPE[content_type]])
        stored_width, stored_height = image.size
        if stored_width * stored_height > MAX_IMAGE_PIXELS:
            raise PipelineError(
                "too_many_pixels",
                f"{stored_width}x{stored_height} exceeds {MAX_IMAGE_PIXELS} pixels",
            )
        exif = _exif_read(image)
        # HEIC pixels arrive upright from libheif; only JPEG needs the EXIF Orientation.
        orientation = _exif_orientation(exif) if content_type == JPEG else 1
        target = _fit((stored_width, stored_height), THUMB_SIZES[0])
        if upright_width is not None:
            sideways = orientation in _SIDEWAYS_ORIENTATIONS
            across = stored_height if sideways else stored_width
            scale = min(1.0, upright_width / across)
            target = (
                max(1, round(stored_width * scale)),
                max(1, round(stored_height * scale)),
            )
        if content_type == JPEG:
            image.draft("RGB", target)
        icc_profile = image.info.get("icc_profile")
        image.load()
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")

    if upright_width is None:
        image = _resize(image, target)
    elif image.size != target:
        # The largest web rendition is viewed full size: Lanczos, after draft()'s reduction.
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    if image.mode == "RGB" and icc_profile:
        image = _to_srgb(image, icc_profile)
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if orientation in _UPRIGHT_TRANSPOSE:
        image = image.transpose(_UPRIGHT_TRANSPOSE[orientation])
    image.info.clear()

    width, height = stored_width, stored_height
    if orientation in _SIDEWAYS_ORIENTATIONS:
        width, height = height, width
    return UprightPreview(image=image, width=width, height=height, exif=_exif_summary(exif))


def qc_measure(gray: Image.Image, *, thresholds: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Sharpness and exposure of a grayscale image (the 1200 px preview)."""
    score = _laplacian_variance(gray)
    histogram = gray.histogram()
    pixels = max(1, gray.width * gray.height)
    mean = sum(level * count for level, count in enumerate(histogram)) / pixels
    shadows = sum(histogram[:3]) / pixels
    highlights = sum(histogram[253:]) / pixels

    sharpness_status = _status(
        fail=score < thresholds["sharpness_fail_below"],
        warn=score < thresholds["sharpness_warn_below"],
    )
    exposure_status = _worst(
        _status(
            fail=not (
                thresholds["exposure_mean_fail_below"]
                <= mean
                <= thresholds["exposure_mean_fail_above"]
            ),
            warn=not (
                thresholds["exposure_mean_warn_below"]
                <= mean
                <= thresholds["exposure_mean_warn_above"]
            ),
        ),
        _status(
            fail=shadows > thresholds["clipped_shadows_fail_above"],
            warn=shadows > thresholds["clipped_shadows_warn_above"],
        ),
        _status(
            fail=highlights > thresholds["clipped_highlights_fail_above"],
            warn=highlights > thresholds["clipped_highlights_warn_above"],
        ),
    )
    return {
        "sharpness": {"score": round(score, 1), "status": sharpness_status},
        "exposure": {
            "status": exposure_status,
            "mean": round(mean, 1),
            "clipped_shadows": round(shadows, 4),
            "clipped_highlights": round(highlights, 4),
        },
    }


@contextmanager
def _decode_guard() -> Iterator[None]:
    """Turn everything a hostile file can make Pillow do into a PipelineError.

    The warnings filter is process-wide while it is active; that is safe in Celery's prefork
    workers, which run one task per process at a time."""
    with warnings.catch_warnings():
        # Hostile files make Pillow warn about corrupt EXIF or MPO headers; we ignore those
        # tags anyway. Between 1x and 2x its pixel limit Pillow only warns: make that fatal.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PipelineError("too_many_pixels", str(exc)) from exc
        except _BAD_DATA_ERRORS as exc:
            raise PipelineError("corrupt_image", f"{type(exc).__name__}: {exc}") from exc


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down so its longest side is `longest`; never scaled up."""
    width, height = size
    if max(width, height) <= longest:
        return width, height
    scale = longest / max(width, height)
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Box-reduce by the whole factor (cheap, and exact for 1200 -> 600 -> 150), then one
    short bilinear pass for the remainder. Against a Lanczos resize of the full decode this
    stays above 40 dB PSNR at a fraction of the cost."""
    factor = int(min(image.width / size[0], image.height / size[1]))
    if factor >= 2:
        image = image.reduce(factor)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


def _thumbnails_encode(preview: UprightPreview) -> dict[int, bytes]:
    thumbnails: dict[int, bytes] = {}
    image = preview.image
    for longest in THUMB_SIZES:
        image = _resize(image, _fit((preview.width, preview.height), longest))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=THUMB_JPEG_QUALITY)
        thumbnails[longest] = buffer.getvalue()
    return thumbnails


@dataclass(frozen=True)
class WebRenditions:
    """A published photo for the web: ``files[(format, width)] = (height, bytes)``, the
    upright original size, a tiny JPEG placeholder (bytes), and the 4:3 centre crop for
    listing feeds, ``(width, height, JPEG bytes)``, when the photo covers 800 x 600."""

    width: int
    height: int
    files: dict[tuple[str, int], tuple[int, bytes]]
    placeholder: bytes
    crop_4x3: tuple[int, int, bytes] | None = None


def web_renditions(
    data: bytes, *, content_type: str, max_jpeg_scans: int = MAX_JPEG_SCANS
) -> WebRenditions:
    """Every web rendition of one original, decoded once (at a reduced scale where the
    format allows), upright, sRGB, with no metadata (no EXIF, GPS or ICC profile written).

    Widths are ``RENDITION_WIDTHS`` up to the original's (never enlarged; an original
    narrower than the smallest width gets one rendition at its own width), each resized
    with Lanczos from the next larger one.
    """
    preview = upright_preview(
        data,
        content_type=content_type,
        max_jpeg_scans=max_jpeg_scans,
        upright_width=RENDITION_WIDTHS[-1],
    )
    widths = [w for w in RENDITION_WIDTHS if w <= preview.width] or [preview.width]
    image = preview.image
    crop = _crop_4x3(image)
    files: dict[tuple[str, int], tuple[int, bytes]] = {}
    for width in sorted(widths, reverse=True):
        height = max(1, round(preview.height * width / preview.width))
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        for fmt in RENDITION_FORMATS:
            buffer = io.BytesIO()
            if fmt == "jpeg":
                image.save(buffer, "JPEG", quality=RENDITION_JPEG_QUALITY, progressive=True)
            else:
                image.save(buffer, "WEBP", quality=RENDITION_WEBP_QUALITY, method=4)
            files[(fmt, width)] = (height, buffer.getvalue())
    tiny_height = max(1, round(preview.height * PLACEHOLDER_WIDTH / preview.width))
    tiny = image.resize((PLACEHOLDER_WIDTH, tiny_height), Image.Resampling.BOX)
    buffer = io.BytesIO()
    tiny.save(buffer, "JPEG", quality=40)
    return WebRenditions(
        width=preview.width,
        height=preview.height,
        files=files,
        placeholder=buffer.getvalue(),
        crop_4x3=crop,
    )


def _crop_4x3(image: Image.Image) -> tuple[int, int, bytes] | None:
    """The 4:3 centre crop of the decoded (upright, sRGB) photo, as a JPEG; None when it
    would be under 800 x 600. Cut and resized in one Lanczos pass (``box``)."""
    size = crop_4x3_size(image.width, image.height)
    if size is None:
        return None
    across = min(image.width, image.height * 4 / 3)
    down = across * 3 / 4
    left, top = (image.width - across) / 2, (image.height - down) / 2
    cropped = image.resize(
        size, Image.Resampling.LANCZOS, box=(left, top, left + across, top + down)
    )
    buffer = io.BytesIO()
    cropped.save(buffer, "JPEG", quality=RENDITION_JPEG_QUALITY, progressive=True)
    return size[0], size[1], buffer.getvalue()


def _to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    transform = _srgb_transform(icc_profile)
    if transform is not None:
        # In place: the image is already our own reduced copy; a bad profile leaves it as is.
        with suppress(ImageCms.PyCMSError, OSError, ValueError):
            ImageCms.applyTransform(image, transform, inPlace=True)
    return image


@lru_cache(maxsize=16)
def _srgb_transform(icc_profile: bytes) -> ImageCms.ImageCmsTransform | None:
    """A cached RGB -> sRGB transform, or None when the profile is sRGB, not RGB or unusable."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if profile.profile.xcolor_space != "RGB ":
            return None
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        return ImageCms.buildTransform(profile, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _laplacian_variance(gray: Image.Image) -> float:
    if gray.width < 3 or gray.height < 3:
        return 0.0
    pixels = np.asarray(gray, dtype=np.int16)
    # In place on int16 (|value| <= 1020), then exact integer sums: fast and deterministic.
    laplacian = pixels[:-2, 1:-1] + pixels[2:, 1:-1]
    laplacian += pixels[1:-1, :-2]
    laplacian += pixels[1:-1, 2:]
    laplacian -= pixels[1:-1, 1:-1] << 2
    count = laplacian.size
    total = int(laplacian.sum(dtype=np.int64))
    squares = int(np.einsum("ij,ij->", laplacian, laplacian, dtype=np.int64))
    return (squares - total * total / count) / count


def _status(*, fail: bool, warn: bool) -> str:
    return "fail" if fail else "warn" if warn else "pass"


def _worst(*statuses: str) -> str:
    return qc_worst(statuses) or "pass"


# --- EXIF -------------------------------------------------------------------------------


def _exif_read(image: Image.Image) -> dict[int, Any]:
    """IFD0 and the Exif sub-IFD merged, or whatever of them could be parsed."""
    tags: dict[int, Any] = {}
    try:
        exif = image.getexif()
        tags.update(exif)
    except _BAD_DATA_ERRORS:
        return tags
    with suppress(_BAD_DATA_ERRORS):
        tags.update(exif.get_ifd(ExifTags.IFD.Exif))
    return tags


def _exif_orientation(tags: Mapping[int, Any]) -> int:
    value = tags.get(ExifTags.Base.Orientation)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    return 1


def _exif_summary(tags: Mapping[int, Any]) -> dict[str, Any]:
    return {
        "iso": _exif_iso(tags.get(ExifTags.Base.ISOSpeedRatings)),
        "shutter": _exif_shutter(_exif_number(tags.get(ExifTags.Base.ExposureTime))),
        "aperture": _exif_aperture(tags),
        "timestamp": _exif_timestamp(
            tags.get(ExifTags.Base.DateTimeOriginal), tags.get(ExifTags.Base.OffsetTimeOriginal)
        ),
    }


def _exif_first(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return value[0] if value else None
    return value


def _exif_number(value: Any) -> float | None:
    """A positive finite number from an int or rational tag, else None."""
    value = _exif_first(value)
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return None
    try:
        number = float(value)
    except _BAD_DATA_ERRORS:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _exif_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def _exif_iso(value: Any) -> int | None:
    number = _exif_number(value)
    if number is None or number > 10_000_000:
        return None
    return round(number)


def _exif_shutter(seconds: float | None) -> str | None:
    if seconds is None or seconds > 3600:
        return None
    if seconds >= 0.3:
        # 0.3s, 0.5s, 2s, 30s: how cameras show slow speeds.
        return f"{round(seconds, 1):g}s"
    return f"1/{round(1 / seconds)}"


def _exif_aperture(tags: Mapping[int, Any]) -> str | None:
    f_number = _exif_number(tags.get(ExifTags.Base.FNumber))
    if f_number is None:
        # ApertureValue is APEX: f-number = 2 ** (Av / 2).
        apex = _exif_number(tags.get(ExifTags.Base.ApertureValue))
        f_number = 2 ** (apex / 2) if apex is not None and apex < 64 else None
    if f_number is None or f_number > 1000:
        return None
    return f"f/{round(f_number, 1):g}"


def _exif_timestamp(value: Any, offset_value: Any) -> str | None:
    text = _exif_text(value)
    match = _EXIF_DATETIME.fullmatch(text) if text else None
    if match is None:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()), tzinfo=UTC)
    except ValueError:
        return None
    offset_text = _exif_text(offset_value)
    offset = _EXIF_OFFSET.fullmatch(offset_text) if offset_text else None
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14):
            try:
                moment -= delta if sign == "+" else -delta
            except OverflowError:
                return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
