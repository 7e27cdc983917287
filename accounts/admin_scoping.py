"""Who sees and does what in the admin console.

The console uses the user's ``role`` (and ``is_superuser``), not Django's per-model
permission tables:

- superusers (the platform operator) see and manage every organisation;
- ``admin``: every site of their organisation; manages sites, users, devices and
  enrollment codes; publishes and reprocesses;
- ``reviewer``: their sites; publishes;
- ``operator``: their sites; looks only.

Every queryset is scoped with the same rules as the API (``accounts.access``, through an
``Actor`` for the staff user), and an object outside the scope is a
404 — by URL, in actions, autocompletes and raw-id popups alike — never a redirect that
confirms it exists.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.access import (
    ADMIN_ONLY,
    EVERY_ROLE,
    console_may,
    is_platform_operator,
    sites_visible_in_console,
    staff_actor,
    staff_role,
)
from accounts.actors import Actor


def may_publish(user: Any) -> bool:
    return console_may(user, "image.publish")


def may_reject(user: Any) -> bool:
    return console_may(user, "image.reject")


def may_request_reshoot(user: Any) -> bool:
    return console_may(user, "reshoot.request")


def may_dismiss_reshoot(user: Any) -> bool:
    return console_may(user, "reshoot.dismiss")


def may_administer(user: Any) -> bool:
    """Manage sites, users, devices and enrollment codes; reprocess images."""
    return console_may(user, "org.administer")


class ScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows, permissions and missing objects follow the console's rules.

    Subclasses say which roles see the model (``view_roles``) and manage it
    (``manage_roles``: add, change, delete unless a ``has_*_permission`` says otherwise),
    and implement ``scope(queryset, actor)`` for a staff member of an organisation.
    """

    view_roles: frozenset[str] = EVERY_ROLE
    manage_roles: frozenset[str] = ADMIN_ONLY
    not_found_template = "admin/console_not_found.html"

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(org_id=actor.org_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        user = request.user
        if is_platform_operator(user):
            return queryset
        actor = staff_actor(user)
        if actor is None or staff_role(user) not in self.view_roles:
            return queryset.none()
        return self.scope(queryset, actor)

    # --- permissions by role

    def _role_in(self, request: HttpRequest, roles: frozenset[str]) -> bool:
        return is_platform_operator(request.user) or staff_role(request.user) in roles

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role_in(request, self.view_roles | self.manage_roles)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._role_in(request, self.manage_roles)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role_in(request, self.manage_roles)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role_in(request, self.manage_roles)

    # Action permissions (``@admin.action(permissions=[...])``).
    def has_publish_permission(self, request: HttpRequest) -> bool:
        return may_publish(request.user)

    def has_administer_permission(self, request: HttpRequest) -> bool:
        return may_administer(request.user)

    # --- out of scope is a 404

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> HttpResponse:
        # Django redirects with "doesn't exist" here; a real 404 tells nothing either way.
        return self.not_found_response(request)

    def not_found_response(self, request: HttpRequest) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "title": "Not found"}
        return TemplateResponse(request, self.not_found_template, context, status=404)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # A known action the user may not run (an operator forging "publish") is refused
        # outright; Django would quietly ignore it.
        name = request.POST.get("action") if request.method == "POST" else None
        if name is not None:
            known = {action_name for _, action_name, _ in self._get_base_actions()}
            if name in known and name not in self.get_actions(request):
                raise PermissionDenied
        return super().changelist_view(request, extra_context)


class SiteFilter(admin.SimpleListFilter):
    """Filter by a site the user may see (a plain related-field filter would list every
    organisation's sites)."""

    title = "site"
    parameter_name = "site"
    site_field = "site_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        platform = is_platform_operator(request.user)
        return [
            (str(site.pk), f"{site.org} · {site}" if platform else str(site))
            for site in sites_visible_in_console(request.user)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        try:
            site_id = uuid.UUID(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(**{self.site_field: site_id})
