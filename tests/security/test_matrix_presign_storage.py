"""SECURITY.md, "Presign and storage", line by line: the API, then the store (SeaweedFS,
which checks what moto would accept), then the size checks and what a failure leaves."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from images_app import storage
from images_app.models import Image
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import assert_error, presign, put_upload, s3_error_code, upload_complete

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of a car" * 256 + b"\xff\xd9"
EXPIRY_GUARD_SECONDS = 15


@pytest.fixture
def session(org, site, device):
    return CaptureSessionFactory(
        org=org, site=site, device=device, mode=CaptureSession.Mode.STILLS, shot_list={}
    )


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- the key is the server's; the file name is metadata


@pytest.mark.parametrize(
    "file_name",
    ["../../../etc/passwd.jpg", "%2e%2e%2f%2e%2e%2fkeys.jpg", "..\\..\\win.ini", "/abs/x.jpg"],
    ids=["dot-dot", "encoded-dot-dot", "backslashes", "absolute"],
)
def test_a_traversal_file_name_keeps_the_server_built_key(
    api, device, session, settings, file_name
):
    response = presign(api(device), session, PHOTO, file_name=file_name)

    assert response.status_code == 200, response.content
    image = Image.objects.get(pk=response.json()["image_id"])
    expected = f"org/{session.org_id}/site/{session.site_id}/session/{session.id}/{image.id}.jpg"
    assert image.storage_key == response.json()["storage_key"] == expected
    assert urlsplit(response.json()["upload_url"]).path == f"/{settings.S3_BUCKET}/{expected}"
    assert image.file_name == file_name  # kept as metadata, verbatim


def test_a_nul_in_the_file_name_is_400_and_creates_nothing(api, device, session):
    body = {
        "session_id": str(session.id),
        "file_name": "a\u0000.jpg",
        "content_type": "image/jpeg",
        "content_sha256": "0" * 64,
    }

    response = api(device).post("/v1/presign", json.dumps(body), content_type="application/json")

    assert_error(response, 400, "MALFORMED_REQUEST")
    assert not Image.objects.exists()


@pytest.mark.parametrize(
    "file_name",
    ["x" * 2048, "a\u0001b.jpg", "gpj.\u202eexe", "line\nbreak.jpg"],
    ids=["2-kb", "control-character", "bidi-override", "newline"],
)
def test_an_overlong_or_control_character_file_name_is_400(api, device, session, file_name):
    response = presign(api(device), session, PHOTO, file_name=file_name)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"file_name"}
    assert not Image.objects.exists()


# --- exactly two content types


@pytest.mark.parametrize(
    "content_type",
    ["image/svg+xml", "text/html", "IMAGE/JPEG", "image/jpeg; x=1", "image/png", " image/jpeg"],
)
def test_content_types_other_than_exactly_jpeg_or_heic_are_400(api, device, session, content_type):
    response = presign(api(device), session, PHOTO, content_type=content_type)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"content_type"}


# --- SigV4, signing the content type and the checksum, in every region


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_upload_urls_are_sigv4_and_sign_the_type_and_checksum(
    api, device, session, settings, region
):
    settings.S3_REGION = region

    response = presign(api(device), session, PHOTO)

    query = query_of(response.json()["upload_url"])
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert f"/{region}/s3/aws4_request" in query["X-Amz-Credential"]
    signed = query["X-Amz-SignedHeaders"].split(";")
    assert {"content-type", "x-amz-checksum-sha256", "host"} <= set(signed)


# --- what the store refuses


def test_the_store_accepts_the_genuine_put(api, device, session):
    presigned = presign(api(device), session, PHOTO).json()

    assert put_upload(presigned, PHOTO).status_code == 200
    assert storage.object_size(key=presigned["storage_key"]) == len(PHOTO)


def test_the_store_refuses_another_content_type(api, device, session):
    presigned = presign(api(device), session, PHOTO).json()

    response = put_upload(presigned, PHOTO, **{"Content-Type": "text/html"})

    assert (response.status_code, s3_error_code(response)) == (403, "SignatureDoesNotMatch")
    assert storage.object_size(key=presigned["storage_key"]) is None


def test_the_store_refuses_bytes_whose_sha256_differs(api, device, session):
    presigned = presign(api(device), session, PHOTO).json()

    response = put_upload(presigned, PHOTO[:-1] + b"\x00")

    assert (response.status_code, s3_error_code(response)) == (400, "BadDigest")
    assert storage.object_size(key=presigned["storage_key"]) is None


def test_the_store_refuses_a_tampered_signature(api, device, session):
    presigned = presign(api(device), session, PHOTO).json()
    signature = query_of(presigned["upload_url"])["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    presigned["upload_url"] = presigned["upload_url"].replace(signature, flipped)

    response = put_upload(presigned, PHOTO)

    assert (response.status_code, s3_error_code(response)) == (403, "SignatureDoesNotMatch")


def test_the_store_refuses_an_expired_url(api, device, session, settings):
    settings.UPLOAD_URL_TTL_SECONDS = 1
    presigned = presign(api(device), session, PHOTO).json()

    # The URL lives one second: retry until the store says so (bounded, no fixed sleep).
    deadline = time.monotonic() + EXPIRY_GUARD_SECONDS
    while (response := put_upload(presigned, PHOTO)).status_code == 200:
        assert time.monotonic() < deadline, "the store kept accepting an expired URL"
        time.sleep(0.2)

    assert (response.status_code, s3_error_code(response)) == (403, "AccessDenied")
    assert "expired" in response.text.lower()


# --- the size: bounded by the store when declared, by the worker otherwise


def test_the_store_refuses_a_body_larger_than_the_declared_length(api, device, session):
    large = PHOTO * 32  # its checksum presigned, a small length declared
    presigned = presign(api(device), session, large, content_length=len(PHOTO)).json()

    response = put_upload(presigned, large)

    assert (response.status_code, s3_error_code(response)) == (403, "SignatureDoesNotMatch")
    assert storage.object_size(key=presigned["storage_key"]) is None


def test_a_declared_length_over_the_upload_limit_is_refused_at_presign(
    api, device, session, settings
):
    response = presign(api(device), session, PHOTO, content_length=settings.MAX_UPLOAD_BYTES + 1)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"content_length"}
    assert not Image.objects.exists()


def test_the_worker_fails_an_object_over_the_size_limit_before_downloading(
    api, device, admin, session, settings, django_capture_on_commit_callbacks
):
    settings.MAX_UPLOAD_BYTES = len(PHOTO) - 1
    presigned = presign(api(device), session, PHOTO).json()
    assert put_upload(presigned, PHOTO).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert upload_complete(api(device), presigned["image_id"]).status_code == 201

    detail = api(admin).get(f"/v1/images/{presigned['image_id']}").json()
    assert (detail["status"], detail["error"], detail["thumb_keys"]) == ("failed", "too_large", {})
    # The failure is final: the object does not stay in the bucket.
    assert storage.object_size(key=presigned["storage_key"]) is None


def test_an_original_of_an_unsupported_format_does_not_stay_in_the_bucket(
    api, device, admin, session, django_capture_on_commit_callbacks
):
    page = b"<html><script>alert(1)</script></html>"
    presigned = presign(api(device), session, page, content_length=len(page)).json()
    assert put_upload(presigned, page).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert upload_complete(api(device), presigned["image_id"]).status_code == 201

    detail = api(admin).get(f"/v1/images/{presigned['image_id']}").json()
    assert (detail["status"], detail["error"]) == ("failed", "unsupported_format")
    assert storage.object_size(key=presigned["storage_key"]) is None


# --- a presigned PUT outlives the device's revocation: the upload does not


def real_photo() -> bytes:
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.effect_noise((640, 480), 60).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def test_an_upload_put_after_its_device_was_revoked_is_failed_and_deleted_by_the_sweeper(
    api, device, admin, session
):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import device_revoke
    from images_app.services import uploads_sweep

    data = real_photo()
    presigned = presign(api(device), session, data).json()
    device_revoke(device=device, actor=admin)
    # The URL is still good (the store cannot know) and the device's report is refused...
    assert put_upload(presigned, data).status_code == 200
    assert upload_complete(api(device), presigned["image_id"]).status_code == 401

    # ...so only the sweeper finds the object, and does not process it.
    summary = uploads_sweep(now=timezone.now() + timedelta(minutes=11))

    assert summary.revoked == [uuid.UUID(presigned["image_id"])] and summary.enqueued == []
    detail = api(admin).get(f"/v1/images/{presigned['image_id']}").json()
    assert (detail["status"], detail["error"], detail["thumb_keys"]) == (
        "failed",
        "device_revoked",
        {},
    )
    assert storage.object_size(key=Image.objects.get().storage_key) is None
    assert str(summary).endswith(", failed 1 sent by revoked devices")


def test_an_upload_the_device_reported_before_its_revocation_is_still_processed(
    api, device, admin, session, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import device_revoke
    from images_app.services import uploads_sweep

    data = real_photo()
    presigned = presign(api(device), session, data).json()
    assert put_upload(presigned, data).status_code == 200
    with django_capture_on_commit_callbacks(execute=False):  # the broker loses the task
        assert upload_complete(api(device), presigned["image_id"]).status_code == 201
    device_revoke(device=device, actor=admin)

    summary = uploads_sweep(now=timezone.now() + timedelta(minutes=11))

    assert summary.enqueued == [uuid.UUID(presigned["image_id"])] and summary.revoked == []
    detail = api(admin).get(f"/v1/images/{presigned['image_id']}").json()
    assert detail["status"] == "processed"
