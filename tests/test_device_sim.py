"""The device simulator against the live test server, SeaweedFS and the real pipeline.

The simulator runs as a subprocess with ``python -S`` (no site-packages): it must work with
the standard library alone, as the reference client device developers copy.
"""

from __future__ import annotations

import html
import http.server
import io
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image as PILImage

from accounts.models import Device
from accounts.services import enrollment_code_create
from clients import device_sim, synthetic_frames
from images_app.models import Image
from sessions_app.models import CaptureSession
from sessions_app.tests.console import console, review_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]

SIMULATOR = Path(django_settings.BASE_DIR) / "clients" / "device_sim.py"


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Without REDIS_URL, tasks run in-process after commit (the embedded default). Forced
    here: a fixture elsewhere that reconfigures the Celery app may leave it pointing at a
    broker once its test is over."""
    from imaging.celery import app as celery_app

    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


@pytest.fixture
def code(org) -> str:
    _, raw = enrollment_code_create(org=org, uses=10, expires_in=timedelta(days=1), label="sim")
    return raw


def simulate(*args: str, state: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-S", str(SIMULATOR), "--state", str(state), "--size", "320x240", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary_of(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def base_args(server_url: str, org, site, code: str | None = None) -> list[str]:
    args = ["--api", server_url, "--org", str(org.id), "--site", str(site.id), "--json"]
    return [*args, "--enrollment-code", code] if code else args


def test_a_simulated_device_captures_a_spin_that_is_processed(
    live_server, org, site, code, tmp_path
):
    result = simulate(
        *base_args(live_server.url, org, site, code), "--frames", "6", state=tmp_path / "s.json"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    (session_id,) = [s["session_id"] for s in summary["sessions"]]
    assert summary["completed"] == 1
    assert summary["frames_uploaded"] == 6
    assert summary["events_accepted"] == 6
    session = CaptureSession.objects.get(pk=session_id)
    assert session.status == CaptureSession.Status.COMPLETE
    assert session.device.model == "Turntable Rig (simulated)"
    assert session.shot_list == {"studio360": {"frame_count": 6}}
    images = Image.objects.filter(session=session).order_by("angle_deg")
    assert [i.angle_deg for i in images] == [0, 60, 120, 180, 240, 300]
    assert {i.status for i in images} == {Image.Status.PROCESSED}
    assert {(i.width, i.height) for i in images} == {(320, 240)}
    assert f"/admin/sessions_app/capturesession/{session_id}/change/" in result.stdout


def test_an_interrupted_session_resumes_with_each_frame_uploaded_once(
    live_server, org, site, code, tmp_path
):
    state = tmp_path / "state.json"
    first = simulate(
        *base_args(live_server.url, org, site, code),
        "--frames",
        "8",
        "--batch-size",
        "2",
        "--interrupt-after",
        "3",
        state=state,
    )

    assert first.returncode == 3, first.stdout + first.stderr
    (session_id,) = summary_of(first)["unfinished"]
    session = CaptureSession.objects.get(pk=session_id)
    assert session.status == CaptureSession.Status.ACTIVE
    assert session.images.count() == 3

    # The second run needs no enrollment code: the saved device refreshes its token.
    second = simulate(*base_args(live_server.url, org, site), "--sessions", "0", state=state)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming" in second.stdout
    session.refresh_from_db()
    assert session.status == CaptureSession.Status.COMPLETE
    images = Image.objects.filter(session=session)
    assert sorted(images.values_list("frame_index", flat=True)) == list(range(8))
    assert {i.status for i in images} == {Image.Status.PROCESSED}
    assert Device.objects.filter(org=org).count() == 1
    assert json.loads(state.read_text())["sessions"] == {}


def test_a_stills_session_uploads_its_shot_list(live_server, org, site, code, tmp_path):
    result = simulate(
        *base_args(live_server.url, org, site, code),
        "--mode",
        "stills",
        "--shots",
        "front_3q,rear_3q,dash",
        state=tmp_path / "s.json",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    (session_id,) = [s["session_id"] for s in summary_of(result)["sessions"]]
    session = CaptureSession.objects.get(pk=session_id)
    assert session.shot_list == {"stills": ["front_3q", "rear_3q", "dash"]}
    assert sorted(session.images.values_list("shot_name", flat=True)) == [
        "dash",
        "front_3q",
        "rear_3q",
    ]


def test_photos_from_a_directory_are_uploaded_as_they_are(live_server, org, site, code, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in range(2):
        out = io.BytesIO()
        PILImage.effect_noise((200, 150), 50 + n).convert("RGB").save(out, "JPEG")
        (photos / f"IMG_{n}.jpg").write_bytes(out.getvalue())

    result = simulate(
        *base_args(live_server.url, org, site, code),
        "--photos",
        str(photos),
        "--frames",
        "2",
        state=tmp_path / "s.json",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(Image.objects.values_list("file_name", flat=True)) == ["IMG_0.jpg", "IMG_1.jpg"]
    assert set(Image.objects.values_list("width", flat=True)) == {200}


def test_load_mode_runs_sessions_concurrently_across_devices(
    live_server, org, site, code, tmp_path
):
    result = simulate(
        *base_args(live_server.url, org, site, code),
        "--frames",
        "2",
        "--sessions",
        "3",
        "--concurrency",
        "2",
        "--devices",
        "2",
        "--quiet",
        state=tmp_path / "s.json",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert summary_of(result)["completed"] == 3
    assert CaptureSession.objects.filter(status=CaptureSession.Status.COMPLETE).count() == 3
    assert Device.objects.filter(org=org).count() == 2
    assert Image.objects.filter(status=Image.Status.PROCESSED).count() == 6


# --- retries through an unreliable network -------------------------------------------------


class FlakyProxy:
    """Forwards to the server, but answers 503, 429 (Retry-After: 0) or drops the connection
    on a fixed share of requests: what a mobile network and a busy server do to a device."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.count = 0
        self.faults: list[str] = []
        self.presign_bodies: list[dict] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                with proxy.lock:
                    proxy.count += 1
                    n = proxy.count
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.endswith("/presign") and body:
                    with proxy.lock:
                        proxy.presign_bodies.append(json.loads(body))
                if n % 3 == 1:
                    fault = ("503", "429", "drop")[(n // 3) % 3]
                    proxy.faults.append(fault)
                    if fault == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self.send_response(int(fault))
                    if fault == "429":
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"code": "X", "message": "", "details": {}}}')
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command
                )
                for name in ("Content-Type", "Authorization", "Accept"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky(live_server) -> Iterator[FlakyProxy]:
    with FlakyProxy(live_server.url) as proxy:
        yield proxy


def test_the_simulator_retries_429_5xx_and_dropped_connections(flaky, org, site, code, tmp_path):
    result = simulate(
        *base_args(flaky.url, org, site, code), "--frames", "3", state=tmp_path / "s.json"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    assert summary["completed"] == 1
    assert summary["retries"] == len(flaky.faults) >= 3
    assert {"503", "429", "drop"} <= set(flaky.faults)
    assert Image.objects.filter(status=Image.Status.PROCESSED).count() == 3
    assert Device.objects.count() == 1


def test_the_simulator_declares_each_frames_length_and_the_store_takes_it(
    flaky, org, site, code, tmp_path
):
    result = simulate(
        *base_args(flaky.url, org, site, code), "--frames", "2", state=tmp_path / "s.json"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    declared = {body["content_length"] for body in flaky.presign_bodies}
    # The PUTs went straight to the store, which checked each length against the URL.
    assert declared == set(Image.objects.values_list("size", flat=True))
    assert Image.objects.filter(status=Image.Status.PROCESSED).count() == 2


# --- bad input -------------------------------------------------------------------------------


def test_a_wrong_enrollment_code_exits_2_with_one_line(live_server, org, site, tmp_path):
    result = simulate(
        *base_args(live_server.url, org, site, "not-the-code"), state=tmp_path / "s.json"
    )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "enroll: HTTP 401 UNAUTHORIZED" in result.stderr
    assert CaptureSession.objects.count() == 0


def test_malformed_arguments_exit_2_before_any_request(tmp_path):
    result = simulate("--org", "nope", "--site", "also-nope", state=tmp_path / "s.json")

    assert result.returncode == 2
    assert result.stderr.strip() == "device_sim: --org must be a uuid"


# --- the encoder --------------------------------------------------------------------------------


def test_rendered_frames_are_valid_jpegs_that_differ_by_angle():
    first = synthetic_frames.synthetic_jpeg(angle_deg=0, label="a", width=96, height=64, seed=1)
    second = synthetic_frames.synthetic_jpeg(angle_deg=90, label="b", width=96, height=64, seed=1)

    for data in (first, second):
        image = PILImage.open(io.BytesIO(data))
        image.load()
        assert (image.format, image.size, image.mode) == ("JPEG", (96, 64), "RGB")
    assert first != second
    assert first == synthetic_frames.synthetic_jpeg(
        angle_deg=0, label="a", width=96, height=64, seed=1
    )


def test_the_encoder_reproduces_an_image_closely():
    import numpy as np

    source = PILImage.effect_noise((72, 40), 30).convert("RGB").convert("YCbCr")
    y, cb, cr = source.split()

    def rows(image):
        return [bytearray(row.tobytes()) for row in np.asarray(image)]

    half = (36, 20)
    data = synthetic_frames.encode_jpeg(
        rows(y),
        rows(cb.resize(half, PILImage.BOX)),
        rows(cr.resize(half, PILImage.BOX)),
        quality=95,
    )
    decoded = np.asarray(PILImage.open(io.BytesIO(data)).convert("YCbCr"))[..., 0]

    assert np.abs(decoded.astype(float) - np.asarray(y, dtype=float)).mean() < 3


def test_generated_vins_have_a_correct_check_digit():
    import random

    from sessions_app.vin import vin_check_digit_ok

    rng = random.Random(7)
    assert all(vin_check_digit_ok(device_sim.random_vin(rng)) for _ in range(50))


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        ("swap", {("out_of_order", 8), ("out_of_order", 14)}),
        # The frame a third of the way round is shot twice and the next angle never.
        ("duplicate", {("duplicate", 9), ("skipped_angles", 10)}),
        ("drop", {("skipped_angles", 9)}),
    ],
)
def test_a_corrupted_spin_shows_its_findings_in_the_api(
    live_server, org, site, code, reviewer, api, tmp_path, corrupt, expected
):
    result = simulate(
        *base_args(live_server.url, org, site, code),
        "--frames",
        "24",
        "--corrupt",
        corrupt,
        state=tmp_path / "s.json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (session_id,) = [s["session_id"] for s in summary_of(result)["sessions"]]
    health = api(reviewer).get(f"/v1/sessions/{session_id}").json()["spin_health"]
    assert health["status"] == "unhealthy"
    assert {(f["type"], f["frame_index"]) for f in health["findings"]} == expected

    # The console's review page: one line per finding, and the frames found out of place
    # (or repeated) come with "Wrong angle" pre-selected to reject them.
    session = CaptureSession.objects.get(pk=session_id)
    page = console(reviewer).get(review_url(session)).content.decode()
    assert 'id="spin-health" data-status="unhealthy"' in page
    for finding in health["findings"]:
        line = f'class="spin-{finding["type"]}" data-index="{finding["frame_index"]}">'
        assert line + html.escape(finding["message"]) in page
        if finding["type"] != "skipped_angles":
            card = page.split(f'data-image-id="{finding["image_id"]}"', 1)[1].split(">", 1)[0]
            (suggested,) = re.findall(r'data-suggested="([^"]*)"', card)
            assert "wrong_angle" in suggested.split()


def test_the_same_photos_uploaded_to_two_vins_are_flagged_on_both(
    live_server, org, site, code, reviewer, api, tmp_path
):
    photos = tmp_path / "photos"
    photos.mkdir()
    car = Path(django_settings.BASE_DIR) / "images_app" / "tests" / "fixtures" / "spin"
    for number in (1, 19):
        name = f"12957_sp0640_{number:03d}.jpg"
        (photos / name).write_bytes((car / "car_toyota_chr_evox_36" / name).read_bytes())

    result = simulate(
        *base_args(live_server.url, org, site, code),
        "--photos",
        str(photos),
        "--frames",
        "2",
        "--sessions",
        "2",
        state=tmp_path / "s.json",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    sessions = [s["session_id"] for s in summary_of(result)["sessions"]]
    assert len(sessions) == 2
    images = list(Image.objects.select_related("vehicle"))
    assert len(images) == 4 and len({image.vehicle.vin for image in images}) == 2
    client = api(reviewer)
    for image in images:
        (copy,) = [
            other for other in images if other.file_name == image.file_name and other.pk != image.pk
        ]
        duplicates = client.get(f"/v1/images/{image.pk}").json()["duplicates"]
        assert [(d["image_id"], d["vin"], d["kind"], d["reason"]) for d in duplicates] == [
            (str(copy.pk), copy.vehicle.vin, "exact", "possible_wrong_vehicle")
        ]
    for session_id in sessions:
        session = CaptureSession.objects.get(pk=session_id)
        page = console(reviewer).get(review_url(session)).content.decode()
        assert page.count("Possible duplicate</a>") == 2
        suggested = re.findall(r'data-suggested="([^"]*)"', page)
        assert len(suggested) == 2 and all("duplicate" in s.split() for s in suggested)


def test_blurred_frames_are_spread_and_fail_qc():
    from images_app import pipeline

    assert device_sim.blurred_positions(6, 2) == [1, 3]
    assert device_sim.blurred_positions(24, 3) == [1, 8, 16]
    assert device_sim.blurred_positions(3, 9) == [1, 2]  # never the first frame
    assert device_sim.blurred_positions(6, 0) == []
    sharp, blurred = (
        synthetic_frames.synthetic_jpeg(
            angle_deg=30, label="f", width=320, height=240, seed=1, blur=blur
        )
        for blur in (0, device_sim.BLUR_RADIUS)
    )
    verdicts = [
        pipeline.process_image_bytes(data, content_type="image/jpeg").qc["sharpness"]["status"]
        for data in (sharp, blurred)
    ]
    assert verdicts == ["pass", "fail"]
