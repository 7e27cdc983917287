from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
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
from imaging.api.schema import described, error_responses
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
        responses={
            201: EventsAccepted,
            **error_responses(
                400,
                401,
                404,
                413,
                415,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: an event is invalid (an unknown `type` or "
                    "`entity_type`, a server-only type such as `processed`, `meta` over 4 KB "
                    "or 4 levels) or the batch is empty or over 500; `details.events` names "
                    "each bad event by index. Nothing is stored.",
                    404: "`NOT_FOUND`: an event names an entity the caller may not see; "
                    "`details.events` names it by index. Nothing is stored.",
                    429: "`RATE_LIMITED`: the batch does not fit in what is left of the "
                    "minute's budget (each event counts), or too many refused batches; retry "
                    "after `Retry-After` seconds. Nothing was stored.",
                },
            ),
        },
        operation_id="events_ingest",
        **described(
            summary="Report events: telemetry, and upload_complete to start processing",
            who="Devices and users. A device reports about itself and the sessions it "
            "started and their images; a user about sessions and images at their sites and "
            "about the organisation's devices.",
            changes="Stores the events in the audit log, all or nothing. The first "
            "`upload_complete` for a pending image marks it uploaded and queues processing; "
            "every other type is telemetry only.",
            idempotency="Safe to retry for the side effect: a repeated `upload_complete` "
            "changes nothing more (it is stored again as telemetry).",
            details='One event, or `{"events": [...]}` with 1 to 500 events.',
        ),
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
