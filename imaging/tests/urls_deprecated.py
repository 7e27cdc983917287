"""A URLconf with a deprecated operation, as one would be declared (none is today)."""

from datetime import UTC, datetime

from django.urls import include, path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from imaging.api.schema import error_responses
from imaging.api.views import ApiView, Deprecation


class OldThing(ApiView):
    permission_classes = [AllowAny]
    deprecation = Deprecation(
        since=datetime(2026, 1, 1, tzinfo=UTC),
        sunset=datetime(2026, 7, 1, tzinfo=UTC),
        replacement="`GET /v1/new-thing`",
    )

    @extend_schema(
        operation_id="old_thing",
        responses={
            200: inline_serializer("OldThing", {"ok": serializers.BooleanField()}),
            **error_responses(429),
        },
    )
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("v1/old-thing", OldThing.as_view()),
    path("", include("imaging.urls")),
]
