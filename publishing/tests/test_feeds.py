"""Listing feeds: ``GET /v1/feeds/vehicles.csv?channel=…`` and ``manage.py export_feed``."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest
from django.core.management import call_command
from PIL import Image as PILImage

from images_app.services import images_publish
from publishing import services
from publishing.models import Publication
from publishing.tests.helpers import photo
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_vehicles(org, site, reviewer, s3, django_capture_on_commit_callbacks):
    """Three live vehicles (photos in 4:3, in 3:2, and too small for 800x600) and a
    withdrawn one."""
    made = []
    for stock, (width, height) in (
        ("A-43", (1600, 1200)),
        ("B-32", (1500, 1000)),
        ("C-GONE", (1600, 1200)),
        ("D-SMALL", (760, 570)),
    ):
        session = CaptureSessionFactory(
            org=org,
            site=site,
            vehicle=VehicleFactory(org=org, stock=stock, vin=None),
            mode="stills",
            shot_list={"stills": ["front_3q", "side", "rear_3q"]},
        )
        images = [
            photo(session, shot_name=shot, width=width, height=height, seed=i + len(made) * 10)
            for i, shot in enumerate(("front_3q", "side", "rear_3q"))
        ]
        with django_capture_on_commit_callbacks(execute=True):
            images_publish(images=images, actor=reviewer)
        made.append((session.vehicle, images))
    gone = Publication.objects.get(vehicle=made[2][0])
    with django_capture_on_commit_callbacks(execute=True):
        services.publication_withdraw(publication=gone, actor=reviewer)
    return made


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_generic_feed_lists_live_vehicles_with_every_image_hero_first(
    api, reviewer, live_vehicles
):
    response = api(reviewer).get("/v1/feeds/vehicles.csv?channel=generic")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    listed = rows(response.content.decode())
    # The withdrawn one dropped out.
    assert [r["stock"] for r in listed] == ["A-43", "B-32", "D-SMALL"]
    first = listed[0]
    vehicle, images = live_vehicles[0]
    assert first["manifest_url"] == services.publication_manifest_url(vehicle)
    assert images[0].content_sha256 in first["image_link"]  # front 3/4, the hero
    assert first["image_link"].endswith("/1600.jpg")
    assert len(first["additional_image_link"].split(",")) == 2


def public_picture(url: str) -> tuple[str, tuple[int, int]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        picture = PILImage.open(io.BytesIO(response.read()))
        return picture.format, picture.size


def test_the_google_vehicle_ads_feed_lists_4_3_crops_of_800x600_or_more(api, admin, live_vehicles):
    response = api(admin).get("/v1/feeds/vehicles.csv?channel=google_vehicle_ads")

    listed = rows(response.content.decode())
    # The 3:2 photos get their 4:3 centre crop; D-SMALL's (760x570) are under 800x600 and
    # have none, so that vehicle is not listed.
    assert [r["stock"] for r in listed] == ["A-43", "B-32"]
    for row, (_vehicle, images) in zip(listed, live_vehicles, strict=False):
        urls = [row["image_link"], *row["additional_image_link"].split(",")]
        assert len(urls) == 3
        assert images[0].content_sha256 in urls[0]  # the hero first
        for url in urls:
            assert url.endswith("/4x3-1200.jpg")
            # In the public bucket, read anonymously, exactly 4:3.
            assert public_picture(url) == ("JPEG", (1200, 900))


def test_the_google_feed_caps_additional_images_at_ten(org, site, reviewer, s3):
    from publishing.feeds import CHANNELS, feed_row

    image = {
        "id": "x",
        "width": 1600,
        "height": 1200,
        "renditions": {"jpeg": [{"width": 1024, "height": 768, "url": "https://cdn/x.jpg"}]},
        "crop_4x3": {"width": 1200, "height": 900, "url": "https://cdn/4x3-1200.jpg"},
    }
    manifest = {
        "status": "live",
        "vehicle": {"id": "v", "vin": None, "stock": "S"},
        "manifest_url": "https://cdn/m.json",
        "hero": None,
        "spin": None,
        "stills": [{**image, "id": str(i)} for i in range(15)],
    }
    row = feed_row(manifest, CHANNELS["google_vehicle_ads"])
    assert len(row["additional_image_link"].split(",")) == 10


def test_a_stock_number_that_looks_like_a_formula_is_not_one_in_the_feed(
    org, site, reviewer, s3, django_capture_on_commit_callbacks
):
    from publishing.feeds import CHANNELS, feed_csv

    session = CaptureSessionFactory(
        org=org, site=site, vehicle=VehicleFactory(org=org, stock="=HYPERLINK(1)", vin=None)
    )
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[photo(session, shot_name="a", seed=99)], actor=reviewer)

    [row] = rows(feed_csv(org_id=org.id, channel=CHANNELS["generic"]))
    assert row["stock"] == "'=HYPERLINK(1)"


def test_another_orgs_vehicles_are_never_in_the_feed(api, outsider, live_vehicles):
    response = api(outsider).get("/v1/feeds/vehicles.csv?channel=generic")
    assert rows(response.content.decode()) == []


@pytest.mark.parametrize(
    "query", ["", "?channel=", "?channel=ebay", "?channel=generic&channel=generic"]
)
def test_an_unknown_or_missing_channel_is_a_400(api, reviewer, query):
    response = api(reviewer).get(f"/v1/feeds/vehicles.csv{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_operators_and_devices_get_no_feed(api, operator, device):
    for principal in (operator, device):
        assert api(principal).get("/v1/feeds/vehicles.csv?channel=generic").status_code == 403


def test_export_feed_writes_the_same_csv(api, reviewer, org, live_vehicles):
    out = io.StringIO()
    call_command("export_feed", org=str(org.id), channel="generic", stdout=out)
    by_name = io.StringIO()
    call_command("export_feed", org=org.name, channel="generic", stdout=by_name)

    served = api(reviewer).get("/v1/feeds/vehicles.csv?channel=generic").content.decode()
    assert out.getvalue() == served == by_name.getvalue()
