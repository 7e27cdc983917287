"""QC verdicts back to the device, end to end: the device simulator (standard library only)
against the live server, SeaweedFS, Redis and a real ``celery worker`` with 2 processes.

With the organisation's "reshoot on QC failure" set to ``require``, the simulator uploads a
spin with two frames rendered out of focus, follows the session's detail with conditional
polling, sees the two automatic reshoot items, uploads replacements and finishes a clean
session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from accounts.services import enrollment_code_create
from events_app.models import Event
from images_app.models import CheckPolicy, Image, ReshootItem
from images_app.tests.test_worker_e2e import (  # noqa: F401 (fixtures)
    BASE_DIR,
    broker,
    worker_env,
    workers,
)
from sessions_app.models import CaptureSession

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]

SIMULATOR = BASE_DIR / "clients" / "device_sim.py"


def test_two_blurred_frames_come_back_as_reshoots_and_the_session_ends_clean(
    live_server, org, site, request, tmp_path
):
    start_worker = request.getfixturevalue("workers")
    CheckPolicy.objects.create(org=org, qc_reshoot=CheckPolicy.QcReshoot.REQUIRE)
    _, code = enrollment_code_create(org=org, uses=1, expires_in=timedelta(days=1))
    start_worker(concurrency=2)

    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(SIMULATOR),
            *("--api", live_server.url, "--org", str(org.id), "--site", str(site.id)),
            *("--enrollment-code", code, "--state", str(tmp_path / "state.json")),
            *("--size", "320x240", "--frames", "6", "--blur", "2"),
            *("--follow-qc", "--reshoots", "--poll-interval", "0.2", "--follow-timeout", "90"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    [session_result] = summary["sessions"]
    assert (session_result["status"], session_result["clean"]) == ("complete", True)
    assert sorted(f["place"] for f in summary["qc_failures"]) == ["frame 1", "frame 3"]
    items = summary["reshoot_items"]
    assert sorted(i["frame_index"] for i in items) == [1, 3]
    assert all(i["automatic"] and i["required"] and i["reasons"] == ["blurred"] for i in items)
    assert len(summary["reshoots_uploaded"]) == 2
    assert summary["polls"]["changed"] >= 2
    assert "frame 1 failed QC (blurred)" in result.stdout

    session = CaptureSession.objects.get(pk=session_result["session_id"])
    assert session.status == CaptureSession.Status.COMPLETE
    fulfilled = ReshootItem.objects.filter(session=session)
    assert sorted((i.frame_index, i.status, i.automatic) for i in fulfilled) == [
        (1, "fulfilled", True),
        (3, "fulfilled", True),
    ]
    images = Image.objects.filter(session=session)
    assert images.count() == 8
    assert set(images.values_list("status", flat=True)) == {Image.Status.PROCESSED}
    replacements = images.filter(replaces__isnull=False)
    assert sorted(replacements.values_list("frame_index", flat=True)) == [1, 3]
    assert all(image.qc["sharpness"]["status"] == "pass" for image in replacements)
    requested = Event.objects.filter(type=Event.Type.RESHOOT_REQUESTED, entity_id=session.pk)
    assert requested.count() == 2 and all(e.actor_type == "system" for e in requested)
