"""Chromium driven by Playwright against the live test server, with real processed photos.

Debian's Chromium (``/usr/bin/chromium``, installed by ``make test`` when missing) is used;
Playwright never downloads a browser here.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from images_app import storage
from images_app.models import Image
from images_app.services import image_process
from images_app.tests.image_factories import ImageFactory
from images_app.uploads import spin_angle
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SPIN_FRAMES = Path(__file__).parent / "fixtures" / "spin"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "a long break-glass password"


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1360, "height": 1180}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    # The console's Content-Security-Policy must never block its own scripts, styles or
    # photos: Chromium reports each refusal on the console.
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert refused == []


def log_in(page, user) -> None:
    """Through the admin's login form, as a person would (password: break-glass login)."""
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    page.goto("/admin/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/admin/")


def spin_frame(angle: int, *, blurred: bool = False) -> bytes:
    data = (SPIN_FRAMES / f"angle_{angle:03d}.jpg").read_bytes()
    if not blurred:
        return data
    # The rig shook: the same frame, out of focus, for the sharpness check to catch.
    out = io.BytesIO()
    PILImage.open(io.BytesIO(data)).filter(ImageFilter.GaussianBlur(3)).save(out, "JPEG")
    return out.getvalue()


FRAME_COUNT = 24
EVERY_ANGLE = tuple(spin_angle(frame_index=i, frame_count=FRAME_COUNT) for i in range(FRAME_COUNT))


def processed_spin(*, org, site, device=None, angles=EVERY_ANGLE, blurred=()) -> CaptureSession:
    """A 24-frame studio spin whose photos at ``angles`` went through the real pipeline:
    bytes in the store, then ``image_process`` (thumbnails and QC into SeaweedFS), exactly
    as the worker does it."""
    session = CaptureSessionFactory(
        org=org,
        site=site,
        device=device,
        vehicle=VehicleFactory(org=org, vin="NMTKHMBX5KR012345", stock="C-HR-2291"),
        mode=CaptureSession.Mode.STUDIO360,
        shot_list={"studio360": {"frame_count": FRAME_COUNT}},
        status=CaptureSession.Status.COMPLETE,
    )
    for index, angle in enumerate(EVERY_ANGLE):
        if angle not in angles:
            continue
        data = spin_frame(angle, blurred=angle in blurred)
        image = ImageFactory(
            session=session,
            frame_index=index,
            angle_deg=angle,
            file_name=f"spin_{angle:03d}.jpg",
            content_sha256=hashlib.sha256(data).hexdigest(),
        )
        storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
        assert image_process(image_id=image.id) == "processed"
    assert session.images.filter(status=Image.Status.PROCESSED).count() == len(angles)
    return session
