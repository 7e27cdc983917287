"""Serializer fields that accept exactly what the OpenAPI schema says they accept.

DRF's fields are lenient in ways a JSON Schema cannot describe: CharField turns 5 into "5"
and trims whitespace, IntegerField takes "5" and 5.0, UUIDField takes 32 bare hex digits or
a URN, DateTimeField takes a dozen spellings, and query-string integers pass through
Python's ``int()`` (" 5", "1_0", Arabic-Indic digits). These take one JSON type and one
spelling each, so a request the schema calls valid is accepted and one it calls invalid is
refused (and schemathesis holds us to both).

Patterns are written ``\\A(?:...)\\Z`` so Python matches the whole string (``$`` would also
match before a trailing newline); drf-spectacular publishes them as ECMA ``^(?:...)$``.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.validators import ProhibitSurrogateCharactersValidator

# C0 and C1 controls, line/paragraph separators and the bidi embeddings, overrides and
# isolates that make a name display as something else.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069"
# What ``str.isspace`` calls whitespace, apart from the controls above.
SPACE_CHARACTERS = r"\x20\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
TEXT_CHARACTER = rf"[^{CONTROL_CHARACTERS}]"
VISIBLE_CHARACTER = rf"[^{CONTROL_CHARACTERS}{SPACE_CHARACTERS}]"
SPACE_CHARACTER = rf"[{SPACE_CHARACTERS}]"
# A line of text with something visible in it: no controls, not blank. Spelled as "spaces,
# then the first visible character, then any text" so no character can be matched by two
# adjacent parts: ``[^C]*[^CS][^C]*`` (the same strings) backtracks quadratically in
# Python's ``re`` on a long run of text that ends with a control (32k characters, 3 s).
VISIBLE_TEXT = rf"{SPACE_CHARACTER}*{VISIBLE_CHARACTER}{TEXT_CHARACTER}*"
# A line of text with no controls (blank allowed, empty not: see StrictCharField).
TEXT = rf"{TEXT_CHARACTER}+"

UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
QUERY_INTEGER_PATTERN = re.compile(r"[+-]?[0-9]{1,1000}")
RFC3339_PATTERN = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _NoSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check with its message, at the speed of ``re`` (DRF's walks the string in
    Python: 50 ms for a megabyte)."""

    def __call__(self, value: Any) -> None:
        text = str(value)
        found = None if text.isascii() else _SURROGATE.search(text)
        if found is not None:
            message = self.message.format(code_point=ord(found.group()))
            raise serializers.ValidationError(message, code=self.code)


def whole(pattern: str) -> str:
    """``pattern`` anchored at both ends, for a RegexValidator and the published schema."""
    return rf"\A(?:{pattern})\Z"


class StrictCharField(serializers.CharField):
    """A JSON string and only a string, taken as sent (not trimmed).

    ``pattern`` (unanchored; the whole value must match) is checked and published. With
    ``allow_blank`` the published schema is ``oneOf: [pattern, ""]``, so the pattern must
    not match the empty string itself. A pattern must cost time linear in the value (no
    character matched by two adjacent repeated parts); ``imaging/tests/test_hostile_text.py``
    holds every field to that.

    A value over ``max_length`` is refused on its length alone: DRF runs every validator and
    collects their errors, so without this the pattern would still read a megabyte.
    """

    def __init__(self, *, pattern: str | None = None, pattern_message: str = "", **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [
            _NoSurrogates() if isinstance(v, ProhibitSurrogateCharactersValidator) else v
            for v in self.validators
        ]
        if pattern is not None:
            self.validators.append(
                RegexValidator(whole(pattern), message=pattern_message or "Not in a valid form.")
            )

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: not "5", not 5.0, not true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class StrictUUIDField(serializers.UUIDField):
    """A uuid string in its canonical 8-4-4-4-12 spelling (either case), as the ``uuid``
    format of JSON Schema: no bare hex, braces, URNs or JSON numbers."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str) or not UUID_PATTERN.fullmatch(data):
            self.fail("invalid", value=str(data)[:64])
        return uuid.UUID(data)


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string: an optional sign and ASCII digits, nothing else."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not QUERY_INTEGER_PATTERN.fullmatch(data):
            self.fail("invalid")
        return int(data)


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset (``2025-01-15T10:30:00Z``), the schema's
    ``date-time`` format, as an aware datetime in UTC.

    RFC 3339 allows instants Python cannot hold (year 0, a leap second, a UTC offset that
    leaves year 1-9999): those come back clamped to the nearest one it can, so a caller
    that checks plausibility sees them as implausible rather than the request failing.
    """

    def to_internal_value(self, value: Any) -> datetime:
        match = RFC3339_PATTERN.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.fail("invalid", format="RFC 3339, e.g. 2025-01-15T10:30:00Z")
        parts = match.groupdict()
        if parts["date"].startswith("0000"):
            return datetime.min.replace(tzinfo=UTC)
        second = min(int(parts["second"]), 59)  # 23:59:60, a leap second
        offset = parts["offset"].upper().replace("Z", "+00:00")
        fraction = (parts["fraction"] or ".0")[:7]  # microseconds at most
        text = f"{parts['date']}T{parts['hour']}:{parts['minute']}:{second:02d}{fraction}{offset}"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid", format="RFC 3339, e.g. 2025-01-15T10:30:00Z")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            return (datetime.min if parsed.year < 5000 else datetime.max).replace(tzinfo=UTC)


def ecma(pattern: str) -> str:
    """``pattern`` anchored for a hand-written schema (what drf-spectacular makes of ``whole``)."""
    return f"^(?:{pattern})$"


def datetime_text(value: datetime | None) -> str | None:
    """A datetime as ``DateTimeField`` writes it, for responses written without a
    serializer: ``DATETIME_FORMAT`` ends in a literal ``Z``, so the time is UTC (the
    project's time zone; asking Django for the current one costs more than the formatting)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime(api_settings.DATETIME_FORMAT)


# Fields that hold other fields (bound to the declared instance): deep-copied as DRF does.
_CONTAINER_FIELDS = (serializers.ListField, serializers.DictField, serializers.BaseSerializer)


class InputSerializer(serializers.Serializer):
    """A serializer for requests on hot paths: its declared fields are copied shallowly.

    DRF deep-copies every declared field for each serializer instance, rebuilding it with
    its validators: a tenth of a presign's CPU. A declared field is never bound or used
    itself, and binding and validating set attributes on the copy only, so a shallow copy
    is as independent; fields holding other fields are still deep-copied.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: copy.deepcopy(field) if isinstance(field, _CONTAINER_FIELDS) else _copy(field)
            for name, field in self._declared_fields.items()
        }


def _copy(field: serializers.Field) -> serializers.Field:
    """``copy.copy(field)``, which takes the generic ``__reduce_ex__`` road (a tenth of a
    presign's validation); the same object made directly: the class's ``__new__`` (DRF
    records its arguments there), then the attributes."""
    cls = type(field)
    clone = cls.__new__(cls)
    clone.__dict__.update(field.__dict__)
    return clone
