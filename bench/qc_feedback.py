"""Benchmark: how soon a device sees a frame's QC verdict, idle and under load.

Run: ``make bench-qc`` (``.venv/bin/python bench/qc_feedback.py``; about three minutes on
2 cores). Needs PostgreSQL and Redis (``make run``'s); starts its own SeaweedFS, gunicorn
(2 workers x 4 threads) and a Celery worker with 2 processes. Uses the database
``BENCH_DATABASE_URL`` (default ``imaging_bench_qc``, created and migrated if missing) and
Redis db 7 under a key prefix of its own (the web side's and the worker's).

The clock starts when the device sends ``upload_complete`` for a frame (``POST /v1/events``,
the object already in the store) and stops when the device's poll of ``GET
/v1/sessions/{id}`` (with ``If-None-Match``, every ``--poll-interval`` seconds, as the
device simulator does) first shows the frame processed with its QC verdict.

1. Floor: the bare pipeline (``process_image_bytes``) on the same photo, in this process.
2. Idle: ``--samples`` frames, one at a time, with the worker otherwise idle.
3. Capacity: a burst of images of two other organisations (the per-org cap is 1, so two
   organisations fill both processes) measures images per second.
4. Load: those organisations' images arrive evenly at 80 % of that capacity while the same
   number of device frames is measured.

Targets: p95 <= 2 s idle, <= 5 s at 80 % load. Exits non-zero when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging_bench_qc"
)
REDIS_URL = "redis://127.0.0.1:6379/7"
# The web side sends tasks under the bench's key prefix, as the worker reads them.
GUNICORN_CONFIG = """
import os


def post_fork(server, worker):
    from imaging.celery import app

    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "global_keyprefix": os.environ["E2E_BROKER_KEYPREFIX"],
    }
"""
WORKER_PROCESSES = 2
TARGET_IDLE_P95, TARGET_LOAD_P95 = 2.0, 5.0
LOAD_FRACTION = 0.8


def ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker's pool), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for each in [pid, *(int(c) for c in children.read_text().split())]:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


class DevicePoller:
    """The device's side over HTTP: report a frame, then poll the detail conditionally."""

    def __init__(self, base_url: str, token: str, session_id: uuid.UUID, interval: float):
        self.base_url, self.token, self.session_id = base_url, token, session_id
        self.interval = interval
        self.etag: str | None = None
        self.frames: dict[str, dict] = {}
        self.polls = {"200": 0, "304": 0}

    def _request(self, method: str, path: str, body: object = None) -> tuple[int, bytes, dict]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "GET" and self.etag:
            headers["If-None-Match"] = self.etag
        request = urllib.request.Request(
            f"{self.base_url}/v1{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def poll(self) -> None:
        status, payload, headers = self._request("GET", f"/sessions/{self.session_id}")
        self.polls[str(status)] = self.polls.get(str(status), 0) + 1
        if status == 200:
            self.etag = headers.get("ETag")
            self.frames = {f["id"]: f for f in json.loads(payload)["frames"]}
        elif status != 304:
            raise RuntimeError(f"detail: HTTP {status} {payload[:200]!r}")

    def time_to_verdict(self, image_id: uuid.UUID, timeout: float = 120) -> float:
        started = time.monotonic()
        status, payload, _ = self._request(
            "POST",
            "/events",
            {
                "events": [
                    {"entity_type": "image", "entity_id": str(image_id), "type": "upload_complete"}
                ]
            },
        )
        if status != 201:
            raise RuntimeError(f"events: HTTP {status} {payload[:200]!r}")
        while True:
            self.poll()
            frame = self.frames.get(str(image_id))
            if frame is not None and frame["status"] == "processed" and frame["qc"]:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"no verdict for {image_id} after {timeout} s")
            time.sleep(self.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20, help="device frames per phase")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="device poll, seconds")
    parser.add_argument(
        "--size", default="4000x3000", help="the photo's pixels (default 12 MP, a phone's)"
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from devtools.seaweed import SeaweedServer, wait_for

    ensure_database()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    data_dir = tempfile.mkdtemp(prefix="bench-qc-")
    seaweed = SeaweedServer(data_dir, access_key="bench-key", secret_key="bench-secret-key")
    seaweed.start()
    env = {
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "imaging.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_PUBLIC_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_ACCESS_KEY_ID": "bench-key",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
        "E2E_BROKER_KEYPREFIX": prefix,
        "E2E_VISIBILITY_TIMEOUT": "3600",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMITS_ENABLED": "false",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections, connections

    from accounts.models import Device, Organization, Site
    from accounts.tokens import device_token_issue
    from images_app import pipeline, storage
    from images_app.models import CheckPolicy, Image
    from images_app.services import images_upload_complete
    from images_app.uploads import image_storage_key
    from imaging.celery import app as celery_app
    from sessions_app.models import CaptureSession, Vehicle

    celery_app.conf.broker_transport_options = {
        **celery_app.conf.broker_transport_options,
        "global_keyprefix": prefix,
    }
    call_command("migrate", verbosity=0)
    wait_for(storage.bucket_ensure, timeout=30, what="bucket")

    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "bench" / "pipeline.py")
    bench_pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_pipeline)
    photo = bench_pipeline.synthetic_jpeg(width=width, height=height)

    # 1. The floor: the pipeline alone on this photo.
    floor_runs = []
    for _ in range(5):
        started = time.perf_counter()
        result = pipeline.process_image_bytes(photo, content_type="image/jpeg")
        floor_runs.append(time.perf_counter() - started)
    floor = statistics.median(floor_runs)
    print(f"photo {width}x{height} ({len(photo) / 1e6:.1f} MB), QC {result.qc_status}")

    def org_with_session(name: str, device: bool) -> tuple[Organization, CaptureSession, object]:
        org = Organization.objects.create(name=f"{name} {prefix}")
        CheckPolicy.objects.create(org=org, qc_reshoot="suggest")
        site = Site.objects.create(org=org, name="Bench")
        vehicle = Vehicle.objects.create(org=org, stock=f"{name[:3]}-{prefix[:-1]}")
        capturer = Device.objects.create(org=org, platform="ios", model="Bench") if device else None
        session = CaptureSession.objects.create(
            org=org, site=site, vehicle=vehicle, mode="stills", device=capturer
        )
        return org, session, capturer

    counter = iter(range(10**6))

    def stored(session: CaptureSession, count: int) -> list[uuid.UUID]:
        ids = []
        for _ in range(count):
            n = next(counter)
            data = photo + f"bench {prefix} {n}".encode()  # after EOI: same pixels, new bytes
            image_id = uuid.uuid4()
            key = image_storage_key(
                org_id=session.org_id, site_id=session.site_id, session_id=session.id,
                image_id=image_id, content_type="image/jpeg",
            )  # fmt: skip
            storage.put_bytes(key=key, data=data, content_type="image/jpeg")
            Image.objects.create(
                id=image_id, org_id=session.org_id, session=session,
                vehicle_id=session.vehicle_id, shot_name=None, file_name=f"{n}.jpg",
                content_type="image/jpeg", content_sha256=hashlib.sha256(data).hexdigest(),
                storage_key=key,
            )  # fmt: skip
            ids.append(image_id)
        return ids

    _, device_session, device = org_with_session("Device", device=True)
    loads = [org_with_session(f"Load{n}", device=False)[1] for n in range(2)]
    print(f"storing {args.samples * 2} device frames and the load's photos…", flush=True)
    device_frames = stored(device_session, args.samples * 2)
    burst = [image for session in loads for image in stored(session, 8)]
    token = str(device_token_issue(device=device))
    connections.close_all()

    port = free_port()
    gunicorn_config = Path(data_dir) / "gunicorn_conf.py"
    gunicorn_config.write_text(GUNICORN_CONFIG)
    web_log = (Path(data_dir) / "gunicorn.log").open("wb")
    worker_log = (Path(data_dir) / "worker.log").open("wb")
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "imaging.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
            "--config", str(gunicorn_config),
        ],
        cwd=ROOT, env=os.environ.copy(), stdout=web_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "images_app.tests.e2e_worker", "worker",
            "--pool=prefork", f"--concurrency={WORKER_PROCESSES}", "--loglevel=WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=bench-{prefix[:-1]}@localhost",
        ],
        cwd=ROOT, env=os.environ.copy(), stdout=worker_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: urllib.request.urlopen(f"{base_url}/healthz", timeout=2).status == 200,
            timeout=30,
            what="gunicorn",
        )
        time.sleep(8)  # the worker's processes up (its readiness is not logged at WARNING)
        device_api = DevicePoller(base_url, token, device_session.id, args.poll_interval)

        def measure(frames: list[uuid.UUID]) -> list[float]:
            return [device_api.time_to_verdict(image_id) for image_id in frames]

        # 2. Idle (the first frame warms the worker's processes up: not counted).
        measure(device_frames[:1])
        idle = measure(device_frames[1 : args.samples + 1])

        # 3. Capacity: the burst, both processes busy.
        started = time.monotonic()
        cpu_before = cpu_seconds(worker.pid)
        images_upload_complete(image_ids=burst)
        pending = set(burst)
        while pending:
            done = Image.objects.filter(pk__in=pending, status=Image.Status.PROCESSED)
            pending -= set(done.values_list("pk", flat=True))
            time.sleep(0.05)
        capacity = len(burst) / (time.monotonic() - started)
        cpu_per_image = (cpu_seconds(worker.pid) - cpu_before) / len(burst)

        # 4. Load at 80 % of that capacity, from the two other organisations.
        rate = LOAD_FRACTION * capacity
        stop_load = threading.Event()
        load_images: list[uuid.UUID] = []

        def feed() -> None:
            close_old_connections()
            spare: list[uuid.UUID] = []
            n = 0
            next_at = time.monotonic()
            while not stop_load.is_set():
                if not spare:
                    spare = stored(loads[n % 2], 4)
                image_id = spare.pop()
                images_upload_complete(image_ids=[image_id])
                load_images.append(image_id)
                n += 1
                next_at += 1 / rate
                stop_load.wait(max(0.0, next_at - time.monotonic()))
            connections.close_all()

        # The load's photos are stored ahead: only upload_complete is on the clock.
        for session in loads:
            stored(session, 4)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(3)  # the load settles
        cpu_before, wall_before = cpu_seconds(worker.pid), time.monotonic()
        loaded = measure(device_frames[args.samples + 1 :])
        busy = (cpu_seconds(worker.pid) - cpu_before) / (time.monotonic() - wall_before)
        stop_load.set()
        feeder.join(timeout=30)
    finally:
        for process in (worker, gunicorn):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in (worker, gunicorn):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        seaweed.stop(graceful=False)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)

    def line(name: str, values: list[float], target: float | None) -> bool:
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        ok = target is None or p95 <= target
        verdict = (
            ""
            if target is None
            else f"  target p95 <= {target:.1f} s: " + ("ok" if ok else "MISSED")
        )
        print(
            f"{name:<22} p50 {p50:5.2f} s ({p50 / floor:4.1f}x floor)  "
            f"p95 {p95:5.2f} s ({p95 / floor:4.1f}x floor)  max {max(values):5.2f} s  "
            f"n={len(values)}{verdict}"
        )
        return ok

    print(
        f"\n{os.cpu_count()} CPUs, {WORKER_PROCESSES} worker processes, device polls every "
        f"{args.poll_interval:.2f} s with If-None-Match "
        f"({device_api.polls.get('304', 0)} x 304, {device_api.polls.get('200', 0)} x 200)"
    )
    print(f"floor: the bare pipeline on this photo {floor:.2f} s (median of 5)")
    print(
        f"capacity: {capacity:.2f} images/s ({cpu_per_image:.2f} CPU s each); load at "
        f"{LOAD_FRACTION:.0%}: {rate:.2f} images/s, {len(load_images)} images, the worker "
        f"busy {busy:.2f} of {WORKER_PROCESSES} processes"
    )
    ok = line("upload → verdict, idle", idle, TARGET_IDLE_P95)
    ok &= line("upload → verdict, 80 %", loaded, TARGET_LOAD_P95)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
