"""Load benchmark of the API in its production shape, on loopback: `make bench-api`.

One command starts everything on 127.0.0.1 and stops it again:
- PostgreSQL: the local server, a scratch database (``imaging_load``, dropped and created);
- Redis: its own ``redis-server`` on a free port, no persistence (cache, rate-limit counters,
  broker of the tasks ``upload_complete`` enqueues; no worker runs);
- SeaweedFS: ``devtools.seaweed.SeaweedServer`` (presigning is local, /readyz checks it);
- gunicorn with the web role's flags from ``scripts/entrypoint.sh`` (4 workers x 2 threads,
  access log on), ``DEBUG=false``, throwaway secrets, rate limits on. It serves
  ``bench.api_settings``: the production settings plus two reference views
  (``bench/api_urls.py``).

Then it seeds one organisation (sites, reviewers, operators, devices, 200 spin sessions of 24
processed frames, the devices' own sessions) and loads each endpoint with wrk for a warm-up
and a measured run, one endpoint at a time, always with the same arrangement: wrk -t1 -c8
sharing the machine's cores with the server. Tokens rotate over enough users and devices that
no rate limit is reached (any 429 would still be counted and shown).

The ceiling is a plain Django JSON view behind the same middleware and server; it is loaded
for a short slice before the first endpoint and after each one, and every endpoint is
compared with the mean of the two slices around it, so that the ratio holds while other
work on the machine comes and goes.

Printed per endpoint: requests/s, p50/p99 latency, statuses, the CPU used by gunicorn,
PostgreSQL, Redis and wrk, and the throughput as a ratio of the ceiling. ``POST /events``
also prints events/s accepted (201s x 100) and finds every accepted batch in the database
by its request id. Exits non-zero when a target fails.

Targets: presign >= 0.20 of the ceiling, session detail >= 0.30, GET /images of a 24-frame
spin >= 0.15, GET /sessions (a full 50-row page) >= 0.08, events >= 10,000/s accepted and
committed; no response other than 2xx (a 429 is reported, not an error, but none is expected).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.seaweed import SeaweedServer, free_ports  # noqa: E402

LUA_SCRIPT = Path(__file__).with_name("api_load.lua")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# --- what is seeded
STUDIO_SESSIONS = 200  # visible to the reviewers: a full 50-row page and many spins to read
FRAMES = 24
# Rate limits key on the caller (not the token): enough reviewers that no caller reaches its
# 300 a minute while every endpoint and the ceiling slices of one minute draw on them.
REVIEWERS = 400
OPERATORS = 5
PRESIGN_DEVICES = 64
EVENT_DEVICES = 600
EVENT_IMAGES_PER_DEVICE = 40
EVENTS_PER_BATCH = 100
# Tokens per endpoint, one per reviewer (a caller's tokens share its budget).
USER_TOKENS_PER_ENDPOINT = 400


@dataclass(frozen=True)
class Endpoint:
    name: str
    label: str
    target: float | None = None  # minimum ratio of the ceiling


ENDPOINTS = (
    Endpoint("ceiling", "ceiling: plain Django JSON view"),
    Endpoint("api_floor", "API floor: ApiView, token + rate limit"),
    Endpoint("presign", "POST /v1/presign", 0.20),
    Endpoint("events", f"POST /v1/events ({EVENTS_PER_BATCH}/batch)"),
    Endpoint("sessions_list", "GET /v1/sessions (50 rows)", 0.08),
    Endpoint("images_list", f"GET /v1/images ({FRAMES}-frame spin)", 0.15),
    Endpoint("session_detail", "GET /v1/sessions/:id", 0.30),
)
EVENTS_PER_SECOND_TARGET = 10_000


# --- processes -------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_redis(tmp: Path, port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install -y redis-server)")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp,
        stdout=(tmp / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import redis

            redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
            return process
        except Exception:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("redis-server did not answer")


def wait_http(url: str, *, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(process: subprocess.Popen | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- CPU accounting from /proc ------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _postgres_backends(database: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(entry.name))
    return pids


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    gunicorn: float
    workers: dict[int, float]
    postgres: dict[int, float]
    redis: float
    children: float  # this process's reaped children: the wrk runs
    machine: float
    wall: float


@dataclass
class Processes:
    gunicorn: subprocess.Popen
    redis: subprocess.Popen
    database: str

    def snapshot(self) -> CpuSnapshot:
        workers = _children(self.gunicorn.pid)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return CpuSnapshot(
            gunicorn=sum(_cpu_seconds(pid) for pid in [self.gunicorn.pid, *workers]),
            workers={pid: _cpu_seconds(pid) for pid in workers},
            postgres={pid: _cpu_seconds(pid) for pid in _postgres_backends(self.database)},
            redis=_cpu_seconds(self.redis.pid),
            children=usage.ru_utime + usage.ru_stime,
            machine=_machine_busy_seconds(),
            wall=time.monotonic(),
        )


def cpu_between(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, Any]:
    """Cores used by each party between two snapshots (1.0 = one core fully busy); for
    gunicorn also each worker's, busiest first."""
    wall = after.wall - before.wall
    postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
    workers = sorted(
        ((cpu - before.workers.get(pid, 0.0)) / wall for pid, cpu in after.workers.items()),
        reverse=True,
    )
    return {
        "gunicorn": (after.gunicorn - before.gunicorn) / wall,
        "workers": workers,
        "postgres": postgres / wall,
        "redis": (after.redis - before.redis) / wall,
        "wrk": (after.children - before.children) / wall,
        "machine": (after.machine - before.machine) / wall,
    }


# --- seeding (in this process, with the server's settings) -----------------------------------


@dataclass
class Seeded:
    requests: dict[str, list[str]] = field(default_factory=dict)
    org_id: str = ""
    presign_device_ids: list[str] = field(default_factory=list)


def _line(method: str, path: str, token: str, body: object | None = None) -> str:
    text = "" if body is None else json.dumps(body, separators=(",", ":"))
    return f"{method}\t{path}\t{token}\t{text}"


def seed() -> Seeded:
    """One organisation with everything the endpoints need, and the request lines to send."""
    import datetime as dt
    import uuid

    from django.utils import timezone

    from accounts.models import Device
    from accounts.services import org_create, site_create, user_create
    from accounts.tokens import device_token_issue, user_token_issue
    from images_app.models import Image
    from images_app.uploads import image_storage_key, image_thumb_keys, spin_angle
    from sessions_app.models import CaptureSession, Vehicle

    org = org_create(name="Bench Motors")
    studio = site_create(org=org, name="Main Studio")
    lot = site_create(org=org, name="Back Lot")
    reviewers = [
        user_create(
            org=org,
            email=f"reviewer{i}@bench.example",
            name=f"Reviewer {i}",
            role="reviewer",
            sites=[studio],
        )
        for i in range(REVIEWERS)
    ]
    operators = [
        user_create(
            org=org,
            email=f"operator{i}@bench.example",
            name=f"Operator {i}",
            role="operator",
            sites=[studio],
        )
        for i in range(OPERATORS)
    ]
    vin_numbers = iter(range(1_000_000))

    def vehicles(count: int) -> list[Vehicle]:
        return Vehicle.objects.bulk_create(
            Vehicle(org=org, vin=f"1HGCM82633A{next(vin_numbers):06d}", stock=f"STK-{uuid.uuid4()}")
            for _ in range(count)
        )

    now = timezone.now()
    spin = {"studio360": {"frame_count": FRAMES}}

    # Reviewed spins at the studio: what the lists and detail read.
    studio_sessions = CaptureSession.objects.bulk_create(
        CaptureSession(
            org=org,
            site=studio,
            vehicle=vehicle,
            mode=CaptureSession.Mode.STUDIO360,
            shot_list=spin,
            status=CaptureSession.Status.COMPLETE,
            operator=operators[i % OPERATORS],
            started_at=now - dt.timedelta(minutes=30 * i + 30),
            completed_at=now - dt.timedelta(minutes=30 * i + 10),
        )
        for i, vehicle in enumerate(vehicles(STUDIO_SESSIONS))
    )
    qc = {
        "sharpness": {"score": 412.5, "status": "pass"},
        "exposure": {
            "status": "pass",
            "mean": 121.4,
            "clipped_shadows": 0.001,
            "clipped_highlights": 0.012,
        },
    }
    exif = {"iso": 100, "shutter": "1/250", "aperture": "f/1.8", "timestamp": None}
    processed_images = []
    for session in studio_sessions:
        for frame in range(FRAMES):
            image = Image(
                id=uuid.uuid4(),
                org=org,
                session=session,
                vehicle_id=session.vehicle_id,
                frame_index=frame,
                angle_deg=spin_angle(frame_index=frame, frame_count=FRAMES),
                file_name=f"IMG_{frame:04d}.jpg",
                content_type=Image.ContentType.JPEG,
                content_sha256=secrets.token_hex(32),
                status=Image.Status.PROCESSED,
                size=3_400_000,
                width=4032,
                height=3024,
                exif=exif,
                qc=qc,
                attempts=1,
                created_at=session.started_at + dt.timedelta(seconds=5 * frame),
                uploaded_at=session.started_at + dt.timedelta(seconds=5 * frame + 2),
                processed_at=session.started_at + dt.timedelta(seconds=5 * frame + 4),
            )
            image.storage_key = image_storage_key(
                org_id=org.id,
                site_id=studio.id,
                session_id=session.id,
                image_id=image.id,
                content_type=image.content_type,
            )
            image.thumb_keys = image_thumb_keys(image=image, site_id=studio.id)
            processed_images.append(image)
    Image.objects.bulk_create(processed_images, batch_size=2000)

    # Devices uploading at the lot, each into its own active spin.
    def devices_with_sessions(count: int, label: str) -> list[tuple[Device, CaptureSession]]:
        devices = Device.objects.bulk_create(
            Device(
                org=org, platform="edge", model=f"Turntable rig {label}-{i}", app_version="2.4.1"
            )
            for i in range(count)
        )
        sessions = CaptureSession.objects.bulk_create(
            CaptureSession(
                org=org,
                site=lot,
                vehicle=vehicle,
                mode=CaptureSession.Mode.STUDIO360,
                shot_list=spin,
                device=device,
                started_at=now - dt.timedelta(minutes=5),
            )
            for device, vehicle in zip(devices, vehicles(count), strict=True)
        )
        return list(zip(devices, sessions, strict=True))

    presigners = devices_with_sessions(PRESIGN_DEVICES, "p")
    reporters = devices_with_sessions(EVENT_DEVICES, "e")
    # Uploaded and processed already: the batches' upload_complete reports are repeats.
    reported_images = []
    for _, session in reporters:
        for index in range(EVENT_IMAGES_PER_DEVICE):
            image_id = uuid.uuid4()
            reported_images.append(
                Image(
                    id=image_id,
                    org=org,
                    session=session,
                    vehicle_id=session.vehicle_id,
                    frame_index=index % FRAMES,
                    angle_deg=spin_angle(frame_index=index % FRAMES, frame_count=FRAMES),
                    file_name=f"IMG_{index:04d}.jpg",
                    content_type=Image.ContentType.JPEG,
                    content_sha256=secrets.token_hex(32),
                    status=Image.Status.PROCESSED,
                    uploaded_at=now,
                    processed_at=now,
                    storage_key=image_storage_key(
                        org_id=org.id,
                        site_id=lot.id,
                        session_id=session.id,
                        image_id=image_id,
                        content_type=Image.ContentType.JPEG,
                    ),
                )
            )
    Image.objects.bulk_create(reported_images, batch_size=2000)
    images_of_session: dict = {}
    for image in reported_images:
        images_of_session.setdefault(image.session_id, []).append(str(image.id))

    seeded = Seeded(org_id=str(org.id))

    def user_tokens() -> list[str]:
        return [
            str(user_token_issue(user=reviewers[i % REVIEWERS]))
            for i in range(USER_TOKENS_PER_ENDPOINT)
        ]

    seeded.requests["ceiling"] = [
        _line("GET", "/v1/bench/ceiling", token) for token in user_tokens()
    ]
    seeded.requests["api_floor"] = [
        _line("GET", "/v1/bench/api-floor", token) for token in user_tokens()
    ]
    seeded.requests["sessions_list"] = [
        _line("GET", "/v1/sessions", token) for token in user_tokens()
    ]
    seeded.requests["images_list"] = [
        _line("GET", f"/v1/images?session_id={studio_sessions[i % STUDIO_SESSIONS].id}", token)
        for i, token in enumerate(user_tokens())
    ]
    seeded.requests["session_detail"] = [
        _line("GET", f"/v1/sessions/{studio_sessions[i % STUDIO_SESSIONS].id}", token)
        for i, token in enumerate(user_tokens())
    ]
    # A rig presigns each frame of its spin (frame_index given: a retake after the first
    # round), each time a new photo: "@SHA256@" becomes fresh random hex in wrk. A device
    # holds one token (for 30 days), as the capture app does.
    presigner_tokens = {
        device.id: str(device_token_issue(device=device)) for device, _ in presigners
    }
    seeded.requests["presign"] = [
        _line(
            "POST",
            "/v1/presign",
            presigner_tokens[device.id],
            {
                "session_id": str(session.id),
                "file_name": f"IMG_{frame:04d}.jpg",
                "content_type": "image/jpeg",
                "content_sha256": "@SHA256@",
                "frame_index": frame,
            },
        )
        for frame in range(FRAMES)
        for device, session in presigners
    ]
    seeded.presign_device_ids = [str(device.id) for device, _ in presigners]
    # A rig's upload log: started and complete for 40 photos, 10 failed attempts, and 10
    # session-level notes. The photos are processed already, so upload_complete is a
    # repeat: recorded, and it changes nothing (the first report's cost is the presign
    # flow's, not the telemetry stream's).
    event_lines = []
    for device, session in reporters:
        image_ids = images_of_session[session.id]
        events = [
            {"entity_type": "image", "entity_id": image_id, "type": "upload_started"}
            for image_id in image_ids
        ]
        events += [
            {"entity_type": "image", "entity_id": image_id, "type": "upload_complete"}
            for image_id in image_ids
        ]
        events += [
            {
                "entity_type": "image",
                "entity_id": image_id,
                "type": "upload_failed",
                "message": "PUT timed out; retrying",
                "meta": {"attempt": 1, "network": "wifi", "elapsed_ms": 30000},
            }
            for image_id in image_ids[:10]
        ]
        events += [
            {
                "entity_type": "session",
                "entity_id": str(session.id),
                "type": "upload_started",
                "meta": {"frames": FRAMES, "battery": 0.82},
            }
            for _ in range(10)
        ]
        assert len(events) == EVENTS_PER_BATCH
        event_lines.append(
            _line("POST", "/v1/events", str(device_token_issue(device=device)), {"events": events})
        )
    seeded.requests["events"] = event_lines
    return seeded


# --- one wrk run -------------------------------------------------------------------------------


@dataclass
class Run:
    endpoint: Endpoint
    result: dict
    cpu: dict[str, Any]
    # The ceiling measured just before and just after this run (machine noise drifts).
    ceiling_rps: float = 0.0

    @property
    def seconds(self) -> float:
        return self.result["duration_us"] / 1e6

    @property
    def rps(self) -> float:
        return self.result["requests"] / self.seconds

    def status_count(self, predicate) -> int:
        return sum(n for code, n in self.result["statuses"].items() if predicate(int(code)))

    @property
    def ok(self) -> int:
        return self.status_count(lambda code: 200 <= code < 300)

    @property
    def throttled(self) -> int:
        return self.status_count(lambda code: code == 429)

    @property
    def failed(self) -> int:
        socket_errors = sum(self.result["errors"].values())
        return self.status_count(lambda code: code >= 300 and code != 429) + socket_errors


def wrk(
    *,
    base_url: str,
    endpoint: Endpoint,
    lines: list[str],
    seconds: float,
    args: argparse.Namespace,
    processes: Processes,
    tmp: Path,
    record_ids: Path | None = None,
) -> Run:
    requests_file = tmp / f"requests-{endpoint.name}.tsv"
    if not requests_file.exists():
        requests_file.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "BENCH_REQUESTS": str(requests_file),
        "BENCH_RECONNECT_EVERY": str(args.reconnect_every),
    }
    if record_ids is not None:
        env["BENCH_RECORD_IDS"] = str(record_ids)
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        base_url,
    ]
    before = processes.snapshot()
    completed = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    after = processes.snapshot()
    marker = next(
        (line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None
    )
    if completed.returncode != 0 or marker is None:
        raise SystemExit(f"wrk failed on {endpoint.name}:\n{completed.stdout}\n{completed.stderr}")
    result = json.loads(marker.removeprefix("BENCH_RESULT "))
    return Run(endpoint=endpoint, result=result, cpu=cpu_between(before, after))


# --- profile ----------------------------------------------------------------------------------


def _short_frame(frame: str) -> str:
    """``function (path:line)`` with the path relative to the project or site-packages."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for prefix in (str(ROOT) + "/.venv/lib/", str(ROOT) + "/"):
        if path.startswith(prefix):
            path = path.removeprefix(prefix)
    path = path.split("site-packages/", 1)[-1]
    return f"{name} ({path})"


def profile(
    *,
    py_spy: str,
    processes: Processes,
    seconds: float,
    run_load: Callable[[], Run],
    tmp: Path,
    wall: bool = False,
    top: int = int(os.environ.get("BENCH_PROFILE_TOP", 40)),
) -> Run:
    """Sample every gunicorn worker with py-spy while ``run_load`` runs; print where the
    time goes: each function's share of the samples, inclusive (anywhere on the stack) and
    self (on top of it). CPU time by default (the thread holding the GIL); ``wall`` samples
    every thread, so waits on the database, Redis or the GIL show too."""
    workers = _children(processes.gunicorn.pid)
    samplers = []
    for pid in workers:
        output = tmp / f"profile-{pid}.txt"
        command = [
            *(py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds))),
            *("--rate", "200", "--nonblocking", "--format", "raw", "--output", str(output)),
            # CPU: threads holding the GIL; wall: every thread, waiting ones included.
            "--idle" if wall else "--gil",
        ]
        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samplers.append((sampler, output))
    time.sleep(1)  # py-spy attaches
    run = run_load()
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for sampler, output in samplers:
        _, errors = sampler.communicate(timeout=seconds + 30)
        if sampler.returncode != 0 or not output.exists():
            print(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
            return run
        for line in output.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            count = int(count_text)
            frames = [_short_frame(f) for f in stack.split(";")[1:]]  # [0] is the thread
            total += count
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + count
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + count
    kind = "every thread, waits included" if wall else "the thread holding the GIL"
    print(f"\nprofile: {total} samples of {len(workers)} workers (py-spy, 200 Hz, {kind})")
    print("inclusive  self  function")
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        print(f"{100 * count / total:>8.1f}% {100 * own.get(frame, 0) / total:>5.1f}%  {frame}")
    print("\ntop self time")
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:20]:
        print(f"{100 * count / total:>8.1f}%  {frame}")
    return run


# --- report ------------------------------------------------------------------------------------


def print_table(runs: list[Run], floor_rps: float | None) -> None:
    header = (
        f"{'endpoint':<42} {'req/s':>7} {'ceiling':>7} {'x ceil':>7} {'x floor':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'2xx':>7} {'429':>4} {'other':>5}  "
        "cores: gunicorn (workers) pg redis wrk all"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        r, c = run.result, run.cpu
        x_floor = f"{run.rps / floor_rps:>7.3f}" if floor_rps else f"{'':>7}"
        print(
            f"{run.endpoint.label:<42} {run.rps:>7.0f} {run.ceiling_rps:>7.0f} "
            f"{run.rps / run.ceiling_rps:>7.3f} {x_floor} {r['p50_us'] / 1000:>7.1f} "
            f"{r['p99_us'] / 1000:>7.1f} {run.ok:>7} {run.throttled:>4} {run.failed:>5}  "
            f"{c['gunicorn']:>6.2f} ({'+'.join(f'{w:.2f}' for w in c['workers'])}) "
            f"{c['postgres']:>4.2f} {c['redis']:>5.2f} {c['wrk']:>3.2f} {c['machine']:>4.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="measured run per endpoint")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up run per endpoint")
    parser.add_argument(
        "--ceiling-seconds", type=float, default=4, help="each ceiling slice between endpoints"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk -c")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk -t")
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=50,
        help="every Nth request closes its connection, so connections spread over the "
        "workers (0: keep-alive throughout)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn --workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn --threads")
    parser.add_argument(
        "--only",
        action="append",
        choices=[e.name for e in ENDPOINTS[1:]],
        help="run these only (the ceiling always runs)",
    )
    parser.add_argument(
        "--profile",
        choices=[e.name for e in ENDPOINTS[1:]],
        help="after its measured run, load this endpoint again under py-spy and print where "
        "the workers' time goes (py-spy on PATH or in $PY_SPY; needs ptrace)",
    )
    parser.add_argument(
        "--profile-wall",
        action="store_true",
        help="with --profile: sample every thread (waits included), not only CPU",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after seeding, print the server URL and wait for Enter (to profile by hand)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging_load"
        ),
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="imaging-bench-api-"))
    database = args.database_url.rsplit("/", 1)[1]
    recreate_database(args.database_url)
    redis_port, web_port = free_ports(2)
    s3_key, s3_secret = "bench-" + secrets.token_hex(8), secrets.token_urlsafe(30)
    with ExitStack() as cleanup:
        cleanup.callback(drop_database, args.database_url)
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_process = start_redis(tmp, redis_port)
        cleanup.callback(stop, redis_process)
        seaweed = SeaweedServer(tmp / "seaweedfs", access_key=s3_key, secret_key=s3_secret).start()
        cleanup.callback(seaweed.stop)
        env = {
            # The production shape: no debug pages, real (throwaway) secrets, JSON logs.
            "DJANGO_SETTINGS_MODULE": "bench.api_settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "S3_ENDPOINT_URL": seaweed.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3_key,
            "AWS_SECRET_ACCESS_KEY": s3_secret,
            "S3_BUCKET": "bench",
            "RATE_LIMITS_ENABLED": "true",
            "VAR_DIR": str(tmp / "var"),
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections
        from django.db.models import Count

        from events_app.models import Event
        from images_app import storage
        from images_app.models import Image

        call_command("migrate", "--noinput", verbosity=0)
        storage.bucket_ensure()
        seed_started = time.monotonic()
        seeded = seed()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # a live database has statistics; the planner needs them
        print(f"seeded in {time.monotonic() - seed_started:.1f} s", flush=True)
        events_before = Event.objects.count()
        presign_images_before = Image.objects.filter(
            session__device_id__in=seeded.presign_device_ids
        ).count()
        connections.close_all()

        log = (tmp / "gunicorn.log").open("wb")
        cleanup.callback(log.close)
        gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "imaging.wsgi:application",
                "--bind",
                f"127.0.0.1:{web_port}",
                # scripts/entrypoint.sh, web role
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "30",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        cleanup.callback(stop, gunicorn)
        base_url = f"http://127.0.0.1:{web_port}"
        wait_http(f"{base_url}/healthz", timeout=30)
        ready = json.loads(wait_http(f"{base_url}/readyz", timeout=30))
        if ready.get("status") != "ok":
            raise SystemExit(f"/readyz: {ready}")
        processes = Processes(gunicorn=gunicorn, redis=redis_process, database=database)
        print(
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores; gunicorn {args.workers} workers x {args.threads} threads; "
            f"wrk -t{args.wrk_threads} -c{args.connections}; "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s per endpoint",
            flush=True,
        )
        if args.hold:
            print(f"server at {base_url}; request files in {tmp}; Enter to continue", flush=True)
            for name, lines in seeded.requests.items():
                (tmp / f"requests-{name}.tsv").write_text("\n".join(lines) + "\n")
            input()

        def loader(endpoint: Endpoint):
            return functools.partial(
                wrk,
                base_url=base_url,
                endpoint=endpoint,
                lines=seeded.requests[endpoint.name],
                args=args,
                processes=processes,
                tmp=tmp,
            )

        # The ceiling is measured between every two endpoints; each endpoint is compared
        # with the mean of the slices just before and after it, so drift in what else the
        # machine does (other processes on the same cores) hits both sides of a ratio.
        ceiling = loader(ENDPOINTS[0])
        ceiling(seconds=args.warmup)
        slices = [ceiling(seconds=args.ceiling_seconds)]
        runs: list[Run] = []
        events_accepted_ids: list[str] = []
        presign_ok_total = 0
        for endpoint in ENDPOINTS[1:]:
            if args.only and endpoint.name not in args.only:
                continue
            load = loader(endpoint)
            record = endpoint.name == "events"
            id_files = [tmp / f"{endpoint.name}-{i}.ids" for i in range(3)]
            warm = load(seconds=args.warmup, record_ids=id_files[0] if record else None)
            run = load(seconds=args.seconds, record_ids=id_files[1] if record else None)
            slices.append(ceiling(seconds=args.ceiling_seconds))
            run.ceiling_rps = (slices[-2].rps + slices[-1].rps) / 2
            runs.append(run)
            print(
                f"  {endpoint.label}: {run.rps:.0f} req/s, "
                f"{run.rps / run.ceiling_rps:.3f} of the ceiling ({run.ceiling_rps:.0f} req/s), "
                f"p50 {run.result['p50_us'] / 1000:.1f} ms, "
                f"p99 {run.result['p99_us'] / 1000:.1f} ms, statuses {run.result['statuses']}",
                flush=True,
            )
            extra: list[Run] = []
            if args.profile == endpoint.name:
                py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
                if py_spy is None:
                    raise SystemExit("--profile needs py-spy (pip install py-spy)")
                profiled = profile(
                    py_spy=py_spy,
                    processes=processes,
                    seconds=args.seconds,
                    run_load=functools.partial(
                        load,
                        seconds=args.seconds - 2,
                        record_ids=id_files[2] if record else None,
                    ),
                    tmp=tmp,
                    wall=args.profile_wall,
                )
                extra.append(profiled)
                print(f"  (under the profiler: {profiled.rps:.0f} req/s)\n", flush=True)
            if record:
                events_accepted_ids += [
                    line for path in id_files if path.exists() for line in path.read_text().split()
                ]
            if endpoint.name == "presign":
                presign_ok_total += sum(each.ok for each in (warm, run, *extra))

        events_committed = Event.objects.count() - events_before
        events_per_request = dict(
            Event.objects.filter(request_id__in=events_accepted_ids)
            .values_list("request_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        events_lost = [
            request_id
            for request_id in events_accepted_ids
            if events_per_request.get(request_id) != EVENTS_PER_BATCH
        ]
        presign_images = (
            Image.objects.filter(session__device_id__in=seeded.presign_device_ids).count()
            - presign_images_before
        )
        connections.close_all()

        by_name = {run.endpoint.name: run for run in runs}
        ceiling_run = slices[0]
        ceiling_run.ceiling_rps = ceiling_run.rps
        floor_rps = by_name["api_floor"].rps if "api_floor" in by_name else None
        print()
        print_table([ceiling_run, *runs], floor_rps)
        ceiling_rates = [each.rps for each in slices]
        print(
            f"\nceiling ({len(slices)} slices of {args.ceiling_seconds:g} s between the "
            f"endpoints): {min(ceiling_rates):.0f}-{max(ceiling_rates):.0f} req/s, "
            f"mean {sum(ceiling_rates) / len(ceiling_rates):.0f}; each ratio uses the slices "
            "on either side of its run"
        )

        verdicts: list[tuple[str, bool]] = []
        for run in runs:
            target = run.endpoint.target
            if target is not None:
                ratio = run.rps / run.ceiling_rps
                verdicts.append((f"{run.endpoint.label}: {ratio:.3f} of the ceiling >= {target}",
                                 ratio >= target))  # fmt: skip
        # wrk stops with up to one request in flight per connection per run (warm-up,
        # measured, profiled): the server still commits those, but wrk never sees the answer.
        in_flight = 3 * args.connections
        if "events" in by_name:
            run = by_name["events"]
            accepted_per_second = run.ok * EVENTS_PER_BATCH / run.seconds
            accepted_total = len(events_accepted_ids) * EVENTS_PER_BATCH
            unacknowledged = (events_committed - accepted_total) // EVENTS_PER_BATCH
            committed_ok = not events_lost and 0 <= unacknowledged <= in_flight
            print(
                f"events: {accepted_per_second:,.0f}/s accepted in the measured run; "
                f"{events_committed:,} committed in the database: every one of the "
                f"{len(events_accepted_ids):,} accepted batches (warm-up included) found by its "
                f"request id with its {EVENTS_PER_BATCH} events"
                + (f" except {len(events_lost)}" if events_lost else "")
                + f", plus {unacknowledged} batches still in flight when wrk stopped"
            )
            verdicts.append((
                f"events: {accepted_per_second:,.0f}/s accepted and committed >= "
                f"{EVENTS_PER_SECOND_TARGET:,}/s",
                accepted_per_second >= EVENTS_PER_SECOND_TARGET and committed_ok,
            ))  # fmt: skip
            verdicts.append((
                f"events: every accepted batch committed ({len(events_lost)} missing), "
                f"{unacknowledged} unacknowledged in flight (<= {in_flight})",
                committed_ok,
            ))  # fmt: skip
        if "presign" in by_name:
            unacknowledged = presign_images - presign_ok_total
            verdicts.append((
                f"presign: {presign_images:,} pending images for {presign_ok_total:,} 200s "
                f"(+{unacknowledged} in flight, <= {in_flight})",
                0 <= unacknowledged <= in_flight,
            ))  # fmt: skip
        failed = sum(run.failed for run in runs)
        throttled = sum(run.throttled for run in runs)
        verdicts.append((f"no errors: {failed} non-2xx other than 429, {throttled} 429s",
                         failed == 0))  # fmt: skip
        if slices:
            wrk_cores = max(each.cpu["wrk"] for each in slices)
            verdicts.append((
                f"generator: wrk used {wrk_cores:.2f} of its 1 core on the ceiling "
                f"(< 0.8: not the bottleneck)",
                wrk_cores < 0.8 * args.wrk_threads,
            ))  # fmt: skip
        print()
        for text, passed in verdicts:
            print(f"{'PASS' if passed else 'FAIL'}  {text}")
        print(f"\nwhole bench: {time.monotonic() - started:.0f} s")
        return 0 if all(passed for _, passed in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
