"""A vehicle's publication through the API: versions, the manifest, rollback, withdraw.

The render task runs in-process when the version's transaction commits (no REDIS_URL:
Celery's eager mode), against the real SeaweedFS of the ``s3`` fixture.
"""

from __future__ import annotations

import urllib.request

import pytest

from images_app.models import Image
from publishing import public_store
from publishing.models import Publication, PublicationVersion
from publishing.tests.helpers import photo, validate_manifest
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Run what the request enqueued on commit (the render task), as a real commit would."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


@pytest.fixture
def spin_session(org, site):
    return CaptureSessionFactory(
        org=org, site=site, mode="studio360", shot_list={"studio360": {"frame_count": 4}}
    )


@pytest.fixture
def spin(spin_session, s3):
    return [photo(spin_session, frame_index=i, angle_deg=i * 90, seed=i) for i in range(4)]


@pytest.fixture
def stills(org, site, spin_session, s3):
    session = CaptureSessionFactory(
        org=org,
        site=site,
        vehicle=spin_session.vehicle,
        mode="stills",
        shot_list={"stills": ["front_3q", "interior"]},
    )
    return [
        photo(session, shot_name="interior", seed=10),
        photo(session, shot_name="front_3q", seed=11, width=1600, height=1200),
    ]


def publish_all(client, images):
    for image in images:
        assert client.post(f"/v1/images/{image.id}/publish").status_code == 200


def public_get(url: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Origin": "https://dealer.example"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def public_manifest(vehicle_id) -> dict:
    import json

    status, _, body = public_get(public_store.url(public_store.manifest_key(vehicle_id)))
    assert status == 200
    return validate_manifest(json.loads(body))


def test_publishing_a_spin_and_stills_makes_a_live_manifest_in_the_public_store(
    api, reviewer, spin, stills, committing
):
    client = api(reviewer)
    vehicle_id = spin[0].vehicle_id

    committing(lambda: publish_all(client, spin + stills))

    manifest = public_manifest(vehicle_id)
    assert manifest["status"] == "live"
    assert manifest["version"] == Publication.objects.get(vehicle_id=vehicle_id).version
    assert [f["angle_deg"] for f in manifest["spin"]["frames"]] == [0, 90, 180, 270]
    assert [f["index"] for f in manifest["spin"]["frames"]] == [0, 1, 2, 3]
    assert manifest["spin"]["direction"] == "clockwise"
    # Stills in the shot list's order, with human labels; the hero is the first still.
    assert [(s["shot"], s["label"]) for s in manifest["stills"]] == [
        ("front_3q", "Front 3/4"),
        ("interior", "Interior"),
    ]
    assert manifest["hero"]["id"] == str(stills[1].id)
    front = manifest["stills"][0]
    assert (front["width"], front["height"]) == (1600, 1200)
    assert [r["width"] for r in front["renditions"]["jpeg"]] == [320, 640, 1024, 1600]
    assert [r["width"] for r in front["renditions"]["webp"]] == [320, 640, 1024, 1600]
    # 1200 px wide: never enlarged to 1600.
    interior = manifest["stills"][1]
    assert [r["width"] for r in interior["renditions"]["jpeg"]] == [320, 640, 1024]
    assert front["placeholder"].startswith("data:image/jpeg;base64,")
    text = str(manifest)
    for internal in ("org", "storage_key", "operator", "device", stills[0].storage_key):
        assert f"'{internal}'" not in text and stills[0].storage_key not in text


def test_every_rendition_is_public_immutable_and_readable_from_another_origin(
    api, reviewer, stills, committing
):
    committing(lambda: publish_all(api(reviewer), stills))
    manifest = public_manifest(stills[0].vehicle_id)

    status, headers, body = public_get(manifest["stills"][0]["renditions"]["webp"][0]["url"])
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Type"] == "image/webp"
    assert body[:4] == b"RIFF"
    status, headers, _ = public_get(manifest["manifest_url"])
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["Access-Control-Allow-Origin"] in ("*", "https://dealer.example")


def test_the_originals_stay_private(stills, s3):
    from django.conf import settings

    status, _, _ = public_get(f"{s3.endpoint_url}/{settings.S3_BUCKET}/{stills[0].storage_key}")
    assert status == 403


def test_a_bulk_publish_is_one_version_and_each_later_change_another(
    api, reviewer, spin, stills, committing
):
    from images_app.services import images_publish

    committing(lambda: images_publish(images=spin, actor=reviewer))
    publication = Publication.objects.get(vehicle_id=spin[0].vehicle_id)
    assert publication.version == 1
    committing(lambda: publish_all(api(reviewer), stills))
    publication.refresh_from_db()
    assert (publication.version, publication.live_version) == (3, 3)

    versions = api(reviewer).get(f"/v1/vehicles/{publication.vehicle_id}/publication/versions")

    assert versions.status_code == 200
    body = versions.json()
    assert body["total"] == 3
    first = body["data"][-1]
    assert (first["version"], first["action"], first["created_by"]) == (
        1,
        "bulk_publish",
        reviewer.email,
    )
    assert sorted(first["diff"]["added"]) == sorted(str(i.id) for i in spin)
    assert body["data"][0]["live"] is True


def test_publishing_the_same_image_twice_writes_no_version(api, reviewer, stills, committing):
    client = api(reviewer)
    committing(lambda: publish_all(client, stills[:1]))
    committing(lambda: publish_all(client, stills[:1]))
    assert PublicationVersion.objects.count() == 1


def test_unpublishing_an_image_writes_a_version_without_it(api, reviewer, stills, committing):
    client = api(reviewer)
    committing(lambda: publish_all(client, stills))

    response = committing(lambda: client.post(f"/v1/images/{stills[0].id}/unpublish"))

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    manifest = public_manifest(stills[0].vehicle_id)
    assert [s["id"] for s in manifest["stills"]] == [str(stills[1].id)]
    latest = PublicationVersion.objects.order_by("-number").first()
    assert (latest.action, latest.diff["removed"]) == ("unpublish", [str(stills[0].id)])


def test_unpublishing_an_image_that_is_not_published_is_a_409(api, reviewer, stills):
    response = api(reviewer).post(f"/v1/images/{stills[0].id}/unpublish")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_TRANSITION"


def test_the_api_serves_the_live_manifest_with_an_etag(api, reviewer, stills, committing):
    client = api(reviewer)
    committing(lambda: publish_all(client, stills))
    url = f"/v1/vehicles/{stills[0].vehicle_id}/publication"

    response = client.get(url)

    assert response.status_code == 200
    assert response.json() == public_manifest(stills[0].vehicle_id)
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_rollback_brings_back_an_earlier_version_as_a_new_one(api, reviewer, stills, committing):
    client = api(reviewer)
    vehicle_id = stills[0].vehicle_id
    committing(lambda: publish_all(client, stills[:1]))  # v1: interior
    committing(lambda: publish_all(client, stills[1:]))  # v2: + front
    committing(lambda: client.post(f"/v1/images/{stills[0].id}/unpublish"))  # v3: front

    response = committing(
        lambda: client.post(
            f"/v1/vehicles/{vehicle_id}/publication/rollback", {"version": 1}, format="json"
        )
    )

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 4
    assert Publication.objects.get(vehicle_id=vehicle_id).live_version == 4
    manifest = public_manifest(vehicle_id)
    assert [s["id"] for s in manifest["stills"]] == [str(stills[0].id)]
    v4 = PublicationVersion.objects.get(number=4)
    assert (v4.action, v4.diff["rolled_back_to"]) == ("rollback", 1)
    assert Image.objects.get(pk=stills[1].pk).status == Image.Status.PROCESSED


def test_rollback_to_a_version_that_does_not_exist_is_a_404(api, reviewer, stills, committing):
    committing(lambda: publish_all(api(reviewer), stills))
    response = api(reviewer).post(
        f"/v1/vehicles/{stills[0].vehicle_id}/publication/rollback", {"version": 9}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("body", [{}, {"version": "1"}, {"version": 0}, {"version": True}])
def test_a_malformed_rollback_is_a_400(api, reviewer, stills, committing, body):
    committing(lambda: publish_all(api(reviewer), stills))
    response = api(reviewer).post(
        f"/v1/vehicles/{stills[0].vehicle_id}/publication/rollback", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_withdraw_publishes_withdrawn_at_once(api, reviewer, spin, stills, committing):
    client = api(reviewer)
    vehicle_id = spin[0].vehicle_id
    committing(lambda: publish_all(client, spin + stills))

    response = committing(lambda: client.post(f"/v1/vehicles/{vehicle_id}/publication/withdraw"))

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    manifest = public_manifest(vehicle_id)
    assert (manifest["status"], manifest["spin"], manifest["stills"]) == ("withdrawn", None, [])
    again = committing(lambda: client.post(f"/v1/vehicles/{vehicle_id}/publication/withdraw"))
    assert again.json()["version"] == response.json()["version"]


def test_a_vehicle_never_published_has_no_publication(api, reviewer, stills):
    response = api(reviewer).get(f"/v1/vehicles/{stills[0].vehicle_id}/publication")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_another_orgs_vehicle_is_a_404(api, outsider, reviewer, stills, committing):
    committing(lambda: publish_all(api(reviewer), stills))
    vehicle_id = stills[0].vehicle_id
    for call in (
        lambda c: c.get(f"/v1/vehicles/{vehicle_id}/publication"),
        lambda c: c.get(f"/v1/vehicles/{vehicle_id}/publication/versions"),
        lambda c: c.post(f"/v1/vehicles/{vehicle_id}/publication/withdraw"),
        lambda c: c.post(f"/v1/images/{stills[0].id}/unpublish"),
    ):
        response = call(api(outsider))
        assert response.status_code == 404
    assert Publication.objects.get(vehicle_id=vehicle_id).status == "live"


def test_operators_and_devices_are_refused(api, operator, device, stills, reviewer, committing):
    committing(lambda: publish_all(api(reviewer), stills))
    vehicle_id = stills[0].vehicle_id
    for principal in (operator, device):
        client = api(principal)
        assert client.get(f"/v1/vehicles/{vehicle_id}/publication").status_code == 403
        assert client.post(f"/v1/vehicles/{vehicle_id}/publication/withdraw").status_code == 403
        assert client.post(f"/v1/images/{stills[0].id}/unpublish").status_code == 403
    assert Publication.objects.get(vehicle_id=vehicle_id).status == "live"
