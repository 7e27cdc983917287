"""Liveness and readiness probes for load balancers and orchestrators.

``/healthz``: the process answers (no dependency is touched), 200 ``{"status": "ok"}``.
``/readyz``: the dependencies answer: the database, Redis when ``REDIS_URL`` is set, and the
bucket (one HEAD with short timeouts). 200 when all do, else 503. The body:
``{"status": "ok" | "unavailable", "checks": {"database": "ok", "storage": "unavailable:
StorageUnavailable", ...}, "durations_ms": {...}}`` — a failure names only the kind of error
(no hosts, no messages; those go to the log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()


# Checks that apps add (the bucket, from images_app), in registration order.
_REGISTERED: dict[str, Callable[[], None]] = {}


def readiness_check(name: str, check: Callable[[], None]) -> None:
    """Add a dependency to ``/readyz``; ``check`` raises when it does not answer."""
    _REGISTERED[name] = check


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks = {"database": _check_database, **_REGISTERED}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    return checks


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name, check in readiness_checks().items():
        started = time.perf_counter()
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"unavailable: {exc.__class__.__name__}"
            logger.warning("readiness: %s unavailable: %s", name, exc)
        durations[name] = round((time.perf_counter() - started) * 1000, 1)
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results, "durations_ms": durations},
        status=200 if ready else 503,
    )
