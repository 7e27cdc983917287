"""The public manifest of a publication version: what a web page needs to show the vehicle.

Built from the version's content (image ids) and the renditions written for them, in a
fixed number of queries whatever the size of the spin (a test pins it). It names no
operator, device, storage key or anything else internal. The contract is
``publishing/manifest.schema.json`` (docs/publishing.md).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from images_app.models import Image
from images_app.rules import RENDITION_FORMATS
from publishing import public_store
from publishing.models import Publication, PublicationVersion, Rendition

SCHEMA = "imaging.manifest/1"
SCHEMA_VERSION = 1
DEFAULT_DIRECTION = "clockwise"


def shot_label(shot: str | None) -> str:
    """``front_3q`` → ``Front 3/4``: the human text of a shot code."""
    if not shot:
        return "Photo"
    words = shot.replace("-", "_").split("_")
    text = " ".join("3/4" if w in ("3q", "34") else w for w in words if w)
    return text[:1].upper() + text[1:]


def content_image_ids(content: dict[str, Any]) -> list[str]:
    spin = content.get("spin") or {}
    return [*spin.get("frames", []), *(still["image"] for still in content.get("stills", []))]


def _timestamp(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image(row: dict[str, Any], rendition: Rendition, alt: str) -> dict[str, Any]:
    sha = row["content_sha256"]
    renditions: dict[str, list[dict[str, Any]]] = {}
    sources: dict[str, dict[str, str]] = {}
    for fmt in RENDITION_FORMATS:
        entries = []
        for width, height in rendition.sizes.get(fmt, []):
            key = public_store.rendition_key(sha256=sha, width=width, fmt=fmt)
            entries.append({"width": width, "height": height, "url": public_store.url(key)})
        renditions[fmt] = entries
        sources[fmt] = {str(e["width"]): e["url"] for e in entries}
    built = {
        "id": str(row["id"]),
        "width": rendition.width,
        "height": rendition.height,
        "alt": alt,
        "placeholder": rendition.placeholder,
        "renditions": renditions,
        "sources": sources,
    }
    for width, height in rendition.sizes.get(public_store.CROP_4X3) or []:
        url = public_store.url(public_store.crop_4x3_key(sha256=sha, width=width))
        built["crop_4x3"] = {"width": width, "height": height, "url": url}
    return built


def manifest_build(*, version: PublicationVersion) -> dict[str, Any]:
    """The manifest of ``version`` (``version.publication.vehicle`` loaded with it).

    Images whose renditions are missing are left out (the render task writes renditions
    before it builds the manifest, so this happens only to an original it could not read).
    """
    publication: Publication = version.publication
    vehicle = publication.vehicle
    withdrawn = version.status == Publication.Status.WITHDRAWN
    content = {} if withdrawn else version.content
    ids = content_image_ids(content)
    rows = {
        str(row["id"]): row
        for row in Image.objects.filter(pk__in=ids).values("id", "content_sha256")
    }
    shas = {row["content_sha256"] for row in rows.values()}
    renditions = {r.sha256: r for r in Rendition.objects.filter(sha256__in=shas)}
    name = " ".join(
        part for part in (f"VIN {vehicle.vin}" if vehicle.vin else "", vehicle.stock or "") if part
    )

    def image(image_id: str, alt: str) -> dict[str, Any] | None:
        row = rows.get(image_id)
        rendition = renditions.get(row["content_sha256"]) if row else None
        # No sizes: the original could not be rendered; the version goes live without it.
        return _image(row, rendition, alt) if rendition and rendition.sizes else None

    spin = None
    spin_content = content.get("spin")
    if spin_content:
        frames = []
        count = len(spin_content["frames"])
        angles = spin_content.get("angles") or []
        for index, image_id in enumerate(spin_content["frames"]):
            angle = angles[index] if index < len(angles) else round(index * 360 / count)
            built = image(image_id, f"360° view, {angle}° — {name}".strip(" —"))
            if built is not None:
                frames.append({**built, "index": len(frames), "angle_deg": angle})
        if frames:
            spin = {
                "direction": spin_content.get("direction") or DEFAULT_DIRECTION,
                "frame_count": len(frames),
                "frames": frames,
            }
    stills = []
    for still in content.get("stills", []):
        label = shot_label(still.get("shot"))
        built = image(still["image"], f"{label} — {name}".strip(" —"))
        if built is not None:
            stills.append({**built, "shot": still.get("shot") or "", "label": label})
    hero = stills[0] if stills else (spin["frames"][0] if spin else None)
    when = _timestamp(version.created_at)
    return {
        "schema_version": SCHEMA_VERSION,
        "schema": SCHEMA,
        "vehicle": {"id": str(vehicle.id), "vin": vehicle.vin, "stock": vehicle.stock},
        "vin": vehicle.vin,
        "stock": vehicle.stock,
        "version": version.number,
        "status": version.status,
        "published_at": when,
        "updated_at": when,
        "manifest_url": public_store.url(public_store.manifest_key(vehicle.id)),
        "hero": hero,
        "spin": spin,
        "stills": stills,
    }
