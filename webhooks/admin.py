"""The console's webhooks (admins of the organisation): endpoints (the secret shown once when
made or rotated, a test ping, why we disabled one) and the delivery log (status, attempts,
the next attempt, the last answer; replay). The same services as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from accounts.access import ADMIN_ONLY, console_may, is_platform_operator
from accounts.admin_scoping import ScopedAdmin
from imaging.api.errors import ApplicationError
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint


def may_manage(user: Any) -> bool:
    return console_may(user, "webhook.manage")


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["org", "url", "description", "event_types", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            return services.url_clean(url)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdmin):
    view_roles = ADMIN_ONLY
    manage_roles = ADMIN_ONLY
    form = EndpointForm
    list_display = (
        "url",
        "description",
        "enabled",
        "disabled_reason",
        "failing_since",
        "created_at",
    )
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    readonly_fields = (
        "disabled_reason",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "deliveries_link",
    )
    actions = ["rotate_secret", "send_test"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["url", "description", "event_types", "enabled"]
        if is_platform_operator(request.user):
            fields.insert(0, "org")
        if obj is not None:
            fields += list(self.readonly_fields)
        return fields

    def has_webhook_permission(self, request: HttpRequest) -> bool:
        return may_manage(request.user)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        if change:
            services.endpoint_update(
                endpoint=obj,
                url=obj.url,
                description=obj.description,
                event_types=form.cleaned_data["event_types"],
                enabled=obj.enabled,
            )
            return
        org_id = obj.org_id if is_platform_operator(request.user) else request.user.org_id
        created = services.endpoint_create(
            org_id=org_id,
            url=obj.url,
            description=obj.description,
            event_types=form.cleaned_data["event_types"],
            enabled=obj.enabled,
        )
        obj.pk, obj.secret, obj._state.adding = created.pk, created.secret, False
        messages.warning(
            request,
            f"Signing secret of {created.url} (shown only now, copy it): {created.secret}",
        )

    @admin.display(description="deliveries")
    def deliveries_link(self, endpoint: WebhookEndpoint) -> str:
        return format_html(
            '<a href="../../../webhookdelivery/?endpoint__id__exact={}">delivery log</a>',
            endpoint.pk,
        )

    @admin.action(description="Rotate the signing secret", permissions=["webhook"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            rotated = services.secret_rotate(endpoint=endpoint)
            messages.warning(
                request,
                f"New signing secret of {rotated.url} (shown only now; the previous one "
                f"signs too until {rotated.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC): "
                f"{rotated.secret}",
            )

    @admin.action(description="Send a test ping", permissions=["webhook"])
    def send_test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            try:
                services.endpoint_ping(endpoint=endpoint)
            except ApplicationError as exc:
                messages.error(request, f"{endpoint.url}: {exc.message}")
            else:
                messages.success(request, f"{endpoint.url}: ping sent (see the delivery log).")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdmin):
    view_roles = ADMIN_ONLY
    manage_roles = frozenset()
    list_display = (
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "response_start",
        "last_error",
    )
    list_filter = ("status", "message__event_type")
    list_select_related = ("message", "endpoint")
    search_fields = ("message__msg_id",)
    actions = ["replay"]
    fields = (
        "endpoint",
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
    )
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_webhook_permission(self, request: HttpRequest) -> bool:
        return may_manage(request.user)

    @admin.display(description="event type", ordering="message__event_type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.message.event_type

    @admin.display(description="webhook-id")
    def webhook_id(self, delivery: WebhookDelivery) -> str:
        return delivery.message.msg_id

    @admin.display(description="payload")
    def payload(self, delivery: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", services.body_of(delivery.message.payload).decode())

    @admin.display(description="response")
    def response_start(self, delivery: WebhookDelivery) -> str:
        text = delivery.last_response
        return text[:80] + ("…" if len(text) > 80 else "")

    @admin.action(description="Replay (same webhook-id)", permissions=["webhook"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = 0
        for delivery in queryset.select_related("message"):
            try:
                services.delivery_replay(delivery=delivery)
            except ApplicationError as exc:
                messages.error(request, f"{delivery.message.msg_id}: {exc.message}")
            else:
                sent += 1
        if sent:
            messages.success(request, f"{sent} delivery(ies) sent again.")
