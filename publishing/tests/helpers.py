"""Published photos with real originals in the (test) store, and the manifest's schema."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import jsonschema
from PIL import Image as PILImage

from images_app import storage
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed

SCHEMA = json.loads((Path(__file__).parents[1] / "manifest.schema.json").read_text())


def jpeg_bytes(*, width: int = 1200, height: int = 900, seed: int = 0, exif=None) -> bytes:
    """A small photo-like JPEG: a gradient with a seed-dependent tint."""
    image = PILImage.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = PILImage.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, 128))
    image = PILImage.blend(image, tint, 0.4)
    buffer = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(buffer, "JPEG", quality=85, **kwargs)
    return buffer.getvalue()


def photo(session, *, status="processed", width=1200, height=900, seed=None, **fields) -> Image:
    """A processed image of ``session`` whose original is really in the store."""
    seed = seed if seed is not None else hash((session.pk, tuple(fields.items()))) % 1000
    data = jpeg_bytes(width=width, height=height, seed=seed)
    image = ImageFactory(session=session, content_sha256=hashlib.sha256(data).hexdigest(), **fields)
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    image = processed(image, width=width, height=height)
    if status == "published":
        image.status = Image.Status.PUBLISHED
        image.save(update_fields=["status"])
    return image


def validate_manifest(manifest: dict) -> dict:
    jsonschema.validate(manifest, SCHEMA)
    return manifest
