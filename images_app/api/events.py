from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from images_app import telemetry
from images_app.api.event_serializers import (
    MAX_BATCH,
    EventBatchIn,
    EventsAccepted,
    EventSingleIn,
    events_validate,
)
from imaging.api import ratelimit
from imaging.api.schema import error_responses
from imaging.api.views import ApiView


def _claimed_count(data: Any) -> int:
    """How many events the body claims to carry: what the rate limit is charged.

    Every request costs at least one, so floods of invalid bodies are limited too.
    """
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return min(max(len(data["events"]), 1), MAX_BATCH)
    return 1


class EventIngestView(ApiView):
    """Ingest telemetry and audit events, one or a batch of up to 500, all or nothing."""

    rate_limit_bucket = "events"

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="EventIngest",
            serializers=[EventSingleIn, EventBatchIn],
            resource_type_field_name=None,
        ),
        responses={201: EventsAccepted, **error_responses(400, 401, 404, 413, 415, 429)},
        examples=[
            OpenApiExample(
                "batch",
                request_only=True,
                value={
                    "events": [
                        {
                            "entity_type": "image",
                            "entity_id": "5f0c2a8e-3d4b-4c41-9a53-0d2f3c6b7a10",
                            "type": "upload_complete",
                        }
                    ]
                },
            )
        ],
        operation_id="events_ingest",
    )
    def post(self, request):
        try:
            data = request.data
        except exceptions.ParseError:
            ratelimit.charge_events(request, 1)
            raise
        # Each event counts toward the per-actor limit, charged before anything is written.
        ratelimit.charge_events(request, _claimed_count(data))
        events = events_validate(data)
        accepted = telemetry.events_ingest(
            actor=self.actor, events=events, request_id=request.request_id
        )
        return Response({"accepted": accepted}, status=status.HTTP_201_CREATED)
