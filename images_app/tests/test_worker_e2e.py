"""End to end with a real worker: HTTP API (live server) → SeaweedFS → Redis → celery worker.

A device enrolls, opens a session, presigns, PUTs the bytes to the store, reports
upload_complete; a ``celery -A imaging worker`` process (prefork pool) processes the photo
against the same test database. Killing that worker mid-task (a pool child, or the main
process) loses nothing and processes the photo exactly once. A scan bomb fails unread, an
image over its time budget fails with ``timeout`` and frees its worker, and another org's
photo is processed while the first org floods the queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from PIL import Image as PILImage

from accounts.services import enrollment_code_create
from accounts.tokens import user_token_issue
from events_app.models import Event
from images_app.models import Image
from images_app.tasks import process_image
from images_app.tests.jpeg_bombs import progressive_scan_bomb
from imaging.celery import app as celery_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]


REDIS_URL = "redis://127.0.0.1:6379/5"
FIXTURES = Path(__file__).parent / "fixtures"
BASE_DIR = Path(django_settings.BASE_DIR)
WAIT_SECONDS = 90  # upper bound of every wait below; none is a sleep-and-hope
POLL_SECONDS = 0.1


def wait_until(check: Callable[[], Any], *, what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)


# --- HTTP --------------------------------------------------------------------------------


class Api:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"{self.base_url}/v1{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, payload = self.call(method, path, body)
        assert code == status, (method, path, code, payload)
        return payload


def put_object(presigned: dict, data: bytes) -> None:
    request = urllib.request.Request(
        presigned["upload_url"], data=data, method="PUT", headers=presigned["headers"]
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


# --- the worker process ------------------------------------------------------------------


class Worker:
    """``celery -A imaging worker`` (through images_app.tests.e2e_worker) in its own session."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(
        self, *, hold_file: Path | None = None, concurrency: int = 1, **env_overrides: str
    ) -> Worker:
        self.log_path = self.log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        env = {**self.env, **env_overrides}
        if hold_file is not None:
            env["E2E_HOLD_FILE"] = str(hold_file)
        command = [
            sys.executable,
            "-m",
            "images_app.tests.e2e_worker",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=e2e-{uuid.uuid4().hex[:8]}@localhost",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, what="the worker to be ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{self.log()}")
        return b" ready." in self.log_path.read_bytes()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path else ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pool_children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill_main(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL what is left after a bounded wait."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def broker(settings) -> Iterator[str]:
    """The web side sends tasks to Redis (db 5) instead of running them in-process.

    Each test gets its own key prefix in that db, so tests (and xdist workers) running at
    the same time never share a queue.
    """
    prefix = f"e2e-{uuid.uuid4().hex[:12]}:"
    # Read what to restore before touching the settings: the app loads its config lazily.
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in keys}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = REDIS_URL

    def use(**conf: Any) -> None:
        celery_app.conf.update(conf)
        # Connection pools are built from the broker settings on first use: rebuild them.
        celery_app._after_fork()

    use(
        task_always_eager=False,
        broker_url=REDIS_URL,
        broker_transport_options={**saved["broker_transport_options"], "global_keyprefix": prefix},
    )
    try:
        yield prefix
    finally:
        use(**saved)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


@pytest.fixture
def worker_env(transactional_db, broker, s3, settings) -> dict[str, str]:
    """What a worker needs to share this test's database, broker and store."""
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "imaging.settings",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": REDIS_URL,
        **s3.env,
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        "E2E_VISIBILITY_TIMEOUT": "5",
        "E2E_BROKER_KEYPREFIX": broker,
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def workers(worker_env, tmp_path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**kwargs: Any) -> Worker:
        worker = Worker(worker_env, tmp_path).start(**kwargs)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def web(live_server, org, site, admin) -> dict[str, Api]:
    """A freshly enrolled device and an admin, both talking HTTP to the live server."""
    _, code = enrollment_code_create(org=org, uses=1)
    enrolled = Api(live_server.url).ok(
        "POST",
        "/auth/device",
        {
            "org_id": str(org.id),
            "platform": "ios",
            "model": "iPhone 15 Pro",
            "app_version": "1.0.0",
            "enrollment_code": code,
        },
    )
    return {
        "device": Api(live_server.url, enrolled["access_token"]),
        "admin": Api(live_server.url, str(user_token_issue(user=admin))),
        "site_id": str(site.id),
    }


# --- the device's side of an upload ------------------------------------------------------


def session_open(web, mode: str, shot_list: dict) -> str:
    body = {
        "site_id": web["site_id"],
        "vehicle": {"vin": "1HGCM82633A004352", "stock": f"STK-{uuid.uuid4().hex[:6]}"},
        "mode": mode,
        "shot_list": shot_list,
    }
    return web["device"].ok("POST", "/sessions", body, status=201)["id"]


def upload(web, session_id: str, data: bytes, content_type: str, **placement) -> str:
    """Presign, PUT the bytes to the store; returns the image id (not yet reported)."""
    presigned = web["device"].ok(
        "POST",
        "/presign",
        {
            "session_id": session_id,
            "file_name": f"IMG_{uuid.uuid4().hex[:4]}.{content_type.split('/')[1]}",
            "content_type": content_type,
            "content_sha256": hashlib.sha256(data).hexdigest(),
            **placement,
        },
    )
    put_object(presigned, data)
    return presigned["image_id"]


def report_complete(web, *image_ids: str) -> None:
    events = [
        {"entity_type": "image", "entity_id": image_id, "type": "upload_complete"}
        for image_id in image_ids
    ]
    accepted = web["device"].ok("POST", "/events", {"events": events}, status=201)
    assert accepted == {"accepted": len(image_ids)}


def finished(web, image_id: str) -> dict:
    """The image's detail through the API once the worker is done with it.

    Waiting reads the database: polling the API would run into its rate limit.
    """
    done = Image.objects.filter(pk=image_id, status__in=["processed", "failed"])
    wait_until(done.exists, what=f"image {image_id} to be processed")
    return web["admin"].ok("GET", f"/images/{image_id}")


def thumbnail_sizes(detail: dict) -> dict[str, tuple[int, int]]:
    return {
        size: PILImage.open(io.BytesIO(download(url))).size
        for size, url in detail["thumb_urls"].items()
    }


def small_jpeg(seed: int) -> bytes:
    noise = PILImage.effect_noise((640, 480), 50)
    image = PILImage.merge("RGB", [noise, noise.rotate(seed * 5), noise.transpose(seed % 2)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


# --- tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "upright", "exif"),
    [
        (
            "mei_samsung_sm-j327t1_orient6.jpg",
            "image/jpeg",
            (1932, 2576),
            {
                "iso": 40,
                "shutter": "1/2801",
                "aperture": "f/1.9",
                "timestamp": "2019-09-26T16:38:00Z",
            },
        ),
        (
            "pillowheif_arrow_iphone8plus_orient6.heic",
            "image/heic",
            (3024, 4032),
            {
                "iso": 25,
                "shutter": "1/33",
                "aperture": "f/1.8",
                "timestamp": "2018-07-31T14:52:07Z",
            },
        ),
    ],
    ids=["phone-jpeg", "iphone-heic"],
)
def test_a_phone_photo_goes_from_device_to_processed_through_a_real_worker(
    web, workers, name, content_type, upright, exif
):
    workers()
    session_id = session_open(web, "stills", {"stills": ["front_3q", "rear_3q"]})
    image_id = upload(
        web, session_id, (FIXTURES / name).read_bytes(), content_type, shot_name="front_3q"
    )
    report_complete(web, image_id)

    detail = finished(web, image_id)
    assert detail["status"] == "processed", detail
    assert (detail["width"], detail["height"]) == upright
    assert detail["exif"] == exif
    sizes = thumbnail_sizes(detail)
    assert [max(sizes[s]) for s in ("1200", "600", "150")] == [1200, 600, 150]
    assert all(width < height for width, height in sizes.values())
    assert Event.objects.filter(entity_id=image_id, type="processed").count() == 1


def test_a_spin_uploaded_out_of_order_lists_in_angle_order(web, workers):
    workers()
    session_id = session_open(web, "studio360", {"studio360": {"frame_count": 4}})
    image_ids = [
        upload(web, session_id, small_jpeg(frame), "image/jpeg", frame_index=frame)
        for frame in (2, 0, 3, 1)
    ]
    report_complete(web, *image_ids)
    for image_id in image_ids:
        assert finished(web, image_id)["status"] == "processed"

    listing = web["admin"].ok("GET", f"/images?session_id={session_id}")
    assert listing["total"] == 4
    assert [item["angle_deg"] for item in listing["data"]] == [0, 90, 180, 270]
    assert all(item["status"] == "processed" for item in listing["data"])


def held_upload(web, tmp_path) -> tuple[str, Path]:
    """An upload whose processing the worker holds at the pipeline (see e2e_worker)."""
    hold = tmp_path / "hold"
    hold.touch()
    session_id = session_open(web, "stills", {"stills": ["front_3q"]})
    data = (FIXTURES / "mei_samsung_sm-j327t1_orient6.jpg").read_bytes()
    return upload(web, session_id, data, "image/jpeg"), hold


def test_a_pool_child_killed_mid_task_is_redelivered_and_processed_once(web, workers, tmp_path):
    image_id, hold = held_upload(web, tmp_path)
    worker = workers(hold_file=hold)
    report_complete(web, image_id)
    wait_until(Path(f"{hold}.reached").exists, what="the task to reach the pipeline")
    assert Image.objects.get(pk=image_id).status == Image.Status.PROCESSING
    [child] = worker.pool_children()

    os.kill(child, signal.SIGKILL)
    hold.unlink()

    detail = finished(web, image_id)
    assert detail["status"] == "processed"
    assert Image.objects.get(pk=image_id).attempts == 2
    assert Event.objects.filter(entity_id=image_id, type="processed").count() == 1
    assert worker.process.poll() is None  # the main process carried on
    assert "WorkerLostError" in worker.log()


def test_a_worker_killed_mid_task_loses_nothing_after_a_restart(web, workers, tmp_path):
    image_id, hold = held_upload(web, tmp_path)
    first = workers(hold_file=hold)
    report_complete(web, image_id)
    wait_until(Path(f"{hold}.reached").exists, what="the task to reach the pipeline")
    assert first.pool_children()

    first.kill_main()
    # Celery's pool children die with their parent (PDEATHSIG): the whole worker is gone.
    wait_until(lambda: not process_group_alive(first.pid), what="the pool child to die")
    assert Image.objects.get(pk=image_id).status == Image.Status.PROCESSING
    hold.unlink()

    workers()  # the unacknowledged task comes back once its visibility timeout passes
    detail = finished(web, image_id)
    assert detail["status"] == "processed"
    assert Image.objects.get(pk=image_id).attempts == 2
    assert Event.objects.filter(entity_id=image_id, type="processed").count() == 1


def test_a_file_that_cannot_be_a_photo_fails_and_leaves_nothing_in_the_bucket(web, workers):
    from images_app import storage

    workers()
    session_id = session_open(web, "stills", {"stills": ["front_3q"]})
    not_a_photo = (FIXTURES / "broken/wrong_magic_gif_header_php_body.gif").read_bytes()
    image_id = upload(
        web,
        session_id,
        not_a_photo,
        "image/jpeg",
        shot_name="front_3q",
        content_length=len(not_a_photo),
    )
    key = Image.objects.get(pk=image_id).storage_key
    assert storage.object_size(key=key) == len(not_a_photo)
    report_complete(web, image_id)

    detail = finished(web, image_id)
    assert (detail["status"], detail["error"]) == ("failed", "unsupported_format")
    event = Event.objects.get(entity_id=image_id, type="processing_failed")
    assert event.meta["code"] == "unsupported_format"
    # The worker deletes it once the failure is committed: wait for that, boundedly.
    wait_until(lambda: storage.object_size(key=key) is None, what="the original to be deleted")


# --- one image cannot cost minutes, one org cannot starve the others ----------------------
# The figures (how long until a bomb fails, how long another org's photo waits) are printed
# with ``-s``, not asserted.

PHOTO = FIXTURES / "mei_samsung_sm-j327t1_orient6.jpg"  # 5 MP phone JPEG
FLOOD = 12


@pytest.fixture
def other_web(live_server, other_org, other_site_of_other_org) -> dict:
    """A device of a second organisation, talking HTTP to the same live server."""
    _, code = enrollment_code_create(org=other_org, uses=1)
    enrolled = Api(live_server.url).ok(
        "POST",
        "/auth/device",
        {
            "org_id": str(other_org.id),
            "platform": "android",
            "model": "Pixel 8",
            "app_version": "1.0.0",
            "enrollment_code": code,
        },
    )
    return {
        "device": Api(live_server.url, enrolled["access_token"]),
        "site_id": str(other_site_of_other_org.id),
    }


def uploaded(web, *photos: bytes) -> list[str]:
    session_id = session_open(web, "stills", {"stills": ["front_3q"]})
    return [upload(web, session_id, data, "image/jpeg") for data in photos]


def done(image_id: str) -> Image | None:
    return Image.objects.filter(pk=image_id, status__in=["processed", "failed"]).first()


def done_image(image_id: str) -> Image:
    return wait_until(lambda: done(image_id), what=f"image {image_id} to be done")


def seconds_until_done(image_id: str, started: float) -> tuple[Image, float]:
    image = done_image(image_id)
    return image, time.monotonic() - started


def test_a_scan_bomb_fails_unread_and_the_next_photo_follows(web, workers):
    workers()
    bomb = progressive_scan_bomb(repeats=20_000)  # 0.5 MB; about 20 s of CPU to decode
    bomb_id, photo_id = uploaded(web, bomb, PHOTO.read_bytes())

    started = time.monotonic()
    report_complete(web, bomb_id, photo_id)
    image, failed_after = seconds_until_done(bomb_id, started)

    assert (image.status, image.error, image.attempts) == ("failed", "too_many_scans", 1)
    assert done_image(photo_id).status == "processed"
    print(f"\nscan bomb ({len(bomb)} bytes) failed {failed_after:.2f} s after upload_complete")


def test_an_image_over_its_time_budget_fails_with_timeout_and_frees_the_worker(
    web, workers, monkeypatch
):
    # The scan limit lifted so that the bomb is decoded: the time budget is the second line.
    # The limits travel in the message, from the sender's task options (the web process),
    # which Celery reads once and keeps.
    monkeypatch.setattr(process_image, "soft_time_limit", 2)
    monkeypatch.setattr(process_image, "time_limit", 60)
    monkeypatch.setattr(process_image, "_exec_options", None)
    workers(PROCESS_MAX_JPEG_SCANS="1000000", E2E_VISIBILITY_TIMEOUT="120")
    bomb = progressive_scan_bomb(repeats=20_000)
    bomb_id, photo_id = uploaded(web, bomb, PHOTO.read_bytes())

    started = time.monotonic()
    report_complete(web, bomb_id, photo_id)
    image, failed_after = seconds_until_done(bomb_id, started)

    assert (image.status, image.error, image.attempts) == ("failed", "timeout", 1)
    failures = Event.objects.filter(entity_id=bomb_id, type="processing_failed")
    assert [event.meta["code"] for event in failures] == ["timeout"]
    # The same (single) worker process goes on with the next photo; the bomb is not retried.
    assert done_image(photo_id).status == "processed"
    assert Image.objects.get(pk=bomb_id).attempts == 1
    print(f"\ndecoded scan bomb failed with timeout {failed_after:.2f} s after upload_complete")


def test_a_second_orgs_photo_is_processed_while_the_first_org_floods_the_queue(
    web, other_web, workers
):
    workers(concurrency=2)
    photo = PHOTO.read_bytes()
    # Distinct bytes (and checksums) per upload: data after EOI is never decoded.
    flood = uploaded(web, *(photo + index.to_bytes(2, "big") for index in range(FLOOD)))
    [single] = uploaded(other_web, photo)

    report_complete(web, *flood)  # FLOOD tasks ahead of the other org's one in the queue
    started = time.monotonic()
    report_complete(other_web, single)
    image, waited = seconds_until_done(single, started)
    flood_left = Image.objects.filter(pk__in=flood).exclude(status="processed").count()
    flood_done = Image.objects.filter(pk__in=flood, status="processed")
    wait_until(lambda: flood_done.count() == FLOOD, what="the flood to be processed")
    print(
        f"\nother org's photo waited {waited:.2f} s with {flood_left} of {FLOOD} flood images "
        f"still to do; the flood took {time.monotonic() - started:.2f} s"
    )

    assert image.status == "processed"
    assert flood_left >= FLOOD // 2
    # The backlog went on, one image per freed turn: each processed once, and no attempt
    # used up while it waited.
    assert sorted(set(flood_done.values_list("attempts", flat=True))) == [1]
    assert Event.objects.filter(entity_id__in=flood, type="processed").count() == FLOOD
