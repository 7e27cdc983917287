"""Benchmark: publishing a 24-frame spin plus 10 stills, from the commit to the live manifest.

Run: ``.venv/bin/python bench/publish.py`` (about two minutes on 2 cores). Needs PostgreSQL
and Redis (``make run``'s); starts its own SeaweedFS and a Celery worker with 2 processes.
Uses the database ``BENCH_DATABASE_URL`` (default ``imaging_bench_publish``, created and
migrated if missing) and Redis db 7 under a key prefix of its own.

34 processed images of one vehicle, each a distinct 12 MP JPEG original in the private
bucket (the synthetic photo of ``bench/pipeline.py`` with a distinct trailer, so every
original is new to the content-addressed renditions), are published in one bulk publish
(one version). The clock starts when that transaction commits and stops when an anonymous
GET of the public ``manifest.json`` returns that version, polled every 50 ms.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging_bench_publish"
)
REDIS_URL = "redis://127.0.0.1:6379/7"
FRAMES, STILLS, WORKER_PROCESSES = 24, 10, 2


def ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def fetch_version(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["version"]
    except (urllib.error.URLError, ValueError, KeyError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker's pool), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for each in [pid, *(int(c) for c in children.read_text().split())]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> int:
    from devtools.seaweed import SeaweedServer, wait_for

    ensure_database()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    data_dir = tempfile.mkdtemp(prefix="bench-seaweed-")
    seaweed = SeaweedServer(
        data_dir,
        access_key="bench-key",
        secret_key="bench-secret-key",
        public_bucket="imaging-public",
    )
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
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Organization, Site, User
    from images_app import storage
    from images_app.models import Image
    from images_app.services import images_publish
    from images_app.uploads import image_storage_key
    from imaging.celery import app as celery_app
    from publishing import public_store
    from publishing.models import Publication
    from publishing.services import publication_manifest_url
    from sessions_app.models import CaptureSession, Vehicle

    celery_app.conf.broker_transport_options = {
        **celery_app.conf.broker_transport_options,
        "global_keyprefix": prefix,
    }
    call_command("migrate", verbosity=0)
    wait_for(storage.bucket_ensure, timeout=30, what="bucket")
    wait_for(public_store.bucket_ensure, timeout=30, what="public bucket")

    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "bench" / "pipeline.py")
    bench_pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_pipeline)
    photo = bench_pipeline.synthetic_jpeg()

    org = Organization.objects.create(name=f"Bench {prefix}")
    site = Site.objects.create(org=org, name="Bench")
    reviewer = User.objects.create(
        email=f"{prefix[:-1]}@bench.example", org=org, role=User.Role.REVIEWER, is_staff=True
    )
    vehicle = Vehicle.objects.create(org=org, stock=prefix[:-1])
    spin = CaptureSession.objects.create(
        org=org, site=site, vehicle=vehicle, mode="studio360",
        shot_list={"studio360": {"frame_count": FRAMES}},
    )  # fmt: skip
    stills = CaptureSession.objects.create(org=org, site=site, vehicle=vehicle, mode="stills")
    images = []
    print(f"storing {FRAMES + STILLS} originals of {len(photo) / 1e6:.1f} MB (12 MP)…")
    for n in range(FRAMES + STILLS):
        data = photo + f"bench {prefix} {n}".encode()  # after EOI: same pixels, new bytes
        session = spin if n < FRAMES else stills
        image_id = uuid.uuid4()
        key = image_storage_key(
            org_id=org.id, site_id=site.id, session_id=session.id, image_id=image_id,
            content_type="image/jpeg",
        )  # fmt: skip
        storage.put_bytes(key=key, data=data, content_type="image/jpeg")
        import hashlib

        images.append(
            Image.objects.create(
                id=image_id, org=org, session=session, vehicle=vehicle,
                frame_index=n if n < FRAMES else None,
                angle_deg=n * 360 // FRAMES if n < FRAMES else None,
                shot_name=None if n < FRAMES else f"shot_{n - FRAMES}",
                file_name=f"{n}.jpg", content_type="image/jpeg",
                content_sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                status=Image.Status.PROCESSED, width=3000, height=4000,
            )
        )  # fmt: skip

    log_path = Path(data_dir) / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "images_app.tests.e2e_worker", "worker",
                "--pool=prefork", f"--concurrency={WORKER_PROCESSES}", "--loglevel=WARNING",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                f"--hostname=bench-{prefix[:-1]}@localhost",
            ],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        time.sleep(8)  # the worker's processes up (its readiness is not logged at WARNING)
        url = publication_manifest_url(vehicle)
        cpu_before = cpu_seconds(worker.pid)
        committed: list[float] = []
        with transaction.atomic():
            images_publish(images=images, actor=reviewer)
            transaction.on_commit(lambda: committed.append(time.monotonic()))
        version = Publication.objects.get(vehicle=vehicle).version
        deadline = time.monotonic() + 600
        while fetch_version(url) != version:
            if time.monotonic() > deadline or worker.poll() is not None:
                print(log_path.read_text()[-3000:])
                return 1
            time.sleep(0.05)
        wall = time.monotonic() - committed[0]
        cpu = cpu_seconds(worker.pid) - cpu_before
        load = os.getloadavg()[0]
        print(
            f"published {FRAMES} frames + {STILLS} stills (one version, "
            f"{(FRAMES + STILLS) * 9} files: 4 widths x JPEG + WebP and the 4:3 crop) "
            f"with {WORKER_PROCESSES} worker processes on "
            f"{os.cpu_count()} CPUs: commit → live manifest in {wall:.1f} s "
            f"({wall / (FRAMES + STILLS):.2f} s per image); the worker's CPU {cpu:.1f} s "
            f"({cpu / (FRAMES + STILLS):.2f} s per image); load average {load:.1f}"
        )
        return 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        seaweed.stop(graceful=False)


if __name__ == "__main__":
    sys.exit(main())
