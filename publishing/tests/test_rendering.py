"""The render task: renditions from the original, the order of the public writes, retries,
the manifest's fixed query count, and the grace-period deletion of a withdrawn vehicle."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageCms

from images_app import pipeline
from images_app.services import images_publish
from images_app.storage import StorageUnavailable
from publishing import public_store, services
from publishing.manifest import manifest_build
from publishing.models import Publication, PublicationVersion, Rendition
from publishing.tests.helpers import jpeg_bytes, photo, validate_manifest
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


def gps_and_orientation_exif(orientation: int) -> PILImage.Exif:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS IFD
    exif[0x010F] = "Camera maker"
    return exif


def test_renditions_are_upright_srgb_and_carry_no_metadata():
    # Stored 1200x900, EXIF orientation 6: upright it is 900 wide and 1200 tall.
    image = PILImage.new("RGB", (1200, 900), (200, 30, 30))
    buffer = io.BytesIO()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    image.save(buffer, "JPEG", exif=gps_and_orientation_exif(6), icc_profile=profile)

    result = pipeline.web_renditions(buffer.getvalue(), content_type="image/jpeg")

    assert (result.width, result.height) == (900, 1200)
    assert sorted(result.files) == [(fmt, w) for fmt in ("jpeg", "webp") for w in (320, 640)]
    for (_fmt, width), (height, body) in result.files.items():
        out = PILImage.open(io.BytesIO(body))
        assert out.size == (width, height) and height > width
        assert "icc_profile" not in out.info and "exif" not in out.info
        assert not out.getexif()
    placeholder = PILImage.open(io.BytesIO(result.placeholder))
    assert placeholder.width == 16


def test_an_original_narrower_than_the_smallest_width_keeps_its_own():
    result = pipeline.web_renditions(jpeg_bytes(width=200, height=150), content_type="image/jpeg")
    assert sorted(result.files) == [("jpeg", 200), ("webp", 200)]


@pytest.mark.parametrize(
    ("size", "crop"),
    [
        ((1600, 1200), (1200, 900)),
        ((1600, 1067), (1200, 900)),  # 3:2: the sides cut off
        ((900, 1200), (900, 675)),  # portrait: the top and bottom cut off, never enlarged
        ((1000, 750), (1000, 750)),
        ((800, 600), (800, 600)),
        ((760, 570), None),  # under 800x600: no crop
        ((1200, 500), None),  # its 4:3 part is 666x500
    ],
)
def test_the_4_3_crop_for_feeds_is_cut_from_the_centre_at_800x600_or_more(size, crop):
    # The left and right twentieths red, the rest grey: a 4:3 centre crop of 3:2 is grey.
    image = PILImage.new("RGB", size, (128, 128, 128))
    image.paste((220, 0, 0), (0, 0, size[0] // 20, size[1]))
    image.paste((220, 0, 0), (size[0] - size[0] // 20, 0, size[0], size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)

    result = pipeline.web_renditions(buffer.getvalue(), content_type="image/jpeg")

    if crop is None:
        assert result.crop_4x3 is None
        return
    width, height, body = result.crop_4x3
    out = PILImage.open(io.BytesIO(body))
    assert (width, height) == out.size == crop and out.format == "JPEG"
    assert not out.getexif() and "icc_profile" not in out.info
    if size == (1600, 1067):
        assert out.convert("RGB").getpixel((2, height // 2))[0] < 160  # the red is cut off


def test_renditions_written_before_the_crop_existed_get_it_on_the_next_render(
    session, reviewer, django_capture_on_commit_callbacks
):
    image = photo(session, shot_name="a", seed=7)
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[image], actor=reviewer)
    rendition = Rendition.objects.get(sha256=image.content_sha256)
    assert rendition.sizes[public_store.CROP_4X3] == [[1200, 900]]
    del rendition.sizes[public_store.CROP_4X3]
    rendition.save(update_fields=["sizes"])

    assert services.renditions_ensure(image_ids=[str(image.id)]) == 1
    rendition.refresh_from_db()
    assert rendition.sizes[public_store.CROP_4X3] == [[1200, 900]]
    assert public_store.exists(public_store.crop_4x3_key(sha256=image.content_sha256, width=1200))


@pytest.fixture
def session(org, site, s3):
    return CaptureSessionFactory(org=org, site=site, mode="stills", shot_list={"stills": []})


def version_of(vehicle_id, number) -> PublicationVersion:
    return PublicationVersion.objects.get(publication__vehicle_id=vehicle_id, number=number)


def test_a_failed_render_leaves_the_previous_manifest_live_and_a_retry_completes_it(
    session, reviewer, monkeypatch, django_capture_on_commit_callbacks
):
    first = photo(session, shot_name="front_3q", seed=1)
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[first], actor=reviewer)
    second = photo(session, shot_name="side", seed=2)
    with django_capture_on_commit_callbacks(execute=False):
        images_publish(images=[second], actor=reviewer)
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    real_put = public_store.put_bytes

    def store_down(**kwargs):
        raise StorageUnavailable("public store down")

    monkeypatch.setattr(public_store, "put_bytes", store_down)
    with pytest.raises(StorageUnavailable):
        services.publication_render(publication_id=publication.pk, number=2)

    publication.refresh_from_db()
    assert publication.live_version == 1
    assert not public_store.exists(public_store.version_key(session.vehicle_id, 2))
    live = json.loads(
        public_store.storage().open(public_store.manifest_key(session.vehicle_id)).read()
    )
    assert live["version"] == 1

    monkeypatch.setattr(public_store, "put_bytes", real_put)
    assert services.publication_render(publication_id=publication.pk, number=2) == "live"
    publication.refresh_from_db()
    assert publication.live_version == 2


def test_an_older_version_rendered_late_never_replaces_a_newer_live_one(
    session, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        images_publish(images=[photo(session, shot_name="a", seed=3)], actor=reviewer)
        images_publish(images=[photo(session, shot_name="b", seed=4)], actor=reviewer)
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)

    assert services.publication_render(publication_id=publication.pk, number=2) == "live"
    assert services.publication_render(publication_id=publication.pk, number=1) == "stale"
    live = json.loads(
        public_store.storage().open(public_store.manifest_key(session.vehicle_id)).read()
    )
    assert live["version"] == 2


def test_renditions_are_written_once_per_original(
    session, reviewer, django_capture_on_commit_callbacks, monkeypatch
):
    image = photo(session, shot_name="a", seed=5)
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[image], actor=reviewer)
    calls = []
    monkeypatch.setattr(pipeline, "web_renditions", lambda *a, **k: calls.append(a))

    assert services.renditions_ensure(image_ids=[str(image.id)]) == 0
    assert calls == []


def test_the_manifest_of_a_big_vehicle_takes_a_fixed_number_of_queries(org, site, reviewer):
    spin_session = CaptureSessionFactory(org=org, site=site, mode="studio360")
    stills_session = CaptureSessionFactory(
        org=org, site=site, vehicle=spin_session.vehicle, mode="stills"
    )
    from images_app.tests.image_factories import ImageFactory, processed

    frames = [
        processed(ImageFactory(session=spin_session, frame_index=i, angle_deg=i * 5))
        for i in range(72)
    ]
    stills = [processed(ImageFactory(session=stills_session, shot_name=f"s{i}")) for i in range(30)]
    for image in frames + stills:
        Rendition.objects.create(
            sha256=image.content_sha256,
            width=4032,
            height=3024,
            placeholder="data:image/jpeg;base64,AAAA",
            sizes={f: [[320, 240], [1600, 1200]] for f in ("jpeg", "webp")},
        )
    images_publish(images=frames + stills, actor=reviewer)
    publication = Publication.objects.get(vehicle_id=spin_session.vehicle_id)

    with CaptureQueriesContext(connection) as queries:
        version = PublicationVersion.objects.select_related("publication__vehicle").get(
            publication=publication, number=1
        )
        manifest = manifest_build(version=version)

    assert len(queries) == 3
    validate_manifest(manifest)
    assert manifest["spin"]["frame_count"] == 72 and len(manifest["stills"]) == 30


@pytest.mark.parametrize(
    ("measured", "direction"),
    [
        ("counter_clockwise", "counterclockwise"),
        ("clockwise", "clockwise"),
        (None, "clockwise"),  # not measured (fewer than 6 frames, no clear turn): the default
    ],
)
def test_the_manifest_says_which_way_the_spin_turns_as_its_health_measured(
    org, site, reviewer, s3, measured, direction, django_capture_on_commit_callbacks
):
    session = CaptureSessionFactory(
        org=org, site=site, mode="studio360", shot_list={"studio360": {"frame_count": 6}}
    )
    session.spin_health = {"status": "ok", "direction": measured, "frames": 6, "findings": []}
    session.save(update_fields=["spin_health"])
    frames = [photo(session, frame_index=i, angle_deg=i * 60, seed=40 + i) for i in range(6)]

    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=frames, actor=reviewer)

    live = json.loads(
        public_store.storage().open(public_store.manifest_key(session.vehicle_id)).read()
    )
    assert validate_manifest(live)["spin"]["direction"] == direction


def test_the_sweeper_deletes_a_withdrawn_vehicles_renditions_after_the_grace_period(
    session, reviewer, settings, django_capture_on_commit_callbacks
):
    image = photo(session, shot_name="a", seed=6)
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[image], actor=reviewer)
        publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.publication_withdraw(publication=publication, actor=reviewer)
    key = public_store.rendition_key(sha256=image.content_sha256, width=320, fmt="webp")
    assert public_store.exists(key)

    assert services.publications_sweep(now=timezone.now() + timedelta(days=6)) == []
    assert public_store.exists(key)
    swept = services.publications_sweep(
        now=timezone.now() + timedelta(days=settings.PUBLICATION_WITHDRAW_GRACE_DAYS, hours=1)
    )

    assert swept == [publication.pk]
    assert not public_store.exists(key)
    assert not Rendition.objects.filter(sha256=image.content_sha256).exists()
    live = json.loads(
        public_store.storage().open(public_store.manifest_key(session.vehicle_id)).read()
    )
    assert live["status"] == "withdrawn"


def test_a_rollback_after_the_sweep_renders_the_renditions_again(
    session, reviewer, django_capture_on_commit_callbacks
):
    image = photo(session, shot_name="a", seed=7)
    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[image], actor=reviewer)
        publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.publication_withdraw(publication=publication, actor=reviewer)
    services.publications_sweep(now=timezone.now() + timedelta(days=30))

    with django_capture_on_commit_callbacks(execute=True):
        services.publication_rollback(publication=publication, number=1, actor=reviewer)

    key = public_store.rendition_key(sha256=image.content_sha256, width=320, fmt="jpeg")
    assert public_store.exists(key)
    publication.refresh_from_db()
    assert (publication.status, publication.live_version) == ("live", 3)


def test_an_original_gone_from_the_store_does_not_hold_the_version_back(
    session, reviewer, django_capture_on_commit_callbacks
):
    from images_app import storage

    kept, lost = photo(session, shot_name="a", seed=20), photo(session, shot_name="b", seed=21)
    storage.delete_keys(keys=[lost.storage_key])

    with django_capture_on_commit_callbacks(execute=True):
        images_publish(images=[kept, lost], actor=reviewer)

    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    assert publication.live_version == 1
    manifest = validate_manifest(PublicationVersion.objects.get(number=1).manifest)
    assert [s["id"] for s in manifest["stills"]] == [str(kept.id)]


def test_the_sweeper_renders_again_a_version_whose_render_was_lost(
    session, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
        images_publish(images=[photo(session, shot_name="a", seed=22)], actor=reviewer)
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    assert publication.live_version == 0

    services.publications_sweep(now=timezone.now() + timedelta(minutes=5))
    publication.refresh_from_db()
    assert publication.live_version == 0  # still young: its task may be queued
    services.publications_sweep(now=timezone.now() + timedelta(minutes=20))

    publication.refresh_from_db()
    assert publication.live_version == 1


def test_a_heic_original_gets_the_same_web_renditions():
    from pathlib import Path

    fixtures = Path(pipeline.__file__).parent / "tests" / "fixtures"
    data = (fixtures / "pillowheif_arrow_iphone8plus_orient6.heic").read_bytes()

    result = pipeline.web_renditions(data, content_type="image/heic")

    assert result.height > result.width  # upright (libheif applies the rotation)
    widths = sorted({width for _, width in result.files})
    assert widths == [w for w in (320, 640, 1024, 1600) if w <= result.width]
    for (fmt, _), (_, body) in result.files.items():
        out = PILImage.open(io.BytesIO(body))
        assert out.format == {"jpeg": "JPEG", "webp": "WEBP"}[fmt]
        assert not out.getexif() and "icc_profile" not in out.info
