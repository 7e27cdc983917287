"""storage.py against a real S3 (SeaweedFS): what the store itself refuses, and why."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.seaweed import SeaweedServer, free_ports, wait_for
from images_app import storage
from images_app.uploads import image_storage_key, thumb_storage_key

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(4096) + b"\xff\xd9"


def _key(suffix: str = "jpg") -> str:
    return f"test/{uuid.uuid4()}.{suffix}"


def _presign(data: bytes = PHOTO, *, key: str | None = None, **kwargs) -> storage.PresignedPut:
    return storage.presigned_put(
        key=key or _key(),
        content_type=kwargs.pop("content_type", "image/jpeg"),
        sha256_hex=hashlib.sha256(data).hexdigest(),
        **kwargs,
    )


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _key_of(url: str) -> str:
    # path-style: /{bucket}/{key}
    return urlsplit(url).path.split("/", 2)[2]


def _error_code(response: requests.Response) -> str:
    start = response.text.find("<Code>")
    end = response.text.find("</Code>")
    return response.text[start + 6 : end] if start >= 0 else ""


# --- presigned PUT: the signature covers what it must


def test_presigned_put_is_sigv4_and_signs_content_type_and_checksum(s3):
    presigned = _presign()

    query = _query(presigned.url)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"].split(";") == [
        "content-type",
        "host",
        "x-amz-checksum-sha256",
    ]
    assert query["X-Amz-Expires"] == "900"
    assert "Signature=" not in presigned.url.replace("X-Amz-Signature=", "")  # no SigV2


def test_presigned_put_headers_are_content_type_and_both_sha256_forms(s3):
    digest = hashlib.sha256(PHOTO)

    presigned = _presign(content_type="image/heic")

    assert presigned.headers == {
        "Content-Type": "image/heic",
        "x-amz-checksum-sha256": base64.b64encode(digest.digest()).decode(),
        "x-amz-content-sha256": digest.hexdigest(),
    }


def test_presigned_put_expires_fifteen_minutes_after_signing(s3):
    presigned = _presign()

    signed_at = dt.datetime.strptime(_query(presigned.url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    assert presigned.expires_at == signed_at.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=15)


def test_presigned_put_accepts_an_upper_case_digest_and_signs_it_lower_case(s3):
    digest = hashlib.sha256(PHOTO).hexdigest()

    presigned = storage.presigned_put(
        key=_key(), content_type="image/jpeg", sha256_hex=digest.upper()
    )

    assert presigned.headers["x-amz-content-sha256"] == digest
    assert requests.put(presigned.url, data=PHOTO, headers=presigned.headers).status_code == 200


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "a" * 63 + "\n"])
def test_presigned_put_refuses_a_malformed_digest(s3, bad):
    with pytest.raises(ValueError):
        storage.presigned_put(key=_key(), content_type="image/jpeg", sha256_hex=bad)


def test_put_with_exactly_the_returned_headers_stores_the_bytes(s3):
    presigned = _presign()

    response = requests.put(presigned.url, data=PHOTO, headers=presigned.headers)

    assert response.status_code == 200, response.text
    key = _key_of(presigned.url)
    assert storage.object_size(key=key) == len(PHOTO)
    assert storage.get_bytes(key=key, max_bytes=len(PHOTO)) == PHOTO


def test_presigned_put_with_a_length_stores_a_body_of_exactly_that_length(s3):
    presigned = _presign(content_length=len(PHOTO))

    response = requests.put(presigned.url, data=PHOTO, headers=presigned.headers)

    assert response.status_code == 200, response.text
    assert storage.object_size(key=_key_of(presigned.url)) == len(PHOTO)


@pytest.mark.parametrize("bad", [0, -1])
def test_presigned_put_refuses_a_length_below_one(s3, bad):
    with pytest.raises(ValueError):
        _presign(content_length=bad)


# --- presigned PUT: what the store refuses


def test_store_refuses_a_body_longer_or_shorter_than_the_signed_length(s3):
    longer = _presign(content_length=len(PHOTO) - 1)
    shorter = _presign(content_length=len(PHOTO) + 1)

    responses = [
        requests.put(presigned.url, data=PHOTO, headers=presigned.headers)
        for presigned in (longer, shorter)
    ]

    assert [(r.status_code, _error_code(r)) for r in responses] == [
        (403, "SignatureDoesNotMatch"),
        (403, "SignatureDoesNotMatch"),
    ]
    assert storage.object_size(key=_key_of(longer.url)) is None


def test_store_refuses_a_chunked_body_without_a_length_when_the_length_is_signed(s3):
    presigned = _presign(content_length=len(PHOTO))

    chunks = iter([PHOTO[:100], PHOTO[100:]])  # requests sends Transfer-Encoding: chunked
    response = requests.put(presigned.url, data=chunks, headers=presigned.headers)

    assert (response.status_code, _error_code(response)) == (403, "SignatureDoesNotMatch")
    assert storage.object_size(key=_key_of(presigned.url)) is None


def test_store_refuses_a_different_content_type(s3):
    presigned = _presign()

    response = requests.put(
        presigned.url, data=PHOTO, headers={**presigned.headers, "Content-Type": "text/html"}
    )

    assert response.status_code == 403
    assert _error_code(response) == "SignatureDoesNotMatch"
    assert storage.object_size(key=_key_of(presigned.url)) is None


def test_store_refuses_bytes_whose_sha256_differs(s3):
    presigned = _presign()
    other = PHOTO[:-1] + b"\x00"

    response = requests.put(presigned.url, data=other, headers=presigned.headers)

    assert response.status_code == 400
    assert _error_code(response) == "BadDigest"
    assert storage.object_size(key=_key_of(presigned.url)) is None


def test_store_refuses_other_bytes_even_with_their_own_checksum_header(s3):
    presigned = _presign()
    other = b"<html>not a photo</html>"
    forged = _presign(other)  # a correct checksum header for the other bytes

    response = requests.put(
        presigned.url,
        data=other,
        headers={
            **presigned.headers,
            "x-amz-checksum-sha256": forged.headers["x-amz-checksum-sha256"],
            "x-amz-content-sha256": forged.headers["x-amz-content-sha256"],
        },
    )

    assert response.status_code == 403
    assert _error_code(response) == "SignatureDoesNotMatch"


def test_store_refuses_a_put_without_the_checksum_header(s3):
    presigned = _presign()
    headers = {k: v for k, v in presigned.headers.items() if k != "x-amz-checksum-sha256"}

    response = requests.put(presigned.url, data=PHOTO, headers=headers)

    assert response.status_code == 403
    assert storage.object_size(key=_key_of(presigned.url)) is None


def test_store_refuses_a_tampered_signature(s3):
    presigned = _presign()
    signature = _query(presigned.url)["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]

    response = requests.put(
        presigned.url.replace(signature, flipped), data=PHOTO, headers=presigned.headers
    )

    assert response.status_code == 403
    assert _error_code(response) == "SignatureDoesNotMatch"


def test_store_refuses_the_url_moved_to_another_key(s3):
    presigned = _presign()
    key = _key_of(presigned.url)
    elsewhere = presigned.url.replace(key, _key())

    response = requests.put(elsewhere, data=PHOTO, headers=presigned.headers)

    assert response.status_code == 403
    assert _error_code(response) == "SignatureDoesNotMatch"


def test_store_refuses_a_longer_expiry_than_was_signed(s3):
    presigned = _presign()

    response = requests.put(
        presigned.url.replace("X-Amz-Expires=900", "X-Amz-Expires=604800"),
        data=PHOTO,
        headers=presigned.headers,
    )

    assert response.status_code == 403


def test_store_refuses_an_expired_url(s3):
    presigned = _presign(ttl_seconds=1)

    # The URL lives one second; retry until the store says so, bounded.
    deadline = time.monotonic() + 15
    while True:
        response = requests.put(presigned.url, data=PHOTO, headers=presigned.headers)
        if response.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert response.status_code == 403
    assert _error_code(response) == "AccessDenied"
    assert "expired" in response.text.lower()


def test_put_through_the_public_endpoint_is_signed_for_that_host(s3, settings):
    settings.S3_PUBLIC_ENDPOINT_URL = s3.endpoint_url.replace("127.0.0.1", "localhost")

    presigned = _presign()

    assert urlsplit(presigned.url).hostname == "localhost"
    assert requests.put(presigned.url, data=PHOTO, headers=presigned.headers).status_code == 200


def test_us_east_1_still_signs_with_sigv4(s3, settings):
    settings.S3_REGION = "us-east-1"

    assert _query(_presign().url)["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "AWS4-HMAC-SHA256" in storage.presigned_get(key=_key())


# --- presigned GET


def test_presigned_get_serves_the_object_and_refuses_a_tampered_one(s3):
    key = _key()
    storage.put_bytes(key=key, data=PHOTO, content_type="image/jpeg")

    url = storage.presigned_get(key=key)

    response = requests.get(url)
    assert response.status_code == 200
    assert response.content == PHOTO
    assert _query(url)["X-Amz-Expires"] == "330"  # 300 s from the start of a 30 s window
    assert requests.get(url.replace(key, _key())).status_code == 403


# --- objects


def test_object_size_of_a_missing_key_is_none(s3):
    assert storage.object_size(key=_key()) is None


def test_get_bytes_returns_an_object_of_exactly_max_bytes(s3):
    key = _key()
    storage.put_bytes(key=key, data=PHOTO, content_type="image/jpeg")

    assert storage.get_bytes(key=key, max_bytes=len(PHOTO)) == PHOTO


def test_get_bytes_refuses_an_object_over_max_bytes(s3):
    key = _key()
    storage.put_bytes(key=key, data=PHOTO, content_type="image/jpeg")

    with pytest.raises(storage.ObjectTooLarge) as refused:
        storage.get_bytes(key=key, max_bytes=len(PHOTO) - 1)

    assert refused.value.size == len(PHOTO)
    assert refused.value.max_bytes == len(PHOTO) - 1
    assert not isinstance(refused.value, storage.StorageUnavailable)


def test_get_bytes_of_a_missing_key_is_object_not_found(s3):
    with pytest.raises(storage.ObjectNotFound):
        storage.get_bytes(key=_key(), max_bytes=100)


def test_put_bytes_sets_the_content_type(s3):
    key = _key()

    storage.put_bytes(key=key, data=b"thumb", content_type="image/jpeg")

    response = requests.get(storage.presigned_get(key=key))
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content == b"thumb"


def test_delete_keys_removes_objects_and_ignores_missing_ones(s3):
    keys = [_key() for _ in range(3)]
    for key in keys:
        storage.put_bytes(key=key, data=b"x", content_type="image/jpeg")

    storage.delete_keys(keys=[*keys, _key()])
    storage.delete_keys(keys=[])

    assert [storage.object_size(key=key) for key in keys] == [None, None, None]


def test_objects_under_a_prefix_are_listed_with_size_and_age(s3):
    prefix = f"test/{uuid.uuid4()}/"
    keys = sorted(f"{prefix}{name}" for name in ("a.jpg", "b/thumb_150.jpg", "c.heic"))
    for key in keys:
        storage.put_bytes(key=key, data=b"xy", content_type="image/jpeg")
    storage.put_bytes(key=f"test/{uuid.uuid4()}/other.jpg", data=b"x", content_type="image/jpeg")

    listed = list(storage.objects_under(prefix=prefix))

    assert [obj.key for obj in listed] == keys
    assert {obj.size for obj in listed} == {2}
    assert all(obj.last_modified.tzinfo is not None for obj in listed)
    storage.delete_keys(keys=keys)


# --- bucket and errors


def test_bucket_check_passes_against_the_store(s3):
    storage.bucket_check()


def test_bucket_ensure_creates_a_missing_bucket_and_is_idempotent(s3, settings):
    settings.S3_BUCKET = f"ensure-{uuid.uuid4().hex[:12]}"
    with pytest.raises(storage.StorageError):
        storage.bucket_check()

    storage.bucket_ensure()
    storage.bucket_ensure()

    storage.bucket_check()


def test_an_unreachable_store_is_transient(s3, settings):
    (closed_port,) = free_ports(1)
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(storage.StorageUnavailable):
        storage.bucket_check()
    with pytest.raises(storage.StorageUnavailable):
        storage.object_size(key=_key())


def test_wrong_credentials_are_a_permanent_error(s3, settings):
    settings.AWS_SECRET_ACCESS_KEY = "not-the-secret"

    with pytest.raises(storage.StorageError) as refused:
        storage.put_bytes(key=_key(), data=b"x", content_type="image/jpeg")

    assert not isinstance(refused.value, storage.StorageUnavailable)


def test_readyz_reports_storage_ok_and_unavailable(s3, client, settings, db):
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"

    (closed_port,) = free_ports(1)
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "unavailable: StorageUnavailable"


# --- keys


def test_keys_are_built_from_ids_only():
    org, site, session, image = (uuid.uuid4() for _ in range(4))

    original = image_storage_key(
        org_id=org, site_id=site, session_id=session, image_id=image, content_type="image/heic"
    )
    thumb = thumb_storage_key(
        org_id=org, site_id=site, session_id=session, image_id=image, size=600
    )

    assert original == f"org/{org}/site/{site}/session/{session}/{image}.heic"
    assert thumb == f"org/{org}/site/{site}/session/{session}/{image}/thumb_600.jpg"


def test_key_builders_refuse_anything_but_ids_and_known_sizes():
    ids = {"org_id": uuid.uuid4(), "site_id": uuid.uuid4(), "session_id": uuid.uuid4()}

    with pytest.raises(ValueError):
        image_storage_key(**ids, image_id="../../etc/passwd", content_type="image/jpeg")
    with pytest.raises(ValueError):
        image_storage_key(**ids, image_id=uuid.uuid4(), content_type="text/html")
    with pytest.raises(ValueError):
        thumb_storage_key(**ids, image_id=uuid.uuid4(), size=999)


# --- the SeaweedFS runner


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...; comm may contain spaces, so split after the ")"
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The process's first line of output, or fail after ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no output within {timeout}s")


def _run_foreground(tmp_path: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.seaweed", "--dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "imaging.settings", **env},
        cwd=Path(__file__).resolve().parents[2],
        text=True,
    )


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
def test_seaweed_server_starts_on_free_ports_and_stops_without_leftovers(tmp_path):
    server = SeaweedServer(tmp_path, access_key="k", secret_key="s-secret-key")
    try:
        server.start()
        pid = server.pid
        ports = {*server.ports.values(), server.s3_port}
        assert len(ports) == 8  # every port chosen, none derived (+10000) or shared
        assert requests.get(server.endpoint_url, timeout=5).status_code == 403
    finally:
        server.stop(graceful=False)

    assert pid is not None and _wait_gone(pid, timeout=10)
    assert not server.is_running()
    assert not list(Path("/tmp").glob(f"seaweedfs-*-{server.s3_port}.sock"))


@pytest.mark.slow
def test_objects_survive_a_restart_on_the_same_directory(tmp_path, settings):
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = "k", "s-secret-key"
    server = SeaweedServer(tmp_path, access_key="k", secret_key="s-secret-key")
    key = _key()
    try:
        settings.S3_ENDPOINT_URL = server.start().endpoint_url
        wait_for(storage.bucket_ensure, timeout=30, what="bucket")
        storage.put_bytes(key=key, data=PHOTO, content_type="image/jpeg")
        server.stop()  # what Ctrl-C on `make run` does

        settings.S3_ENDPOINT_URL = server.start().endpoint_url
        # Right after a restart reads can be 500s (transient) until volume locations propagate.
        read_back: list[bytes] = []
        wait_for(
            lambda: read_back.append(storage.get_bytes(key=key, max_bytes=len(PHOTO))),
            timeout=30,
            what="object after restart",
        )

        assert read_back == [PHOTO]
    finally:
        server.stop(graceful=False)


@pytest.mark.slow
def test_foreground_entry_point_creates_the_bucket_and_stops_cleanly_on_ctrl_c(tmp_path):
    process = _run_foreground(tmp_path, S3_BUCKET="foreground")
    weed_pids: list[int] = []
    try:
        banner = _first_line(process, timeout=60)  # printed once the bucket exists
        assert banner.startswith("SeaweedFS S3 at http://127.0.0.1:"), banner
        assert "bucket 'foreground'" in banner
        weed_pids = _children(process.pid)
        assert len(weed_pids) == 1

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert all(_wait_gone(pid, timeout=10) for pid in weed_pids)


@pytest.mark.slow
def test_weed_dies_with_a_killed_parent(tmp_path):
    process = _run_foreground(tmp_path)
    weed_pids: list[int] = []
    try:
        assert _first_line(process, timeout=60).startswith("SeaweedFS S3 at ")
        weed_pids = _children(process.pid)
        assert len(weed_pids) == 1
    finally:
        process.kill()
        process.wait(timeout=10)

    assert all(_wait_gone(pid, timeout=10) for pid in weed_pids)
