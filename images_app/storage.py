"""The only module that talks to S3 (boto3).

Interface (implemented by the uploads work):
- ``presigned_put(*, key, content_type, sha256_hex) -> PresignedPut`` (url, headers, expires_at)
- ``presigned_get(*, key, ttl_seconds=settings.THUMB_URL_TTL_SECONDS) -> str``
- ``object_size(*, key) -> int | None`` (HEAD; None when the object does not exist)
- ``get_bytes(*, key, max_bytes) -> bytes``
- ``put_bytes(*, key, data, content_type) -> None``
- ``delete_keys(*, keys) -> None``
- ``bucket_ensure() -> None`` / ``bucket_check() -> None``
"""


def bucket_check() -> None:
    raise RuntimeError("storage not configured")
