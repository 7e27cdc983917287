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
from imaging.api.errors import ApplicationError
from imaging.api.schema import error_responses
from imaging.api.views import ApiView


def _claimed_count(data: Any) -> int:
    """How many events the body claims to carry: what the rate limit is charged up front
    (given back if the batch is refused). A body that is not a batch claims one."""
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
        except exceptions.APIException:
            ratelimit.charge_refused_events(request)
            raise
        # Each event counts toward the per-actor limit, taken before anything is written (so
        # parallel batches cannot overrun it) and given back if the batch is refused.
        charge = ratelimit.charge_events(request, _claimed_count(data))
        try:
            events = events_validate(data)
            accepted = telemetry.events_ingest(
                actor=self.actor, events=events, request_id=request.request_id
            )
        except (exceptions.APIException, ApplicationError):
            charge.refund()
            ratelimit.charge_refused_events(request)
            raise
        except Exception:  # the server's failure (e.g. database down), not the caller's
            charge.refund()
            raise
        return Response({"accepted": accepted}, status=status.HTTP_201_CREATED)
