"""The console's publications: a vehicle's version history with what changed, rollback and
withdraw (the same services as the API), linked from the vehicle and session pages.

The vehicle and session admins are images_app's, which knows nothing of publishing: this
module registers them again as subclasses that add the link (``publication_url``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.access import PUBLISHING_ROLES, console_may, staff_actor
from accounts.actors import Actor
from accounts.admin_scoping import ScopedAdmin
from images_app.admin_sessions import CaptureSessionAdmin, VehicleAdmin
from imaging.api.errors import ApplicationError
from publishing import selectors, services
from publishing.manifest import content_image_ids
from publishing.models import Publication
from sessions_app.models import CaptureSession, Vehicle


def may_manage(user: Any) -> bool:
    return console_may(user, "publication.manage")


def diff_text(diff: dict[str, Any]) -> str:
    """``+3 / -1 images · live → withdrawn · back to v2``: a version's change in a line."""
    parts = []
    added, removed = len(diff.get("added") or []), len(diff.get("removed") or [])
    if added or removed:
        parts.append(f"+{added} / -{removed} image{'s' if added + removed != 1 else ''}")
    if diff.get("status"):
        before, after = diff["status"]
        parts.append(f"{before or 'new'} → {after}")
    if diff.get("rolled_back_to"):
        parts.append(f"back to v{diff['rolled_back_to']}")
    return " · ".join(parts) or "no change"


@admin.register(Publication)
class PublicationAdmin(ScopedAdmin):
    view_roles = PUBLISHING_ROLES
    manage_roles = frozenset()
    list_display = ("vehicle", "status", "version", "live_version", "updated_at", "manifest")
    list_filter = ("status",)
    search_fields = ("vehicle__vin", "vehicle__stock")
    ordering = ("-updated_at", "id")
    change_form_template = "admin/publishing/publication/history.html"

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        visible = selectors.vehicles_visible_to(actor=actor).values("pk")
        return queryset.filter(org_id=actor.org_id, vehicle_id__in=visible)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("vehicle")

    def _refusal(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """For a user who may not manage publications (an operator): 403 when they see the
        vehicle (a session at one of their sites), 404 otherwise, as in the API."""
        actor = staff_actor(request.user)
        try:
            seen = actor is not None and (
                self.scope(Publication.objects.all(), actor).filter(pk=unquote(object_id)).exists()
            )
        except (ValidationError, ValueError):
            seen = False
        if not seen:
            return self.not_found_response(request)
        raise PermissionDenied

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not may_manage(request.user):
            return self._refusal(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="public manifest")
    def manifest(self, publication: Publication) -> str:
        url = services.publication_manifest_url(publication.vehicle_id)
        return format_html('<a href="{}">manifest.json</a>', url)

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/act/",
                self.admin_site.admin_view(self.act_view),
                name="{}_{}_act".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            versions = list(obj.versions.select_related("created_by").order_by("-number")[:200])
            context.update(
                {
                    "publication": obj,
                    "manifest_url": services.publication_manifest_url(obj.vehicle_id),
                    "can_manage": may_manage(request.user),
                    "act_url": reverse("admin:publishing_publication_act", args=[obj.pk]),
                    "versions": [
                        {
                            "version": v,
                            "change": diff_text(v.diff),
                            "images": len(content_image_ids(v.content)),
                            "who": (v.created_by.email if v.created_by else "—"),
                        }
                        for v in versions
                    ],
                    "title": f"Publication of {obj.vehicle}",
                    "subtitle": None,
                }
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def act_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Rollback to a version, or withdraw."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_manage(request.user):
            return self._refusal(request, object_id)
        publication = self.get_object(request, unquote(object_id))
        if publication is None:
            return self.not_found_response(request)
        actor = staff_actor(request.user) or request.user
        action = request.POST.get("action", "")
        try:
            if action == "withdraw":
                services.publication_withdraw(publication=publication, actor=actor)
                self.message_user(request, "Withdrawn.", messages.SUCCESS)
            elif action == "rollback":
                number = int(request.POST.get("version", ""))
                before = publication.version
                publication = services.publication_rollback(
                    publication=publication, number=number, actor=actor
                )
                if publication.version == before:
                    self.message_user(request, f"Version {number} is what is live already.")
                else:
                    self.message_user(
                        request,
                        f"Rolled back to version {number} (now version {publication.version}).",
                        messages.SUCCESS,
                    )
            else:
                self.message_user(request, "Choose an action.", messages.ERROR)
        except (ValueError, ApplicationError) as exc:
            self.message_user(request, getattr(exc, "message", "Give a version."), messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:publishing_publication_change", args=[publication.pk])
        )


def publication_url(publication: Publication) -> str:
    return reverse("admin:publishing_publication_change", args=[publication.pk])


def _publication_link(vehicle_id) -> str | None:
    publication = Publication.objects.filter(vehicle_id=vehicle_id).values_list("pk", flat=True)
    pk = publication.first()
    return reverse("admin:publishing_publication_change", args=[pk]) if pk else None


admin.site.unregister(Vehicle)


@admin.register(Vehicle)
class PublishedVehicleAdmin(VehicleAdmin):
    list_display = (*VehicleAdmin.list_display, "publication_link")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("publication")

    @admin.display(description="publication")
    def publication_link(self, vehicle: Vehicle) -> str:
        publication = getattr(vehicle, "publication", None)
        if publication is None:
            return "—"
        url = reverse("admin:publishing_publication_change", args=[publication.pk])
        return format_html('<a href="{}">v{} {}</a>', url, publication.version, publication.status)

    change_form_template = "admin/publishing/vehicle_change.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        vehicle = self.get_object(request, unquote(object_id))
        if vehicle is not None and may_manage(request.user):
            extra_context = {
                **(extra_context or {}),
                "publication_url": _publication_link(vehicle.pk),
            }
        return super().change_view(request, object_id, form_url, extra_context)


admin.site.unregister(CaptureSession)


@admin.register(CaptureSession)
class PublishedSessionAdmin(CaptureSessionAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The vehicle's publication in the session's own query (the page takes no query more).
        return super().get_queryset(request).select_related("vehicle__publication")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        publication = getattr(obj.vehicle, "publication", None) if obj is not None else None
        if publication is not None and may_manage(request.user):
            context["publication_url"] = publication_url(publication)
        return super().render_change_form(request, context, add, change, form_url, obj)
