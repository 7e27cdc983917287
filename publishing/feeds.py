"""Listing feeds: the org's live vehicles as CSV rows for a channel (a listing site's import).

Each channel says which images it takes, in which order and how many, and documents where
its rules come from. Rows are read from the live versions' manifests (two queries whatever
the number of vehicles); withdrawn vehicles are not live and drop out.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from publishing.models import Publication, PublicationVersion


@dataclass(frozen=True)
class Channel:
    name: str
    # Additional images after the hero; None: every image.
    max_additional: int | None
    min_width: int
    min_height: int
    # Width / height the images must have (within 1 %); None: any.
    aspect: float | None
    source: str


CHANNELS = {
    "generic": Channel(
        name="generic",
        max_additional=None,
        min_width=0,
        min_height=0,
        aspect=None,
        source="Ours: every live image, the largest JPEG rendition, hero first, then the "
        "stills in shot-list order, then the spin frames in angle order.",
    ),
    "google_vehicle_ads": Channel(
        name="google_vehicle_ads",
        max_additional=10,
        min_width=800,
        min_height=600,
        aspect=4 / 3,
        source="Google Merchant Center, vehicle ads product data specification: image_link "
        "and additional_image_link (up to 10), images of at least 800x600 px in 4:3, "
        "without overlays, watermarks or borders (our renditions never add any).",
    ),
}
COLUMNS = ("vehicle_id", "vin", "stock", "manifest_url", "image_link", "additional_image_link")


def _cell(value: Any) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _source(image: dict[str, Any], channel: Channel) -> str | None:
    """The URL of the image's smallest JPEG rendition that meets the channel's size, or its
    largest for a channel without one; None when the image does not qualify."""
    aspect = channel.aspect
    if aspect is not None and abs(image["width"] / image["height"] - aspect) > aspect * 0.01:
        return None
    jpegs = image["renditions"]["jpeg"]
    if not channel.min_width:
        return jpegs[-1]["url"] if jpegs else None
    for entry in jpegs:
        if entry["width"] >= channel.min_width and entry["height"] >= channel.min_height:
            return entry["url"]
    return None


def feed_row(manifest: dict[str, Any], channel: Channel) -> dict[str, str] | None:
    """One vehicle's row, or None when it has no image the channel takes."""
    if manifest.get("status") != Publication.Status.LIVE:
        return None
    images = [*manifest["stills"], *((manifest.get("spin") or {}).get("frames") or [])]
    hero = manifest.get("hero")
    if hero is not None:
        images = [hero, *(i for i in images if i is not hero and i["id"] != hero["id"])]
    urls = [u for u in (_source(image, channel) for image in images) if u]
    if not urls:
        return None
    additional = urls[1:]
    if channel.max_additional is not None:
        additional = additional[: channel.max_additional]
    vehicle = manifest["vehicle"]
    return {
        "vehicle_id": vehicle["id"],
        "vin": vehicle["vin"] or "",
        "stock": vehicle["stock"] or "",
        "manifest_url": manifest["manifest_url"],
        "image_link": urls[0],
        "additional_image_link": ",".join(additional),
    }


def live_manifests(*, org_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    versions = (
        PublicationVersion.objects.filter(
            org_id=org_id,
            publication__status=Publication.Status.LIVE,
            number=F("publication__live_version"),
        )
        .exclude(manifest=None)
        .order_by("publication__updated_at", "publication_id")
        .values_list("manifest", flat=True)
    )
    yield from versions.iterator(chunk_size=500)


def feed_csv(*, org_id: uuid.UUID, channel: Channel) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for manifest in live_manifests(org_id=org_id):
        row = feed_row(manifest, channel)
        if row is not None:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
