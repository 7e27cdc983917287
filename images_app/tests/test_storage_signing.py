"""Presigned URLs signed by ``storage.UrlSigner`` are the ones botocore would sign.

botocore's ``generate_presigned_url`` is the reference implementation of SigV4 query
signing; ours must give the same URL, byte for byte, for the same instant. (That the store
accepts them and refuses tampering is tested against SeaweedFS in ``test_storage.py``.)
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from images_app import storage

KEYS = [
    "org/0b6f/site/1c2d/session/9e8f/3a4b.jpg",
    "org/0b6f/site/1c2d/session/9e8f/3a4b/thumb_150.jpg",
    "odd/names with spaces/+plus=equals&amp;~tilde/ü.jpg",
]
SHA256_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _signed_at(url: str) -> dt.datetime:
    (stamp,) = parse_qs(urlsplit(url).query)["X-Amz-Date"]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def _botocore_url(operation: str, params: dict[str, str], ttl: int) -> str:
    from django.conf import settings

    return storage.client(public=True).generate_presigned_url(
        operation,
        Params={"Bucket": settings.S3_BUCKET, **params},
        ExpiresIn=ttl,
        HttpMethod="PUT" if operation == "put_object" else "GET",
    )


@pytest.fixture(
    params=[
        ("http://127.0.0.1:8333", "", "us-east-1"),
        ("https://s3.example.com:443", "", "eu-west-1"),
        ("http://weed.internal:8333", "https://uploads.example.com", "us-east-1"),
        ("", "", "eu-central-1"),  # AWS itself: botocore's regional endpoint
    ],
    ids=["seaweedfs", "https-default-port", "public-endpoint", "aws-regional"],
)
def s3_settings(request, settings):
    endpoint, public_endpoint, region = request.param
    settings.S3_ENDPOINT_URL = endpoint
    settings.S3_PUBLIC_ENDPOINT_URL = public_endpoint or endpoint
    settings.S3_REGION = region
    settings.S3_BUCKET = "imaging-photos"
    settings.AWS_ACCESS_KEY_ID = "AKIAEXAMPLEKEY"
    settings.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    return settings


@pytest.mark.parametrize("key", KEYS)
def test_a_presigned_get_is_the_url_botocore_signs(s3_settings, key):
    reference = _botocore_url("get_object", {"Key": key}, ttl=300)

    ours = storage.url_signer().sign(
        method="GET", key=key, ttl_seconds=300, headers={}, at=_signed_at(reference)
    )

    assert ours == reference


@pytest.mark.parametrize("key", KEYS)
def test_a_presigned_put_signing_type_and_checksum_is_the_url_botocore_signs(s3_settings, key):
    checksum = storage.sha256_base64(SHA256_HEX)
    reference = _botocore_url(
        "put_object", {"Key": key, "ContentType": "image/heic", "ChecksumSHA256": checksum}, 900
    )

    ours = storage.url_signer().sign(
        method="PUT",
        key=key,
        ttl_seconds=900,
        headers={"content-type": "image/heic", "x-amz-checksum-sha256": checksum},
        at=_signed_at(reference),
    )

    assert ours == reference


@pytest.mark.parametrize("key", KEYS)
def test_a_presigned_put_signing_the_length_too_is_the_url_botocore_signs(s3_settings, key):
    checksum = storage.sha256_base64(SHA256_HEX)
    params = {"Key": key, "ContentType": "image/jpeg", "ChecksumSHA256": checksum}
    reference = _botocore_url("put_object", {**params, "ContentLength": 4096}, 900)

    ours = storage.presigned_put(
        key=key,
        content_type="image/jpeg",
        sha256_hex=SHA256_HEX,
        content_length=4096,
        ttl_seconds=900,
    )

    # Signed in the same second (a retry covers the rare tick between the two).
    if _signed_at(ours.url) != _signed_at(reference):
        reference = _botocore_url("put_object", {**params, "ContentLength": 4096}, 900)
    assert ours.url == reference


def test_presigned_put_expires_at_is_the_signing_second_plus_the_ttl(s3_settings):
    presigned = storage.presigned_put(
        key=KEYS[0], content_type="image/jpeg", sha256_hex=SHA256_HEX, ttl_seconds=900
    )

    assert presigned.expires_at == _signed_at(presigned.url) + dt.timedelta(seconds=900)


def test_without_static_credentials_botocore_signs_with_what_it_finds(settings, monkeypatch):
    # e.g. an instance role in production; here the environment's variables
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-environment")
    settings.AWS_ACCESS_KEY_ID = ""
    settings.AWS_SECRET_ACCESS_KEY = ""

    url = storage.presigned_get(key=KEYS[1])

    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    assert credential.startswith("AKIAFROMTHEENVIRONMENT/")
