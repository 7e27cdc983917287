"""Webhooks: endpoints, the outbox written in the change's transaction, delivery.

- ``outbox_write`` hears every audit event (``events_app.services.listen``) inside the
  transaction that records it; for one a webhook announces (``events.py``) it writes one
  message and one delivery per enabled endpoint of the org that wants the type, and enqueues
  each delivery after commit. A rolled-back change sends nothing.
- ``delivery_attempt`` (the task) claims the due attempt with a conditional update (the
  attempt number is the token), signs and POSTs it (``transport.py``), and records the
  answer: 2xx delivered; 410 disables the endpoint; anything else is retried after 5 s,
  5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±20 %, ``Retry-After`` honoured up to 10 h), then
  failed. An endpoint failing for ``WEBHOOK_DISABLE_AFTER_DAYS`` is disabled with a reason.
- ``deliveries_sweep`` (beat) enqueues the due attempts nobody enqueued or the broker lost,
  and the ones whose worker died mid-attempt once their claim has expired.
"""

from __future__ import annotations

import functools
import json
import logging
import random
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
    for delivery in deliveries:
        queue.delivery_enqueue_on_commit(delivery.pk)
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

    attempt: int
    msg_id: str
    payload: dict[str, Any]
    endpoint: WebhookEndpoint


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


@functools.cache
def _claim_sql() -> str:
    """One statement: take the due attempt (the conditional update) and read its message and
    endpoint. PostgreSQL's data-modifying WITH; parameters: claimed_until, now, id, now, now."""
    quote = connection.ops.quote_name
    delivery = quote(WebhookDelivery._meta.db_table)
    message = quote(WebhookMessage._meta.db_table)
    endpoint = quote(WebhookEndpoint._meta.db_table)
    endpoint_columns = ", ".join(f"e.{quote(c)}" for c in _ENDPOINT_COLUMNS)
    return (
        f"WITH claimed AS (UPDATE {delivery} SET claimed_until = %s, "
        f"attempts = attempts + 1, last_attempt_at = %s "
        f"WHERE id = %s AND status = 'pending' AND next_attempt_at <= %s "
        f"AND (claimed_until IS NULL OR claimed_until < %s) "
        f"RETURNING attempts, message_id, endpoint_id) "
        f"SELECT c.attempts, m.msg_id, m.payload, {endpoint_columns} FROM claimed c "
        f"JOIN {message} m ON m.id = c.message_id JOIN {endpoint} e ON e.id = c.endpoint_id "
        f"CROSS JOIN {ASYNC_COMMIT} AS relaxed"
    )


# The attempt's bookkeeping (its claim, "delivered") commits without waiting for the WAL
# flush (``synchronous_commit = off`` for that statement's transaction only): the flush
# costs more than the rest of an attempt. A PostgreSQL crash may lose the last fraction of
# a second of it, and then the attempt is sent again with the same webhook-id — delivery
# is at least once in any case. The change's own transaction (the outbox) is untouched.
ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true))"


@functools.cache
def _delivered_sql() -> str:
    """The hot path's record: parameters delivered_at, status code, response, id, attempt."""
    quote = connection.ops.quote_name
    delivery = quote(WebhookDelivery._meta.db_table)
    return (
        f"UPDATE {delivery} SET status = 'delivered', delivered_at = %s, next_attempt_at = NULL, "
        f"claimed_until = NULL, last_error = '', last_status_code = %s, last_response = %s "
        f"FROM {ASYNC_COMMIT} AS relaxed "
        f"WHERE id = %s AND attempts = %s AND status = 'pending'"
    )


def _claim(delivery_id: uuid.UUID | str, now: datetime) -> Claimed | None:
    """Take the due attempt with a conditional update (its number is the token): None if it
    is not ours to send (not due, done, or claimed by a live attempt)."""
    claim_until = now + timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
    delivery_id = uuid.UUID(str(delivery_id))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(), [claim_until, now, delivery_id, now, now])
            row = cursor.fetchone()
        if row is None:
            return None
        attempt, msg_id, payload, *columns = row
        if isinstance(payload, str | bytes):
            payload = json.loads(payload)
        endpoint = WebhookEndpoint(**dict(zip(_ENDPOINT_COLUMNS, columns, strict=True)))
        return Claimed(attempt=attempt, msg_id=msg_id, payload=payload, endpoint=endpoint)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    claimed = WebhookDelivery.objects.filter(
        free, pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(claimed_until=claim_until, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("message", "endpoint").get(pk=delivery_id)
    return Claimed(
        attempt=delivery.attempts,
        msg_id=delivery.message.msg_id,
        payload=delivery.message.payload,
        endpoint=delivery.endpoint,
    )


def delivery_attempt(*, delivery_id: uuid.UUID | str) -> str:
    """One attempt of a due delivery; what happened (for the task's log line)."""
    claimed = _claim(delivery_id, timezone.now())
    if claimed is None:
        return "not due"
    endpoint = claimed.endpoint
    held = WebhookDelivery.objects.filter(
        pk=delivery_id, attempts=claimed.attempt, status=Status.PENDING
    )
    if not endpoint.enabled:
        held.update(
            status=Status.FAILED,
            next_attempt_at=None,
            claimed_until=None,
            last_error=f"endpoint disabled: {endpoint.disabled_reason or 'by the organisation'}",
        )
        return "endpoint disabled"
    body = body_of(claimed.payload)
    sent_at = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": claimed.msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signing.signature_header(
            signing_secrets=signing_secrets(endpoint, sent_at),
            msg_id=claimed.msg_id,
            timestamp=sent_at,
            body=body,
        ),
    }
    outcome = transport.post(
        endpoint_key=str(endpoint.pk), url=endpoint.url, body=body, headers=headers
    )
    return _outcome_record(
        delivery_id=delivery_id,
        endpoint=endpoint,
        held=held,
        attempt=claimed.attempt,
        outcome=outcome,
    )


def _response_text(body: bytes) -> str:
    cap = settings.WEBHOOK_RESPONSE_KEEP_BYTES
    return body[:cap].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _outcome_record(
    *, delivery_id, endpoint: WebhookEndpoint, held, attempt: int, outcome: transport.Outcome
) -> str:
    now = timezone.now()
    answer = {
        "last_status_code": outcome.status_code,
        "last_response": _response_text(outcome.body),
        "claimed_until": None,
    }
    endpoint_id = endpoint.pk
    if outcome.ok:
        # One statement (the hot path); the failing clock only when it was running.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    _delivered_sql(),
                    [
                        now,
                        outcome.status_code,
                        answer["last_response"],
                        uuid.UUID(str(delivery_id)),
                        attempt,
                    ],
                )
        else:
            held.update(
                status=Status.DELIVERED,
                delivered_at=now,
                next_attempt_at=None,
                last_error="",
                **answer,
            )
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
        return "delivered"
    with transaction.atomic():
        error = outcome.error or f"HTTP {outcome.status_code}"
        if outcome.status_code == http.HTTP_410_GONE:
            held.update(status=Status.FAILED, next_attempt_at=None, last_error=error, **answer)
            _endpoint_disable(
                endpoint_id=endpoint_id,
                reason=f"The endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC.",
                now=now,
            )
            return "gone: endpoint disabled"
        WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
            failing_since=now
        )
        failing_since = WebhookEndpoint.objects.values_list("failing_since", flat=True).get(
            pk=endpoint_id
        )
        days = settings.WEBHOOK_DISABLE_AFTER_DAYS
        if failing_since is not None and failing_since <= now - timedelta(days=days):
            held.update(status=Status.FAILED, next_attempt_at=None, last_error=error, **answer)
            _endpoint_disable(
                endpoint_id=endpoint_id,
                reason=f"Every delivery failed for {days} days (since "
                f"{failing_since:%Y-%m-%d %H:%M} UTC); last: {error}",
                now=now,
            )
            return "failing too long: endpoint disabled"
        delay = retry_delay(attempt, retry_after=outcome.retry_after)
        if delay is None:
            held.update(status=Status.FAILED, next_attempt_at=None, last_error=error, **answer)
            return f"failed after {attempt} attempts"
        soon = delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS and not queue.eager()
        due = now + timedelta(seconds=delay)
        held.update(
            next_attempt_at=due, enqueued_at=due if soon else None, last_error=error, **answer
        )
        if soon:
            transaction.on_commit(
                lambda: queue.delivery_enqueue(delivery_id, countdown=max(delay, 0.001))
            )
    return f"retry in {delay:.1f}s"


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Enqueue the due attempts not in the broker (never enqueued, lost, or whose worker died
    and whose claim expired); returns how many. Rows are taken with ``skip_locked``, so two
    sweepers never enqueue the same one; the claim makes a duplicate harmless anyway."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REENQUEUE_SECONDS)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=due).update(enqueued_at=now)
            transaction.on_commit(lambda: [queue.delivery_enqueue(pk) for pk in due])
    return len(due)
