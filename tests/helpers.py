"""Small assertions shared by the security matrix, the concurrency and the fault tests."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from django.db import connection

from imaging.tests.test_envelope import assert_envelope


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """The contract's error envelope with this status and code; returns the body."""
    return assert_envelope(response, status, code)


def without_request_id(response) -> dict[str, Any]:
    """The body minus what differs on every request, to compare two refusals."""
    body = response.json()
    body.pop("request_id", None)
    return body


def limits(settings, **overrides: int) -> None:
    """Per-minute limits for this test only (the ``settings`` fixture restores them)."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **overrides}


def presign(client, session, data: bytes, *, content_type: str = "image/jpeg", **extra):
    """``POST /v1/presign`` for these bytes, as a capture app sends it."""
    body = {
        "session_id": str(session.id),
        "file_name": "IMG_0001." + ("heic" if content_type == "image/heic" else "jpg"),
        "content_type": content_type,
        "content_sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }
    return client.post("/v1/presign", body, format="json")


def put_upload(presigned: dict, data: bytes, **header_changes: str) -> requests.Response:
    """The device's PUT to the store, with exactly the returned headers unless changed."""
    headers = {**presigned["headers"], **header_changes}
    return requests.put(presigned["upload_url"], data=data, headers=headers, timeout=30)


def s3_error_code(response: requests.Response) -> str:
    """The ``<Code>`` of an S3 XML error body."""
    match = re.search(r"<Code>([^<]*)</Code>", response.text)
    return match.group(1) if match else ""


def upload_complete(client, image_id: str):
    event = {"entity_type": "image", "entity_id": str(image_id), "type": "upload_complete"}
    return client.post("/v1/events", event, format="json")


JOIN_SECONDS = 60


def burst(count: int, send: Callable[[int], Any]) -> list[Any]:
    """Run ``send(i)`` on ``count`` threads released together; their results, in order.

    Each thread closes its own database connection when done.
    """
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait(JOIN_SECONDS)
            results[index] = send(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a request never returned"
    if errors:
        raise errors[0]
    return results


def within_one_rate_window(seconds_needed: int = 8) -> None:
    """Counters use calendar-minute windows: never let a burst straddle a boundary."""
    if time.time() % 60 > 60 - seconds_needed:
        time.sleep(61 - time.time() % 60)


def http(method: str, url: str, *, token: str | None = None, body: Any = None, **headers):
    """One request over the network; ``(status, parsed JSON body)``."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.request(method, url, json=body, headers=headers, timeout=JOIN_SECONDS)
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return response.status_code, payload


def full_log(worker) -> str:
    """Everything a test worker (images_app/tests/test_worker_e2e.Worker) has logged."""
    return worker.log_path.read_text(errors="replace")
