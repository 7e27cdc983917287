"""export_session: a reproducible zip of the published photos with a manifest in API shapes."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from images_app import storage
from images_app.services import image_process, image_publish
from images_app.tests.image_factories import ImageFactory
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()


def add_photo(session, *, frame: int, publish_as=None, shot_name=None):
    out = io.BytesIO()
    PILImage.effect_noise((320, 240), 40 + frame).convert("RGB").save(out, "JPEG")
    data = out.getvalue()
    image = ImageFactory(
        session=session,
        content_sha256=hashlib.sha256(data).hexdigest(),
        frame_index=None if shot_name else frame,
        angle_deg=None if shot_name else frame * 15,
        shot_name=shot_name,
    )
    storage.put_bytes(key=image.storage_key, data=data, content_type="image/jpeg")
    image_process(image_id=image.id)
    image.refresh_from_db()
    if publish_as is not None:
        image = image_publish(image=image, actor=publish_as)
    return image, data


@pytest.fixture
def spin(org, site, admin):
    session = CaptureSessionFactory(org=org, site=site, operator=admin)
    published = [add_photo(session, frame=f, publish_as=admin) for f in (2, 0)]
    unpublished = add_photo(session, frame=1)
    return session, published, unpublished


def test_the_archive_holds_published_originals_thumbnails_and_an_api_shaped_manifest(
    spin, tmp_path, api, admin
):
    session, published, (unpublished, _) = spin
    target = tmp_path / "spin.zip"

    lines = run("export_session", str(session.id), "--output", str(target))

    assert lines[-1] == str(target)
    assert lines[-2].startswith("exported 2 image(s), 9 file(s), ")
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        (first, first_bytes), (second, second_bytes) = sorted(
            published, key=lambda pair: pair[0].angle_deg
        )
        assert archive.read(f"originals/000_{first.id}.jpg") == first_bytes
        assert archive.read(f"originals/002_{second.id}.jpg") == second_bytes
        thumb = archive.read(f"thumbnails/{first.id}/thumb_150.jpg")
        assert max(PILImage.open(io.BytesIO(thumb)).size) == 150
    assert len(names) == 1 + 2 + 2 * 3
    assert not any(str(unpublished.id) in name for name in names)

    client = api(admin)
    assert manifest["format"] == 1
    assert manifest["session"] == client.get(f"/v1/sessions/{session.id}").json()
    assert [image["id"] for image in manifest["images"]] == [str(first.id), str(second.id)]
    from_api = client.get(f"/v1/images/{first.id}").json()
    from_api.pop("thumb_urls")
    exported = dict(manifest["images"][0])
    assert exported.pop("files") == {
        "original": f"originals/000_{first.id}.jpg",
        "thumbnails": {
            size: f"thumbnails/{first.id}/thumb_{size}.jpg" for size in ("150", "600", "1200")
        },
    }
    assert exported == from_api


def test_exporting_again_writes_the_same_bytes(spin, tmp_path):
    session, _, _ = spin
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"

    run("export_session", str(session.id), "-o", str(first))
    run("export_session", str(session.id), "-o", str(second))
    run("export_session", str(session.id), "-o", str(second))

    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip"]


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ("not-a-uuid", "not a session id: 'not-a-uuid'"),
        ("00000000-0000-0000-0000-000000000000", "no session 00000000-0000-0000-0000-000000000000"),
    ],
)
def test_a_bad_session_argument_is_refused_in_one_line(argument, reason):
    with pytest.raises(CommandError) as refused:
        run("export_session", argument)
    assert str(refused.value) == reason


def test_a_session_without_published_images_has_nothing_to_export(org, site, tmp_path):
    session = CaptureSessionFactory(org=org, site=site)
    add_photo(session, frame=0)

    with pytest.raises(CommandError) as refused:
        run("export_session", str(session.id), "-o", str(tmp_path / "x.zip"))

    assert str(refused.value) == f"session {session.id} has no published images"
    assert list(tmp_path.iterdir()) == []


def test_an_output_in_a_missing_directory_is_refused(spin, tmp_path):
    session, _, _ = spin
    with pytest.raises(CommandError) as refused:
        run("export_session", str(session.id), "-o", str(tmp_path / "nope" / "x.zip"))
    assert str(refused.value) == f"no directory {tmp_path / 'nope'}"


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SAFE_ENTRY = re.compile(
    rf"manifest\.json|originals/\d{{3}}(_[a-z0-9][a-z0-9_-]*)?_{UUID}\.jpg"
    rf"|thumbnails/{UUID}/thumb_\d+\.jpg"
)
HOSTILE_SHOT_NAMES = [
    "../../etc/passwd",
    "/etc/shadow",
    "..\\..\\windows\\win.ini",
    "<script>alert(1)</script>",
    "\x1b[2Jcleared\x07",
    "Ünïcödé 前面 🚗",
    "x" * 64,
    "..",
    "   ",
    "front_left",
]


def test_hostile_shot_names_give_only_safe_unique_entry_names(org, site, admin, tmp_path):
    session = CaptureSessionFactory(org=org, site=site, operator=admin, mode="stills")
    for frame, shot in enumerate(HOSTILE_SHOT_NAMES):
        add_photo(session, frame=frame, shot_name=shot, publish_as=admin)
    target = tmp_path / "stills.zip"

    run("export_session", str(session.id), "-o", str(target))

    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert len(names) == len(set(names)) == 1 + 4 * len(HOSTILE_SHOT_NAMES)
    unsafe = [name for name in names if not SAFE_ENTRY.fullmatch(name) or len(name) > 120]
    assert unsafe == []
    originals = {image["shot_name"]: image["files"]["original"] for image in manifest["images"]}
    assert set(originals) == set(HOSTILE_SHOT_NAMES)  # the manifest keeps the name as sent
    assert originals["../../etc/passwd"].startswith("originals/000_etc-passwd_")
    assert originals["Ünïcödé 前面 🚗"].startswith("originals/005_unicode_")
    assert re.fullmatch(rf"originals/007_{UUID}\.jpg", originals[".."])
    assert originals["front_left"].startswith("originals/009_front_left_")
    assert set(names) >= set(originals.values())


@pytest.mark.parametrize(
    ("shot_name", "slug"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("<script>", "script"),
        ("a\x00b", "a-b"),
        ("\x00", ""),
        ("Ünïcödé", "unicode"),
        ("x" * 500, "x" * 40),
        (None, ""),
    ],
)
def test_a_shot_name_becomes_a_slug_of_lowercase_letters_digits_dash_and_underscore(
    shot_name, slug
):
    from images_app.export import shot_slug

    assert shot_slug(shot_name) == slug
