"""The console's duplicate photos: a filter on the image list, and a side-by-side page per
image where a reviewer can say "not a duplicate" (images_app/duplicates.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_scoping import may_publish
from images_app import duplicates, storage
from images_app.admin_sessions import image_label
from images_app.models import Image
from images_app.rules import THUMB_LARGE


class DuplicateFilter(admin.SimpleListFilter):
    title = "duplicate photo"
    parameter_name = "duplicate"

    def lookups(self, request, model_admin):
        return [("warn", "Flagged"), ("rejected", "Rejected as a duplicate"), ("any", "Any")]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("warn", "rejected"):
            return queryset.filter(signature__duplicate_state=value)
        if value == "any":
            return queryset.filter(signature__duplicate_state__in=("warn", "rejected"))
        return queryset


def urls(model_admin: Any) -> list:
    return [
        path(
            "<path:object_id>/duplicates/",
            model_admin.admin_site.admin_view(
                lambda request, object_id: duplicates_page(model_admin, request, object_id)
            ),
            name="images_app_image_duplicates",
        )
    ]


def _visible(model_admin: Any, request: HttpRequest, object_id: Any) -> Image | None:
    try:
        pk = uuid.UUID(str(object_id))
    except ValueError:
        return None
    return (
        model_admin.get_queryset(request).select_related("vehicle", "session").filter(pk=pk).first()
    )


def _large(image: Image) -> str | None:
    key = (image.thumb_keys or {}).get(THUMB_LARGE)
    return storage.presigned_get(key=key) if key else None


def duplicates_page(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """GET: the photo beside each photo it duplicates. POST ``other``: not a duplicate."""
    image = _visible(model_admin, request, object_id)
    if image is None:
        return model_admin.not_found_response(request)
    if request.method == "POST":
        if not may_publish(request.user):
            return HttpResponse(status=403)
        other = _visible(model_admin, request, request.POST.get("other", ""))
        if other is None:
            return model_admin.not_found_response(request)
        duplicates.duplicate_dismiss(image=image, other=other, user=request.user)
        messages.success(
            request, f"{image_label(other)} is not a duplicate of {image_label(image)}."
        )
        return HttpResponseRedirect(request.path)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    matches = []
    for match in duplicates.image_duplicates(image=image):
        other = _visible(model_admin, request, match["image_id"])
        if other is not None:
            matches.append(
                {**match, "image": other, "label": image_label(other), "url": _large(other)}
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Duplicates of {image_label(image)}",
        "opts": model_admin.model._meta,
        "image": image,
        "label": image_label(image),
        "url": _large(image),
        "matches": matches,
        "can_dismiss": may_publish(request.user),
        "change_url": reverse("admin:images_app_image_change", args=[image.pk]),
    }
    return TemplateResponse(request, "admin/images_app/image/duplicates.html", context)
