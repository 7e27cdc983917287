"""seed_demo: the demo org with a processed spin and a stills session, idempotently."""

from __future__ import annotations

import hashlib
import io
from io import StringIO

import pytest
from django.core.management import call_command
from PIL import Image as PILImage

from accounts.models import Organization, User
from devtools.demo import RESHOOT, SPIN, STILLS, render_turntable_photo
from events_app.models import Event
from images_app import storage
from images_app.models import Image
from sessions_app.models import CaptureSession

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def seed() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_captures_a_published_spin_and_a_stills_session_then_changes_nothing(
    s3, settings, tmp_path
):
    settings.VAR_DIR = tmp_path

    output, progress = seed()
    images = set(Image.objects.values_list("id", "status"))
    events = Event.objects.count()
    again, progress_again = seed()

    assert (again, progress_again) == (output, "")
    assert set(Image.objects.values_list("id", "status")) == images
    assert Event.objects.count() == events
    assert CaptureSession.objects.count() == 3

    org = Organization.objects.get(name="Demo Motors")
    spin = CaptureSession.objects.get(org=org, vehicle__stock=SPIN.stock)
    stills = CaptureSession.objects.get(org=org, vehicle__stock=STILLS.stock)
    assert (spin.mode, spin.status, spin.shot_list) == (
        "studio360",
        "complete",
        {"studio360": {"frame_count": 24}},
    )
    frames = spin.images.order_by("angle_deg")
    assert [f.angle_deg for f in frames] == [i * 15 for i in range(24)]
    assert {f.status for f in frames} == {Image.Status.PUBLISHED}
    assert {(f.width, f.height) for f in frames} == {(1600, 1067)}
    assert all(f.qc["sharpness"]["status"] == "pass" for f in frames)
    assert frames[0].exif["iso"] == 100 and frames[0].exif["shutter"] == "1/125"
    assert stills.status == "complete"
    assert sorted(stills.images.values_list("shot_name", flat=True)) == sorted(
        STILLS.shot_list["stills"]
    )
    assert set(stills.images.values_list("status", flat=True)) == {Image.Status.PROCESSED}
    # Thumbnails really are in the store.
    thumb = storage.get_bytes(key=frames[3].thumb_keys["600"], max_bytes=10**6)
    assert PILImage.open(io.BytesIO(thumb)).size == (600, 400)
    # The audit trail shows who did what.
    published = Event.objects.filter(entity_id=frames[0].id, type="published").get()
    assert published.actor_id == User.objects.get(email="reviewer@demo.example").id
    assert f"spin session    {spin.id}" in output
    assert "demo photos: 42/42" in progress


def test_an_interrupted_seed_finishes_the_missing_photos(s3, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed()
    spin = CaptureSession.objects.get(vehicle__stock=SPIN.stock)
    # As if the first run had stopped after 20 frames: the session still active.
    removed = list(spin.images.filter(frame_index__gte=20).values_list("storage_key", flat=True))
    spin.images.filter(frame_index__gte=20).delete()
    CaptureSession.objects.filter(pk=spin.pk).update(status="active", completed_at=None)

    seed()

    spin.refresh_from_db()
    assert spin.status == "complete"
    assert sorted(spin.images.values_list("frame_index", flat=True)) == list(range(24))
    assert all(storage.object_size(key=key) for key in removed)


def test_a_wiped_store_makes_the_seed_capture_the_demo_again(s3, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed()
    old = CaptureSession.objects.get(vehicle__stock=STILLS.stock)
    storage.delete_keys(keys=old.images.values_list("storage_key", flat=True))

    seed()

    new = CaptureSession.objects.get(vehicle__stock=STILLS.stock)
    assert new.id != old.id
    assert new.images.filter(status=Image.Status.PROCESSED).count() == 5


def test_demo_photos_are_deterministic_jpegs():
    first = render_turntable_photo(30.0)
    assert hashlib.sha256(first).digest() == hashlib.sha256(render_turntable_photo(30.0)).digest()
    assert first != render_turntable_photo(45.0)
    assert PILImage.open(io.BytesIO(first)).size == (1600, 1067)


def test_the_demo_has_a_session_in_the_review_loop_shown_side_by_side(s3, settings, tmp_path):
    from images_app.models import ReshootItem
    from sessions_app.tests.console import console, review_url

    settings.VAR_DIR = tmp_path
    seed()

    session = CaptureSession.objects.get(vehicle__stock=RESHOOT.stock)
    images = {
        (image.frame_index, image.replaces_id is not None): image for image in session.images.all()
    }
    assert len(images) == 13  # 12 frames and one retake
    blurred, glare, retake = images[3, False], images[8, False], images[3, True]
    assert (blurred.status, blurred.reject_reasons) == ("rejected", ["blurred"])
    assert (glare.status, glare.reject_reasons) == ("rejected", ["glare"])
    assert (retake.status, retake.replaces_id) == ("processed", blurred.id)
    assert retake.qc["sharpness"]["status"] == "pass"
    items = {item.frame_index: item for item in ReshootItem.objects.filter(session=session)}
    assert (items[3].status, items[3].replacement_id) == ("fulfilled", retake.id)
    assert (items[8].status, items[8].replacement_id) == ("open", None)

    reviewer = User.objects.get(email="reviewer@demo.example")
    page = console(reviewer).get(review_url(session)).content.decode()
    assert page.count('class="reshoot-pair') == 2
    assert f'data-image-id="{retake.id}"' in page

    images_before = Image.objects.count()
    seed()  # and again: nothing rejected or uploaded twice
    assert Image.objects.count() == images_before
    assert ReshootItem.objects.filter(session=session).count() == 2
