"""Webhook delivery: throughput with two worker processes, and commit → first attempt latency.

Run: ``make bench-webhooks`` (PostgreSQL at ``DATABASE_URL``; about a minute on 2 cores).
Exits non-zero when a target fails.

A scratch database (``test_<name>`` on the ``DATABASE_URL`` server, migrated, dropped at the
end), a ``redis-server`` of its own as the broker, one ``celery worker --queues webhooks
--concurrency 2`` started as the image's ``webhooks`` role (scripts/entrypoint.sh; prefork:
two processes) and a
loopback receiver (a threaded ``http.server`` in this process, answering 204).

1. **Floor.** Bare HTTP POSTs of the same body to the same receiver from one process, on one
   kept-alive connection (urllib3): what the receiver and the loopback allow.
2. **Throughput.** 3,000 ``ping`` messages written in one transaction; on commit they are
   enqueued as production does, in chunks of one endpoint's deliveries (``WEBHOOK_BATCH_SIZE``,
   50: 60 tasks); deliveries per second from the commit until the receiver has them all (and
   the database says delivered), signed, claimed and recorded as in production.
3. **Latency.** With the worker idle, 200 changes one by one (a ``ping`` written and
   committed, then 50 ms of quiet; each a task of one delivery): from just before the commit
   to the first attempt's arrival at the receiver; p50 and p99.

Targets: throughput >= 300 deliveries/s; latency p99 <= 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.local_redis import LocalRedis  # noqa: E402

_redis = LocalRedis(Path(tempfile.mkdtemp(prefix="bench-webhooks-redis-"))).start()
os.environ["REDIS_URL"] = _redis.url(0)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")
os.environ.setdefault("DEBUG", "true")
os.environ["WEBHOOKS_ALLOW_INSECURE"] = "true"

import django  # noqa: E402

django.setup()

import urllib3  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from accounts.models import Organization  # noqa: E402
from webhooks import services  # noqa: E402
from webhooks.models import WebhookDelivery  # noqa: E402
from webhooks.tests.receiver import Receiver  # noqa: E402

THROUGHPUT_MESSAGES = 3_000
FLOOR_REQUESTS = 3_000
LATENCY_SAMPLES = 200
THROUGHPUT_TARGET = 300.0
P99_TARGET_S = 1.0
failures: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    if not ok:
        failures.append(name)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url(),
        "REDIS_URL": _redis.url(0),
        "WEBHOOKS_ALLOW_INSECURE": "true",
        "LOG_FORMAT": "json",
        "WEBHOOK_WORKER_CONCURRENCY": "2",
    }
    # The production role, as `make run` and the image start it.
    command = ["sh", str(ROOT / "scripts" / "entrypoint.sh"), "webhooks"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def floor(receiver: Receiver, body: bytes) -> float:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", receiver.port, maxsize=1)
    headers = {"Content-Type": "application/json", "webhook-id": "msg_floor"}
    started = time.perf_counter()
    for _ in range(FLOOR_REQUESTS):
        response = pool.urlopen("POST", "/floor", body=body, headers=headers, retries=False)
        assert response.status == 204
    elapsed = time.perf_counter() - started
    pool.close()
    return FLOOR_REQUESTS / elapsed


def throughput(endpoint, receiver: Receiver) -> float:
    before = len(receiver.received)
    started = time.time()
    with transaction.atomic():
        for _ in range(THROUGHPUT_MESSAGES):
            services.endpoint_ping(endpoint=endpoint)
    receiver.wait_for(before + THROUGHPUT_MESSAGES, timeout=600)
    done = time.time()
    delivered = WebhookDelivery.objects.filter(status="delivered").count()
    while delivered < THROUGHPUT_MESSAGES and time.time() - done < 30:
        time.sleep(0.05)
        delivered = WebhookDelivery.objects.filter(status="delivered").count()
    assert delivered == THROUGHPUT_MESSAGES, delivered
    return THROUGHPUT_MESSAGES / (done - started)


def latency(endpoint, receiver: Receiver) -> list[float]:
    samples = []
    for _ in range(LATENCY_SAMPLES):
        committed = {}
        with transaction.atomic():
            delivery = services.endpoint_ping(endpoint=endpoint)
            msg_id = delivery.message.msg_id
            committed[msg_id] = time.time()  # the last step before COMMIT
        deadline = time.monotonic() + 10
        while msg_id not in receiver.first_seen:
            if time.monotonic() > deadline:
                raise RuntimeError("a message took over 10 s")
            time.sleep(0.001)
        samples.append(receiver.first_seen[msg_id] - committed[msg_id])
        time.sleep(0.05)
    return samples


def main() -> int:
    print(f"Webhooks: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if connection.vendor != "postgresql":
        print("DATABASE_URL must name a PostgreSQL server (make bench-webhooks sets one)")
        return 2
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"  scratch database {test_name}")
    receiver = Receiver().up()
    log = Path(tempfile.mkdtemp(prefix="bench-webhooks-")) / "worker.log"
    worker = None
    try:
        org = Organization.objects.create(name="Bench Motors")
        endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
        body = services.body_of(
            {"type": "ping", "timestamp": "2026-01-01T00:00:00.000000Z", "data": {"a": 1}}
        )
        bare = floor(receiver, body)
        print(f"  floor: bare POSTs from one process, kept alive: {bare:,.0f}/s")
        worker = start_worker(log)
        # A warm-up: the worker's processes connect to the database and the receiver.
        with transaction.atomic():
            for _ in range(20):
                services.endpoint_ping(endpoint=endpoint)
        receiver.wait_for(FLOOR_REQUESTS + 20, timeout=60)
        WebhookDelivery.objects.all().delete()

        rate = throughput(endpoint, receiver)
        print(
            f"  throughput: {THROUGHPUT_MESSAGES:,} deliveries, 2 worker processes: "
            f"{rate:,.0f}/s ({rate / bare:.2f} of the floor)"
        )
        check("throughput", rate >= THROUGHPUT_TARGET, f"{rate:,.0f}/s, target >= 300/s")

        samples = latency(endpoint, receiver)
        p50 = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        print(
            f"  latency, commit -> first attempt at the receiver (idle, {LATENCY_SAMPLES}): "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (floor: one bare POST "
            f"{1000 / bare:.2f} ms)"
        )
        check("latency p99", p99 <= P99_TARGET_S, f"{p99 * 1000:.0f} ms, target <= 1000 ms")
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        receiver.down()
        connection.creation.destroy_test_db(test_name, verbosity=0)
        _redis.stop()
    print("FAILED: " + ", ".join(failures) if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sys.exit(main())
