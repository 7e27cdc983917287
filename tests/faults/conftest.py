"""Real processes for the fault tests: Celery workers, the HTTP API, a broker of our own.

The worker, the HTTP helpers and the device's side of an upload are the end-to-end tests'
(images_app/tests/test_worker_e2e.py); here they are pointed at this process's own Redis,
which a test may kill, and at a store that a test may replace with one it can stop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from images_app.tests.test_worker_e2e import Worker, web

__all__ = ["web"]


@pytest.fixture
def store(s3):
    """The S3 shared by the web side and the workers; a test module may override it."""
    return s3


def database_url() -> str:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker_env(transactional_db, local_broker, store, settings) -> dict[str, str]:
    """What another process needs to share this test's database, broker and store."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "imaging.settings",
        "DATABASE_URL": database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": local_broker.url,
        **store.env,
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        # A task whose worker died comes back after this many seconds (production: 1 h).
        "E2E_VISIBILITY_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def workers(worker_env, tmp_path) -> Iterator[Callable[..., Worker]]:
    """``workers(hold_file=None)`` starts a ``celery worker``; all are stopped afterwards."""
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
