"""Processing in turn: one organisation's backlog cannot hold every worker process.

At most ``PROCESS_ORG_CONCURRENCY`` images of one org are in process at once, across all
workers, counted in Redis. A task whose org is at its cap parks the image in the org's
waiting set and returns at once: no claim, no attempt used, and the worker process takes
the next message, which may be another org's photo. When a task of that org ends it frees
its slot and enqueues the org's next parked image, so the org's backlog goes on one image
per freed slot, behind whatever other orgs enqueued meanwhile, its sessions taking turns.

Why this and not the alternatives:
- Per-org queues need a worker consuming every org's queue (orgs are rows, not deploy
  configuration); Celery's priorities only reorder a queue, and an org whose images are
  ahead still gets every worker process.
- Re-queueing with a countdown while the org is at its cap keeps every waiting task cycling
  through the broker and the workers, and Redis hands countdown tasks to a worker that holds
  them in memory, unacknowledged, until they are due. A parked image costs one sorted-set
  entry and is looked at once more, when its turn comes.

Within an org's turn the parked images go round its sessions (per-session round robin), so
a session's newest frames never wait behind another session's backlog: a parked image is
scored by its round, one more than the larger of the org's current round (that of the image
popped last) and its session's last parked round. A session with 100 frames parked holds
rounds n+1..n+100; a session parking its first frame meanwhile gets round n+1 and goes next
(images of one round in id order; one session's images stay in their order). Not priority:
a priority for "newest first" or "small sessions first" would starve the large backlog,
and a device waiting for its QC verdicts is served by taking turns as well, at a bounded
delay (one image per session ahead of it, not the whole backlog). Per-session queues in
the broker were ruled out for the reasons per-org queues were. A session's round is kept in
a hash beside the waiting set, with the same idle expiry.

The slots are a sorted set of image ids scored by lease expiry (the task's hard time limit
plus a margin): a killed worker cannot leak a slot, and the redelivered task of the same
image takes its lease over. Taking or parking, and freeing then popping the next, are each
one Lua script, so no wake-up is lost between a check and a park.

The database stays the truth: a parked image is still ``pending``, so if Redis loses the
waiting set the sweeper enqueues it again (``services.uploads_sweep``). Without a broker
(tasks run in-process) or with a cap of 0 there is no gate; if Redis fails, the image is
processed anyway: fairness is not worth a stuck photo.
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

import redis
from django.conf import settings

from images_app import services
from images_app.models import Image
from images_app.queue import image_process_enqueue

logger = logging.getLogger(__name__)

KEY_PREFIX = "imaging:org-turns:"
# A lease outlives the task's hard time limit: only a dead task's lease expires.
LEASE_MARGIN_SECONDS = 60
# An org's keys go after a day without processing (the sweeper covers whatever was parked).
IDLE_TTL_SECONDS = 24 * 3600

TAKEN, PARKED, HELD_ELSEWHERE = 1, 0, 2

# KEYS: slots, parked, session rounds, current round. ARGV: image, lease seconds, cap,
# reclaim ("1"/"0"), ttl, session.
_TAKE_OR_PARK = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if ARGV[4] ~= '1' then return 2 end
elseif redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    local current = tonumber(redis.call('GET', KEYS[4]) or '0')
    local last = tonumber(redis.call('HGET', KEYS[3], ARGV[6]) or '0')
    local round = math.max(current, last) + 1
    redis.call('ZADD', KEYS[2], round, ARGV[1])
    redis.call('HSET', KEYS[3], ARGV[6], round)
  end
  for i = 2, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: slots, parked, session rounds, current round. ARGV: image ("" for none), cap, ttl.
# Returns the image to enqueue, or nil.
_FREE_AND_POP = """
local now = tonumber(redis.call('TIME')[1])
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  local popped = redis.call('ZPOPMIN', KEYS[2])
  if popped[1] then
    redis.call('SET', KEYS[4], popped[2], 'EX', ARGV[3])
    return popped[1]
  end
end
return false
"""


def image_process_in_turn(*, image_id: uuid.UUID | str, reclaim: bool = False) -> str:
    """`services.image_process` once the image's org has a free slot; ``"waiting"`` when the
    image was parked until one frees, ``"skipped"`` when another delivery of it holds one."""
    image_id = uuid.UUID(str(image_id))
    cap = settings.PROCESS_ORG_CONCURRENCY
    if cap <= 0 or not settings.REDIS_URL or settings.CELERY_TASK_ALWAYS_EAGER:
        return services.image_process(image_id=image_id, reclaim=reclaim)
    row = Image.objects.filter(pk=image_id).values_list("org_id", "status", "session_id").first()
    if row is None:
        return services.image_process(image_id=image_id, reclaim=reclaim)
    org_id, status, session_id = row
    if status not in (Image.Status.PENDING, Image.Status.PROCESSING):
        # Nothing to do (a duplicate message, a woken image already done elsewhere); a woken
        # image must still pass the turn on, or the org's parked images would wait for the
        # sweeper.
        outcome = services.image_process(image_id=image_id, reclaim=reclaim)
        turn_free_and_wake_next(org_id=org_id, image_id=None, cap=cap)
        return outcome

    turn = turn_take_or_park(
        org_id=org_id, image_id=image_id, cap=cap, reclaim=reclaim, session_id=session_id
    )
    if turn == PARKED:
        return "waiting"
    if turn == HELD_ELSEWHERE:
        return "skipped"
    try:
        return services.image_process(image_id=image_id, reclaim=reclaim)
    finally:
        if turn == TAKEN:
            turn_free_and_wake_next(org_id=org_id, image_id=image_id, cap=cap)


def turn_take_or_park(
    *,
    org_id: uuid.UUID,
    image_id: uuid.UUID,
    cap: int,
    reclaim: bool,
    session_id: uuid.UUID | None = None,
) -> int | None:
    """TAKEN, PARKED, HELD_ELSEWHERE, or None when Redis failed (process without a slot).
    A parked image takes its session's next round (``session_id``; none: a round of its
    own, as if it were a session of one image)."""
    lease = settings.PROCESS_TIME_LIMIT + LEASE_MARGIN_SECONDS
    lane = str(session_id or image_id)
    try:
        return int(
            _scripts().take_or_park(
                keys=_keys(org_id),
                args=[str(image_id), lease, cap, "1" if reclaim else "0", IDLE_TTL_SECONDS, lane],
            )
        )
    except redis.RedisError:
        logger.warning("image %s: org turn not taken (Redis failed), processing", image_id)
        return None


def turn_free_and_wake_next(*, org_id: uuid.UUID, image_id: uuid.UUID | None, cap: int) -> None:
    try:
        woken = _scripts().free_and_pop(
            keys=_keys(org_id), args=[str(image_id or ""), cap, IDLE_TTL_SECONDS]
        )
    except redis.RedisError:
        # The lease expires; a parked image waits for the next turn or the sweeper.
        logger.warning("org %s: turn not passed on (Redis failed)", org_id)
        return
    if woken is None:
        return
    woken_id = woken.decode() if isinstance(woken, bytes) else str(woken)
    try:
        image_process_enqueue(woken_id)
    except Exception:
        # The broker is down: the parked image is still pending, the sweeper enqueues it.
        logger.warning("image %s: could not be enqueued for its turn", woken_id, exc_info=True)


def _keys(org_id: uuid.UUID) -> list[str]:
    prefix = f"{KEY_PREFIX}{org_id}"
    return [f"{prefix}:slots", f"{prefix}:parked", f"{prefix}:rounds", f"{prefix}:round"]


class _Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.take_or_park = client.register_script(_TAKE_OR_PARK)
        self.free_and_pop = client.register_script(_FREE_AND_POP)


@lru_cache(maxsize=4)
def _scripts_for(url: str) -> _Scripts:
    return _Scripts(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))


def _scripts() -> _Scripts:
    return _scripts_for(settings.REDIS_URL)
