"""The spin viewer's fixture vehicle: a manifest in the public contract's shape whose
renditions are drawn on request (development only: the demo page and the browser tests).

A 24-frame turntable spin of the synthetic car (``clients/synthetic_frames.py``, drawn with
Pillow at 1600x1200) and four stills, each at the contract's widths in JPEG and WebP, with a
16 px placeholder in the manifest. Nothing is stored: the same arguments give the same bytes.
"""

from __future__ import annotations

import base64
import functools
import io
import uuid
from collections.abc import Callable
from typing import Any

WIDTHS = (320, 640, 1024, 1600)
FORMATS = {"jpeg": "JPEG", "webp": "WEBP"}
FRAME_COUNT = 24
SOURCE_SIZE = (1600, 1200)
# (shot, label, turntable angle; None: the dashboard)
STILLS = (
    ("front_3q", "Front three-quarter", 315.0),
    ("side", "Driver side", 90.0),
    ("rear_3q", "Rear three-quarter", 135.0),
    ("dash", "Dashboard", None),
)
VEHICLE_ID = uuid.UUID("5e1f0c2a-7d3b-4c1e-9a55-000000000360")
VIN = "NMTKHMBX5KR012345"

# A URL for one rendition: (kind "spin" | "still", number, width, format) -> URL.
UrlFor = Callable[[str, int, int, str], str]


def image_id(kind: str, number: int) -> str:
    return str(uuid.uuid5(VEHICLE_ID, f"{kind}/{number}"))


@functools.lru_cache(maxsize=1)
def _backdrop():
    from PIL import Image as PILImage
    from PIL import ImageDraw

    from clients.synthetic_frames import backdrop_luma

    width, height = SOURCE_SIZE
    canvas = PILImage.new("RGB", SOURCE_SIZE)
    draw = ImageDraw.Draw(canvas)
    for row in range(height):
        luma = backdrop_luma(row, height)
        draw.line((0, row, width, row), fill=(luma, luma, min(255, luma + 6)))
    return canvas


@functools.lru_cache(maxsize=32)
def source(kind: str, number: int):
    """The full-size picture of a spin frame or a still (a PIL image)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    from clients.synthetic_frames import turntable_scene

    if kind == "spin":
        angle = 360.0 * number / FRAME_COUNT
    else:
        angle = STILLS[number][2]
        if angle is None:
            from devtools.demo import render_interior_photo

            return PILImage.open(io.BytesIO(render_interior_photo("dash"))).convert("RGB")
    canvas = _backdrop().copy()
    draw = ImageDraw.Draw(canvas)
    for shape in turntable_scene(
        angle, width=SOURCE_SIZE[0], height=SOURCE_SIZE[1], body_rgb=(30, 70, 150)
    ):
        draw.polygon(shape.points, fill=shape.rgb)
    return canvas


def _encode(picture, *, width: int, fmt: str, quality: int = 80) -> bytes:
    from PIL import Image as PILImage

    height = round(picture.height * width / picture.width)
    out = io.BytesIO()
    picture.resize((width, height), PILImage.Resampling.LANCZOS).save(
        out, FORMATS[fmt], quality=quality
    )
    return out.getvalue()


@functools.lru_cache(maxsize=256)
def rendition(kind: str, number: int, width: int, fmt: str) -> bytes:
    """One rendition's bytes; ``ValueError`` for anything the fixture does not have."""
    count = FRAME_COUNT if kind == "spin" else len(STILLS) if kind == "still" else 0
    if not 0 <= number < count or width not in WIDTHS or fmt not in FORMATS:
        raise ValueError("no such rendition")
    return _encode(source(kind, number), width=width, fmt=fmt)


def _image(kind: str, number: int, *, alt: str, url_for: UrlFor) -> dict[str, Any]:
    picture = source(kind, number)
    placeholder = _encode(picture, width=16, fmt="jpeg", quality=50)
    return {
        "id": image_id(kind, number),
        "width": picture.width,
        "height": picture.height,
        "alt": alt,
        "placeholder": "data:image/jpeg;base64," + base64.b64encode(placeholder).decode(),
        "renditions": {
            fmt: [
                {
                    "width": width,
                    "height": round(picture.height * width / picture.width),
                    "url": url_for(kind, number, width, fmt),
                }
                for width in WIDTHS
            ]
            for fmt in FORMATS
        },
    }


def fixture_manifest(
    *, url_for: UrlFor, direction: str = "counterclockwise", withdrawn: bool = False
) -> dict[str, Any]:
    """The fixture vehicle's manifest. The synthetic turntable's angle grows as the car turns
    counterclockwise seen from above (its near side moves right)."""
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "vehicle": {"id": str(VEHICLE_ID), "vin": VIN, "stock": "DEMO-360"},
        "version": 1,
        "status": "withdrawn" if withdrawn else "live",
        "published_at": "2026-12-04T21:00:00Z",
        "spin": None,
        "stills": [],
    }
    if withdrawn:
        return manifest
    frames = []
    for index in range(FRAME_COUNT):
        angle = 360.0 * index / FRAME_COUNT
        frame = _image("spin", index, alt=f"The vehicle turned {angle:g}°", url_for=url_for)
        frames.append({**frame, "index": index, "angle_deg": angle})
    manifest["spin"] = {"direction": direction, "frame_count": FRAME_COUNT, "frames": frames}
    manifest["stills"] = [
        {
            **_image("still", number, alt=f"{label} of the vehicle", url_for=url_for),
            "shot": shot,
            "label": label,
        }
        for number, (shot, label, _) in enumerate(STILLS)
    ]
    return manifest
