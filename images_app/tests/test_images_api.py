"""GET /v1/images and /v1/images/:id: shapes, order, filters, isolation, query counts."""

import datetime as dt
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from images_app import storage
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

LIST_ITEM_FIELDS = {
    "id",
    "angle_deg",
    "shot_name",
    "thumb_keys",
    "qc",
    "status",
    "created_at",
    "thumb_urls",
}
DETAIL_FIELDS = {
    "id",
    "session_id",
    "vehicle_id",
    "angle_deg",
    "shot_name",
    "storage_key",
    "thumb_keys",
    "width",
    "height",
    "exif",
    "qc",
    "status",
    "created_at",
    "published_at",
    "thumb_urls",
    "error",
    "duplicates",  # additive: the same photo elsewhere in the org (images_app/duplicates.py)
}
T0 = dt.datetime(2025, 1, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def spin(org, site):
    return CaptureSessionFactory(org=org, site=site)


@pytest.fixture
def stills(org, site):
    return CaptureSessionFactory(
        org=org,
        site=site,
        mode=CaptureSession.Mode.STILLS,
        shot_list={"stills": ["front_3q", "rear_3q", "interior"]},
    )


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def list_images(client, session, **params):
    return client.get("/v1/images", {"session_id": str(session.id), **params})


def test_list_items_have_the_contract_shape(api, reviewer, spin):
    image = processed(ImageFactory(session=spin, angle_deg=15, created_at=T0))
    response = list_images(api(reviewer), spin)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert body["total"] == 1
    [item] = body["data"]
    assert set(item) == LIST_ITEM_FIELDS
    assert item["id"] == str(image.id)
    assert item["angle_deg"] == 15
    assert item["shot_name"] is None
    assert item["status"] == "processed"
    assert item["created_at"] == "2025-01-15T10:00:00.000000Z"
    assert item["qc"] == {
        "sharpness": {"score": 450.0, "status": "pass"},
        "exposure": {"status": "pass"},
    }
    prefix = f"org/{spin.org_id}/site/{spin.site_id}/session/{spin.id}/{image.id}"
    assert item["thumb_keys"] == {s: f"{prefix}/thumb_{s}.jpg" for s in ("150", "600", "1200")}


def test_thumb_urls_are_short_lived_signed_urls_of_the_thumbnails(api, reviewer, spin, settings):
    image = processed(ImageFactory(session=spin, angle_deg=0))
    [item] = list_images(api(reviewer), spin).json()["data"]
    assert set(item["thumb_urls"]) == {"150", "600", "1200"}
    for size, url in item["thumb_urls"].items():
        parts = urlsplit(url)
        assert parts.path.endswith(image.thumb_keys[size])
        query = parse_qs(parts.query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        # Signed at the start of a window of a tenth of the lifetime, valid at least the
        # lifetime from now.
        ttl = settings.THUMB_URL_TTL_SECONDS
        signed_at = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
        expires_at = signed_at.replace(tzinfo=dt.UTC) + dt.timedelta(
            seconds=int(query["X-Amz-Expires"][0])
        )
        assert int(query["X-Amz-Expires"][0]) == ttl + ttl // 10
        assert expires_at >= dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(
            seconds=ttl
        )


def test_a_list_read_again_gives_the_same_thumbnail_urls(api, reviewer, spin, monkeypatch):
    """Stable URLs through their window (a tenth of the lifetime): browsers keep the
    thumbnails they have; the next window signs anew."""
    processed(ImageFactory(session=spin, angle_deg=0))
    now = 1_800_000_000  # the start of a 30 s window
    monkeypatch.setattr(storage, "time", SimpleNamespace(time=lambda: now))
    first = list_images(api(reviewer), spin).json()["data"][0]["thumb_urls"]
    now += 29
    assert list_images(api(reviewer), spin).json()["data"][0]["thumb_urls"] == first
    now += 1
    later = list_images(api(reviewer), spin).json()["data"][0]["thumb_urls"]
    assert set(later) == set(first) and not set(later.values()) & set(first.values())


def test_pending_images_have_no_thumbnails_yet(api, reviewer, spin):
    ImageFactory(session=spin, angle_deg=0)
    [item] = list_images(api(reviewer), spin).json()["data"]
    assert (item["status"], item["thumb_keys"], item["thumb_urls"], item["qc"]) == (
        "pending",
        {},
        {},
        {},
    )


def test_a_spin_lists_in_angle_order_whatever_the_upload_order(api, reviewer, spin):
    for minutes, angle in enumerate([180, 0, 345, 15, 90]):
        ImageFactory(session=spin, angle_deg=angle, created_at=at(minutes))
    # A retake of 90° shot later sorts after the first one at 90°.
    ImageFactory(session=spin, angle_deg=90, created_at=at(-5))
    data = list_images(api(reviewer), spin).json()["data"]
    assert [(i["angle_deg"], i["created_at"][11:16]) for i in data] == [
        (0, "10:01"),
        (15, "10:03"),
        (90, "09:55"),
        (90, "10:04"),
        (180, "10:00"),
        (345, "10:02"),
    ]


def test_stills_list_in_capture_order(api, reviewer, stills):
    names = ["interior", "front_3q", "rear_3q"]
    made = [
        ImageFactory(session=stills, shot_name=name, created_at=at(-i))
        for i, name in enumerate(names)
    ]
    data = list_images(api(reviewer), stills).json()["data"]
    assert [i["id"] for i in data] == [str(m.id) for m in reversed(made)]
    assert [i["shot_name"] for i in data] == ["rear_3q", "front_3q", "interior"]


def test_equal_timestamps_are_ordered_by_id(api, reviewer, stills):
    made = [ImageFactory(session=stills, created_at=T0) for _ in range(4)]
    data = list_images(api(reviewer), stills).json()["data"]
    assert [i["id"] for i in data] == sorted(str(m.id) for m in made)


def test_the_status_filter_narrows_the_list_and_the_total(api, reviewer, spin):
    processed(ImageFactory(session=spin, angle_deg=0))
    ImageFactory(session=spin, angle_deg=15)
    ImageFactory(session=spin, angle_deg=30, status=Image.Status.FAILED, error="not_an_image")
    body = list_images(api(reviewer), spin, status="failed").json()
    assert body["total"] == 1
    assert [i["angle_deg"] for i in body["data"]] == [30]


def test_limit_and_offset_page_through_the_list(api, reviewer, spin):
    for angle in range(0, 360, 15):
        ImageFactory(session=spin, angle_deg=angle)
    body = list_images(api(reviewer), spin, limit=5, offset=10).json()
    assert body["total"] == 24
    assert [i["angle_deg"] for i in body["data"]] == [150, 165, 180, 195, 210]
    assert (body["limit"], body["offset"]) == (5, 10)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"session_id": "not-a-uuid"},
        {"session_id": "{id}", "status": "lost"},
        {"session_id": "{id}", "limit": "0"},
        {"session_id": "{id}", "limit": "1000000000"},
        {"session_id": "{id}", "offset": "-1"},
    ],
    ids=["missing", "malformed", "unknown-status", "limit-0", "limit-huge", "offset-negative"],
)
def test_bad_query_parameters_are_a_400(api, reviewer, spin, params):
    query = {k: v.format(id=spin.id) for k, v in params.items()}
    response = api(reviewer).get("/v1/images", query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_unknown_session_is_not_found(api, reviewer):
    response = api(reviewer).get("/v1/images", {"session_id": str(uuid.uuid4())})
    assert response.status_code == 404


def test_another_orgs_session_is_not_found_like_a_missing_one(api, outsider, spin):
    ImageFactory(session=spin, angle_deg=0)
    foreign = api(outsider).get("/v1/images", {"session_id": str(spin.id)})
    missing = api(outsider).get("/v1/images", {"session_id": str(uuid.uuid4())})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"]


def test_a_reviewer_does_not_see_sessions_of_other_sites(api, org, other_site, reviewer):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)
    assert list_images(api(reviewer), elsewhere).status_code == 404


def test_an_admin_sees_every_site_of_the_org(api, org, other_site, admin):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)
    ImageFactory(session=elsewhere, angle_deg=0)
    assert list_images(api(admin), elsewhere).json()["total"] == 1


def test_device_tokens_cannot_list_or_read_images(api, device, org, site):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    image = ImageFactory(session=session)
    assert list_images(api(device), session).status_code == 403
    assert api(device).get(f"/v1/images/{image.id}").status_code == 403


def test_a_token_is_required(api, spin):
    assert list_images(api(), spin).status_code == 401


@pytest.mark.parametrize("count", [2, 50])
def test_the_list_query_count_does_not_grow_with_the_images(
    api, reviewer, spin, count, django_assert_num_queries
):
    for i in range(count):
        processed(ImageFactory(session=spin, angle_deg=(i * 7) % 360))
    client = api(reviewer)
    # 1 the user behind the token, 2 the session within the reviewer's sites, 3 the page of
    # images (the total is the page's length: it is not full).
    with django_assert_num_queries(3):
        response = list_images(client, spin)
    assert len(response.json()["data"]) == count
    assert response.json()["total"] == count


def test_a_full_page_counts_the_whole_list(api, reviewer, spin, django_assert_num_queries):
    for i in range(3):
        processed(ImageFactory(session=spin, angle_deg=i))
    client = api(reviewer)
    # as above, and 4 the total (the page is full, so more may follow)
    with django_assert_num_queries(4):
        response = client.get("/v1/images", {"session_id": str(spin.id), "limit": 2})
    assert (len(response.json()["data"]), response.json()["total"]) == (2, 3)
    response = client.get("/v1/images", {"session_id": str(spin.id), "offset": 5})
    assert (len(response.json()["data"]), response.json()["total"]) == (0, 3)


def test_detail_has_the_contract_shape(api, reviewer, spin):
    image = processed(ImageFactory(session=spin, angle_deg=15, created_at=T0))
    response = api(reviewer).get(f"/v1/images/{image.id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["id"] == str(image.id)
    assert body["session_id"] == str(spin.id)
    assert body["vehicle_id"] == str(spin.vehicle_id)
    assert body["storage_key"] == image.storage_key
    assert (body["width"], body["height"]) == (4032, 3024)
    assert body["exif"] == {"iso": 100, "shutter": "1/250", "aperture": "f/1.8"}
    assert body["published_at"] is None
    assert body["error"] is None
    assert set(body["thumb_urls"]) == {"150", "600", "1200"}


def test_detail_of_a_failed_image_says_why(api, reviewer, spin):
    image = ImageFactory(session=spin, status=Image.Status.FAILED, error="checksum_mismatch")
    body = api(reviewer).get(f"/v1/images/{image.id}").json()
    assert (body["status"], body["error"]) == ("failed", "checksum_mismatch")


def test_detail_of_another_orgs_image_is_not_found(api, outsider, spin):
    image = ImageFactory(session=spin)
    response = api(outsider).get(f"/v1/images/{image.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_detail_of_an_image_at_another_site_is_not_found(api, org, other_site, reviewer):
    image = ImageFactory(session=CaptureSessionFactory(org=org, site=other_site))
    assert api(reviewer).get(f"/v1/images/{image.id}").status_code == 404


def test_detail_with_a_malformed_id_is_not_found(api, reviewer):
    response = api(reviewer).get("/v1/images/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_detail_query_count(api, reviewer, spin, django_assert_num_queries):
    image = processed(ImageFactory(session=spin))
    client = api(reviewer)
    # 1 the user behind the token, 2 the image within the reviewer's sites, 3 its perceptual
    # signature (none here: never processed by the pipeline, so no duplicates to look up).
    with django_assert_num_queries(3):
        assert client.get(f"/v1/images/{image.id}").status_code == 200
