"""``/webhooks…``: the organisation's webhook endpoints and their deliveries. Admins only
(``webhook.manage``); devices and other roles get 403, another org's objects are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.permissions import IsUser, may_do
from imaging.api.errors import ApplicationError
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView, LimitOffsetQuery, page_data
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliveriesQuery,
    DeliveryList,
    DeliveryOutput,
    EndpointCreateInput,
    EndpointList,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecret,
)

WHO = "Admins of the organisation. Devices and other roles get 403."
FORBIDDEN = "`FORBIDDEN`: a device token, or a user without the admin role."
NO_ENDPOINT = "`NOT_FOUND`: no such webhook endpoint in the caller's organisation."
INVALID_BODY = "`VALIDATION_ERROR`: a field is missing or malformed (an unknown event type...)."
URL_REFUSED = (
    "`URL_NOT_ALLOWED`: `url` is not https, names no host or carries credentials, does not "
    "resolve, or resolves to a private, loopback, link-local, metadata or otherwise "
    "non-public address."
)


CanManageWebhooks = may_do("webhook.manage", "Webhooks need the admin role.")


def _not_found(what: str) -> ApplicationError:
    return ApplicationError("NOT_FOUND", f"{what} not found.", status_code=404)


class _WebhookView(ApiView):
    permission_classes = [IsUser, CanManageWebhooks]

    def endpoint(self, pk):
        endpoint = selectors.endpoint_get(org_id=self.actor.org_id, endpoint_id=pk)
        if endpoint is None:
            raise _not_found("Webhook endpoint")
        return endpoint


class EndpointsView(_WebhookView):
    @extend_schema(
        parameters=[LimitOffsetQuery],
        responses={
            200: EndpointList,
            **error_responses(
                400,
                401,
                403,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `limit` (1-100) or `offset` out of range.",
                    403: FORBIDDEN,
                },
            ),
        },
        operation_id="webhooks_list",
        **described(
            summary="List the organisation's webhook endpoints",
            who=WHO,
            changes="Nothing. Secrets are never listed.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request):
        query = self.validated_query(LimitOffsetQuery)
        limit, offset = query["limit"], query["offset"]
        rows = selectors.endpoints_of(org_id=self.actor.org_id)
        data = EndpointOutput(rows[offset : offset + limit], many=True).data
        return Response(page_data(data, total=rows.count(), limit=limit, offset=offset))

    @extend_schema(
        request=EndpointCreateInput,
        responses={
            201: EndpointWithSecret,
            **error_responses(
                400,
                401,
                403,
                409,
                413,
                415,
                429,
                reasons={400: INVALID_BODY, 403: FORBIDDEN, 409: URL_REFUSED},
            ),
        },
        operation_id="webhooks_create",
        **described(
            summary="Add a webhook endpoint (its signing secret is shown once)",
            who=WHO,
            changes="A new endpoint with a new `whsec_` secret, answered only here: from now "
            "on every change of the chosen event types is POSTed to it, signed (Standard "
            "Webhooks).",
            idempotency="Not idempotent: each call adds an endpoint with its own secret.",
        ),
    )
    def post(self, request):
        data = self.validated(EndpointCreateInput, request.data)
        endpoint = services.endpoint_create(org_id=self.actor.org_id, **data)
        return Response(EndpointWithSecret(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(_WebhookView):
    @extend_schema(
        responses={
            200: EndpointOutput,
            **error_responses(401, 403, 404, 429, reasons={403: FORBIDDEN, 404: NO_ENDPOINT}),
        },
        operation_id="webhooks_retrieve",
        **described(
            summary="Read a webhook endpoint",
            who=WHO,
            changes="Nothing. `disabled_reason` says why we disabled it, if we did.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request, pk):
        return Response(EndpointOutput(self.endpoint(pk)).data)

    @extend_schema(
        request=EndpointUpdateInput,
        responses={
            200: EndpointOutput,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                415,
                429,
                reasons={400: INVALID_BODY, 403: FORBIDDEN, 404: NO_ENDPOINT, 409: URL_REFUSED},
            ),
        },
        operation_id="webhooks_update",
        **described(
            summary="Change a webhook endpoint's URL, description, event types or state",
            who=WHO,
            changes="The fields given. `enabled: true` on a disabled endpoint clears "
            "`disabled_reason`; its failed deliveries stay failed (replay them).",
            idempotency="Safe to repeat: the same body leaves the same endpoint.",
        ),
    )
    def patch(self, request, pk):
        data = self.validated(EndpointUpdateInput, request.data)
        endpoint = services.endpoint_update(endpoint=self.endpoint(pk), **data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(
        responses={
            204: None,
            **error_responses(401, 403, 404, 429, reasons={403: FORBIDDEN, 404: NO_ENDPOINT}),
        },
        operation_id="webhooks_destroy",
        **described(
            summary="Delete a webhook endpoint and its delivery log",
            who=WHO,
            changes="The endpoint and its deliveries are deleted; nothing more is sent to it.",
            idempotency="A second call answers 404.",
        ),
    )
    def delete(self, request, pk):
        services.endpoint_delete(endpoint=self.endpoint(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateView(_WebhookView):
    @extend_schema(
        request=None,
        responses={
            200: EndpointWithSecret,
            **error_responses(401, 403, 404, 429, reasons={403: FORBIDDEN, 404: NO_ENDPOINT}),
        },
        operation_id="webhooks_rotate_secret",
        **described(
            summary="Rotate a webhook endpoint's signing secret (the new one is shown once)",
            who=WHO,
            changes="A new secret signs from now on; for 24 hours the previous one signs too "
            "(two signatures in `webhook-signature`), so the receiver can switch without "
            "losing a message.",
            idempotency="Not idempotent: each call makes a new secret (and the one before "
            "becomes the previous one).",
        ),
    )
    def post(self, request, pk):
        endpoint = services.secret_rotate(endpoint=self.endpoint(pk))
        return Response(EndpointWithSecret(endpoint).data)


class EndpointTestView(_WebhookView):
    @extend_schema(
        request=None,
        responses={
            202: DeliveryOutput,
            **error_responses(
                401,
                403,
                404,
                409,
                429,
                reasons={
                    403: FORBIDDEN,
                    404: NO_ENDPOINT,
                    409: "`ENDPOINT_DISABLED`: the endpoint is disabled; enable it first.",
                },
            ),
        },
        operation_id="webhooks_test",
        **described(
            summary="Send a `ping` to a webhook endpoint",
            who=WHO,
            changes="A `ping` message and its delivery, sent at once by the worker (retried "
            "like any other); its outcome is in the endpoint's deliveries.",
            idempotency="Not idempotent: each call sends another ping (another `webhook-id`).",
        ),
    )
    def post(self, request, pk):
        delivery = services.endpoint_ping(endpoint=self.endpoint(pk))
        delivery = selectors.delivery_get(org_id=self.actor.org_id, delivery_id=delivery.pk)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class EndpointDeliveriesView(_WebhookView):
    @extend_schema(
        parameters=[DeliveriesQuery],
        responses={
            200: DeliveryList,
            **error_responses(
                400,
                401,
                403,
                404,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `limit` (1-100), `offset` or `status` out of range.",
                    403: FORBIDDEN,
                    404: NO_ENDPOINT,
                },
            ),
        },
        operation_id="webhooks_deliveries",
        **described(
            summary="List a webhook endpoint's deliveries, newest first",
            who=WHO,
            changes="Nothing. Each delivery: status, attempts, the next attempt, the last "
            "response code and its first bytes, the payload.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request, pk):
        query = self.validated_query(DeliveriesQuery)
        endpoint = self.endpoint(pk)
        limit, offset = query["limit"], query["offset"]
        rows = selectors.deliveries_of(
            org_id=self.actor.org_id, endpoint_id=endpoint.pk, status=query.get("status")
        )
        data = DeliveryOutput(rows[offset : offset + limit], many=True).data
        return Response(page_data(data, total=rows.count(), limit=limit, offset=offset))


class DeliveryReplayView(_WebhookView):
    @extend_schema(
        request=None,
        responses={
            202: DeliveryOutput,
            **error_responses(
                401,
                403,
                404,
                409,
                429,
                reasons={
                    403: FORBIDDEN,
                    404: "`NOT_FOUND`: no such delivery in the caller's organisation.",
                    409: "`DELIVERY_PENDING`: the delivery is still pending (it will be "
                    "retried); `ENDPOINT_DISABLED`: its endpoint is disabled.",
                },
            ),
        },
        operation_id="webhooks_deliveries_replay",
        **described(
            summary="Send a delivered or failed webhook message again",
            who=WHO,
            changes="A new delivery of the same message to the same endpoint, with the same "
            "`webhook-id` (receivers deduplicate on it), a new timestamp and signature.",
            idempotency="Not idempotent: each call sends the message once more.",
        ),
    )
    def post(self, request, pk):
        delivery = selectors.delivery_get(org_id=self.actor.org_id, delivery_id=pk)
        if delivery is None:
            raise _not_found("Webhook delivery")
        replay = services.delivery_replay(delivery=delivery)
        replay = selectors.delivery_get(org_id=self.actor.org_id, delivery_id=replay.pk)
        return Response(DeliveryOutput(replay).data, status=status.HTTP_202_ACCEPTED)
