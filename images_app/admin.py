"""The console's images: thumbnails, QC, the publish, reject and reprocess actions.

Everything here is read-only: an image's status changes only through the services
(``image_publish``, ``image_reprocess``), never by editing a field.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from accounts.actors import Actor
from accounts.admin_scoping import ScopedAdmin, SiteFilter, may_reject
from events_app.models import Event
from images_app import admin_check_policy, admin_duplicates, admin_events, selectors, storage
from images_app.admin_sessions import image_label, publish_messages
from images_app.models import FailedImage, Image
from images_app.review import NOTE_MAX_LENGTH, image_reject, reasons_clean
from images_app.rules import QC_STATUSES, REJECT_REASONS, THUMB_LARGE, THUMB_SMALL
from images_app.services import images_publish, images_reprocess
from imaging.api.errors import ApplicationError

# The audit log's console page lives here: scoping events needs who sees which session
# and image, and the audit log itself (events_app) sits below both. The organisation's
# checks (CheckPolicy) have their page in admin_check_policy.
del admin_check_policy, admin_events


class QcVerdictFilter(admin.SimpleListFilter):
    title = "QC verdict"
    parameter_name = "qc"

    def lookups(self, request, model_admin):
        return [(status, status.capitalize()) for status in QC_STATUSES]

    def queryset(self, request, queryset):
        if self.value() in QC_STATUSES:
            return queryset.filter(selectors.qc_verdict_q(self.value()))
        return queryset


class ImageSiteFilter(SiteFilter):
    site_field = "session__site_id"


def thumbnail(image: Image, size: str, *, width: int) -> SafeString | str:
    key = (image.thumb_keys or {}).get(size)
    if not key:
        return "—"
    # A short-lived signed GET: the bucket is private.
    return format_html(
        '<img src="{}" width="{}" alt="{}" loading="lazy" class="console-thumb">',
        storage.presigned_get(key=key),
        width,
        image_label(image),
    )


@admin.register(Image)
class ImageAdmin(ScopedAdmin):
    list_display = (
        "thumb",
        "label",
        "session_link",
        "site",
        "mode",
        "status",
        "qc_verdict",
        "sharpness",
        "created_at",
    )
    list_display_links = ("thumb", "label")
    list_filter = (
        "status",
        QcVerdictFilter,
        admin_duplicates.DuplicateFilter,
        ImageSiteFilter,
        "session__mode",
    )
    list_select_related = ("session", "session__site", "vehicle")
    search_fields = ("vehicle__vin", "vehicle__stock", "file_name")
    search_help_text = "VIN, stock number or file name."
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50
    actions = ("publish", "reject", "reprocess")
    fieldsets = (
        (None, {"fields": ("preview", "label", "session_link", "status", "error")}),
        ("Quality checks", {"fields": ("qc_summary",)}),
        ("Photo", {"fields": ("exif_summary", "width", "height", "size", "content_type")}),
        (
            "Storage and history",
            {
                "fields": (
                    "file_name",
                    "storage_key",
                    "thumb_keys",
                    "attempts",
                    "created_at",
                    "uploaded_at",
                    "processed_at",
                    "published_at",
                    "published_by",
                    "audit_trail",
                )
            },
        ),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset & selectors.images_visible_to(actor=actor)

    def get_urls(self) -> list:
        # The side-by-side duplicates page (images_app/admin_duplicates.py).
        return admin_duplicates.urls(self) + super().get_urls()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_reject_permission(self, request: HttpRequest) -> bool:
        return may_reject(request.user)

    # --- columns and fields

    @admin.display(description="")
    def thumb(self, image: Image) -> SafeString | str:
        return thumbnail(image, THUMB_SMALL, width=96)

    @admin.display(description="preview")
    def preview(self, image: Image) -> SafeString | str:
        return thumbnail(image, THUMB_LARGE, width=720)

    @admin.display(description="angle / shot")
    def label(self, image: Image) -> str:
        return image_label(image)

    @admin.display(description="session")
    def session_link(self, image: Image) -> SafeString:
        url = reverse("admin:sessions_app_capturesession_change", args=[image.session_id])
        return format_html('<a href="{}">{}</a>', url, image.vehicle)

    @admin.display(description="site", ordering="session__site__name")
    def site(self, image: Image) -> str:
        return str(image.session.site)

    @admin.display(description="mode", ordering="session__mode")
    def mode(self, image: Image) -> str:
        return image.session.get_mode_display()

    @admin.display(description="QC")
    def qc_verdict(self, image: Image) -> str:
        return selectors.qc_verdict(image.qc) or "—"

    @admin.display(description="sharpness")
    def sharpness(self, image: Image) -> str:
        score = (image.qc or {}).get("sharpness", {}).get("score")
        return f"{score:.0f}" if isinstance(score, int | float) else "—"

    @admin.display(description="checks")
    def qc_summary(self, image: Image) -> SafeString | str:
        checks = [
            (name, check.get("status", ""), _check_detail(check))
            for name, check in (image.qc or {}).items()
            if isinstance(check, dict)
        ]
        if not checks:
            return "—"
        return format_html_join("", "<div><strong>{}</strong>: {} {}</div>", checks)

    @admin.display(description="EXIF")
    def exif_summary(self, image: Image) -> SafeString | str:
        exif = {key: value for key, value in (image.exif or {}).items() if value not in (None, "")}
        if not exif:
            return "—"
        return format_html_join("", "<div>{}: {}</div>", exif.items())

    @admin.display(description="audit trail")
    def audit_trail(self, image: Image) -> SafeString:
        url = reverse("admin:events_app_event_changelist")
        return format_html('<a href="{}?entity_id={}">Events of this image</a>', url, image.pk)

    # --- actions

    @admin.action(description="Publish selected images", permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        outcome = images_publish(images=list(queryset), actor=request.user)
        for level, text in publish_messages(outcome):
            self.message_user(request, text, level)

    @admin.action(description="Reject selected images…", permissions=["reject"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """First a page asking why (the reasons, a note) for the selected images; its form
        posts back here with ``apply``, and each image is rejected (a reshoot requested)."""
        images = list(queryset.order_by("session_id", "frame_index", "shot_name", "created_at"))
        reasons = request.POST.getlist("reasons")
        note = request.POST.get("note", "")
        error = None
        if "apply" in request.POST:
            try:
                reasons = reasons_clean(reasons)
            except ApplicationError:
                error = "Choose at least one reason."
            if len(note.strip()) > NOTE_MAX_LENGTH:
                error = f"The note has at most {NOTE_MAX_LENGTH} characters."
            if error is None:
                self._reject(request, images, reasons=reasons, note=note)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject images",
            "opts": self.opts,
            "images": [
                (image, thumbnail(image, THUMB_SMALL, width=96), image_label(image))
                for image in images
            ],
            "reasons": [
                {"code": code, "label": label, "checked": code in reasons}
                for code, label in REJECT_REASONS.items()
            ],
            "note": note,
            "note_max_length": NOTE_MAX_LENGTH,
            "error": error,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/images_app/image/reject.html", context)

    def _reject(
        self, request: HttpRequest, images: list[Image], *, reasons: list[str], note: str
    ) -> None:
        rejected, left = [], []
        for image in images:
            try:
                image_reject(image=image, actor=request.user, reasons=reasons, note=note)
            except ApplicationError as exc:
                if exc.code != "INVALID_TRANSITION":
                    raise
                left.append(image)
            else:
                rejected.append(image)
        if rejected:
            labels = ", ".join(REJECT_REASONS[code] for code in reasons).lower()
            self.message_user(
                request,
                f"Rejected {len(rejected)} image(s) ({labels}); a reshoot is requested.",
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request,
                f"Left {len(left)} image(s) that are not processed or published: "
                + ", ".join(f"{image_label(i)} ({i.status})" for i in left)
                + ".",
                messages.WARNING,
            )

    @admin.action(description="Reprocess selected images", permissions=["administer"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet) -> None:
        images = list(queryset)
        moved = images_reprocess(images=images, actor=request.user)
        left = len(images) - moved
        note = f" {left} were not processed or failed and did not change." if left else ""
        self.message_user(
            request, f"Sent {moved} image(s) back for processing.{note}", messages.SUCCESS
        )


def _check_detail(check: dict[str, Any]) -> str:
    detail = {key: value for key, value in check.items() if key != "status"}
    return (
        "(" + ", ".join(f"{key} {value}" for key, value in detail.items()) + ")" if detail else ""
    )


@admin.register(FailedImage)
class FailedImageAdmin(ImageAdmin):
    """Images whose processing failed: the code, the message the worker recorded and the
    attempts; admins retry the selected ones (those whose original was kept)."""

    list_display = (
        "label",
        "session_link",
        "site",
        "error",
        "failure_message",
        "attempts",
        "failed_at",
    )
    list_display_links = ("label",)
    list_filter = ("error", ImageSiteFilter, "session__mode")
    ordering = ("-processed_at", "-id")
    actions = ("retry",)

    def get_urls(self) -> list:
        # Not the duplicates page: its URL name belongs to the images' own admin.
        return super(ImageAdmin, self).get_urls()

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        # The proxy's rows are Images: the same visibility, as a condition on its ids.
        return queryset.filter(pk__in=selectors.images_visible_to(actor=actor).values("pk"))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        last_failure = Event.objects.filter(
            entity_id=OuterRef("pk"), type=Event.Type.PROCESSING_FAILED
        ).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .filter(status=Image.Status.FAILED)
            .annotate(failure_text=Subquery(last_failure.values("message")[:1]))
        )

    @admin.display(description="message")
    def failure_message(self, image: Image) -> str:
        return image.failure_text or "—"

    @admin.display(description="failed at", ordering="processed_at")
    def failed_at(self, image: Image) -> str:
        if image.processed_at is None:
            return "—"
        return date_format(localtime(image.processed_at), "Y-m-d H:i")

    @admin.action(description="Retry selected", permissions=["administer"])
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        images = list(queryset)
        moved = images_reprocess(images=images, actor=request.user)
        left = len(images) - moved
        note = (
            f" {left} cannot be retried: the file itself was bad, and its original is deleted."
            if left
            else ""
        )
        self.message_user(request, f"Sent {moved} image(s) back for processing.{note}")
