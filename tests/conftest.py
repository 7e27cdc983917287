"""Fixtures shared by the security matrix, the concurrency and the fault tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
