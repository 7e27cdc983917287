"""An upload whose bytes are not the ones the device declared, as if a store had let them
through: the worker fails the image with ``checksum_mismatch`` and publishes no thumbnail.

SeaweedFS refuses such a PUT on the presigned URL (the URL signs the checksum), so the
object is written directly with boto3, which sends the checksum of the bytes it writes.
"""

from __future__ import annotations

import hashlib

import pytest

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.tests.test_worker_e2e import (
    finished,
    report_complete,
    session_open,
    small_jpeg,
)
from images_app.uploads import image_thumb_keys

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_bytes_other_than_the_declared_ones_fail_with_checksum_mismatch(web, workers):
    workers()
    declared, stored = small_jpeg(1), small_jpeg(2)
    session_id = session_open(web, "stills", {"stills": ["front_3q"]})
    presigned = web["device"].ok(
        "POST",
        "/presign",
        {
            "session_id": session_id,
            "file_name": "IMG_0001.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(declared).hexdigest(),
        },
    )
    storage.put_bytes(key=presigned["storage_key"], data=stored, content_type="image/jpeg")
    report_complete(web, presigned["image_id"])

    detail = finished(web, presigned["image_id"])

    assert (detail["status"], detail["error"]) == ("failed", "checksum_mismatch")
    assert (detail["thumb_keys"], detail["thumb_urls"]) == ({}, {})
    image = Image.objects.get(pk=presigned["image_id"])
    assert image.attempts == 1  # a bad file is not retried
    expected_thumbs = image_thumb_keys(image=image).values()
    assert [storage.object_size(key=key) for key in expected_thumbs] == [None, None, None]
    [event] = Event.objects.filter(entity_id=image.id, type="processing_failed")
    assert event.meta["code"] == "checksum_mismatch"
    assert not Event.objects.filter(entity_id=image.id, type="processed").exists()
