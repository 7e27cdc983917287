"""OpenAPI helpers: the error envelope, documented on every response that can carry it."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
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


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "imaging.api.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
