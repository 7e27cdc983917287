"""Exporting a session: its published photos and a manifest in the API's shapes, as a zip.

Layout of ``session-<id>.zip``::

    manifest.json                      {"format": 1, "session": <GET /v1/sessions/:id>,
                                        "images": [<GET /v1/images/:id> + "files"]}
    originals/<nn>[_<shot>]_<image id>.jpg   spins by angle (nn = frame), stills in capture
                                        order; <shot> is a slug of the device's shot name
    thumbnails/<image id>/thumb_<px>.jpg

The archive is reproducible: the same published photos give the same bytes (fixed entry
times and order), and it is written to a temporary file and renamed, so a reader never sees
half an archive and a rerun simply replaces it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from images_app.api.image_serializers import ImageDetail
from images_app.models import Image
from images_app.selectors import session_images
from images_app.uploads import CONTENT_TYPE_EXTENSIONS
from sessions_app.api.extras import detail_extras_of
from sessions_app.api.serializers import SessionDetailOutput
from sessions_app.models import CaptureSession

MANIFEST_FORMAT = 1
# Zip entries carry a local time; a fixed one keeps the archive byte-for-byte reproducible.
ENTRY_TIME = (2000, 1, 1, 0, 0, 0)
# Shot names come from the device: only this alphabet reaches an entry name, so no path
# separator, dot-dot, control character or markup gets into the archive or the terminal.
_SLUG_UNSAFE = re.compile(r"[^a-z0-9_-]+")
SLUG_MAX_CHARS = 40


class ExportError(Exception):
    """Nothing sensible to export (reported to the caller in one line)."""


class ExportedImage(ImageDetail):
    """``GET /v1/images/:id`` without the short-lived presigned URLs (useless in an archive)."""

    thumb_urls = None

    class Meta(ImageDetail.Meta):
        fields = [f for f in ImageDetail.Meta.fields if f != "thumb_urls"]
        read_only_fields = fields


@dataclass(frozen=True)
class ExportResult:
    path: Path
    images: int
    files: int
    bytes: int


def _entry(name: str, *, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def shot_slug(shot_name: str | None) -> str:
    """``shot_name`` as [a-z0-9_-] (accents folded, the rest dashed); "" when nothing is left."""
    folded = unicodedata.normalize("NFKD", shot_name or "").encode("ascii", "ignore").decode()
    return _SLUG_UNSAFE.sub("-", folded.lower()).strip("-_")[:SLUG_MAX_CHARS].strip("-_")


def _original_name(image: Image, position: int) -> str:
    # Unique through the image id; the frame (or position) and the slug only help a reader.
    prefix = f"{image.frame_index:03d}" if image.frame_index is not None else f"{position:03d}"
    slug = shot_slug(image.shot_name)
    label = f"_{slug}" if slug else ""
    return f"originals/{prefix}{label}_{image.id}.{CONTENT_TYPE_EXTENSIONS[image.content_type]}"


def session_export(
    *,
    session: CaptureSession,
    destination: Path,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Write the session's published photos and manifest to ``destination`` (a .zip)."""
    from images_app import storage

    session = CaptureSession.objects.select_related("vehicle", "operator", "device").get(
        pk=session.pk
    )
    images = list(session_images(session=session, status=Image.Status.PUBLISHED))
    if not images:
        raise ExportError(f"session {session.id} has no published images")
    destination = destination.resolve()
    if not destination.parent.is_dir():
        raise ExportError(f"no directory {destination.parent}")

    manifest_images: list[dict[str, Any]] = []
    file_count = 0
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            for position, image in enumerate(images):
                original = _original_name(image, position)
                data = storage.get_bytes(key=image.storage_key, max_bytes=1 << 31)
                archive.writestr(_entry(original, compress=False), data)
                thumbnails: dict[str, str] = {}
                for size, key in sorted(image.thumb_keys.items(), key=lambda kv: int(kv[0])):
                    name = f"thumbnails/{image.id}/thumb_{size}.jpg"
                    archive.writestr(
                        _entry(name, compress=False),
                        storage.get_bytes(key=key, max_bytes=1 << 26),
                    )
                    thumbnails[size] = name
                file_count += 1 + len(thumbnails)
                manifest_images.append(
                    {
                        **ExportedImage(image).data,
                        "files": {"original": original, "thumbnails": thumbnails},
                    }
                )
                if progress:
                    progress(original)
            manifest = {
                "format": MANIFEST_FORMAT,
                "session": {
                    **SessionDetailOutput(session).data,
                    **detail_extras_of(session.pk),
                },
                "images": manifest_images,
            }
            archive.writestr(
                _entry("manifest.json", compress=True),
                json.dumps(manifest, indent=2, sort_keys=False, default=str),
            )
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ExportResult(
        path=destination,
        images=len(images),
        files=file_count + 1,
        bytes=destination.stat().st_size,
    )
