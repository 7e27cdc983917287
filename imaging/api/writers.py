"""Hot responses written from their serializer's declaration, without DRF at run time.

A response's shape is declared once, as a DRF serializer: it is what drf-spectacular
publishes and what the rest of the code may use. Running it costs 30-40 µs an object here
(every field a bound object, nested serializers, ``OrderedDict``s), a fifth of a list
request's CPU. ``ResponseWriter`` reads the same declaration once and generates a plain
function that builds the same dict from a ``values()`` row (or from attributes of an
object), as fast as one written by hand, so the keys and their order are said in one place.

Rows: a field's row key is its source path joined by ``__`` (``operator.name`` →
``operator__name``, what ``values("operator__name")`` returns); ``columns`` lists them for
the selector. An embedded object that may be null is null when its ``id`` is. Objects: a
dict of named objects, each field's dotted source read as DRF reads it (``image.id`` is
``instance["image"].id``).

What each field becomes is what its ``to_representation`` would make of the column's value:
UUIDs as text, datetimes as ``datetime_text``, text, integers, choices and JSON as read.
A field with its own ``write_value(value, context)`` (for example one that signs URLs with
a signer made once per page) is called with the writer's ``context``. A serializer or field
the writer cannot honour (an overridden ``to_representation``, an unknown field type)
fails when the writer is made, at import, never with a different response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from imaging.api.fields import datetime_text

# Fields whose value from the database is already what ``to_representation`` returns.
_AS_READ = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.IntegerField,
    serializers.BooleanField,
)


class ResponseWriter:
    """``writer.write(row_or_object, context=None)`` is ``Serializer(instance).data`` as a
    dict (``write`` is the generated function itself: no call in between).

    ``source="row"``: the input is a dict from ``values(*writer.columns)``, or with
    ``as_text`` one whose ids and times the database already wrote as the API's text
    (``imaging.db.columns_as_text``);
    ``source="objects"``: the input is a dict of objects, each field's dotted ``source``
    naming one of them and then its attributes; embedded serializers need rows.
    """

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        source: str = "row",
        as_text: bool = False,
    ):
        if source not in ("row", "objects"):
            raise ValueError(f"source is 'row' or 'objects', not {source!r}")
        if as_text and source != "row":
            raise ValueError("as_text reads rows")
        self.serializer_class = serializer_class
        self._source = source
        self._as_text = as_text
        self._names: dict[str, Any] = {"datetime_text": datetime_text}
        self._columns: list[str] = []
        self._objects: dict[str, str] = {}  # objects mode: each named object read once
        body = self._object(serializer_class(), path=(), depth=1)
        reads = "".join(f"    {local} = obj[{name!r}]\n" for name, local in self._objects.items())
        self.code = f"def write(obj, context=None):\n{reads}    return {body}\n"
        exec(compile(self.code, f"<writer {serializer_class.__name__}>", "exec"), self._names)
        self.write: Callable[..., dict[str, Any]] = self._names["write"]
        self.columns = tuple(dict.fromkeys(self._columns))

    # --- generating the function's source ----------------------------------------------

    def _object(self, serializer: serializers.Serializer, *, path: tuple[str, ...], depth: int):
        if type(serializer).to_representation is not serializers.Serializer.to_representation:
            raise TypeError(
                f"{type(serializer).__name__} overrides to_representation; a writer cannot "
                "follow it"
            )
        items = []
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            items.append(f"{name!r}: {self._field(field, path=path, depth=depth)}")
        return "{" + ", ".join(items) + "}"

    def _field(self, field: serializers.Field, *, path: tuple[str, ...], depth: int) -> str:
        if field.source == "*":
            raise TypeError(f"{field.field_name}: source='*' is not supported")
        field_path = (*path, *field.source_attrs)
        if isinstance(field, serializers.BaseSerializer):
            if self._source != "row" or isinstance(field, serializers.ListSerializer):
                raise TypeError(f"{field.field_name}: embedded lists and objects need rows")
            written = self._object(field, path=field_path, depth=depth + 1)
            if not field.allow_null:
                return written
            if "id" not in field.fields:
                raise TypeError(f"{field.field_name}: a nullable embedded object needs an id")
            return f"None if {self._read((*field_path, 'id'))} is None else {written}"
        read = self._read(field_path)
        value = f"v{depth}"
        if hasattr(field, "write_value"):
            function = self._name(field.write_value)
            return f"None if ({value} := {read}) is None else {function}({value}, context)"
        if isinstance(field, serializers.DateTimeField | serializers.UUIDField) and self._as_text:
            return read  # written by the database as the API writes it (columns_as_text)
        if isinstance(field, serializers.DateTimeField):
            return f"datetime_text({read})"
        if isinstance(field, serializers.UUIDField):
            return f"None if ({value} := {read}) is None else str({value})"
        if isinstance(field, serializers.DictField):
            child = field.child
            if isinstance(child, serializers.CharField):
                each = "{str(k): None if x is None else str(x) for k, x in " + value + ".items()}"
                return f"None if ({value} := {read}) is None else {each}"
            if type(child).__name__ == "_UnvalidatedField":
                return read  # JSON as read: its keys are already text
            raise TypeError(f"{field.field_name}: no writer for a dict of {type(child).__name__}")
        if isinstance(field, serializers.ListField):
            if not isinstance(field.child, _AS_READ):
                child = type(field.child).__name__
                raise TypeError(f"{field.field_name}: no writer for a list of {child}")
            return f"None if ({value} := {read}) is None else list({value})"  # JSON as read
        if isinstance(field, _AS_READ):
            return read
        raise TypeError(f"{field.field_name}: no writer for {type(field).__name__}")

    def _read(self, path: tuple[str, ...]) -> str:
        if self._source == "objects":
            local = self._objects.setdefault(path[0], f"o{len(self._objects)}")
            return ".".join((local, *path[1:]))
        column = "__".join(path)
        self._columns.append(column)
        return f"obj[{column!r}]"

    def _name(self, value: Any) -> str:
        name = f"f{len(self._names)}"
        self._names[name] = value
        return name
