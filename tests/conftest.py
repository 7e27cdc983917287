"""Fixtures shared by the security matrix, the concurrency and the fault tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.local_redis import LocalRedis


@pytest.fixture(scope="session")
def local_redis(tmp_path_factory) -> Iterator[LocalRedis]:
    """A redis-server of this test process (per xdist worker) that tests may kill."""
    server = LocalRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_counters(local_redis, settings) -> LocalRedis:
    """Rate-limit counters (the default cache) in the local Redis, apart from other tests."""
    local_redis.start()  # a previous test may have killed it
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": local_redis.url(0),
            "KEY_PREFIX": uuid.uuid4().hex,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    return local_redis


@dataclass(frozen=True)
class Broker:
    url: str
    prefix: str
    redis: LocalRedis

    @property
    def queue_key(self) -> str:
        return f"{self.prefix}celery"

    def queued(self) -> list[dict]:
        """The messages waiting in the default queue (oldest first)."""
        raw = self.redis.client(self.db).lrange(self.queue_key, 0, -1)
        return [json.loads(message) for message in reversed(raw)]

    @property
    def db(self) -> int:
        return int(self.url.rsplit("/", 1)[1])


@pytest.fixture
def local_broker(local_redis, settings) -> Iterator[Broker]:
    """Tasks go to the local Redis (db 1) instead of running in-process after commit.

    The Celery app is reconfigured for the test (its connection pools are built from the
    broker settings on first use, so they are rebuilt) and restored afterwards.
    """
    from imaging.celery import app as celery_app

    local_redis.start()
    broker = Broker(url=local_redis.url(1), prefix=f"t-{uuid.uuid4().hex[:12]}:", redis=local_redis)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = broker.url
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in keys}

    def use(**conf) -> None:
        celery_app.conf.update(conf)
        celery_app._after_fork()

    use(
        task_always_eager=False,
        broker_url=broker.url,
        broker_transport_options={
            **saved["broker_transport_options"],
            "global_keyprefix": broker.prefix,
        },
    )
    try:
        yield broker
    finally:
        use(**saved)
        if local_redis.is_running():
            client = local_redis.client(broker.db)
            for key in client.scan_iter(match=f"{broker.prefix}*"):
                client.delete(key)
