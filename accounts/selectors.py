"""Reads of the principals behind API tokens: the query every API request makes.

Authentication re-reads the device or the user on every request, so that revocation and
deactivation take effect at once. Built by the ORM (``filter(...).first()``) that query
costs about 0.8 ms of CPU here, nearly all of it compiling the SQL, ten times what the
database spends on it. These statements are written once from the models' metadata; the
row becomes a model instance with ``Model.from_db``, as the ORM does, after the same column
conversions (on PostgreSQL these models need none; elsewhere ``Manager.raw`` does them).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model

from accounts.models import Device, User


@dataclass(frozen=True)
class _Statement:
    sql: str
    attnames: list[str]
    # Whether some column needs a conversion from what the driver returns.
    converts: bool


@functools.cache
def _statement(model: type[Model], vendor: str, where: str) -> _Statement:
    """``SELECT <every column> FROM <table> WHERE <where>``; ``{name}`` in ``where`` is the
    quoted column of field ``name``."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    fields = model._meta.concrete_fields
    columns = {field.name: quote(field.column) for field in fields}
    converts = any(
        connection.ops.get_db_converters(col) or col.get_db_converters(connection)
        for col in (field.get_col(table) for field in fields)
    )
    return _Statement(
        sql=f"SELECT {', '.join(columns.values())} FROM {quote(table)} "
        f"WHERE {where.format(**columns)}",
        attnames=[field.attname for field in fields],
        converts=converts,
    )


def _one(model: type[Model], where: str, *ids: uuid.UUID):
    statement = _statement(model, connection.vendor, where)
    # As the ORM would send a uuid: native on PostgreSQL, 32 hex characters on SQLite.
    params = [model._meta.pk.get_db_prep_value(value, connection) for value in ids]
    if statement.converts:
        return next(iter(model._default_manager.raw(statement.sql, params)), None)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    return None if row is None else model.from_db(connection.alias, statement.attnames, row)


def device_enrolled_get(*, device_id: uuid.UUID, org_id: uuid.UUID) -> Device | None:
    """The device if it is enrolled in ``org_id`` and not revoked, else None."""
    return _one(Device, "{id} = %s AND {org} = %s AND {revoked_at} IS NULL", device_id, org_id)


def user_active_get(*, user_id: uuid.UUID, org_id: uuid.UUID) -> User | None:
    """The user if active and a member of ``org_id``, else None."""
    return _one(User, "{id} = %s AND {org} = %s AND {is_active}", user_id, org_id)
