"""expire_sessions and purge: stale sessions become abandoned; old abandoned ones are deleted
from the store and the database, their events kept."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image as PILImage

from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.services import image_process
from images_app.tests.image_factories import ImageFactory
from images_app.uploads import image_thumb_keys
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()


def hours_ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


# --- expire_sessions -----------------------------------------------------------------------


def test_an_idle_active_session_expires_as_abandoned_with_a_system_event(org, site):
    idle = CaptureSessionFactory(org=org, site=site, started_at=hours_ago(5))
    fresh = CaptureSessionFactory(org=org, site=site, started_at=hours_ago(1))

    assert run("expire_sessions", "--older-than", "2")[-1] == "expired 1 session(s)"

    idle.refresh_from_db()
    fresh.refresh_from_db()
    assert idle.status == CaptureSession.Status.ABANDONED
    assert idle.completed_at is not None
    assert fresh.status == CaptureSession.Status.ACTIVE
    event = Event.objects.get(entity_id=idle.id, type=Event.Type.SESSION_FINISHED)
    assert (event.actor_type, event.actor_id) == ("system", None)
    assert event.meta == {
        "status": "abandoned",
        "completed_at_source": "server",
        "reason": "expired",
        "idle_hours": 2.0,
    }


def test_a_session_still_receiving_uploads_is_not_stale(org, site):
    long_shoot = CaptureSessionFactory(org=org, site=site, started_at=hours_ago(10))
    ImageFactory(session=long_shoot, created_at=hours_ago(9), uploaded_at=hours_ago(0.5))
    quiet = CaptureSessionFactory(org=org, site=site, started_at=hours_ago(10))
    ImageFactory(session=quiet, created_at=hours_ago(9), uploaded_at=hours_ago(8))

    run("expire_sessions", "--older-than", "2")

    assert CaptureSession.objects.get(pk=long_shoot.pk).status == "active"
    assert CaptureSession.objects.get(pk=quiet.pk).status == "abandoned"


def test_expiring_twice_changes_nothing_the_second_time(org, site):
    CaptureSessionFactory(org=org, site=site, started_at=hours_ago(30))
    finished = CaptureSessionFactory(
        org=org, site=site, started_at=hours_ago(30), status="complete"
    )

    assert run("expire_sessions", "--older-than", "24")[-1] == "expired 1 session(s)"
    assert run("expire_sessions", "--older-than", "24")[-1] == "expired 0 session(s)"
    assert CaptureSession.objects.get(pk=finished.pk).status == "complete"
    assert Event.objects.filter(type=Event.Type.SESSION_FINISHED).count() == 1


def test_a_dry_run_lists_without_changing_and_org_limits_the_scope(org, site, other_org):
    mine = CaptureSessionFactory(org=org, site=site, started_at=hours_ago(5))
    CaptureSessionFactory(org=other_org, started_at=hours_ago(5))

    lines = run("expire_sessions", "--older-than", "2", "--org", org.name, "--dry-run")

    assert lines[0].startswith(f"would expire {mine.id} (last activity ")
    assert lines[-1] == "would expire 1 session(s)"
    assert not CaptureSession.objects.exclude(status="active").exists()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--older-than", "0"), "--older-than must be a positive number of hours"),
        (("--older-than", "-3"), "--older-than must be a positive number of hours"),
        (("--older-than", "2", "--org", "No Such Org"), "no organization 'No Such Org'"),
    ],
)
def test_expire_sessions_refuses_bad_input_in_one_line(args, reason):
    with pytest.raises(CommandError) as refused:
        run("expire_sessions", *args)
    assert str(refused.value) == reason


# --- purge ---------------------------------------------------------------------------------


def photo() -> bytes:
    out = io.BytesIO()
    PILImage.effect_noise((320, 240), 60).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def processed_image(session) -> Image:
    data = photo()
    image = ImageFactory(session=session, content_sha256=hashlib.sha256(data).hexdigest())
    storage.put_bytes(key=image.storage_key, data=data, content_type="image/jpeg")
    assert image_process(image_id=image.id) == "processed"
    image.refresh_from_db()
    return image


def keys_of(image: Image) -> list[str]:
    return [image.storage_key, *image_thumb_keys(image=image).values()]


@pytest.fixture
def abandoned_long_ago(s3, org, site):
    session = CaptureSessionFactory(
        org=org, site=site, status="abandoned", completed_at=timezone.now() - timedelta(days=10)
    )
    images = [processed_image(session), processed_image(session)]
    return session, images


def test_purge_is_a_dry_run_unless_told_yes(abandoned_long_ago):
    session, images = abandoned_long_ago

    lines = run("purge", "--abandoned-older-than", "7")

    assert lines[0].startswith(f"would purge {session.id} (abandoned ")
    assert "2 image(s), 8 object key(s)" in lines[0]
    assert lines[-1] == (
        "dry run: would purge 1 session(s), 2 image(s), 8 object key(s); "
        "run again with --yes to delete"
    )
    assert CaptureSession.objects.filter(pk=session.pk).exists()
    assert all(storage.object_size(key=key) for image in images for key in keys_of(image))


def test_purge_deletes_objects_and_rows_and_keeps_the_events(abandoned_long_ago, org, site):
    session, images = abandoned_long_ago
    recent = CaptureSessionFactory(
        org=org, site=site, status="abandoned", completed_at=timezone.now() - timedelta(days=2)
    )
    complete = CaptureSessionFactory(
        org=org, site=site, status="complete", completed_at=timezone.now() - timedelta(days=30)
    )
    events_before = Event.objects.filter(entity_id__in=[i.id for i in images]).count()
    assert events_before >= 2
    keys = [key for image in images for key in keys_of(image)]

    lines = run("purge", "--abandoned-older-than", "7", "--yes")

    assert lines[-1] == "purged 1 session(s), 2 image(s), 8 object key(s); events kept"
    assert not CaptureSession.objects.filter(pk=session.pk).exists()
    assert not Image.objects.filter(pk__in=[i.id for i in images]).exists()
    assert all(storage.object_size(key=key) is None for key in keys)
    assert Event.objects.filter(entity_id__in=[i.id for i in images]).count() == events_before
    assert set(CaptureSession.objects.values_list("pk", flat=True)) == {recent.pk, complete.pk}
    assert run("purge", "--abandoned-older-than", "7", "--yes")[-1] == (
        "purged 0 session(s), 0 image(s), 0 object key(s); events kept"
    )


def test_purge_with_the_store_down_deletes_nothing(abandoned_long_ago, settings):
    from devtools.seaweed import free_ports

    session, _ = abandoned_long_ago
    (closed,) = free_ports(1)
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed}"

    with pytest.raises(CommandError) as refused:
        run("purge", "--abandoned-older-than", "7", "--yes")

    assert str(refused.value).startswith("storage error after 0 session(s), nothing lost: ")
    assert CaptureSession.objects.filter(pk=session.pk).exists()


def test_purge_refuses_a_negative_age():
    with pytest.raises(CommandError) as refused:
        run("purge", "--abandoned-older-than", "-1")
    assert str(refused.value) == "--abandoned-older-than must be 0 or more days"


def test_a_bad_argument_exits_non_zero_with_a_one_line_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "purge", "--abandoned-older-than", "soon"],
        cwd=django_settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "DEBUG": "true",  # an operator's shell on a development checkout
            "VAR_DIR": str(tmp_path / "var"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "invalid float value: 'soon'" in line
