"""The base view every API endpoint uses, and the JSON handlers for Django-level errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import JsonResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.views import APIView

from imaging.api.errors import error_response
from imaging.api.fields import InputSerializer, QueryIntegerField


@dataclass(frozen=True)
class Deprecation:
    """An operation on its way out (docs/api-versioning.md): every response says so with
    ``Deprecation`` (RFC 9745) and ``Sunset`` (RFC 8594) headers, and the schema marks the
    operation ``deprecated`` (``imaging.api.schema.postprocess_operations``)."""

    since: datetime
    sunset: datetime
    replacement: str

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": http_date(self.sunset.timestamp()),
        }


class ApiView(APIView):
    """Throttles run before permissions, so unauthenticated floods are limited too."""

    rate_limit_bucket = "default"
    deprecation: Deprecation | None = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.deprecation is not None:
            for name, value in self.deprecation.headers().items():
                response[name] = value
        return response

    def initial(self, request, *args, **kwargs) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        self.check_throttles(request)
        self.check_permissions(request)

    @property
    def actor(self):
        return self.request.actor

    def validated(self, serializer_class: type[serializers.Serializer], data: Any) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def validated_query(self, serializer_class: type[serializers.Serializer]) -> dict:
        """The query string checked against ``serializer_class``, whose fields are the
        documented parameters.

        - A repeated parameter is a 400, not "the last one wins".
        - An optional parameter given empty (``?status=``) is the same as leaving it out;
          an empty required one is checked (and refused) like any other value.
        """
        params = self.request.query_params
        # The declared fields, not an instance's (which deep-copies them, and validated()
        # builds an instance anyway).
        fields = serializer_class._declared_fields
        repeated = {
            name: ["Give this parameter once."] for name in fields if len(params.getlist(name)) > 1
        }
        if repeated:
            raise serializers.ValidationError(repeated)
        data = {
            name: params[name]
            for name, field in fields.items()
            if name in params and (params[name] != "" or field.required)
        }
        return self.validated(serializer_class, data)


class LimitOffsetQuery(InputSerializer):
    """``limit`` 1-100 (default 50; more is a 400, not clamped) and ``offset`` ≥ 0."""

    limit = QueryIntegerField(min_value=1, max_value=100, default=50)
    offset = QueryIntegerField(min_value=0, max_value=10_000_000, default=0)


# No CSRF check on the JSON fallbacks: a POST to an unknown API path is a 404, not a CSRF
# failure page (the API authenticates by bearer token, never by cookie).
@csrf_exempt
def not_found(request, exception=None) -> JsonResponse:
    return error_response(request, 404, "NOT_FOUND")


def server_error(request) -> JsonResponse:
    return error_response(request, 500, "INTERNAL_ERROR")


def bad_request(request, exception=None) -> JsonResponse:
    return error_response(request, 400, "MALFORMED_REQUEST")


def permission_denied(request, exception=None) -> JsonResponse:
    return error_response(request, 403, "FORBIDDEN")


# --- a page of a list: its shape once, for the schema and the response


def page_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A page of ``item``s as the list endpoints answer it, named ``name`` in the schema."""
    fields = {
        "data": item(many=True),
        "total": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
    }
    return type(name, (serializers.Serializer,), {**fields, "__module__": item.__module__})


def page_data(data: list[Any], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """What ``page_serializer`` declares, for items already written."""
    return {"data": data, "total": total, "limit": limit, "offset": offset}
