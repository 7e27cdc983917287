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
    # Which picture of each image: "largest" (its largest JPEG rendition) or "crop_4x3"
    # (the 4:3 centre crop the render task makes when the original covers 800 x 600).
    picture: str
    source: str


CHANNELS = {
    "generic": Channel(
        name="generic",
        max_additional=None,
        min_width=0,
        min_height=0,
        picture="largest",
        source="Ours: every live image, the largest JPEG rendition, hero first, then the "
        "stills in shot-list order, then the spin frames in angle order.",
    ),
    "google_vehicle_ads": Channel(
        name="google_vehicle_ads",
        max_additional=10,
        min_width=800,
        min_height=600,
        picture="crop_4x3",
        source="Google Merchant Center, vehicle ads product data specification: image_link "
        "and additional_image_link (up to 10), images of at least 800x600 px in 4:3, "
        "without overlays, watermarks or borders (our renditions never add any). We list "
        "each image's 4:3 centre crop (1200x900 JPEG, cut from the original).",
    ),
}
COLUMNS = ("vehicle_id", "vin", "stock", "manifest_url", "image_link", "additional_image_link")


def _cell(value: Any) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _source(image: dict[str, Any], channel: Channel) -> str | None:
    """The URL of the image's picture for the channel (its largest JPEG rendition, or its
    4:3 crop), None when the image has none of at least the channel's size (a crop is made
    only from an original of at least 800 x 600)."""
    if channel.picture == "crop_4x3":
        entry = image.get("crop_4x3")
    else:
        entry = (image["renditions"]["jpeg"] or [None])[-1]
    if entry is None:
        return None
    if entry["width"] < channel.min_width or entry["height"] < channel.min_height:
        return None
    return entry["url"]


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
