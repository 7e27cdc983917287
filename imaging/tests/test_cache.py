"""The Redis cache backend (``imaging.cache``) against a real Redis."""

from __future__ import annotations

import threading
import uuid

import pytest

from imaging.cache import ReusingRedisCache

REDIS = "redis://127.0.0.1:6379/2"


@pytest.fixture
def cache():
    # Tests run in parallel against one Redis: a prefix of its own keeps each test apart.
    backend = ReusingRedisCache(
        REDIS,
        {"KEY_PREFIX": uuid.uuid4().hex, "OPTIONS": {"socket_connect_timeout": 1}},
    )
    yield backend
    backend.close()


def test_every_operation_reuses_one_redis_client(cache):
    cache.set("a", 1)
    cache.get("a")
    first = cache._cache.get_client(write=True)

    assert cache._cache.get_client() is first
    assert cache._cache.get_client(write=True) is first


def test_incr_adds_to_an_existing_counter(cache):
    cache.add("hits", 0, timeout=60)

    assert cache.incr("hits", 5) == 5
    assert cache.incr("hits") == 6
    assert cache.get("hits") == 6


def test_incr_of_a_missing_key_is_refused_and_creates_nothing(cache):
    with pytest.raises(ValueError):
        cache.incr("missing", 3)

    assert cache.get("missing") is None


def test_incr_keeps_the_counters_timeout(cache):
    cache.add("window", 0, timeout=60)
    cache.incr("window", 2)

    client = cache._cache.get_client()
    assert 0 < client.ttl(cache.make_key("window")) <= 60


def test_parallel_increments_are_all_counted(cache):
    cache.add("parallel", 0, timeout=60)

    def hammer() -> None:
        for _ in range(50):
            cache.incr("parallel")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert cache.get("parallel") == 400


def test_a_window_counter_starts_at_its_first_hit_and_expires_with_its_window(cache):
    assert cache.count_in_window("minute", 3, timeout=60) == 3
    assert cache.count_in_window("minute", timeout=60) == 4

    client = cache._cache.get_client()
    assert 0 < client.ttl(cache.make_key("minute")) <= 60


def test_later_hits_do_not_push_the_window_back(cache):
    cache.count_in_window("window", timeout=60)
    client = cache._cache.get_client()
    client.expire(cache.make_key("window"), 5)

    cache.count_in_window("window", timeout=60)

    assert client.ttl(cache.make_key("window")) <= 5


def test_parallel_window_hits_are_all_counted(cache):
    def hammer() -> None:
        for _ in range(50):
            cache.count_in_window("busy", timeout=60)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert cache.get("busy") == 400


def test_a_hit_over_the_limit_is_taken_back_in_the_same_step(cache):
    assert cache.count_in_window("batch", 6, timeout=60, limit=10) == 6
    assert cache.count_in_window("batch", 5, timeout=60, limit=10) == 11

    assert cache.get("batch") == 6
    assert cache.count_in_window("batch", 4, timeout=60, limit=10) == 10


def test_a_gate_at_its_limit_refuses_the_hit_without_counting_it(cache):
    cache.count_in_window("refused", 2, timeout=60)

    assert cache.count_in_window("events", 1, timeout=60, limit=10, gate=("refused", 2)) == -1
    assert cache.get("events") is None
    assert cache.count_in_window("events", 1, timeout=60, limit=10, gate=("refused", 3)) == 1


def test_parallel_hits_under_a_limit_never_overrun_it(cache):
    admitted: list[int] = []

    def hammer() -> None:
        for _ in range(20):
            if cache.count_in_window("tight", 3, timeout=60, limit=100) <= 100:
                admitted.append(3)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(admitted) == 99
    assert cache.get("tight") == 99
