"""Queries written with the ORM, compiled to SQL once and then run with new values.

Building and compiling a queryset costs far more CPU than the database spends on the hot
API reads (0.3-1 ms against 0.03 ms for a session by id), and the answer is the same SQL
every time with different ids in it. ``PreparedQuery`` keeps the ORM as the one place the
query is written: it builds the queryset once per *shape* (what changes the SQL's text,
e.g. whether a caller sees every site) with a unique placeholder value for each parameter,
compiles it, notes where each placeholder landed among the SQL's parameters, and from then
on only swaps the values in. Rows come back as dicts, converted as ``values()`` would.
``insert_new`` does the same for a hot path's ``INSERT``.

Misuse fails loudly at the first call, never returns wrong rows: each shape is compiled
twice with different stand-ins, and the two must differ exactly in the parameter slots. So
a placeholder the ORM does not pass through unchanged (inlined, wrapped in ``%...%``), a
value the builder derives in Python (``vin.upper()``, ``n + 1``, ``timezone.now()``) and a
value that changes the SQL itself (None, a bool, an optional filter: those belong in the
shape) all raise. The actors the access rules are compiled for (``actor_of_shape``) expose
only what the shape fixes, so a rule reading anything else raises too.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import (
    Aggregate,
    BooleanField,
    DateTimeField,
    F,
    Func,
    JSONField,
    Model,
    QuerySet,
    TextField,
    UUIDField,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, JSONObject


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # The SQL's parameters as compiled, and where each parameter of a call goes.
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str, Callable[[Any], Any]], ...]
    names: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]


def _placeholder(name: str, value: Any) -> tuple[Any, dict[Any, Callable[[Any], Any]]]:
    """A value unique to this compilation standing in for ``value``, and the forms the ORM
    may turn it into (native, or the text a backend stores), each with how to make that
    form of a real value."""
    if isinstance(value, uuid.UUID):
        stand_in = uuid.uuid4()
        return stand_in, {stand_in: lambda v: v, stand_in.hex: lambda v: v.hex}
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{name}: a {type(value).__name__} changes the SQL; put it in the shape")
    if isinstance(value, int):
        # Within a 4-byte integer column's range (a wider value is no match at all for the
        # ORM, which then compiles an empty result), and far from small literals.
        stand_in = 2**24 + secrets.randbelow(2**31 - 2**25)
        return stand_in, {stand_in: lambda v: v}
    if isinstance(value, str):
        stand_in = f"prepared-{uuid.uuid4().hex}"
        return stand_in, {stand_in: lambda v: v}
    raise TypeError(f"{name}: no placeholder for {type(value).__name__}")


class PreparedQuery:
    """``build(shape, **params)`` returns a ``values()`` queryset; ``rows(shape, **params)``
    runs its SQL, compiled once per shape and database."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self._build = build
        self._compiled: dict[tuple[Hashable, str], _Compiled] = {}

    def _compile(self, shape: Hashable, using: str, params: dict[str, Any]) -> _Compiled:
        """Compile twice, each time with other stand-ins, and refuse unless the two differ
        only in the parameter slots: a value the builder derives in Python (``vin.upper()``,
        ``n + 1``), reads from the clock or changes into other SQL would otherwise be
        frozen into every later call."""
        first = self._compile_once(shape, using, params)
        second = self._compile_once(shape, using, params)
        if first.sql != second.sql:
            raise ValueError(
                "the SQL's text depends on the parameters' values: put what changes it in the shape"
            )
        first_slots = {index: name for index, name, _ in first.slots}
        second_slots = {index: name for index, name, _ in second.slots}
        for index, (a, b) in enumerate(zip(first.params, second.params, strict=True)):
            name = first_slots.get(index)
            if name != second_slots.get(index) or (name is None and a != b):
                raise ValueError(
                    f"SQL parameter {index} ({a!r}) is not one of the parameters as given: "
                    "a value derived in the builder (a transformation, the clock, a setting "
                    "read per call) would be frozen; pass it in as it goes into the SQL"
                )
        return first

    def _compile_once(self, shape: Hashable, using: str, params: dict[str, Any]) -> _Compiled:
        stand_ins, forms = {}, {}
        for name, value in params.items():
            stand_ins[name], named_forms = _placeholder(name, value)
            forms.update({form: (name, make) for form, make in named_forms.items()})
        queryset = self._build(shape, **stand_ins)
        query = queryset.query
        if query.is_sliced:
            raise ValueError("slice with rows(limit=, offset=), not in the queryset")
        compiler = query.get_compiler(using)
        try:
            sql, compiled_params = compiler.as_sql()
        except EmptyResultSet as exc:
            # E.g. an integer stand-in beyond a small column's range: the ORM compiles
            # "no rows" instead of a parameter.
            raise ValueError(
                "the query compiles to no SQL for a stand-in value; it cannot be prepared"
            ) from exc
        slots, others = [], [sql]
        for index, param in enumerate(compiled_params):
            try:
                name, make = forms[param]
            except (KeyError, TypeError):  # not a placeholder, or unhashable (a JSON value)
                others.append(str(param))
                continue
            slots.append((index, name, make))
        # A parameter a shape does not use is fine; one changed on its way into the SQL
        # (inlined, wrapped, converted), even where it also passes through unchanged, would
        # run with the placeholder's value.
        for form, (name, _) in forms.items():
            if any(str(form) in text for text in others):
                raise ValueError(f"{name} is not passed through as an SQL parameter")
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
        return _Compiled(
            sql=sql,
            params=tuple(compiled_params),
            slots=tuple(slots),
            names=names,
            converters=tuple(
                (position, tuple(converters), expression)
                for position, (converters, expression) in compiler.get_converters(columns).items()
            ),
        )

    def rows(
        self,
        shape: Hashable,
        *,
        limit: int | None = None,
        offset: int = 0,
        using: str = DEFAULT_DB_ALIAS,
        **params: Any,
    ) -> list[dict[str, Any]]:
        compiled, sql, values = self._bound(shape, limit, offset, using, params)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            fetched = cursor.fetchall()
        names, converters = compiled.names, compiled.converters
        result = []
        for row in fetched:
            if converters:
                row = list(row)
                for position, functions, expression in converters:
                    value = row[position]
                    for convert in functions:
                        value = convert(value, expression, connection)
                    row[position] = value
            result.append(dict(zip(names, row, strict=True)))
        return result

    def _bound(
        self,
        shape: Hashable,
        limit: int | None,
        offset: int,
        using: str,
        params: dict[str, Any],
    ) -> tuple[_Compiled, str, list[Any]]:
        key = (shape, using)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(shape, using, params)
        values = list(compiled.params)
        for index, name, make in compiled.slots:
            values[index] = make(params[name])
        sql = compiled.sql
        if limit is not None or offset:
            high = None if limit is None else offset + limit
            sql = f"{sql} {connections[using].ops.limit_offset_sql(offset, high)}"
        return compiled, sql, values

    def first(self, shape: Hashable, *, using: str = DEFAULT_DB_ALIAS, **params: Any):
        """The first row, or None (``LIMIT 1``; order the queryset if several may match)."""
        rows = self.rows(shape, limit=1, using=using, **params)
        return rows[0] if rows else None


@dataclass(frozen=True)
class _Insert:
    table: str
    columns: str
    placeholders: str
    fields: tuple[Any, ...]


_inserts: dict[tuple[type[Model], str], _Insert] = {}


def insert_new(
    instance: Model,
    *,
    ignore_conflicts: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> bool:
    """``INSERT`` a new object whose primary key is set, as ``save()`` would (each field's
    ``pre_save`` and database value), with the statement written once per model.

    ``ignore_conflicts``: a row that would break a unique constraint is not inserted
    (``ON CONFLICT DO NOTHING``: the database decides, waiting for a concurrent insert of
    the same values to commit or roll back). Returns whether the row was inserted.

    For hot paths only: no signals (nothing here listens to them) and no returned columns
    (every model written this way has its key set before the insert, e.g. a UUID).
    """
    model = type(instance)
    connection = connections[using]
    statement = _inserts.get((model, using))
    if statement is None:
        meta = model._meta
        fields = tuple(field for field in meta.local_concrete_fields if not field.generated)
        quote = connection.ops.quote_name
        statement = _inserts[(model, using)] = _Insert(
            table=quote(meta.db_table),
            columns=", ".join(quote(field.column) for field in fields),
            placeholders=", ".join(["%s"] * len(fields)),
            fields=fields,
        )
    if instance.pk is None:
        raise ValueError("insert_new needs the primary key set")
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in statement.fields
    ]
    sql = f"INSERT INTO {statement.table} ({statement.columns}) VALUES ({statement.placeholders})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.rowcount == 1
    if inserted:
        instance._state.adding = False
        instance._state.db = using
    return inserted


# --- a list of ids as one SQL parameter -----------------------------------------------------
#
# ``pk__in=[...]`` writes one parameter per id, so its SQL changes with the list's length and
# cannot be prepared; these take the whole list as one text parameter instead.

_ID_LIST_SQL = {
    "postgresql": "SELECT unnest(%s::uuid[])",
    "sqlite": "SELECT value FROM json_each(%s)",
}


def id_list_text(ids: Iterable[uuid.UUID], *, using: str = DEFAULT_DB_ALIAS) -> str:
    """``ids`` as the one parameter of ``in_id_list``: an array literal on PostgreSQL, a
    JSON list of the 32-digit form SQLite stores."""
    if connections[using].vendor == "postgresql":
        return "{" + ",".join(str(pk) for pk in ids) + "}"
    return json.dumps([pk.hex for pk in ids])


def in_id_list(ids_text: str, *, using: str = DEFAULT_DB_ALIAS) -> RawSQL:
    """A subquery of the ids in ``ids_text`` (from ``id_list_text``), for ``pk__in=``."""
    return RawSQL(_ID_LIST_SQL[connections[using].vendor], [ids_text])


# --- values the database writes as the API's text ------------------------------------------
#
# A read that devices poll (a session's frames) returns ids and times as the API writes them,
# so Python neither builds a UUID or datetime per value nor formats it back into text:
# loading and formatting them was most of the cost of such a read.


class UUIDText(Func):
    """A UUID column as the API writes it (lower-case, hyphenated). SQLite stores the 32
    hex digits: the hyphens go in there."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s)::text")

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        parts = [f"substr({sql}, {start}, {length})" for start, length in _UUID_GROUPS]
        return "lower(" + " || '-' || ".join(parts) + ")", params * len(parts)


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


class DateTimeText(Func):
    """A datetime column as the API writes it (``DATETIME_FORMAT``, UTC, microseconds, a
    literal ``Z``). SQLite stores UTC text whose fraction is left out when it is zero."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = (
            "to_char((%(expressions)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        return self.as_sql(compiler, connection, template=template)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        text = (
            f"strftime('%%Y-%%m-%%dT%%H:%%M:%%S', {sql}) || '.' || "
            f"substr(substr({sql}, 21) || '000000', 1, 6) || 'Z'"
        )
        return f"CASE WHEN {sql} IS NULL THEN NULL ELSE {text} END", params * 4


class JSONValue(Func):
    """A JSON column embedded as JSON in a ``JSONObject`` (SQLite would embed its text as a
    string)."""

    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="%(expressions)s")

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="JSON(%(expressions)s)")


class JSONBoolean(Func):
    """A boolean column as a JSON boolean in a ``JSONObject`` (SQLite stores 0 and 1, which
    it would embed as numbers)."""

    output_field = BooleanField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="%(expressions)s")

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        text = (
            f"CASE WHEN {sql} IS NULL THEN NULL WHEN {sql} THEN JSON('true') ELSE JSON('false') END"
        )
        return text, params * 2


class JSONRecord(JSONObject):
    """``JSONObject`` built as ``json`` on PostgreSQL, not ``jsonb``: only to be aggregated
    into text (``JSONArrayAgg``), which ``json`` does by joining text, at a fraction of
    ``jsonb``'s cost. Keys are cast to text, as Django does for server-side binding."""

    def as_postgresql(self, compiler, connection, **extra_context):
        record = self.copy()
        record.set_source_expressions(
            [
                Cast(expression, TextField()) if index % 2 == 0 else expression
                for index, expression in enumerate(record.get_source_expressions())
            ]
        )
        return Func.as_sql(
            record, compiler, connection, function="JSON_BUILD_OBJECT", **extra_context
        )


class JSONArrayAgg(Aggregate):
    """A group's values as the text of one JSON array, in no particular order (sort after
    reading): PostgreSQL's ``JSON_AGG``, SQLite's ``JSON_GROUP_ARRAY``; null for no rows."""

    function = "JSON_AGG"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "(%(function)s(%(expressions)s))::text"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


def columns_as_text(model: type[Model], columns: Iterable[str]) -> dict[str, Any]:
    """``columns`` of ``model`` (names or attnames, no joins) for a ``JSONObject``, each as
    the API writes it: ids and times as text, JSON as JSON, the rest as stored. Read back
    with a ``ResponseWriter(..., as_text=True)``."""
    expressions: dict[str, Any] = {}
    for column in columns:
        field = model._meta.get_field(column)  # raises for a join or an unknown name
        if field.is_relation:
            field = field.target_field
        if isinstance(field, UUIDField):
            expressions[column] = UUIDText(column)
        elif isinstance(field, DateTimeField):
            expressions[column] = DateTimeText(column)
        elif isinstance(field, JSONField):
            expressions[column] = JSONValue(column)
        elif isinstance(field, BooleanField):
            expressions[column] = JSONBoolean(column)
        else:
            expressions[column] = F(column)
    return expressions
