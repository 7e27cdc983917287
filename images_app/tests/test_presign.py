"""POST /v1/presign through HTTP, with the PUTs going to a real S3 (SeaweedFS)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from types import SimpleNamespace

import pytest
import requests
from django.db import connection

from accounts.tests.factories import DeviceFactory, UserFactory
from images_app import storage
from images_app.models import Image
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.usefixtures("s3")

PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of a car" * 64 + b"\xff\xd9"
RESPONSE_KEYS = {
    "upload_url",
    "storage_key",
    "headers",
    "expires_at",
    "image_id",
    "frame_index",
    "angle_deg",
    "shot_name",
    "replaces_image_id",  # additive: set for a reshoot's replacement
}


def _sha(data: bytes = PHOTO) -> str:
    return hashlib.sha256(data).hexdigest()


def _body(session: CaptureSession, data: bytes = PHOTO, **fields) -> dict:
    return {
        "session_id": str(session.id),
        "file_name": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "content_sha256": _sha(data),
        **fields,
    }


def _presign(client, session: CaptureSession, data: bytes = PHOTO, **fields):
    return client.post("/v1/presign", _body(session, data, **fields), format="json")


@pytest.fixture
def spin(org, site, device) -> CaptureSession:
    """A 24-frame studio spin the device started."""
    return CaptureSessionFactory(org=org, site=site, device=device)


@pytest.fixture
def stills(org, site, operator) -> CaptureSession:
    return CaptureSessionFactory(
        org=org,
        site=site,
        operator=operator,
        mode=CaptureSession.Mode.STILLS,
        shot_list={"stills": ["front_3q", "rear_3q", "interior", "dash"]},
    )


# --- the contract's happy path


def test_device_gets_a_presigned_put_in_the_contract_shape(api, device, spin):
    response = _presign(api(device), spin)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == RESPONSE_KEYS
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in body["upload_url"]
    assert body["headers"] == {
        "Content-Type": "image/jpeg",
        "x-amz-content-sha256": _sha(),
        "x-amz-checksum-sha256": storage.sha256_base64(_sha()),
    }
    assert body["storage_key"] == (
        f"org/{spin.org_id}/site/{spin.site_id}/session/{spin.id}/{body['image_id']}.jpg"
    )
    assert body["upload_url"].split("?")[0].endswith("/" + body["storage_key"])


def test_the_url_expires_in_fifteen_minutes_and_says_so_in_utc(api, device, spin):
    before = dt.datetime.now(dt.UTC)

    expires_at = _presign(api(device), spin).json()["expires_at"]

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", expires_at)
    parsed = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    assert before + dt.timedelta(minutes=15) - dt.timedelta(seconds=1) <= parsed
    assert parsed <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)


def test_presign_creates_the_pending_image(api, device, spin):
    body = _presign(api(device), spin, file_name="front.jpg").json()

    image = Image.objects.get(pk=body["image_id"])
    assert image.status == Image.Status.PENDING
    assert (image.org_id, image.session_id, image.vehicle_id) == (
        spin.org_id,
        spin.id,
        spin.vehicle_id,
    )
    assert image.file_name == "front.jpg"
    assert image.content_type == "image/jpeg"
    assert image.content_sha256 == _sha()
    assert image.storage_key == body["storage_key"]
    assert image.uploaded_at is None


def test_put_with_the_returned_headers_lands_the_exact_bytes(api, device, spin):
    body = _presign(api(device), spin).json()

    put = requests.put(body["upload_url"], data=PHOTO, headers=body["headers"])

    assert put.status_code == 200, put.text
    assert storage.get_bytes(key=body["storage_key"], max_bytes=len(PHOTO)) == PHOTO


def test_the_store_refuses_a_put_with_another_content_type_or_other_bytes(api, device, spin):
    body = _presign(api(device), spin).json()

    wrong_type = requests.put(
        body["upload_url"], data=PHOTO, headers={**body["headers"], "Content-Type": "text/html"}
    )
    wrong_bytes = requests.put(body["upload_url"], data=PHOTO + b"!", headers=body["headers"])

    assert wrong_type.status_code == 403
    assert wrong_bytes.status_code == 400
    assert storage.object_size(key=body["storage_key"]) is None


# --- a declared length, signed into the URL


def _signed_headers(url: str) -> list[str]:
    (names,) = re.findall(r"X-Amz-SignedHeaders=([^&]+)", url)
    return names.split("%3B")


def test_a_declared_length_is_signed_and_the_store_takes_exactly_those_bytes(api, device, spin):
    body = _presign(api(device), spin, content_length=len(PHOTO)).json()

    put = requests.put(body["upload_url"], data=PHOTO, headers=body["headers"])

    assert "content-length" in _signed_headers(body["upload_url"])
    assert set(body) == RESPONSE_KEYS  # the response is the same
    assert put.status_code == 200, put.text
    assert storage.object_size(key=body["storage_key"]) == len(PHOTO)


def test_without_a_declared_length_the_length_is_not_signed(api, device, spin):
    body = _presign(api(device), spin).json()

    assert "content-length" not in _signed_headers(body["upload_url"])


@pytest.mark.parametrize("declared", [len(PHOTO) - 1, len(PHOTO) + 1], ids=["shorter", "longer"])
def test_the_store_refuses_a_put_whose_length_is_not_the_declared_one(api, device, spin, declared):
    body = _presign(api(device), spin, content_length=declared).json()

    put = requests.put(body["upload_url"], data=PHOTO, headers=body["headers"])

    assert put.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in put.text
    assert storage.object_size(key=body["storage_key"]) is None


def test_the_store_refuses_a_body_far_over_the_declared_length(api, device, spin):
    # The attack in miniature: a checksum presigned for a huge body, a small length declared.
    huge = PHOTO * 64
    body = _presign(api(device), spin, data=huge, content_length=len(PHOTO)).json()

    put = requests.put(body["upload_url"], data=huge, headers=body["headers"])

    assert put.status_code == 403
    assert storage.object_size(key=body["storage_key"]) is None


def test_the_maximum_upload_size_is_accepted(api, device, spin, settings):
    response = _presign(api(device), spin, content_length=settings.MAX_UPLOAD_BYTES)

    assert response.status_code == 200, response.json()
    assert settings.MAX_UPLOAD_BYTES == 50 * 1024 * 1024  # the default


def test_a_length_over_the_maximum_upload_size_is_refused(api, device, spin, settings):
    response = _presign(api(device), spin, content_length=settings.MAX_UPLOAD_BYTES + 1)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]) == {"content_length"}
    assert not Image.objects.exists()


def test_the_maximum_follows_the_setting(api, device, spin, settings):
    settings.MAX_UPLOAD_BYTES = len(PHOTO)

    fits = _presign(api(device), spin, content_length=len(PHOTO))
    over = _presign(api(device), spin, data=PHOTO + b"!", content_length=len(PHOTO) + 1)

    assert fits.status_code == 200
    assert over.status_code == 400
    assert set(over.json()["error"]["details"]) == {"content_length"}


@pytest.mark.parametrize(
    "declared",
    [0, -1, "1024", 1024.0, 1.5, True, [1024], {"bytes": 1024}, 10**30],
    ids=["zero", "negative", "string", "float", "fraction", "bool", "list", "object", "huge"],
)
def test_a_length_that_is_not_a_whole_number_from_1_is_refused(api, device, spin, declared):
    response = _presign(api(device), spin, content_length=declared)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]) == {"content_length"}
    assert not Image.objects.exists()


def test_a_null_length_is_the_same_as_none(api, device, spin):
    body = _presign(api(device), spin, content_length=None).json()

    assert "content-length" not in _signed_headers(body["upload_url"])


def test_a_retry_declaring_another_length_gets_the_same_image_and_a_url_for_that_length(
    api, device, spin
):
    client = api(device)
    wrong = _presign(client, spin, content_length=len(PHOTO) + 10).json()
    refused = requests.put(wrong["upload_url"], data=PHOTO, headers=wrong["headers"])

    right = _presign(client, spin, content_length=len(PHOTO)).json()
    stored = requests.put(right["upload_url"], data=PHOTO, headers=right["headers"])

    assert right["image_id"] == wrong["image_id"]
    assert Image.objects.count() == 1
    assert (refused.status_code, stored.status_code) == (403, 200)
    assert storage.object_size(key=right["storage_key"]) == len(PHOTO)


def test_heic_gets_a_heic_key(api, device, spin):
    body = _presign(api(device), spin, content_type="image/heic", file_name="IMG_1.HEIC").json()

    assert body["storage_key"].endswith(f"/{body['image_id']}.heic")
    assert body["headers"]["Content-Type"] == "image/heic"


def test_an_upper_case_digest_is_stored_lower_case(api, device, spin):
    body = _presign(api(device), spin, content_sha256=_sha().upper()).json()

    assert body["headers"]["x-amz-content-sha256"] == _sha()
    assert Image.objects.get(pk=body["image_id"]).content_sha256 == _sha()


@pytest.mark.parametrize(
    "file_name",
    [
        "../../../etc/passwd",
        "%2e%2e%2f%2e%2e%2fsecret.jpg",
        "..\\..\\windows\\win.ini",
        "/absolute/path.jpg",
        "org/other/site/x/session/y/z.jpg",
        "ünïcødé 写真.jpg",
        "x" * 255,
    ],
)
def test_file_name_tricks_never_reach_the_key(api, device, spin, file_name):
    response = _presign(api(device), spin, file_name=file_name)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["storage_key"] == (
        f"org/{spin.org_id}/site/{spin.site_id}/session/{spin.id}/{body['image_id']}.jpg"
    )
    assert Image.objects.get(pk=body["image_id"]).file_name == file_name


def test_an_operator_presigns_for_their_own_session(api, operator, stills):
    response = _presign(api(operator), stills, shot_name="dash")

    assert response.status_code == 200, response.json()
    assert response.json()["shot_name"] == "dash"


def test_an_admin_presigns_for_any_session_of_the_org(api, admin, spin, org, other_site):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)

    assert _presign(api(admin), spin).status_code == 200
    assert _presign(api(admin), elsewhere).status_code == 200


# --- validation


@pytest.mark.parametrize(
    "content_type",
    [
        "IMAGE/JPEG",
        "image/jpeg; x=1",
        "image/jpeg ",
        "image/svg+xml",
        "text/html",
        "image/png",
        "image/jpg",
        "",
        None,
        1,
        ["image/jpeg"],
    ],
)
def test_content_types_other_than_exactly_jpeg_or_heic_are_refused(api, device, spin, content_type):
    response = _presign(api(device), spin, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "content_type" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    "sha",
    ["", "abc", "g" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n", " " + "a" * 63, None, 123],
)
def test_a_malformed_content_sha256_is_refused(api, device, spin, sha):
    response = _presign(api(device), spin, content_sha256=sha)

    assert response.status_code == 400
    assert "content_sha256" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    "file_name",
    [
        "",
        "   ",
        "x" * 256,
        "a\x01b.jpg",
        "line\nbreak.jpg",
        "tab\t.jpg",
        "\x7f.jpg",
        "gpj.\u202eexe",
        None,
        123,
    ],
)
def test_a_bad_file_name_is_refused(api, device, spin, file_name):
    response = _presign(api(device), spin, file_name=file_name)

    assert response.status_code == 400
    assert "file_name" in response.json()["error"]["details"]


def _post_raw(client, body: dict):
    # json.dumps writes "\u0000" and lone surrogates as escapes, as a hostile client would.
    return client.post("/v1/presign", data=json.dumps(body), content_type="application/json")


def test_a_nul_in_the_file_name_is_refused(api, device, spin):
    response = _post_raw(api(device), _body(spin, file_name="a\x00.jpg"))

    assert response.status_code == 400
    assert not Image.objects.exists()


def test_a_lone_surrogate_in_the_file_name_is_refused(api, device, spin):
    response = _post_raw(api(device), _body(spin, file_name="a\ud800.jpg"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_REQUEST"
    assert not Image.objects.exists()


@pytest.mark.parametrize("missing", ["session_id", "file_name", "content_type", "content_sha256"])
def test_each_required_field_is_required(api, device, spin, missing):
    body = _body(spin)
    del body[missing]

    response = api(device).post("/v1/presign", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()["error"]["details"]


@pytest.mark.parametrize("session_id", ["not-a-uuid", "", 42, None, "../sessions"])
def test_a_malformed_session_id_is_refused(api, device, spin, session_id):
    response = _presign(api(device), spin, session_id=session_id)

    assert response.status_code == 400
    assert "session_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("angle", [-1, 360, 1000, "90", 90.5, True])
def test_angle_outside_0_to_359_or_not_an_integer_is_refused(api, device, spin, angle):
    response = _presign(api(device), spin, angle_deg=angle)

    assert response.status_code == 400
    assert "angle_deg" in response.json()["error"]["details"]


@pytest.mark.parametrize("index", [-1, "3", 2.5, False])
def test_a_frame_index_that_is_not_a_whole_number_from_0_is_refused(api, device, spin, index):
    response = _presign(api(device), spin, frame_index=index)

    assert response.status_code == 400
    assert "frame_index" in response.json()["error"]["details"]


@pytest.mark.parametrize("index", [24, 25])
def test_a_frame_index_beyond_the_spin_conflicts_with_the_session(api, device, spin, index):
    response = _presign(api(device), spin, frame_index=index)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLACEMENT_CONFLICT"
    assert "frame_index" in response.json()["error"]["details"]


def test_angle_and_frame_together_are_refused(api, device, spin):
    response = _presign(api(device), spin, angle_deg=75, frame_index=5)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_shot_name_on_a_spin_is_refused(api, device, spin):
    response = _presign(api(device), spin, shot_name="front_3q")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLACEMENT_CONFLICT"
    assert "shot_name" in response.json()["error"]["details"]


@pytest.mark.parametrize("field", [{"angle_deg": 90}, {"frame_index": 1}])
def test_angles_and_frames_on_a_stills_session_are_refused(api, operator, stills, field):
    response = _presign(api(operator), stills, **field)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLACEMENT_CONFLICT"
    assert set(response.json()["error"]["details"]) == set(field)


def test_a_shot_name_outside_the_shot_list_is_refused(api, operator, stills):
    response = _presign(api(operator), stills, shot_name="engine_bay")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLACEMENT_CONFLICT"
    assert "shot_name" in response.json()["error"]["details"]
    assert not Image.objects.exists()


def test_stills_without_a_shot_list_take_any_shot_name_or_none(api, org, site, device):
    session = CaptureSessionFactory(
        org=org, site=site, device=device, mode=CaptureSession.Mode.STILLS, shot_list={}
    )

    named = _presign(api(device), session, shot_name="engine_bay")
    unnamed = _presign(api(device), session, data=b"other bytes")

    assert named.status_code == 200
    assert named.json()["shot_name"] == "engine_bay"
    assert unnamed.status_code == 200
    assert unnamed.json()["shot_name"] is None
    assert unnamed.json()["angle_deg"] is None


def test_validation_errors_create_nothing(api, device, spin):
    _presign(api(device), spin, content_type="image/svg+xml")
    _presign(api(device), spin, frame_index=99)

    assert not Image.objects.exists()


# --- who may presign


def test_another_orgs_session_is_not_found_like_a_missing_one(api, device, other_org):
    theirs = CaptureSessionFactory(org=other_org)
    missing = SimpleNamespace(id=uuid.uuid4())

    foreign = _presign(api(device), theirs)
    absent = _presign(api(device), missing)

    assert foreign.status_code == absent.status_code == 404
    assert foreign.json()["error"] == absent.json()["error"]


def test_an_outsider_admin_cannot_presign_into_our_session(api, outsider, spin):
    assert _presign(api(outsider), spin).status_code == 404


def test_a_user_without_access_to_the_site_gets_not_found(api, operator, org, other_site):
    session = CaptureSessionFactory(org=org, site=other_site, operator=operator)

    assert _presign(api(operator), session).status_code == 404


def test_another_devices_session_is_forbidden(api, org, spin):
    other_device = DeviceFactory(org=org)

    response = _presign(api(other_device), spin)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_device_no_longer_allowed_at_the_site_is_forbidden(api, device, spin, other_site):
    device.sites.set([other_site])

    assert _presign(api(device), spin).status_code == 403


def test_a_device_allowed_at_the_site_may_presign(api, device, spin, site):
    device.sites.set([site])

    assert _presign(api(device), spin).status_code == 200


def test_an_operator_of_the_site_cannot_presign_into_a_device_session(api, operator, spin):
    assert _presign(api(operator), spin).status_code == 403


def test_a_reviewer_of_the_site_cannot_presign_into_an_operators_session(api, reviewer, stills):
    assert _presign(api(reviewer), stills).status_code == 403


def test_another_operator_of_the_same_site_is_forbidden(api, org, site, stills):
    colleague = UserFactory(org=org, sites=[site])

    assert _presign(api(colleague), stills).status_code == 403


def test_a_device_cannot_presign_into_an_operators_session(api, device, stills):
    assert _presign(api(device), stills).status_code == 403


def test_no_token_is_unauthorized(api, spin):
    response = _presign(api(), spin)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_revoked_device_is_unauthorized(api, device, spin):
    client = api(device)
    device.revoked_at = dt.datetime.now(dt.UTC)
    device.save(update_fields=["revoked_at"])

    assert _presign(client, spin).status_code == 401


@pytest.mark.parametrize(
    "status",
    [
        CaptureSession.Status.COMPLETE,
        CaptureSession.Status.ABANDONED,
        CaptureSession.Status.FAILED,
    ],
)
def test_a_finished_session_is_a_conflict(api, device, spin, status):
    CaptureSession.objects.filter(pk=spin.pk).update(status=status)

    response = _presign(api(device), spin)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SESSION_NOT_ACTIVE"
    assert response.json()["error"]["details"] == {"status": status}


def test_form_encoded_bodies_are_refused(api, device, spin):
    response = api(device).post("/v1/presign", _body(spin))

    assert response.status_code == 415


def test_presign_is_rate_limited_per_device(api, device, spin, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "presign": 2}
    client = api(device)

    statuses = [_presign(client, spin, data=bytes([i])).status_code for i in range(3)]

    assert statuses == [200, 200, 429]


# --- retries


def test_a_device_retry_gets_the_same_image_with_a_fresh_url(api, device, spin):
    client = api(device)

    first = _presign(client, spin).json()
    again = _presign(client, spin, file_name="IMG_0001 (retry).jpg").json()

    assert again["image_id"] == first["image_id"]
    assert again["storage_key"] == first["storage_key"]
    assert again["frame_index"] == first["frame_index"] == 0
    assert Image.objects.count() == 1
    put = requests.put(again["upload_url"], data=PHOTO, headers=again["headers"])
    assert put.status_code == 200


def test_the_same_bytes_after_processing_started_are_a_new_image(api, device, spin):
    client = api(device)
    first = _presign(client, spin).json()
    Image.objects.filter(pk=first["image_id"]).update(status=Image.Status.PROCESSING)

    again = _presign(client, spin).json()

    assert again["image_id"] != first["image_id"]
    assert again["frame_index"] == 1


def test_the_same_bytes_in_another_session_are_another_image(api, org, site, device, spin):
    other = CaptureSessionFactory(org=org, site=site, device=device)

    first = _presign(api(device), spin).json()
    second = _presign(api(device), other).json()

    assert first["image_id"] != second["image_id"]


# --- spin frames


def test_two_presigns_without_a_frame_get_frames_0_and_1(api, device, spin):
    client = api(device)

    first = _presign(client, spin, data=b"frame a").json()
    second = _presign(client, spin, data=b"frame b").json()

    assert (first["frame_index"], first["angle_deg"]) == (0, 0)
    assert (second["frame_index"], second["angle_deg"]) == (1, 15)


def test_frame_5_of_24_is_at_75_degrees(api, device, spin):
    body = _presign(api(device), spin, frame_index=5).json()

    assert (body["frame_index"], body["angle_deg"]) == (5, 75)
    image = Image.objects.get(pk=body["image_id"])
    assert (image.frame_index, image.angle_deg) == (5, 75)


def test_angles_round_down_for_frame_counts_that_do_not_divide_360(api, org, site, device):
    session = CaptureSessionFactory(
        org=org, site=site, device=device, shot_list={"studio360": {"frame_count": 7}}
    )

    body = _presign(api(device), session, frame_index=3).json()

    assert body["angle_deg"] == 154  # floor(3 * 360 / 7) = floor(154.28…)


def test_an_explicit_angle_on_a_frame_takes_that_frame(api, device, spin):
    client = api(device)

    on_frame = _presign(client, spin, data=b"a", angle_deg=75).json()
    between = _presign(client, spin, data=b"b", angle_deg=7).json()

    assert (on_frame["frame_index"], on_frame["angle_deg"]) == (5, 75)
    assert (between["frame_index"], between["angle_deg"]) == (None, 7)


def test_automatic_frames_fill_the_gaps_left_by_explicit_ones(api, device, spin):
    client = api(device)
    _presign(client, spin, data=b"0", frame_index=0)
    _presign(client, spin, data=b"2", frame_index=2)
    _presign(client, spin, data=b"3", angle_deg=45)

    assigned = [_presign(client, spin, data=bytes([i, 9])).json()["frame_index"] for i in range(3)]

    assert assigned == [1, 4, 5]


def test_a_failed_frame_is_free_again(api, device, spin):
    client = api(device)
    first = _presign(client, spin, data=b"blurry").json()
    Image.objects.filter(pk=first["image_id"]).update(status=Image.Status.FAILED)

    retake = _presign(client, spin, data=b"sharp").json()

    assert retake["frame_index"] == 0


def test_an_explicit_frame_may_be_retaken(api, device, spin):
    client = api(device)
    _presign(client, spin, data=b"first take", frame_index=3)

    retake = _presign(client, spin, data=b"second take", frame_index=3)

    assert retake.status_code == 200
    assert retake.json()["frame_index"] == 3


def test_when_every_frame_is_taken_an_automatic_frame_is_a_conflict(api, org, site, device):
    session = CaptureSessionFactory(
        org=org,
        site=site,
        device=device,
        mode=CaptureSession.Mode.WALK360,
        shot_list={"walk360": {"frame_count": 2}},
    )
    client = api(device)
    assert [_presign(client, session, data=d).json()["angle_deg"] for d in (b"a", b"b")] == [0, 180]

    response = _presign(client, session, data=b"c")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NO_FREE_FRAME"
    assert response.json()["error"]["details"] == {"frame_count": 2}


@pytest.mark.parametrize("shot_list", [{}, {"studio360": {"frame_count": "24"}}])
def test_a_spin_without_a_usable_frame_count_takes_angles_but_no_frames(
    api, org, site, device, shot_list
):
    session = CaptureSessionFactory(org=org, site=site, device=device, shot_list=shot_list)
    client = api(device)

    automatic = _presign(client, session, data=b"a")
    by_angle = _presign(client, session, data=b"b", angle_deg=90)
    by_frame = _presign(client, session, data=b"c", frame_index=0)

    assert (automatic.json()["frame_index"], automatic.json()["angle_deg"]) == (None, None)
    assert (by_angle.json()["frame_index"], by_angle.json()["angle_deg"]) == (None, 90)
    assert by_frame.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_concurrent_presigns_get_distinct_frames(api, device, spin):
    client_count = 6
    results: list[int | None] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(client_count)

    def presign(n: int) -> None:
        try:
            client = api(device)
            barrier.wait(timeout=30)
            response = _presign(client, spin, data=f"frame {n}".encode())
            results.append(response.json().get("frame_index"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=presign, args=(n,)) for n in range(client_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert sorted(results) == list(range(client_count))


# --- documentation


def test_the_schema_documents_the_presign_request_response_and_errors(api):
    schema = api().get("/v1/openapi.json").json()

    operation = schema["paths"]["/v1/presign"]["post"]
    assert set(operation["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "414",
        "415",
        "429",
    }
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][request_ref.rsplit("/", 1)[1]]
    assert set(request["required"]) == {
        "session_id",
        "file_name",
        "content_type",
        "content_sha256",
    }
    content_length = request["properties"]["content_length"]
    assert content_length["type"] == "integer"
    assert (content_length["minimum"], content_length["maximum"]) == (1, 50 * 1024 * 1024)
    assert content_length["nullable"] is True
    content_type = request["properties"]["content_type"]
    if "$ref" in content_type:
        content_type = schema["components"]["schemas"][content_type["$ref"].rsplit("/", 1)[1]]
    assert content_type["enum"] == ["image/jpeg", "image/heic"]
