"""The audit trail in the console: read-only for everyone, superusers included."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.access import sees_all_sites
from accounts.actors import Actor
from accounts.admin_scoping import ScopedAdmin
from accounts.models import Device, User
from events_app.models import Event
from images_app.models import Image
from images_app.selectors import images_visible_to
from sessions_app.selectors import sessions_visible_to


class SessionTrailFilter(admin.SimpleListFilter):
    """``?session=<id>``: the events of a session and of its images (linked from the review
    page; not offered in the sidebar)."""

    title = "session"
    parameter_name = "session"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, "This session and its images")] if value else []

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            session_id = uuid.UUID(self.value())
        except ValueError:
            return queryset.none()
        image_ids = Image.objects.filter(session_id=session_id).values("pk")
        return queryset.filter(
            Q(entity_type=Event.EntityType.SESSION, entity_id=session_id)
            | Q(entity_type=Event.EntityType.IMAGE, entity_id__in=image_ids)
        )


@admin.register(Event)
class EventAdmin(ScopedAdmin):
    list_display = ("created_at", "type", "entity", "actor", "short_message", "request_id")
    list_filter = ("type", "entity_type", "created_at", "actor_type", SessionTrailFilter)
    search_fields = ("entity_id",)  # the search itself is get_search_results
    search_help_text = "An entity id (session, image or device) or an actor id."
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 100
    fields = (
        "created_at",
        "type",
        "entity",
        "actor",
        "message",
        "meta",
        "request_id",
        "org",
        "id",
    )
    readonly_fields = fields

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        queryset = queryset.filter(org_id=actor.org_id)
        if sees_all_sites(actor):
            return queryset
        # Reviewers and operators: events of the sessions and images of their sites.
        return queryset.filter(
            Q(
                entity_type=Event.EntityType.SESSION,
                entity_id__in=sessions_visible_to(actor=actor).values("pk"),
            )
            | Q(
                entity_type=Event.EntityType.IMAGE,
                entity_id__in=images_visible_to(actor=actor).values("pk"),
            )
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        user_name = User.objects.filter(pk=OuterRef("actor_id")).values("email")
        device_name = Device.objects.filter(pk=OuterRef("actor_id")).values("model")
        return (
            super()
            .get_queryset(request)
            .annotate(
                actor_name=Coalesce(
                    Subquery(user_name, output_field=CharField()),
                    Subquery(device_name, output_field=CharField()),
                )
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            wanted = uuid.UUID(term)
        except ValueError:
            return queryset.none(), False
        # entity_type__in lets the (org, entity_type, entity_id) index serve the lookup.
        by_entity = Q(entity_type__in=Event.EntityType.values, entity_id=wanted)
        return queryset.filter(by_entity | Q(actor_id=wanted)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="entity", ordering="entity_type")
    def entity(self, event: Event) -> SafeString | str:
        targets = {
            Event.EntityType.SESSION: "admin:sessions_app_capturesession_change",
            Event.EntityType.IMAGE: "admin:images_app_image_change",
            Event.EntityType.DEVICE: "admin:accounts_device_change",
        }
        label = f"{event.entity_type} {str(event.entity_id)[:8]}"
        url_name = targets.get(event.entity_type)
        if url_name is None:
            return label
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=[event.entity_id]), label)

    @admin.display(description="actor", ordering="actor_type")
    def actor(self, event: Event) -> str:
        if event.actor_type == Event.ActorType.SYSTEM:
            return "system"
        name = getattr(event, "actor_name", None) or str(event.actor_id)[:8]
        return f"{event.actor_type}: {name}"

    @admin.display(description="message")
    def short_message(self, event: Event) -> str:
        return event.message if len(event.message) <= 80 else event.message[:79] + "…"
