"""The public store: web renditions and manifests, readable by anyone, written by us.

A separate bucket (``PUBLIC_S3_BUCKET``) from the private one that keeps originals and
thumbnails, written through django-storages' ``S3Storage`` (docs/processing.md, "Why a
façade of our own": the private bucket needs presigning and checksums of our own; public
files are plain writes). Readers fetch them from ``PUBLIC_MEDIA_BASE_URL`` (the bucket's
address by default, a CDN in production) and never through Django.

Keys:
- ``r1/{sha256[:2]}/{sha256}/{width}.{jpg|webp}``: content-addressed by the original's
  sha256, the width and the format (``r1``: the rendering recipe), so a rendition never
  changes once written: ``Cache-Control: public, max-age=31536000, immutable``.
- ``vehicles/{vehicle id}/v{n}.json``: version ``n``'s manifest, also immutable.
- ``vehicles/{vehicle id}/manifest.json``: the live version; a short max-age.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from images_app.storage import StorageUnavailable

IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_CACHE_CONTROL = "public, max-age=60"
RENDITION_RECIPE = "r1"
EXTENSIONS = {"jpeg": "jpg", "webp": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "webp": "image/webp", "json": "application/json"}


class PublicStorage(S3Storage):
    """S3Storage with our Cache-Control and Content-Type per kind of file."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = super().get_object_parameters(name)
        extension = name.rpartition(".")[2]
        params["ContentType"] = CONTENT_TYPES.get(extension, "application/octet-stream")
        params["CacheControl"] = (
            MANIFEST_CACHE_CONTROL if name.endswith("/manifest.json") else IMMUTABLE
        )
        return params


@functools.lru_cache(maxsize=8)
def _storage(endpoint: str, bucket: str, region: str, key: str, secret: str) -> PublicStorage:
    return PublicStorage(
        bucket_name=bucket,
        endpoint_url=endpoint,
        region_name=region,
        access_key=key,
        secret_key=secret,
        addressing_style="path",
        signature_version="s3v4",
        querystring_auth=False,
        file_overwrite=True,
        default_acl=None,
    )


def storage() -> PublicStorage:
    """The public store for the current settings (tests point them elsewhere)."""
    return _storage(
        settings.S3_ENDPOINT_URL,
        settings.PUBLIC_S3_BUCKET,
        settings.S3_REGION,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
    )


def base_url() -> str:
    """Where readers fetch public files: ``PUBLIC_MEDIA_BASE_URL``, else the bucket's URL at
    the public S3 endpoint."""
    configured = settings.PUBLIC_MEDIA_BASE_URL
    if configured:
        return configured.rstrip("/")
    endpoint = settings.S3_PUBLIC_ENDPOINT_URL or settings.S3_ENDPOINT_URL
    return f"{endpoint.rstrip('/')}/{settings.PUBLIC_S3_BUCKET}"


def url(key: str) -> str:
    return f"{base_url()}/{key}"


def rendition_key(*, sha256: str, width: int, fmt: str) -> str:
    return f"{RENDITION_RECIPE}/{sha256[:2]}/{sha256}/{width}.{EXTENSIONS[fmt]}"


# ``Rendition.sizes`` key of the 4:3 centre crop (listing feeds): ``[[width, height]]``, or
# ``[]`` when the original is too small for one.
CROP_4X3 = "crop_4x3"


def crop_4x3_key(*, sha256: str, width: int) -> str:
    return f"{RENDITION_RECIPE}/{sha256[:2]}/{sha256}/4x3-{width}.jpg"


def rendition_keys(*, sha256: str, sizes: dict[str, list[list[int]]]) -> list[str]:
    """Every file of one original's renditions (``Rendition.sizes``), the crop included."""
    return [
        crop_4x3_key(sha256=sha256, width=width)
        if fmt == CROP_4X3
        else rendition_key(sha256=sha256, width=width, fmt=fmt)
        for fmt, entries in sizes.items()
        for width, _ in entries
    ]


def manifest_key(vehicle_id: Any) -> str:
    return f"vehicles/{vehicle_id}/manifest.json"


def version_key(vehicle_id: Any, number: int) -> str:
    return f"vehicles/{vehicle_id}/v{number}.json"


def _write(key: str, data: bytes) -> None:
    try:
        storage().save(key, ContentFile(data))
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable(f"public store: write {key}: {exc}") from exc


def put_bytes(*, key: str, data: bytes) -> None:
    _write(key, data)


def put_json(*, key: str, document: dict[str, Any]) -> None:
    _write(key, json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def exists(key: str) -> bool:
    return storage().exists(key)


def delete_keys(keys: list[str]) -> None:
    for key in keys:
        try:
            storage().delete(key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"public store: delete {key}: {exc}") from exc


def bucket_ensure() -> None:
    """Create the public bucket with anonymous-read CORS for GET (development, tests, `make
    run`; in production the bucket and its policy are infrastructure). Anonymous read itself
    is the store's: SeaweedFS grants it to this bucket only (devtools/seaweed.py), S3 by a
    bucket policy."""
    client = storage().connection.meta.client
    bucket = settings.PUBLIC_S3_BUCKET
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
    cors = {
        "CORSRules": [
            {
                "AllowedOrigins": ["*"],
                "AllowedMethods": ["GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }
    # A store without bucket CORS refuses; SeaweedFS takes it.
    with contextlib.suppress(ClientError):
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
