"""Per-minute rate limits, atomic under concurrency.

Counters live in the default cache: Redis when ``REDIS_URL`` is set (``INCRBY`` is atomic
across processes; ``imaging.cache`` counts and sets the window's expiry in one round trip),
local memory otherwise (atomic within one process). Windows are fixed
calendar minutes. If Redis is unreachable the limit is not enforced for that request
(fail open, logged): an outage of the counter store must not take the API down.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimited(exceptions.Throttled):
    pass


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address the N-th trusted proxy saw when proxies are configured."""
    meta = getattr(request, "META", {})
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [h.strip() for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return meta.get("REMOTE_ADDR", "") or "unknown"


def hit(
    bucket: str, key: str, limit: int, cost: int = 1, *, window_seconds: int = WINDOW_SECONDS
) -> int | None:
    """Count ``cost`` hits (a negative cost gives them back); return seconds to wait if that
    goes over ``limit``, else None."""
    if not settings.RATE_LIMITS_ENABLED:
        return None
    now = time.time()
    window = int(now // window_seconds)
    cache_key = f"rl:{bucket}:{key}:{window}"
    try:
        count_in_window = getattr(cache, "count_in_window", None)
        if count_in_window is not None:  # Redis (imaging.cache): one round trip
            count = count_in_window(cache_key, cost, timeout=window_seconds + 5)
        else:
            cache.add(cache_key, 0, timeout=window_seconds + 5)
            try:
                count = cache.incr(cache_key, cost)
            except ValueError:  # expired between add and incr
                cache.add(cache_key, 0, timeout=window_seconds + 5)
                count = cache.incr(cache_key, cost)
    except Exception:  # the counter store is down: documented fail-open
        logger.warning("rate limit store unavailable; %s not enforced", bucket)
        return None
    if count > limit:
        return max(1, int((window + 1) * window_seconds - now) + 1)
    return None


def check(bucket: str, key: str, limit: int, cost: int = 1) -> None:
    wait = hit(bucket, key, limit, cost)
    if wait is not None:
        raise RateLimited(wait=wait)


def check_anonymous(request) -> None:
    check("anonymous", client_ip(request), settings.RATE_LIMITS["anonymous"])


def _token_key(request) -> str:
    raw = request.META.get("HTTP_AUTHORIZATION", "")
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


class ContractRateLimit(BaseThrottle):
    """The contract's table: views name their bucket with ``rate_limit_bucket``.

    - ``auth_device``: per client IP
    - ``presign``: per device (per user for user tokens)
    - ``events``: per actor; the view charges each event of a batch itself
    - anything else: per token; requests without a token per client IP
    """

    def allow_request(self, request, view) -> bool:
        bucket = getattr(view, "rate_limit_bucket", "default")
        actor = getattr(request, "actor", None)
        if bucket == "auth_device":
            key = client_ip(request)
        elif bucket in ("presign", "events") and actor is not None:
            key = f"{actor.kind}:{actor.id}"
        elif actor is not None:
            key = _token_key(request)
        else:
            bucket, key = "anonymous", client_ip(request)
        limit = settings.RATE_LIMITS.get(bucket, settings.RATE_LIMITS["default"])
        # Events are charged per event by the view, once it knows the batch size.
        if bucket == "events":
            return True
        self._wait = hit(bucket, key, limit)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def charge_events(request, count: int) -> None:
    actor = request.actor
    check("events", f"{actor.kind}:{actor.id}", settings.RATE_LIMITS["events"], cost=count)
