"""OpenAPI helpers: the error envelope, documented on every response that can carry it, and
the postprocessing that states what holds for every operation."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        ),
        "request_id": serializers.UUIDField(),
    },
)

# Why each status happens, with the envelope's code: the default reason of every operation
# that lists it. An operation adds its own reasons with ``error_responses(..., reasons=)``;
# statuses without a default (409, 503) must be given one there.
ERROR_REASONS = {
    400: "`VALIDATION_ERROR`: a field is missing, of the wrong JSON type or out of range "
    "(`details` names each field); `MALFORMED_REQUEST`: the body is not strict JSON "
    "(duplicate keys, NaN, NUL characters, nesting deeper than 32 levels).",
    401: "`UNAUTHORIZED`: the bearer token is missing, malformed, expired or signed by an "
    "unknown key, or its device or user has been revoked or deactivated.",
    403: "`FORBIDDEN`: the token is valid, but its kind or role may not do this.",
    404: "`NOT_FOUND`: nothing with that id is visible to the caller; another "
    "organisation's objects look exactly like missing ones.",
    405: "`METHOD_NOT_ALLOWED`: the path does not take this method.",
    413: "`PAYLOAD_TOO_LARGE`: the body is over `API_MAX_BODY_BYTES` (1 MiB by default).",
    415: "`UNSUPPORTED_MEDIA_TYPE`: the body is not sent as `application/json`.",
    429: "`RATE_LIMITED`: the caller's budget for this minute is used up (see the rate "
    "limit above); retry after the `Retry-After` header's seconds. Nothing was changed.",
}


def error_responses(
    *codes: int, reasons: dict[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """The error envelope for each status in ``codes`` (and in ``reasons``), described by
    its reason: ``reasons`` replaces the default one of a status for this operation."""
    reasons = reasons or {}
    statuses = sorted(set(codes) | set(reasons))
    missing = [c for c in statuses if c not in reasons and c not in ERROR_REASONS]
    if missing:
        raise ValueError(f"error_responses: give the reason for {missing} in reasons=")
    return {
        c: OpenApiResponse(ErrorEnvelope, description=reasons.get(c) or ERROR_REASONS[c])
        for c in statuses
    }


def described(*, summary: str, who: str, changes: str, idempotency: str, details: str = "") -> dict:
    """``summary`` and ``description`` for ``extend_schema``: what every operation tells a
    client developer, in the same order everywhere. The rate limit and the errors are added
    from the view and the responses when the schema is generated (``postprocess_operations``).
    """
    parts = [details.strip()] if details else []
    parts += [
        f"**Who may call:** {who}",
        f"**Changes:** {changes}",
        f"**Idempotency:** {idempotency}",
    ]
    return {"summary": summary, "description": "\n\n".join(parts)}


# What each bucket counts, per minute (the numbers are settings.RATE_LIMITS).
RATE_LIMIT_KEYS = {
    "auth_device": "per client IP address",
    "presign": "per device (per user for user tokens)",
    "events": "per caller, each event of a batch counting",
    "default": "per caller (the user or device)",
    "anonymous": "per client IP address",
}


class SerializerSchemaRules(OpenApiSerializerExtension):
    """Rules across fields that a serializer states in ``schema_rules`` (``not``, ``anyOf``,
    ``additionalProperties``...), added to the schema drf-spectacular generates for it.

    The serializer's ``validate`` enforces them; this makes the published schema say so.
    """

    target_class = "rest_framework.serializers.Serializer"
    match_subclasses = True

    @classmethod
    def _matches(cls, target) -> bool:
        return super()._matches(target) and bool(getattr(get_class(target), "schema_rules", None))

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, **get_class(self.target).schema_rules}


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """Documents an authentication class that reads ``Authorization: Bearer <jwt>``: a
    subclass names its ``target_class``."""

    name = "bearerAuth"
    target_class = None  # an unset target matches nothing

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


# gunicorn refuses a request line over its --limit-request-line (4094 bytes by default)
# with its own HTML page, before the application sees the request: a huge query string
# gets this answer from every operation. Documented rather than hidden by raising the
# limit: the limit protects the server, and no valid request of ours comes close to it.
URI_TOO_LONG = {
    "description": "Request line too long: refused by the HTTP server in front of the "
    "application (gunicorn's --limit-request-line), as an HTML page.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


EXAMPLES_PATH = Path(__file__).with_name("examples.json")


@functools.cache
def _recorded_examples() -> dict[str, Any]:
    """Request and response bodies recorded from a live server by
    ``tests/api_reference/test_examples.py`` (re-recorded with ``API_EXAMPLES_RECORD=1``)."""
    return json.loads(EXAMPLES_PATH.read_text())


def component_name(name: str) -> str:
    """The name a person would give a component, from the one drf-spectacular built:
    ``DeviceAuthRequestRequest`` → ``DeviceAuthRequest`` (COMPONENT_SPLIT_REQUEST appends
    ``Request`` to request components), ``EventInRequest`` → ``EventInput``,
    ``SessionOutput`` → ``Session``."""
    if name.endswith("RequestRequest"):
        return name[: -len("Request")]
    for suffix in ("InputRequest", "InRequest"):
        if name.endswith(suffix):
            return name[: -len(suffix)] + "Input"
    if name.endswith("Output"):
        return name[: -len("Output")]
    return name


def _rename_components(result: dict[str, Any]) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    names = {old: component_name(old) for old in schemas}
    if len(set(names.values())) != len(names):
        raise ValueError(f"component names collide after renaming: {names}")
    refs = {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in names.items()
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: refs.get(value, value) if key == "$ref" else walk(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result = walk(result)
    result["components"]["schemas"] = {
        names[old]: schema for old, schema in result["components"]["schemas"].items()
    }
    return result


def _rate_limit_text(view_class: type | None) -> tuple[str, str]:
    bucket = getattr(view_class, "rate_limit_bucket", "default")
    # Without authentication every caller counts by address (ContractRateLimit).
    if bucket != "auth_device" and not getattr(view_class, "authentication_classes", True):
        bucket = "anonymous"
    limit = settings.RATE_LIMITS.get(bucket, settings.RATE_LIMITS["default"])
    text = f"**Rate limit:** bucket `{bucket}`, {limit} a minute {RATE_LIMIT_KEYS[bucket]}."
    if bucket not in ("auth_device", "anonymous"):
        text += (
            f" Requests without a valid token count against `anonymous` "
            f"({settings.RATE_LIMITS['anonymous']} a minute per client IP address)."
        )
    if bucket == "events":
        text += (
            f" Refused batches also count against `events_refused` "
            f"({settings.RATE_LIMITS['events_refused']} a minute per caller)."
        )
    return bucket, text


def _examples(named: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: {"summary": e["summary"], "value": e["value"]} for e in named}


def _add_examples(operation: dict[str, Any]) -> None:
    recorded = _recorded_examples()
    own = recorded["operations"].get(operation.get("operationId"), {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and own.get("request"):
        body["examples"] = _examples(own["request"])
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content is None:
            continue
        named = own.get("responses", {}).get(status) or recorded["shared"].get(status)
        if named:
            content["examples"] = _examples(named)


# OpenAPI 3.0's spelling of "null" (3.0 has no null type).
_NULL = {"nullable": True, "enum": [None]}


def _typed_nullables(result: dict[str, Any]) -> None:
    """``nullable`` only where a ``type`` is (OpenAPI 3.0.3: without one it means nothing, and
    validators such as Redocly's refuse it). drf-spectacular writes it beside ``allOf`` (a
    nullable nested serializer) and ``anyOf`` (any JSON value; a text-or-number field). The
    nested serializer becomes ``anyOf: [its component, null]`` (``allOf`` would apply the
    component to null too), and an ``anyOf``'s first member takes the ``nullable``. The
    values accepted are the same."""
    schemas = result.get("components", {}).get("schemas", {})

    def fix(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                fix(item)
            return
        if not isinstance(node, dict):
            return
        for value in node.values():
            fix(value)
        if not node.get("nullable") or "type" in node:
            return
        members = node.get("allOf") or []
        if len(members) == 1 and "$ref" in members[0]:
            target = schemas.get(members[0]["$ref"].rsplit("/", 1)[-1], {})
            node["anyOf"] = [members[0], {**_NULL, "type": target.get("type", "object")}]
            del node["allOf"], node["nullable"]
            return
        first = (node.get("anyOf") or node.get("oneOf") or [None])[0]
        if isinstance(first, dict) and "type" in first:
            first["nullable"] = True
            del node["nullable"]

    fix(result)


def _mark_deprecated(operation: dict[str, Any], deprecation: Any) -> None:
    """A view's ``deprecation`` (``imaging.api.views.Deprecation``) in the schema: the
    operation is ``deprecated``, says when it stops working and what replaces it, and every
    response documents the two headers."""
    if deprecation is None:
        return
    operation["deprecated"] = True
    notice = (
        f"**Deprecated** since {deprecation.since:%Y-%m-%d}; stops working on "
        f"{deprecation.sunset:%Y-%m-%d}. Use {deprecation.replacement} instead."
    )
    operation["description"] = f"{notice}\n\n{operation.get('description', '')}".strip()
    headers = {
        "Deprecation": "When the operation was deprecated: `@` and a Unix time (RFC 9745).",
        "Sunset": "When it stops working, as an HTTP date (RFC 8594).",
    }
    for status, response in operation["responses"].items():
        if status != "414":
            response.setdefault("headers", {}).update(
                {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in headers.items()
                }
            )


def postprocess_operations(result, generator, request, public):
    """Facts about every operation that drf-spectacular does not infer.

    - Every request body is required: an endpoint that takes one refuses a request without
      it (drf-spectacular marks bodies described by raw schemas optional).
    - 414 may come from the HTTP server for any request (see ``URI_TOO_LONG``).
    - An optional query parameter given empty is the same as leaving it out
      (``ApiView.validated_query``).
    - A view with a ``deprecation`` makes its operations ``deprecated`` (``_mark_deprecated``).
    - The description ends with the rate limit (from the view's ``rate_limit_bucket``, also
      as ``x-rate-limit-bucket``) and the error statuses with their reasons.
    - Request and response bodies carry the examples recorded from a live server.
    - Component names read as a person would name them (``component_name``), and
      ``nullable`` stands beside a ``type`` (``_typed_nullables``).
    """
    views = {
        (path, method.lower()): getattr(callback, "cls", None)
        for path, _regex, method, callback in (generator.endpoints or [])
    }
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
            operation["responses"].setdefault("414", URI_TOO_LONG)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
            view_class = views.get((path, method))
            _mark_deprecated(operation, getattr(view_class, "deprecation", None))
            bucket, rate_text = _rate_limit_text(view_class)
            operation["x-rate-limit-bucket"] = bucket
            errors = [
                f"- **{status}** {response['description']}"
                for status, response in sorted(operation["responses"].items())
                if status.startswith(("4", "5")) and status != "414"
            ]
            parts = [operation.get("description", "").strip(), rate_text]
            if errors:
                parts.append("**Errors:**\n\n" + "\n".join(errors))
            operation["description"] = "\n\n".join(p for p in parts if p)
            _add_examples(operation)
    _typed_nullables(result)
    return _rename_components(result)
