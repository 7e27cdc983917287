"""The organisation's checks in the console (reshoot on QC failure, spin health, duplicates:
``CheckPolicy``): an org admin sees and edits only their own organisation's row;
reviewers and operators do not see it. Superusers see every organisation's and may add one
for an organisation or delete it (back to the defaults)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.access import ADMIN_ONLY, is_platform_operator, staff_actor
from accounts.actors import Actor
from accounts.admin_scoping import ScopedAdmin
from images_app.models import CheckPolicy


@admin.register(CheckPolicy)
class CheckPolicyAdmin(ScopedAdmin):
    view_roles = ADMIN_ONLY
    manage_roles = ADMIN_ONLY
    # Listed one by one: a field added to the model is shown only once it is added here.
    fields = (
        "org",
        "qc_reshoot",
        "spin_health",
        "duplicates",
        "duplicate_window_days",
        "coverage",
    )
    list_display = (
        "org",
        "qc_reshoot",
        "spin_health",
        "duplicates",
        "duplicate_window_days",
        "coverage",
    )
    list_select_related = ("org",)
    ordering = ("org__name",)

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(org_id=actor.org_id)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The organisation of a row never changes.
        return ("org",) if obj is not None else ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # An organisation without a row has the defaults; its admin gets the row (with those
        # defaults, so nothing changes) the first time they open the page, to edit it.
        actor = staff_actor(request.user)
        if (
            actor is not None
            and not is_platform_operator(request.user)
            and self.has_change_permission(request)
        ):
            CheckPolicy.objects.get_or_create(org_id=actor.org_id)
        return super().changelist_view(request, extra_context)
