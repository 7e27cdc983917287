"""OpenAPI helpers: the error envelope, documented on every response that can carry it, and
the postprocessing that states what holds for every operation."""

from __future__ import annotations

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

_DESCRIPTIONS = {
    400: "Validation error",
    401: "Missing or invalid token",
    403: "Insufficient permissions",
    404: "Not found (or another organisation's)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Not JSON",
    429: "Rate limit exceeded",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: OpenApiResponse(ErrorEnvelope, description=_DESCRIPTIONS[c]) for c in codes}


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


def postprocess_operations(result, generator, request, public):
    """Facts about every operation that drf-spectacular does not infer.

    - Every request body is required: an endpoint that takes one refuses a request without
      it (drf-spectacular marks bodies described by raw schemas optional).
    - 414 may come from the HTTP server for any request (see ``URI_TOO_LONG``).
    - An optional query parameter given empty is the same as leaving it out
      (``ApiView.validated_query``).
    """
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
            operation["responses"].setdefault("414", URI_TOO_LONG)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
