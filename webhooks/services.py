"""Webhooks: endpoints, the outbox written in the change's transaction, delivery.

- ``outbox_write`` hears every audit event (``events_app.services.listen``) inside the
  transaction that records it; for one a webhook announces (``events.py``) it writes one
  message and one delivery per enabled endpoint of the org that wants the type; after
  commit, the transaction's deliveries are enqueued in chunks per endpoint (``queue.py``).
  A rolled-back change sends nothing.
- ``deliveries_attempt`` (the task: a chunk of one endpoint's deliveries) claims the due
  attempts with one conditional update (each attempt number is its token), signs and POSTs
  them one after another (``transport.py``) and records the answers in one statement: 2xx
  delivered; 410 disables the endpoint; anything else is retried after 5 s, 5 min, 30 min,
  2 h, 5 h, 10 h, 10 h (±20 %, ``Retry-After`` honoured up to 10 h), then failed. An
  endpoint failing for ``WEBHOOK_DISABLE_AFTER_DAYS`` is disabled with a reason.
- ``deliveries_sweep`` (beat) enqueues the due attempts nobody enqueued or the broker lost,
  and the ones whose worker died mid-attempt once their claim has expired.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import status as http

from events_app.models import Event
from imaging.api.errors import ApplicationError
from webhooks import events, queue, signing, ssrf, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
# Seconds after attempt n fails before attempt n + 1 (then failed): 8 attempts in about 38 h.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
RETRY_JITTER = 0.2
RETRY_AFTER_MAX = 36000
SECRET_OVERLAP = timedelta(hours=24)
USER_AGENT = "imaging360-webhooks/1"


# --- endpoints -----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "VALIDATION_ERROR", message, status_code=400, details={field: [message]}
    )


def url_clean(url: str) -> str:
    """The URL if it may receive webhooks (https, a public address), else a 409
    ``URL_NOT_ALLOWED`` on ``url``: whether a name resolves, and to what, is the world's
    state, not the request's shape (the schema says what a well-formed body is)."""
    try:
        ssrf.url_check(url)
    except ssrf.UnsafeUrl as exc:
        message = str(exc)
        raise ApplicationError(
            "URL_NOT_ALLOWED", message, status_code=409, details={"url": [message]}
        ) from exc
    return url


def event_types_clean(kinds: Any) -> list[str]:
    kinds = list(dict.fromkeys(kinds or []))
    unknown = [k for k in kinds if k not in events.EVENT_TYPES]
    if unknown:
        raise _invalid("event_types", f"Unknown event type: {unknown[0]}.")
    return kinds


def endpoint_create(
    *, org_id: uuid.UUID, url: str, description: str = "", event_types: Any = (), enabled=True
) -> WebhookEndpoint:
    """A new endpoint with a new secret (the caller shows it once)."""
    return WebhookEndpoint.objects.create(
        org_id=org_id,
        url=url_clean(url),
        description=description,
        event_types=event_types_clean(event_types),
        enabled=enabled,
        secret=signing.secret_new(),
    )


def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change url, description, event_types or enabled. Enabling clears the disabled
    reason and the failing clock."""
    if "url" in changes:
        endpoint.url = url_clean(changes["url"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = event_types_clean(changes["event_types"])
    if "enabled" in changes:
        enabled = bool(changes["enabled"])
        if enabled and not endpoint.enabled:
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        endpoint.enabled = enabled
    endpoint.updated_at = timezone.now()
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def secret_rotate(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (a second signature) for 24 hours."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + SECRET_OVERLAP
        locked.secret = signing.secret_new()
        locked.updated_at = now
        locked.save(
            update_fields=["previous_secret", "previous_secret_expires_at", "secret", "updated_at"]
        )
    return locked


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


def _endpoint_disable(*, endpoint_id: uuid.UUID, reason: str, now: datetime) -> None:
    """Disabled with a reason the org's admins see; its pending deliveries fail."""
    WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:300], updated_at=now
    )
    WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING).update(
        status=Status.FAILED,
        next_attempt_at=None,
        claimed_until=None,
        last_error=f"endpoint disabled: {reason}"[:500],
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


def _refused(code: str, message: str) -> ApplicationError:
    return ApplicationError(code, message, status_code=http.HTTP_409_CONFLICT)


def _message_create(*, org_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> WebhookMessage:
    return WebhookMessage.objects.create(
        msg_id=signing.msg_id_new(), org_id=org_id, event_type=kind, payload=payload
    )


def _deliveries_create(
    *, message: WebhookMessage, endpoint_ids: list[uuid.UUID]
) -> list[WebhookDelivery]:
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            org_id=message.org_id,
            message=message,
            endpoint_id=endpoint_id,
            next_attempt_at=now,
            enqueued_at=now,
        )
        for endpoint_id in endpoint_ids
    )
    queue.deliveries_enqueue_on_commit((d.endpoint_id, d.pk) for d in deliveries)
    return deliveries


def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``ping`` to this endpoint (whatever its event types), sent after commit."""
    if not endpoint.enabled:
        raise _refused("ENDPOINT_DISABLED", "The endpoint is disabled; enable it first.")
    with transaction.atomic():
        message = _message_create(
            org_id=endpoint.org_id,
            kind=events.PING,
            payload=events.ping_payload(endpoint_id=endpoint.pk, now=timezone.now()),
        )
        [delivery] = _deliveries_create(message=message, endpoint_ids=[endpoint.pk])
    return delivery


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """The same message (same ``webhook-id``, a new timestamp and signature) sent to the
    same endpoint again, as a new delivery."""
    if delivery.status == Status.PENDING:
        raise _refused("DELIVERY_PENDING", "The delivery is still pending; it will be retried.")
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    if not endpoint.enabled:
        raise _refused("ENDPOINT_DISABLED", "The endpoint is disabled; enable it first.")
    with transaction.atomic():
        [replay] = _deliveries_create(message=delivery.message, endpoint_ids=[endpoint.pk])
    return replay


# --- the outbox (in the change's transaction) ----------------------------------------------


def outbox_write(event: Event) -> None:
    """``events_app`` listener: the webhook messages this audit event announces."""
    kind = events.webhook_type(event)
    if kind is None:
        return
    endpoint_ids = [
        pk
        for pk, kinds in WebhookEndpoint.objects.filter(
            org_id=event.org_id, enabled=True
        ).values_list("pk", "event_types")
        if not kinds or kind in kinds
    ]
    if not endpoint_ids:
        return
    message = _message_create(org_id=event.org_id, kind=kind, payload=events.payload(kind, event))
    _deliveries_create(message=message, endpoint_ids=endpoint_ids)


# --- delivery (the worker) -----------------------------------------------------------------


def body_of(payload: dict[str, Any]) -> bytes:
    """The bytes sent: ``type``, ``timestamp``, ``data`` in that order, compact UTF-8."""
    ordered = {key: payload[key] for key in ("type", "timestamp", "data") if key in payload}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(attempt: int, *, retry_after: float | None = None) -> float | None:
    """Seconds before the attempt after ``attempt`` (1-based), or None: no more attempts."""
    if attempt > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempt - 1] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay * settings.WEBHOOK_RETRY_SCALE


@dataclass(frozen=True)
class Claimed:
    """A claimed attempt and what sending it needs (read in the claim's round trip)."""

    delivery_id: uuid.UUID
    attempt: int
    msg_id: str
    payload: dict[str, Any]
    endpoint: WebhookEndpoint


@dataclass(frozen=True)
class Answered:
    """What one attempt's recording needs: the attempt, when it was sent, the answer."""

    claimed: Claimed
    sent_at: datetime
    outcome: transport.Outcome


@dataclass(frozen=True)
class Record:
    """One attempt's row as it is written (``_records_write``)."""

    delivery_id: uuid.UUID
    attempt: int
    status: str
    sent_at: datetime
    status_code: int | None
    response: str
    error: str
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    enqueued_at: datetime | None = None


_ENDPOINT_COLUMNS = (
    "id",
    "org_id",
    "url",
    "enabled",
    "disabled_reason",
    "secret",
    "previous_secret",
    "previous_secret_expires_at",
    "failing_since",
)

# The attempts' bookkeeping (their claim, their outcome) commits without waiting for the WAL
# flush (``synchronous_commit = off`` for that statement's transaction only): the flush
# costs more than the rest of an attempt. A PostgreSQL crash may lose the last fraction of
# a second of it, and then an attempt is sent again with the same webhook-id — delivery
# is at least once in any case. The change's own transaction (the outbox) is untouched.
ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true))"


@functools.cache
def _claim_sql() -> str:
    """One statement: take the due attempts among the ids (the conditional update; each
    row's attempt number is its token) and read their messages and endpoints. PostgreSQL's
    data-modifying WITH; parameters: claimed_until, ids, now, now."""
    quote = connection.ops.quote_name
    delivery = quote(WebhookDelivery._meta.db_table)
    message = quote(WebhookMessage._meta.db_table)
    endpoint = quote(WebhookEndpoint._meta.db_table)
    endpoint_columns = ", ".join(f"e.{quote(c)}" for c in _ENDPOINT_COLUMNS)
    return (
        f"WITH claimed AS (UPDATE {delivery} SET claimed_until = %s, attempts = attempts + 1 "
        f"WHERE id = ANY(%s) AND status = 'pending' AND next_attempt_at <= %s "
        f"AND (claimed_until IS NULL OR claimed_until < %s) "
        f"RETURNING id, attempts, message_id, endpoint_id) "
        f"SELECT c.id, c.attempts, m.msg_id, m.payload, {endpoint_columns} FROM claimed c "
        f"JOIN {message} m ON m.id = c.message_id JOIN {endpoint} e ON e.id = c.endpoint_id "
        f"CROSS JOIN {ASYNC_COMMIT} AS relaxed ORDER BY c.message_id, c.id"
    )


@functools.cache
def _records_sql() -> str:
    """One statement for a batch's outcomes, each row under its attempt token: parameters
    are one array per ``Record`` field, in its order."""
    quote = connection.ops.quote_name
    delivery = quote(WebhookDelivery._meta.db_table)
    return (
        f"UPDATE {delivery} d SET status = v.status, last_attempt_at = v.sent_at, "
        f"last_status_code = v.status_code, last_response = v.response, "
        f"last_error = v.error, delivered_at = v.delivered_at, "
        f"next_attempt_at = v.next_attempt_at, claimed_until = NULL, "
        f"enqueued_at = CASE WHEN v.status = 'pending' THEN v.enqueued_at "
        f"ELSE d.enqueued_at END "
        f"FROM unnest(%s::uuid[], %s::integer[], %s::varchar[], %s::timestamptz[], "
        f"%s::integer[], %s::text[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], "
        f"%s::timestamptz[]) AS v(id, attempt, status, sent_at, status_code, response, error, "
        f"delivered_at, next_attempt_at, enqueued_at) CROSS JOIN {ASYNC_COMMIT} AS relaxed "
        f"WHERE d.id = v.id AND d.attempts = v.attempt AND d.status = 'pending'"
    )


def _claim(delivery_ids: list[uuid.UUID], now: datetime, claim_until: datetime) -> list[Claimed]:
    """Take the due attempts among the ids with one conditional update: the ones not ours
    to send (not due, done, claimed by a live attempt, gone) are left out."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(), [claim_until, delivery_ids, now, now])
            rows = cursor.fetchall()
        claimed = []
        for delivery_id, attempt, msg_id, payload, *columns in rows:
            if isinstance(payload, str | bytes):
                payload = json.loads(payload)
            endpoint = WebhookEndpoint(**dict(zip(_ENDPOINT_COLUMNS, columns, strict=True)))
            claimed.append(Claimed(delivery_id, attempt, msg_id, payload, endpoint))
        return claimed
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    WebhookDelivery.objects.filter(
        free, pk__in=delivery_ids, status=Status.PENDING, next_attempt_at__lte=now
    ).update(claimed_until=claim_until, attempts=F("attempts") + 1)
    ours = WebhookDelivery.objects.filter(pk__in=delivery_ids, claimed_until=claim_until)
    return [
        Claimed(d.pk, d.attempts, d.message.msg_id, d.message.payload, d.endpoint)
        for d in ours.select_related("message", "endpoint").order_by("message_id", "pk")
    ]


def deliveries_attempt(*, delivery_ids: list[uuid.UUID | str]) -> dict[str, str]:
    """One attempt of each due delivery among the ids (the task's chunk, one endpoint's);
    what happened to each (for the task's log line), ``not due`` for the ones not claimed.

    The claim is one statement for the chunk; the attempts are sent one after another on
    the endpoint's kept-alive connection; their outcomes are written in one statement. No
    request starts after ``WEBHOOK_BATCH_SECONDS``, nor when it could outlive the claim: the
    rest are given back (their attempt not counted) and enqueued again.
    """
    started = time.monotonic()
    now = timezone.now()
    claim_until = now + timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
    ids = [uuid.UUID(str(pk)) for pk in delivery_ids]
    outcomes = dict.fromkeys(map(str, ids), "not due")
    last_start = started + min(
        settings.WEBHOOK_BATCH_SECONDS,
        settings.WEBHOOK_CLAIM_SECONDS - settings.WEBHOOK_REQUEST_TIMEOUT,
    )
    by_endpoint: dict[uuid.UUID, list[Claimed]] = {}
    for claimed in _claim(ids, now, claim_until):
        by_endpoint.setdefault(claimed.endpoint.pk, []).append(claimed)
    for i, claims in enumerate(by_endpoint.values()):
        # The first attempt of a task is always sent: a chunk given back always moves on.
        outcomes.update(
            _endpoint_deliver(
                claims, last_start=last_start, claim_until=claim_until, sure_of_one=i == 0
            )
        )
    return outcomes


def delivery_attempt(*, delivery_id: uuid.UUID | str) -> str:
    """One attempt of one due delivery (a chunk of one); what happened."""
    return deliveries_attempt(delivery_ids=[delivery_id])[str(delivery_id)]


def _endpoint_deliver(
    claims: list[Claimed], *, last_start: float, claim_until: datetime, sure_of_one: bool
) -> dict[str, str]:
    """Send one endpoint's claimed attempts in order, then record them; stop at a 410 or
    at a failure that disables it (the rest fail with the endpoint), or at ``last_start``."""
    endpoint = claims[0].endpoint
    if not endpoint.enabled:
        reason = endpoint.disabled_reason or "by the organisation"
        now = timezone.now()
        _records_write(
            [Record(c.delivery_id, c.attempt, Status.FAILED, now, None, "", "") for c in claims],
            error=f"endpoint disabled: {reason}",
        )
        return {str(c.delivery_id): "endpoint disabled" for c in claims}
    days = settings.WEBHOOK_DISABLE_AFTER_DAYS
    failing_too_long = endpoint.failing_since is not None and (
        endpoint.failing_since <= timezone.now() - timedelta(days=days)
    )
    signer = signing.Signer(signing_secrets(endpoint, timezone.now()))
    answered: list[Answered] = []
    for claimed in claims:
        if (answered or not sure_of_one) and time.monotonic() > last_start:
            break
        answer = _send(claimed, endpoint=endpoint, signer=signer)
        answered.append(answer)
        outcome = answer.outcome
        if outcome.status_code == http.HTTP_410_GONE or (
            not outcome.ok and failing_too_long and not any(a.outcome.ok for a in answered)
        ):
            break
    return _outcomes_record(
        endpoint=endpoint,
        answered=answered,
        unsent=claims[len(answered) :],
        failing_too_long=failing_too_long,
        claim_until=claim_until,
    )


def _send(claimed: Claimed, *, endpoint: WebhookEndpoint, signer: signing.Signer) -> Answered:
    body = body_of(claimed.payload)
    sent_at = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": claimed.msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.header(msg_id=claimed.msg_id, timestamp=sent_at, body=body),
    }
    outcome = transport.post(
        endpoint_key=str(endpoint.pk), url=endpoint.url, body=body, headers=headers
    )
    return Answered(claimed, sent_at, outcome)


def _response_text(body: bytes) -> str:
    cap = settings.WEBHOOK_RESPONSE_KEEP_BYTES
    return body[:cap].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _outcomes_record(
    *,
    endpoint: WebhookEndpoint,
    answered: list[Answered],
    unsent: list[Claimed],
    failing_too_long: bool,
    claim_until: datetime,
) -> dict[str, str]:
    """Write what the endpoint answered: 2xx delivered; 410 failed and the endpoint
    disabled; a failure while failing for ``WEBHOOK_DISABLE_AFTER_DAYS`` the same; anything
    else retried on the schedule. The failing clock follows the last answer."""
    now = timezone.now()
    outcomes: dict[str, str] = {}
    records: list[Record] = []
    retries: list[tuple[uuid.UUID, float]] = []
    disable_reason = ""
    seen_ok = False
    for answer in answered:
        claimed, outcome = answer.claimed, answer.outcome
        key = str(claimed.delivery_id)
        base = {
            "delivery_id": claimed.delivery_id,
            "attempt": claimed.attempt,
            "sent_at": answer.sent_at,
            "status_code": outcome.status_code,
            "response": _response_text(outcome.body),
        }
        if outcome.ok:
            records.append(Record(**base, status=Status.DELIVERED, error="", delivered_at=now))
            outcomes[key] = "delivered"
            seen_ok = True
            continue
        error = (outcome.error or f"HTTP {outcome.status_code}")[:500]
        if outcome.status_code == http.HTTP_410_GONE:
            records.append(Record(**base, status=Status.FAILED, error=error))
            disable_reason = f"The endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC."
            outcomes[key] = "gone: endpoint disabled"
            continue
        if failing_too_long and not seen_ok:
            # Every attempt failed for days (none of this batch's succeeded before it).
            since = endpoint.failing_since
            records.append(Record(**base, status=Status.FAILED, error=error))
            disable_reason = (
                f"Every delivery failed for {settings.WEBHOOK_DISABLE_AFTER_DAYS} days (since "
                f"{since:%Y-%m-%d %H:%M} UTC); last: {error}"
            )
            outcomes[key] = "failing too long: endpoint disabled"
            continue
        delay = retry_delay(claimed.attempt, retry_after=outcome.retry_after)
        if delay is None:
            records.append(Record(**base, status=Status.FAILED, error=error))
            outcomes[key] = f"failed after {claimed.attempt} attempts"
            continue
        soon = delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS and not queue.eager()
        due = now + timedelta(seconds=delay)
        records.append(
            Record(
                **base,
                status=Status.PENDING,
                error=error,
                next_attempt_at=due,
                enqueued_at=due if soon else None,
            )
        )
        if soon:
            retries.append((claimed.delivery_id, delay))
        outcomes[key] = f"retry in {delay:.1f}s"
    # One statement when every attempt was delivered (the hot path); a transaction only
    # when an endpoint is disabled, so its reason and its deliveries' fate go together.
    with transaction.atomic() if disable_reason else contextlib.nullcontext():
        _records_write(records)
        _failing_clock_set(endpoint=endpoint, answered=answered)
        if unsent:
            # Never sent: the attempt is not counted, and a new task takes them, behind the
            # tasks already queued (other endpoints' among them).
            WebhookDelivery.objects.filter(
                pk__in=[c.delivery_id for c in unsent],
                status=Status.PENDING,
                claimed_until=claim_until,
            ).update(attempts=F("attempts") - 1, claimed_until=None, enqueued_at=now)
            if not disable_reason:
                unsent_ids = [c.delivery_id for c in unsent]
                transaction.on_commit(lambda: queue.deliveries_enqueue(unsent_ids))
            left = "endpoint disabled" if disable_reason else "given back"
            outcomes.update({str(c.delivery_id): left for c in unsent})
        if disable_reason:
            _endpoint_disable(endpoint_id=endpoint.pk, reason=disable_reason, now=now)
        for delivery_id, delay in retries:
            transaction.on_commit(
                functools.partial(
                    queue.deliveries_enqueue, [delivery_id], countdown=max(delay, 0.001)
                )
            )
    return outcomes


def _failing_clock_set(*, endpoint: WebhookEndpoint, answered: list[Answered]) -> None:
    """Since when every attempt failed: cleared by a success, started by the first failure
    after the last success (or the first failure at all). At most one statement."""
    last_ok = max((i for i, a in enumerate(answered) if a.outcome.ok), default=None)
    failures_after = answered[(last_ok + 1 if last_ok is not None else 0) :]
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if failures_after and (last_ok is not None or endpoint.failing_since is None):
        since = failures_after[0].sent_at
        if last_ok is not None:
            endpoints.update(failing_since=since)
        else:
            endpoints.filter(failing_since__isnull=True).update(failing_since=since)
    elif last_ok is not None and endpoint.failing_since is not None:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)


def _records_write(records: list[Record], *, error: str | None = None) -> None:
    """The attempts' rows, each under its attempt token: one statement on PostgreSQL."""
    if error is not None:
        records = [dataclasses.replace(r, error=error) for r in records]
    if not records:
        return
    if connection.vendor == "postgresql":
        columns = [[getattr(r, f.name) for r in records] for f in dataclasses.fields(Record)]
        columns[2] = [str(status) for status in columns[2]]
        with connection.cursor() as cursor:
            cursor.execute(_records_sql(), columns)
        return
    for r in records:
        WebhookDelivery.objects.filter(
            pk=r.delivery_id, attempts=r.attempt, status=Status.PENDING
        ).update(
            status=r.status,
            last_attempt_at=r.sent_at,
            last_status_code=r.status_code,
            last_response=r.response,
            last_error=r.error,
            delivered_at=r.delivered_at,
            next_attempt_at=r.next_attempt_at,
            claimed_until=None,
            **({"enqueued_at": r.enqueued_at} if r.status == Status.PENDING else {}),
        )


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Enqueue the due attempts not in the broker (never enqueued, lost, or whose worker died
    and whose claim expired), in chunks per endpoint; returns how many. Rows are taken with
    ``skip_locked``, so two sweepers never enqueue the same one; the claim makes a duplicate
    harmless anyway."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REENQUEUE_SECONDS)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .order_by("next_attempt_at")
            .values_list("endpoint_id", "pk")[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=[pk for _, pk in due]).update(enqueued_at=now)
            chunks = queue.endpoint_chunks(due)
            transaction.on_commit(lambda: [queue.deliveries_enqueue(ids) for ids in chunks])
    return len(due)
