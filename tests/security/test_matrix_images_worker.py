"""SECURITY.md, "Images (the worker)", line by line.

Each hostile file takes the device's path: presign, PUT to the store (SeaweedFS), report
``upload_complete``; the processing task then runs (in-process: no broker in these tests)
and the outcome is read back through ``GET /v1/images/:id``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL.TiffImagePlugin import IFDRational

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.tasks import process_image
from images_app.tests.jpeg_bombs import progressive_scan_bomb
from images_app.uploads import image_thumb_keys
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import presign, put_upload, upload_complete

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

FIXTURES = Path(__file__).resolve().parents[2] / "images_app" / "tests" / "fixtures"


@pytest.fixture
def session(org, site, device):
    return CaptureSessionFactory(
        org=org, site=site, device=device, mode=CaptureSession.Mode.STILLS, shot_list={}
    )


@pytest.fixture
def uploaded_and_processed(api, device, admin, session, django_capture_on_commit_callbacks):
    """``(bytes, declared type) -> the image's detail`` after the worker ran."""

    def run(data: bytes, content_type: str = "image/jpeg") -> dict:
        presigned = presign(api(device), session, data, content_type=content_type).json()
        assert put_upload(presigned, data).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert upload_complete(api(device), presigned["image_id"]).status_code == 201
        response = api(admin).get(f"/v1/images/{presigned['image_id']}")
        assert response.status_code == 200
        return response.json()

    return run


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def assert_failed_once(detail: dict, code: str) -> None:
    """Failed with that code, no thumbnails, and no retry loop: one attempt, one event."""
    assert (detail["status"], detail["error"]) == ("failed", code)
    assert detail["thumb_keys"] == {}
    image = Image.objects.get(pk=detail["id"])
    assert image.attempts == 1
    assert process_image.apply(args=[detail["id"]]).result == "skipped"
    failures = Event.objects.filter(entity_id=image.id, type="processing_failed")
    assert [event.meta["code"] for event in failures] == [code]
    keys = image_thumb_keys(image=image).values()
    assert [storage.object_size(key=key) for key in keys] == [None, None, None]


HAZARDS = {
    # Decompression bombs: refused from the header, before any pixel is decoded.
    "jpeg-64250x64250": (
        "broken/bomb_jpeg_64250x64250_lottapixel.jpg",
        "image/jpeg",
        "too_many_pixels",
    ),
    "gif-bomb-as-jpeg": ("broken/bomb_gif_pillow.gif", "image/jpeg", "unsupported_format"),
    "heic-200-megapixels": (
        "pillowheif_samsung_s24ultra_200MP.heic",
        "image/heic",
        "too_many_pixels",
    ),
    # Broken files.
    "truncated-jpeg": ("broken/jpeg_truncated_pillow.jpg", "image/jpeg", "corrupt_image"),
    "corrupt-heic": ("broken/heic_corrupted_pillowheif.heic", "image/heic", "corrupt_image"),
    "heif-eof": ("broken/heif_decoder_eof.heif", "image/heic", "corrupt_image"),
    # Wrong magic: something else named .jpg.
    "php-with-gif-header": (
        "broken/wrong_magic_gif_header_php_body.gif",
        "image/jpeg",
        "unsupported_format",
    ),
    "png-as-jpeg": (
        "broken/png_signature_then_garbage_pillow.png",
        "image/jpeg",
        "unsupported_format",
    ),
}


@pytest.mark.parametrize(("name", "content_type", "code"), HAZARDS.values(), ids=HAZARDS.keys())
def test_a_hostile_file_fails_with_a_code_and_is_not_retried(
    uploaded_and_processed, name, content_type, code
):
    assert_failed_once(uploaded_and_processed(fixture(name), content_type), code)


def test_a_progressive_jpeg_repeating_one_scan_thousands_of_times_fails_unread(
    uploaded_and_processed,
):
    # About 400 KB on the wire, seconds of CPU to decode: refused from its marker stream.
    bomb = progressive_scan_bomb(repeats=5000)

    assert_failed_once(uploaded_and_processed(bomb), "too_many_scans")


@pytest.mark.parametrize(
    "data",
    [b"<!doctype html><script>alert(1)</script>", b"<?php system($_GET['c']); ?>"],
    ids=["html", "php"],
)
def test_a_script_named_jpg_fails_as_unsupported(uploaded_and_processed, data):
    assert_failed_once(uploaded_and_processed(data), "unsupported_format")


def jpeg_with_exif(*, ifd0: dict | None = None, exif_ifd: dict | None = None, gps=None) -> bytes:
    exif = PILImage.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    for tag, value in (exif_ifd or {}).items():
        exif.get_ifd(0x8769)[tag] = value
    for tag, value in (gps or {}).items():
        exif.get_ifd(0x8825)[tag] = value
    noise = np.random.default_rng(7).integers(30, 220, (900, 1200, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(noise, "RGB").save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def test_exif_with_wrong_types_is_processed_with_the_bad_tags_ignored(uploaded_and_processed):
    data = jpeg_with_exif(
        exif_ifd={0x8827: "lots", 0x829A: "fast", 0x829D: "wide", 0x9003: "0000:00:00 00:00:00"}
    )

    detail = uploaded_and_processed(data)

    assert detail["status"] == "processed"
    assert detail["exif"] == {"iso": None, "shutter": None, "aperture": None, "timestamp": None}


def test_a_string_where_orientation_should_be_is_ignored(uploaded_and_processed):
    detail = uploaded_and_processed(fixture("broken/exif_php_payload_in_tags.jpg"))

    assert detail["status"] == "processed"
    assert (detail["width"], detail["height"]) == (640, 356)


GPS = {
    1: "N",
    2: (IFDRational(48, 1), IFDRational(51, 1), IFDRational(24, 1)),
    3: "E",
    4: (IFDRational(2, 1), IFDRational(21, 1), IFDRational(7, 1)),
}


def test_thumbnails_are_re_encoded_without_exif_or_gps(uploaded_and_processed):
    original = jpeg_with_exif(ifd0={0x010F: "PhoneMaker"}, exif_ifd={0x8827: 100}, gps=GPS)
    assert PILImage.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the original has GPS

    detail = uploaded_and_processed(original)

    assert detail["status"] == "processed"
    for key in detail["thumb_keys"].values():
        thumb = storage.get_bytes(key=key, max_bytes=10**7)
        decoded = PILImage.open(io.BytesIO(thumb))
        assert decoded.format == "JPEG"
        assert not decoded.getexif()
        assert b"Exif\x00\x00" not in thumb
        assert b"PhoneMaker" not in thumb
