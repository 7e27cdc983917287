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
            "BACKEND": "imaging.cache.ReusingRedisCache",  # as in production (settings)
            "LOCATION": local_redis.url(0),
            "KEY_PREFIX": uuid.uuid4().hex,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    return local_redis


@dataclass(frozen=True)
class Broker:
    redis: LocalRedis
    db: int = 1

    @property
    def url(self) -> str:
        return self.redis.url(self.db)

    def queued(self) -> list[dict]:
        """The messages waiting in the default queue, oldest first."""
        raw = self.redis.client(self.db).lrange("celery", 0, -1)
        return [json.loads(message) for message in reversed(raw)]


@pytest.fixture
def local_broker(local_redis, settings) -> Iterator[Broker]:
    """Tasks go to the local Redis (db 1) instead of running in-process after commit.

    The Celery app is reconfigured for the test (its connection pools are built from the
    broker settings on first use, so they are rebuilt) and restored afterwards.
    """
    from imaging.celery import app as celery_app

    # Read before the settings change: the app loads its configuration from the settings
    # lazily, and would otherwise "restore" this test's values for every later test.
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    local_redis.start()
    broker = Broker(redis=local_redis)
    broker.redis.client(broker.db).flushdb()  # our own server: nothing of anyone else's
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = broker.url

    def use(**conf) -> None:
        celery_app.conf.update(conf)
        celery_app._after_fork()

    use(task_always_eager=False, broker_url=broker.url)
    try:
        yield broker
    finally:
        use(**saved)
        if local_redis.is_running():
            local_redis.client(broker.db).flushdb()
