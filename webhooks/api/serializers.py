"""Shapes of ``/webhooks``: endpoints (the secret only when made or rotated), deliveries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imaging.api.fields import InputSerializer, StrictCharField
from imaging.api.views import LimitOffsetQuery, page_serializer
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint

EVENT_TYPE_CHOICES = [(kind, kind) for kind in EVENT_TYPES]
# Spelled out rather than ``\S``: Python's and ECMAScript's ``\s`` disagree (U+001C-U+001F,
# U+0085), and the schema must accept exactly what the server does.
URL_PATTERN = r"[hH][tT][tT][pP][sS]?://[^\x00-\x20\x7f]+"


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only: not "true", not 1."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=str(data)[:64])
        return data


class EndpointWriteFields(InputSerializer):
    url = StrictCharField(
        max_length=2000,
        pattern=URL_PATTERN,
        pattern_message="Must be an https URL.",
        help_text="Where to POST: https, resolving to public addresses only.",
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="The event types to send; empty or left out: every type.",
    )
    enabled = StrictBooleanField(required=False)


class EndpointCreateInput(EndpointWriteFields):
    pass


class EndpointUpdateInput(EndpointWriteFields):
    url = StrictCharField(
        max_length=2000,
        pattern=URL_PATTERN,
        pattern_message="Must be an https URL.",
        required=False,
        help_text="Where to POST: https, resolving to public addresses only.",
    )


class EndpointOutput(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES))
    disabled_reason = serializers.CharField(
        help_text="Why we disabled it (410 Gone, failing for days); empty otherwise."
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="After a rotation: until when the previous secret signs too.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecret(EndpointOutput):
    secret = serializers.CharField(
        help_text="`whsec_…`: verify signatures with it. Shown only now (and at rotation)."
    )

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]
        read_only_fields = fields


EndpointList = page_serializer("WebhookEndpointList", EndpointOutput)


@extend_schema_field(
    {
        "type": "object",
        "description": "The body sent: `type`, `timestamp` and `data` "
        "(webhooks/payloads.schema.json).",
        "additionalProperties": True,
    }
)
class PayloadField(serializers.JSONField):
    pass


class DeliveryOutput(serializers.ModelSerializer):
    webhook_id = serializers.CharField(
        source="message.msg_id", help_text="The `webhook-id` header: the same on every retry."
    )
    event_type = serializers.CharField(source="message.event_type")
    payload = PayloadField(source="message.payload")
    endpoint_id = serializers.UUIDField()
    last_response = serializers.CharField(
        help_text="The first bytes of the endpoint's last answer (1 KB)."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint_id",
            "webhook_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


DeliveryList = page_serializer("WebhookDeliveryList", DeliveryOutput)


class DeliveriesQuery(LimitOffsetQuery):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
