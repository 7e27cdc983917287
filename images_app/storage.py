"""The only module that talks to S3 (plain boto3).

Interface:
- ``presigned_put(*, key, content_type, sha256_hex, content_length=None) -> PresignedPut``
  (url, headers, expires_at)
- ``presigned_get(*, key, ttl_seconds=settings.THUMB_URL_TTL_SECONDS) -> str`` (valid at
  least that long; the same URL for a key through a tenth of it)
- ``object_size(*, key) -> int | None`` (HEAD; None when the object does not exist)
- ``get_bytes(*, key, max_bytes) -> bytes`` (``ObjectNotFound``, ``ObjectTooLarge``)
- ``put_bytes(*, key, data, content_type) -> None``
- ``delete_keys(*, keys) -> None``
- ``objects_under(*, prefix) -> Iterator[StoredObject]`` (key, size, last_modified)
- ``bucket_ensure() -> None`` / ``bucket_check() -> None``

Errors: ``StorageUnavailable`` is transient (connection failures, timeouts, 5xx, throttling):
retry later. Every other ``StorageError`` is permanent: retrying will not help.

Every URL is SigV4: botocore otherwise falls back to SigV2 in us-east-1, which leaves the
content type and checksum out of the signature. Presigned URLs are signed here (``UrlSigner``)
rather than by ``generate_presigned_url``, which costs about 0.3 ms a URL in parameter
validation, endpoint rules and event hooks: ``GET /images`` signs three per image.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
)
from django.conf import settings

_SHA256_HEX = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET_CODES = {"404", "NoSuchBucket", "NotFound"}
_TRANSIENT_CODES = {
    "InternalError",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequests",
}
_DELETE_BATCH = 1000  # the S3 DeleteObjects maximum


class StorageError(Exception):
    """A permanent storage failure: retrying the same call will not succeed."""


class StorageUnavailable(StorageError):
    """A transient failure (unreachable, timeout, 5xx, throttled): retry later."""


class ObjectNotFound(StorageError):
    pass


class ObjectTooLarge(StorageError):
    def __init__(self, *, key: str, size: int | None, max_bytes: int) -> None:
        super().__init__(f"object {key} is larger than {max_bytes} bytes")
        self.key = key
        self.size = size
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class PresignedPut:
    """A URL for one PUT and exactly the headers the client must send with it."""

    url: str
    headers: dict[str, str]
    expires_at: dt.datetime


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: dt.datetime


# --- clients


def _config(*, probe: bool) -> Config:
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        region_name=settings.S3_REGION,
        connect_timeout=2 if probe else 5,
        read_timeout=3 if probe else 30,
        retries={"max_attempts": 1 if probe else 3, "mode": "standard"},
        # Only when an operation needs one; some S3-compatible stores reject the default
        # aws-chunked CRC trailers. Uploads send their own SHA-256 (see put_bytes).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=20,
    )


@functools.lru_cache(maxsize=16)
def _cached_client(
    endpoint_url: str, region: str, access_key: str, secret_key: str, probe: bool
):  # -> S3Client
    # A session per client: boto3's default session is not safe to share across threads.
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=_config(probe=probe))


def client(*, public: bool = False, probe: bool = False):  # -> S3Client
    """The S3 client for the current settings (a new one when tests point them elsewhere).

    ``public`` signs URLs for ``S3_PUBLIC_ENDPOINT_URL``, the address devices reach.
    """
    endpoint = settings.S3_PUBLIC_ENDPOINT_URL if public else settings.S3_ENDPOINT_URL
    return _cached_client(
        endpoint or settings.S3_ENDPOINT_URL,
        settings.S3_REGION,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        probe,
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError | ChecksumError):
        return True
    if isinstance(exc, ClientError):
        status = _http_status(exc)
        return status >= 500 or status == 429 or _error_code(exc) in _TRANSIENT_CODES
    return False


@contextmanager
def _translated_errors(action: str) -> Iterator[None]:
    """botocore's errors become StorageUnavailable (transient) or StorageError (permanent)."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        detail = _error_code(exc) if isinstance(exc, ClientError) else exc.__class__.__name__
        if is_transient(exc):
            raise StorageUnavailable(f"{action}: {detail}") from exc
        raise StorageError(f"{action}: {detail}") from exc


# --- presigned URLs


def sha256_base64(sha256_hex: str) -> str:
    """The ``x-amz-checksum-sha256`` form of a digest: base64 of the raw 32 bytes."""
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError("sha256_hex must be 64 hexadecimal characters")
    return base64.b64encode(binascii.unhexlify(sha256_hex)).decode("ascii")


_UNRESERVED = "-_.~"  # what SigV4 leaves unencoded in a query value
_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=64)
def _query_value(text: str) -> str:
    """``text`` encoded for a SigV4 query string; the credential scope and the signed
    header names repeat for every URL of a day, and ``quote`` goes character by character."""
    return quote(text, safe=_UNRESERVED)


@functools.lru_cache(maxsize=8)
def _signing_key(secret_key: str, day: str, region: str) -> bytes:
    """The SigV4 key of one day and region (the chain of four HMACs)."""
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# eq=False: hashed by identity (there is one per configuration, _cached_url_signer), as
# the key of every remembered URL.
@dataclass(frozen=True, eq=False)
class UrlSigner:
    """Presigns S3 URLs with AWS Signature V4 in the query string, exactly as botocore's
    ``generate_presigned_url`` does for path-style addressing (``UNSIGNED-PAYLOAD``), for
    static credentials. A test checks that both give the same URL for the same instant.

    ``base_url`` is ``{scheme}://{host}/{bucket}`` as botocore addresses the bucket.
    """

    base_url: str
    access_key: str
    secret_key: str
    region: str

    @functools.cached_property
    def _host(self) -> str:
        parts = urlsplit(self.base_url)
        host = parts.netloc.rpartition("@")[2]
        if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme):
            host = host.rsplit(":", 1)[0]
        return host

    @functools.cached_property
    def _path(self) -> str:
        return urlsplit(self.base_url).path

    def sign(
        self, *, method: str, key: str, ttl_seconds: int, headers: dict[str, str], at: dt.datetime
    ) -> str:
        """A URL for ``method`` on ``key``, valid ``ttl_seconds`` from ``at`` (UTC), that
        requires exactly ``headers`` (lower-case names) with the request."""
        amz_date = at.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        scope = f"{day}/{self.region}/s3/aws4_request"
        signed = {"host": self._host, **headers}
        names = sorted(signed)
        signed_headers = ";".join(names)
        quoted_key = quote(key, safe="/~")
        # Already in canonical (sorted) order.
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={_query_value(f'{self.access_key}/{scope}')}"
            f"&X-Amz-Date={amz_date}"
            f"&X-Amz-Expires={ttl_seconds}"
            f"&X-Amz-SignedHeaders={_query_value(signed_headers)}"
        )
        canonical_request = "\n".join(
            [
                method,
                f"{self._path}/{quoted_key}",
                query,
                *(f"{name}:{' '.join(signed[name].split())}" for name in names),
                "",
                signed_headers,
                "UNSIGNED-PAYLOAD",
            ]
        )
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(
            _signing_key(self.secret_key, day, self.region),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        return f"{self.base_url}/{quoted_key}?{query}&X-Amz-Signature={signature}"


@functools.lru_cache(maxsize=16)
def _cached_url_signer(
    endpoint_url: str, region: str, access_key: str, secret_key: str, bucket: str
) -> UrlSigner:
    probe_key = "probe"
    with _translated_errors("presign"):
        probe = _cached_client(endpoint_url, region, access_key, secret_key, False)
        url = probe.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": probe_key}, ExpiresIn=60
        )
    base_url = url.split("?", 1)[0].removesuffix(f"/{probe_key}")
    return UrlSigner(base_url=base_url, access_key=access_key, secret_key=secret_key, region=region)


def url_signer() -> UrlSigner | None:
    """The signer of URLs devices and browsers use (``S3_PUBLIC_ENDPOINT_URL``), or None
    without static credentials (botocore then finds them, e.g. an instance role, and signs)."""
    if not (settings.AWS_ACCESS_KEY_ID and settings.AWS_SECRET_ACCESS_KEY):
        return None
    return _cached_url_signer(
        settings.S3_PUBLIC_ENDPOINT_URL or settings.S3_ENDPOINT_URL,
        settings.S3_REGION,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        settings.S3_BUCKET,
    )


def _botocore_presigned_url(operation: str, params: dict[str, Any], *, ttl_seconds: int) -> str:
    with _translated_errors("presign"):
        return client(public=True).generate_presigned_url(
            operation,
            Params={"Bucket": settings.S3_BUCKET, **params},
            ExpiresIn=ttl_seconds,
            HttpMethod="PUT" if operation == "put_object" else "GET",
        )


def _signed_at(url: str) -> dt.datetime | None:
    values = parse_qs(urlsplit(url).query).get("X-Amz-Date")
    if not values:
        return None
    return dt.datetime.strptime(values[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def presigned_put(
    *,
    key: str,
    content_type: str,
    sha256_hex: str,
    content_length: int | None = None,
    ttl_seconds: int | None = None,
) -> PresignedPut:
    """A SigV4 PUT URL that signs the content type and the SHA-256 of the body, and the
    body's length when ``content_length`` is given.

    The store refuses another content type (signature mismatch), other bytes (checksum
    mismatch) and, with ``content_length``, a body of any other length (signature mismatch:
    the store signs the request's own Content-Length, so a bigger body is refused before it
    is stored). ``headers`` are exactly what the client must send besides the
    Content-Length every HTTP client sends with a PUT: ``Content-Type``,
    ``x-amz-checksum-sha256`` (signed) and ``x-amz-content-sha256`` (the hex digest the
    contract names; S3 checks it against the body too).
    """
    if content_length is not None and content_length < 1:
        raise ValueError("content_length must be at least 1")
    ttl = settings.UPLOAD_URL_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    sha256_hex = sha256_hex.lower()
    checksum = sha256_base64(sha256_hex)
    signed_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signer = url_signer()
    if signer is None:
        params: dict[str, Any] = {
            "Key": key,
            "ContentType": content_type,
            "ChecksumSHA256": checksum,
        }
        if content_length is not None:
            params["ContentLength"] = content_length
        url = _botocore_presigned_url("put_object", params, ttl_seconds=ttl)
        signed_at = _signed_at(url) or signed_at
    else:
        signed = {"content-type": content_type, "x-amz-checksum-sha256": checksum}
        if content_length is not None:
            signed["content-length"] = str(content_length)
        url = signer.sign(method="PUT", key=key, ttl_seconds=ttl, headers=signed, at=signed_at)
    return PresignedPut(
        url=url,
        headers={
            "Content-Type": content_type,
            "x-amz-checksum-sha256": checksum,
            "x-amz-content-sha256": sha256_hex,
        },
        expires_at=signed_at + dt.timedelta(seconds=ttl),
    )


def presigned_get(*, key: str, ttl_seconds: int | None = None) -> str:
    """A short-lived GET URL for a private object (thumbnails in the admin and API), valid
    for at least ``ttl_seconds`` (``THUMB_URL_TTL_SECONDS``) from now.

    URLs are signed as of the start of a window of a tenth of the lifetime and remembered,
    so a key's URL stays the same through the window: re-reading a spin's 72 thumbnail URLs
    costs no signing, and browsers keep the thumbnails they already have. Each URL lives
    the lifetime plus the window from its signing, so at least the lifetime from now.
    """
    return presigned_getter(ttl_seconds=ttl_seconds)(key)


def presigned_getter(*, ttl_seconds: int | None = None) -> Callable[[str], str]:
    """``presigned_get`` for many keys at this moment (a list's thumbnails): the settings
    are read and the window chosen once."""
    ttl = settings.THUMB_URL_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    signer = url_signer()
    if signer is None:
        return lambda key: _botocore_presigned_url("get_object", {"Key": key}, ttl_seconds=ttl)
    window = max(1, ttl // 10)
    now = int(time.time())
    signed_at = now - now % window
    return lambda key: _signed_get(signer, key, ttl + window, signed_at)


@functools.lru_cache(maxsize=16_384)
def _signed_get(signer: UrlSigner, key: str, ttl_seconds: int, signed_at: int) -> str:
    at = dt.datetime.fromtimestamp(signed_at, dt.UTC)
    return signer.sign(method="GET", key=key, ttl_seconds=ttl_seconds, headers={}, at=at)


# --- objects


def object_size(*, key: str) -> int | None:
    """Size in bytes from a HEAD; None when there is no such object."""
    try:
        with _translated_errors("head"):
            response = client().head_object(Bucket=settings.S3_BUCKET, Key=key)
    except StorageError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and _error_code(cause) in _NOT_FOUND_CODES:
            return None
        raise
    return int(response["ContentLength"])


def get_bytes(*, key: str, max_bytes: int) -> bytes:
    """The whole object, refusing (``ObjectTooLarge``) anything over ``max_bytes``.

    The declared length is checked first, and the read is bounded anyway, so a store that
    misreports the length cannot make us buffer more than ``max_bytes + 1`` bytes.
    """
    try:
        with _translated_errors("get"):
            response = client().get_object(Bucket=settings.S3_BUCKET, Key=key)
    except StorageError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and _error_code(cause) in _NOT_FOUND_CODES:
            raise ObjectNotFound(f"no object {key}") from cause
        raise
    body = response["Body"]
    try:
        declared = response.get("ContentLength")
        if declared is not None and int(declared) > max_bytes:
            raise ObjectTooLarge(key=key, size=int(declared), max_bytes=max_bytes)
        with _translated_errors("get body"):
            data = body.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ObjectTooLarge(key=key, size=declared, max_bytes=max_bytes)
        return data
    finally:
        body.close()


def put_bytes(*, key: str, data: bytes, content_type: str) -> None:
    """Write an object; the store verifies the SHA-256 we send with it."""
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    with _translated_errors("put"):
        client().put_object(
            Bucket=settings.S3_BUCKET,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumSHA256=digest,
        )


def delete_keys(*, keys: Iterable[str]) -> None:
    """Delete objects (missing ones are fine), in batches of 1000."""
    pending = list(dict.fromkeys(keys))
    for start in range(0, len(pending), _DELETE_BATCH):
        batch = pending[start : start + _DELETE_BATCH]
        with _translated_errors("delete"):
            response = client().delete_objects(
                Bucket=settings.S3_BUCKET,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        errors = [e for e in response.get("Errors", []) if e.get("Code") not in _NOT_FOUND_CODES]
        if errors:
            first = errors[0]
            message = f"delete {first.get('Key')}: {first.get('Code')} ({len(errors)} failed)"
            if first.get("Code") in _TRANSIENT_CODES:
                raise StorageUnavailable(message)
            raise StorageError(message)


def objects_under(*, prefix: str) -> Iterator[StoredObject]:
    """Every object whose key starts with ``prefix``, in key order, a page (1000) at a time."""
    paginator = client().get_paginator("list_objects_v2")
    with _translated_errors("list"):
        for page in paginator.paginate(Bucket=settings.S3_BUCKET, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield StoredObject(
                    key=entry["Key"], size=int(entry["Size"]), last_modified=entry["LastModified"]
                )


# --- bucket


def bucket_ensure() -> None:
    """Create the bucket unless it exists (development, tests, `make run`)."""
    s3 = client()
    try:
        with _translated_errors("head bucket"):
            s3.head_bucket(Bucket=settings.S3_BUCKET)
        return
    except StorageError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, ClientError) and _error_code(cause) in _NO_BUCKET_CODES):
            raise
    params: dict = {"Bucket": settings.S3_BUCKET}
    if settings.S3_REGION and settings.S3_REGION != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
    try:
        with _translated_errors("create bucket"):
            s3.create_bucket(**params)
    except StorageError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and _error_code(cause) in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            return
        raise


def bucket_check() -> None:
    """Raise unless the bucket answers a HEAD quickly (one attempt, short timeouts)."""
    with _translated_errors("head bucket"):
        client(probe=True).head_bucket(Bucket=settings.S3_BUCKET)
