"""A JSON parser that refuses what the default one lets through or crashes on.

Duplicate keys, NUL characters (PostgreSQL jsonb rejects them), lone surrogates
(``"\\ud800"`` escapes: not Unicode, so PostgreSQL cannot store them and no UTF-8 encoder
can write them back), NaN/Infinity and numbers beyond a double (``1e400``), and nesting
deeper than ``API_MAX_JSON_DEPTH`` are 400s; a body over the size limit is 413.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "PAYLOAD_TOO_LARGE"
    default_detail = "Request body too large."


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise exceptions.ParseError(f"Duplicate key in JSON object: {key[:64]!r}.")
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise exceptions.ParseError(f"{name} is not valid JSON.")


def _finite_float(text: str) -> float:
    # 1e400 reads as infinity, which PostgreSQL's jsonb cannot store.
    value = float(text)
    if math.isinf(value):
        raise exceptions.ParseError("Number out of range.")
    return value


def _check_shape(value: Any, max_depth: int) -> None:
    """Depth limit and no NUL or lone surrogate in any key or string, walked without recursion.

    (A correctly escaped surrogate pair decodes to one character, so only lone halves remain.)
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise exceptions.ParseError(f"JSON nested deeper than {max_depth} levels.")
        if isinstance(item, str):
            if "\x00" in item:
                raise exceptions.ParseError("NUL characters are not allowed.")
            if _LONE_SURROGATE.search(item):
                raise exceptions.ParseError("Lone surrogates (\\ud800-\\udfff) are not allowed.")
        elif isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def parse_json_bytes(raw: bytes) -> Any:
    if len(raw) > settings.API_MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise exceptions.ParseError("Body is not UTF-8.") from exc
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError as exc:
        raise exceptions.ParseError("JSON nested too deeply.") from exc
    except ValueError as exc:
        raise exceptions.ParseError("Malformed JSON.") from exc
    _check_shape(data, settings.API_MAX_JSON_DEPTH)
    return data


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read(settings.API_MAX_BODY_BYTES + 1) if stream else b""
        return parse_json_bytes(raw)
