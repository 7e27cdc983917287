"""Recording events: the audit log is a sink. Services of every app call ``event_record``
explicitly, inside their transaction; nothing here calls back into them.

An app above may hear every recorded event through an explicit listener (registered once in
its ``AppConfig.ready`` with ``listen``), called by ``event_record`` with the new Event inside
the caller's transaction: whatever the listener writes commits or rolls back with the change
(``webhooks`` writes its outbox this way). ``events_insert`` (client telemetry, in bulk) calls
no listener.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, models

from events_app.models import Event

Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Register ``listener`` (once; registering the same function again changes nothing)."""
    if listener not in _listeners:
        _listeners.append(listener)


def listeners() -> list[Listener]:
    return list(_listeners)


def event_record(
    *,
    org_id: uuid.UUID,
    actor_type: str,
    actor_id: uuid.UUID | None,
    entity_type: str,
    entity_id: uuid.UUID,
    type: str,
    message: str = "",
    meta: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Event:
    event = Event.objects.create(
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        entity_type=entity_type,
        entity_id=entity_id,
        type=type,
        message=message,
        meta=meta or {},
        request_id=request_id or "",
    )
    for listener in _listeners:
        listener(event)
    return event


@functools.cache
def _copy_statement() -> tuple[str, list[str], list[tuple[int, Any]]]:
    """``COPY <events> (<every column>) FROM STDIN`` from the model's own columns, the
    attribute names in that order, and where the JSON columns are with their encoders (the
    other values go as they are: uuid, text, timestamptz)."""
    quote = connection.ops.quote_name
    fields = Event._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    json_columns = [
        (index, field.encoder)
        for index, field in enumerate(fields)
        if isinstance(field, models.JSONField)
    ]
    statement = f"COPY {quote(Event._meta.db_table)} ({columns}) FROM STDIN"
    return statement, [field.attname for field in fields], json_columns


def events_insert(rows: list[dict[str, Any]]) -> None:
    """Insert events given as ``{attname: value}`` for every column.

    On PostgreSQL rows are streamed with ``COPY`` inside the caller's transaction (same
    constraints and indexes as an INSERT): a batch of 100 costs about 1.5 ms of CPU here
    against 4.3 ms through ``bulk_create``, which builds a model instance per row and
    quotes every value client-side. Elsewhere, ``bulk_create``.
    """
    if connection.vendor != "postgresql":
        Event.objects.bulk_create(Event(**row) for row in rows)
        return
    statement, attnames, json_columns = _copy_statement()
    # The driver's own cursor (Django's has no COPY): its errors become Django's, as a
    # query's would (IntegrityError, OperationalError ...).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            values = [row[attname] for attname in attnames]
            for index, encoder in json_columns:
                values[index] = json.dumps(values[index], cls=encoder)
            copy.write_row(values)


def actor_fields(actor: Any) -> dict[str, Any]:
    """``actor_type``/``actor_id`` for an API Actor, a User, a Device or None (the system).

    Read by shape (the audit log sits below accounts and imports none of its models)."""
    if actor is None:
        return {"actor_type": Event.ActorType.SYSTEM, "actor_id": None}
    kind = getattr(actor, "kind", None)
    if kind is None:  # a model instance: accounts.User or accounts.Device
        kind = {"user": Event.ActorType.USER, "device": Event.ActorType.DEVICE}[
            actor._meta.model_name
        ]
    return {"actor_type": kind, "actor_id": actor.id}
