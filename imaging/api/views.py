"""The base view every API endpoint uses, and the JSON handlers for Django-level errors."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework import serializers
from rest_framework.views import APIView

from imaging.api.errors import error_response


class ApiView(APIView):
    """Throttles run before permissions, so unauthenticated floods are limited too."""

    rate_limit_bucket = "default"

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


class LimitOffsetQuery(serializers.Serializer):
    """``limit`` 1-100 (default 50; more is a 400, not clamped) and ``offset`` ≥ 0."""

    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)


def not_found(request, exception=None) -> JsonResponse:
    return error_response(request, 404, "NOT_FOUND")


def server_error(request) -> JsonResponse:
    return error_response(request, 500, "INTERNAL_ERROR")


def bad_request(request, exception=None) -> JsonResponse:
    return error_response(request, 400, "MALFORMED_REQUEST")


def permission_denied(request, exception=None) -> JsonResponse:
    return error_response(request, 403, "FORBIDDEN")
