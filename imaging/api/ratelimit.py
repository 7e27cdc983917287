"""Per-minute rate limits, atomic under concurrency.

Counters live in the default cache: Redis when ``REDIS_URL`` is set (``INCRBY`` is atomic
across processes; ``imaging.cache`` counts and sets the window's expiry in one round trip),
local memory otherwise (atomic within one process). Windows are fixed
calendar minutes. If Redis is unreachable the limit is not enforced for that request
(fail open, logged): an outage of the counter store must not take the API down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Charge:
    """What a hit added to a counter, so that a request refused later can give it back."""

    cache_key: str
    cost: int

    def refund(self) -> None:
        if self.cost <= 0:
            return
        try:
            cache.decr(self.cache_key, self.cost)
        except ValueError:  # the window ended and its counter expired: nothing to give back
            pass
        except Exception:  # the counter store is down: documented fail-open
            logger.warning("rate limit store unavailable; refund not made")


_NOTHING = Charge(cache_key="", cost=0)


def _window(now: float, seconds: int = WINDOW_SECONDS) -> int:
    return int(now // seconds)


def _wait(now: float, seconds: int = WINDOW_SECONDS) -> int:
    """Seconds until the current window ends (at least 1): what ``Retry-After`` says."""
    return max(1, int((_window(now, seconds) + 1) * seconds - now) + 1)


def _cache_key(bucket: str, key: str, now: float, seconds: int = WINDOW_SECONDS) -> str:
    return f"rl:{bucket}:{key}:{_window(now, seconds)}"


def take(
    bucket: str,
    key: str,
    limit: int,
    cost: int = 1,
    *,
    unless_over: tuple[str, str, int] | None = None,
    window_seconds: int = WINDOW_SECONDS,
) -> Charge:
    """Count ``cost`` hits, or raise RateLimited without counting any if they do not fit.

    A refused request uses up nothing, so what is left of the minute stays what it says.
    ``unless_over=(bucket, key, limit)``: refuse (and count nothing) while that other
    counter has reached its limit. Atomic on Redis (one script, one round trip).
    """
    if not settings.RATE_LIMITS_ENABLED:
        return _NOTHING
    now = time.time()
    cache_key = _cache_key(bucket, key, now, window_seconds)
    gate = None
    if unless_over is not None:
        gate = (_cache_key(unless_over[0], unless_over[1], now), unless_over[2])
    try:
        count = _count(cache_key, cost, limit, gate, timeout=window_seconds + 5)
    except Exception:  # the counter store is down: documented fail-open
        logger.warning("rate limit store unavailable; %s not enforced", bucket)
        return _NOTHING
    if count < 0 or count > limit:
        raise RateLimited(wait=_wait(now, window_seconds))
    return Charge(cache_key=cache_key, cost=cost)


def _count(
    cache_key: str, cost: int, limit: int, gate: tuple[str, int] | None, *, timeout: int
) -> int:
    count_in_window = getattr(cache, "count_in_window", None)
    if count_in_window is not None:  # Redis (imaging.cache): one atomic round trip
        return count_in_window(cache_key, cost, timeout=timeout, limit=limit, gate=gate)
    # Local memory (development): each step is atomic, the sequence is not.
    if gate is not None and (cache.get(gate[0]) or 0) >= gate[1]:
        return -1
    cache.add(cache_key, 0, timeout=timeout)
    try:
        count = cache.incr(cache_key, cost)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 0, timeout=timeout)
        count = cache.incr(cache_key, cost)
    if count > limit:
        cache.decr(cache_key, cost)
    return count


def check(bucket: str, key: str, limit: int, cost: int = 1) -> None:
    take(bucket, key, limit, cost)


def check_anonymous(request) -> None:
    check("anonymous", client_ip(request), settings.RATE_LIMITS["anonymous"])


def actor_key(actor) -> str:
    """The verified caller: every token of a user or device, however its header is spelt,
    draws on one budget."""
    return f"{actor.kind}:{actor.id}"


class ContractRateLimit(BaseThrottle):
    """The contract's table: views name their bucket with ``rate_limit_bucket``.

    - ``auth_device``: per client IP
    - ``presign``: per device (per user for user tokens)
    - ``events``: per actor; the view charges each event of a batch itself
    - anything else: per caller (the verified user or device, not the header's text);
      requests without a valid token per client IP (invalid ones are counted by
      ``TokenAuthentication``, which runs first and refuses them)
    """

    def allow_request(self, request, view) -> bool:
        bucket = getattr(view, "rate_limit_bucket", "default")
        actor = getattr(request, "actor", None)
        if bucket == "auth_device":
            key = client_ip(request)
        elif actor is not None:
            key = actor_key(actor)
        else:
            bucket, key = "anonymous", client_ip(request)
        # Events are charged per event by the view, once it knows the batch size.
        if bucket == "events":
            return True
        limit = settings.RATE_LIMITS.get(bucket, settings.RATE_LIMITS["default"])
        try:
            take(bucket, key, limit)
        except RateLimited as exc:
            self._wait = exc.wait
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


def charge_events(request, count: int) -> Charge:
    """Take ``count`` events from the actor's budget (nothing if they do not fit), unless
    the actor's refused requests have used up theirs this minute."""
    key = actor_key(request.actor)
    refused = ("events_refused", key, settings.RATE_LIMITS["events_refused"])
    return take("events", key, settings.RATE_LIMITS["events"], cost=count, unless_over=refused)


def charge_refused_events(request) -> None:
    """One refused ``/events`` request: its events were given back, but floods of invalid
    bodies must still run out of something."""
    check("events_refused", actor_key(request.actor), settings.RATE_LIMITS["events_refused"])
