"""The review console's sessions: the changelist reviewers work from, and the review page.

The review page (the session's change page) shows the session's images as the API orders
them, a spin viewer for spins, what the session is missing, and the actions — which call
the same services as the API (``image_publish`` and friends, ``session_finish``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from accounts.access import sees_all_sites
from accounts.actors import Actor
from accounts.admin_scoping import (
    ScopedAdmin,
    SiteFilter,
    is_platform_operator,
    may_administer,
    may_publish,
)
from images_app import selectors as image_selectors
from images_app import storage
from images_app.models import Image, ImageSignature
from images_app.rules import THUMB_KEYS, THUMB_LARGE, THUMB_MEDIUM
from images_app.services import (
    PublishOutcome,
    images_publish,
    images_reprocess,
    qc_failed_checks,
    session_publish_processed,
)
from imaging.api.errors import ApplicationError
from sessions_app.models import CaptureSession, Vehicle
from sessions_app.selectors import sessions_visible_to
from sessions_app.services import session_finish


def image_label(image: Image) -> str:
    """How reviewers name a picture: its angle, its shot, or its file."""
    if image.angle_deg is not None:
        return f"{image.angle_deg}°"
    return image.shot_name or image.file_name


def _labels(images: list[Image], *, with_checks: bool = False) -> str:
    def one(image: Image) -> str:
        if with_checks:
            return f"{image_label(image)} ({', '.join(qc_failed_checks(image.qc))})"
        return image_label(image)

    return ", ".join(one(image) for image in images)


def publish_messages(outcome: PublishOutcome) -> list[tuple[int, str]]:
    """What to tell the reviewer after a publish, most important first."""
    said: list[tuple[int, str]] = []
    if outcome.published:
        said.append((messages.SUCCESS, f"Published {len(outcome.published)} image(s)."))
    if outcome.skipped_qc_failures:
        said.append(
            (
                messages.WARNING,
                f"Skipped {len(outcome.skipped_qc_failures)} image(s) that failed QC: "
                f"{_labels(outcome.skipped_qc_failures, with_checks=True)}. Look at them, "
                "then publish them with “Also publish images that failed QC” ticked.",
            )
        )
    if outcome.not_publishable:
        said.append(
            (
                messages.WARNING,
                f"Left {len(outcome.not_publishable)} image(s) that are not processed: "
                + ", ".join(
                    f"{image_label(image)} ({image.status})" for image in outcome.not_publishable
                )
                + ".",
            )
        )
    if outcome.already_published:
        said.append(
            (messages.INFO, f"{len(outcome.already_published)} image(s) were already published.")
        )
    return said or [(messages.INFO, "Nothing to publish.")]


# --- changelist filters -------------------------------------------------------------------


class QcFailuresFilter(admin.SimpleListFilter):
    title = "QC"
    parameter_name = "qc_failures"

    def lookups(self, request, model_admin):
        return (("yes", "Has QC failures"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return image_selectors.sessions_with_qc_failures(queryset)
        return queryset


class ReadyToPublishFilter(admin.SimpleListFilter):
    title = "publishing"
    parameter_name = "ready"

    def lookups(self, request, model_admin):
        return (("yes", "Ready to publish"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return image_selectors.sessions_ready_to_publish(queryset)
        return queryset


# --- sessions -----------------------------------------------------------------------------


@admin.register(CaptureSession)
class CaptureSessionAdmin(ScopedAdmin):
    # What a reviewer scans first comes first; the rest scrolls on narrow screens.
    list_display = (
        "vehicle_keys",
        "status",
        "image_count",
        "processed_count",
        "published_count",
        "failed_count",
        "qc_failures",
        "mode_name",
        "site",
        "captured_by",
        "started",
    )
    list_filter = (
        SiteFilter,
        "status",
        "mode",
        "started_at",
        QcFailuresFilter,
        ReadyToPublishFilter,
    )
    list_select_related = ("vehicle", "site", "operator", "device")
    search_fields = ("vehicle__vin", "vehicle__stock")
    search_help_text = "VIN or stock number (or part of one)."
    ordering = ("-started_at", "-id")
    show_full_result_count = False  # one COUNT per page is enough
    list_per_page = 50
    actions = ("publish_processed", "mark_abandoned")
    change_form_template = "admin/sessions_app/capturesession/review.html"
    fieldsets = (
        (
            "Session details",
            {
                "fields": (
                    "vehicle",
                    "site",
                    "mode",
                    "shot_list",
                    "status",
                    "operator",
                    "device",
                    "started_at",
                    "completed_at",
                    "id",
                ),
            },
        ),
    )
    readonly_fields = (
        "vehicle",
        "site",
        "mode",
        "shot_list",
        "status",
        "operator",
        "device",
        "started_at",
        "completed_at",
        "id",
    )

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset & sessions_visible_to(actor=actor)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        sessions = super().get_queryset(request).select_related(*self.list_select_related)
        return image_selectors.sessions_with_image_counts(sessions)

    # Sessions are captured by devices and finished through the API or the actions here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user)

    # --- columns

    @admin.display(description="vehicle (VIN / stock)", ordering="vehicle__vin")
    def vehicle_keys(self, session: CaptureSession) -> SafeString:
        return format_html(
            '<span class="vin">{}</span><br><span class="stock">{}</span>',
            session.vehicle.vin or "—",
            session.vehicle.stock or "—",
        )

    @admin.display(description="mode", ordering="mode")
    def mode_name(self, session: CaptureSession) -> str:
        return session.mode

    @admin.display(description="started", ordering="started_at")
    def started(self, session: CaptureSession) -> str:
        return date_format(localtime(session.started_at), "Y-m-d H:i")

    @admin.display(description="captured by")
    def captured_by(self, session: CaptureSession) -> str:
        if session.operator is not None:
            return session.operator.name or session.operator.email
        if session.device is not None:
            return str(session.device)
        return "—"

    @admin.display(description="images", ordering="image_count")
    def image_count(self, session: CaptureSession) -> int:
        return session.image_count

    @admin.display(description="processed", ordering="processed_count")
    def processed_count(self, session: CaptureSession) -> int:
        return session.processed_count

    @admin.display(description="published", ordering="published_count")
    def published_count(self, session: CaptureSession) -> int:
        return session.published_count

    @admin.display(description="failed", ordering="failed_count")
    def failed_count(self, session: CaptureSession) -> int:
        return session.failed_count

    @admin.display(description="QC fail", ordering="qc_failure_count")
    def qc_failures(self, session: CaptureSession) -> str:
        if not session.qc_failure_count:
            return "0"
        return format_html('<strong class="qc-fail-count">{}</strong>', session.qc_failure_count)

    # --- changelist actions

    @admin.action(
        description="Publish every processed image (skips QC failures)", permissions=["publish"]
    )
    def publish_processed(self, request: HttpRequest, queryset: QuerySet) -> None:
        total = PublishOutcome()
        held_back: list[str] = []
        for session in queryset:
            outcome = session_publish_processed(
                session=session, actor=request.user, include_qc_failures=False
            )
            total.published += outcome.published
            total.already_published += outcome.already_published
            if outcome.skipped_qc_failures:
                held_back.append(
                    f"{session.vehicle} ({_labels(outcome.skipped_qc_failures, with_checks=True)})"
                )
        self.message_user(request, f"Published {len(total.published)} image(s).", messages.SUCCESS)
        if held_back:
            self.message_user(
                request,
                "Skipped images that failed QC in: "
                + "; ".join(held_back)
                + ". Open a session to look at them and publish them from there.",
                messages.WARNING,
            )

    @admin.action(description="Mark selected sessions abandoned", permissions=["publish"])
    def mark_abandoned(self, request: HttpRequest, queryset: QuerySet) -> None:
        abandoned = 0
        for session in queryset.filter(status=CaptureSession.Status.ACTIVE):
            try:
                session_finish(
                    session=session,
                    status=CaptureSession.Status.ABANDONED,
                    completed_at=None,
                    actor=request.user,
                    request_id=getattr(request, "request_id", None),
                )
                abandoned += 1
            except ApplicationError:
                continue  # finished meanwhile
        skipped = queryset.count() - abandoned
        note = f" {skipped} were already finished and did not change." if skipped else ""
        self.message_user(
            request, f"Marked {abandoned} session(s) abandoned.{note}", messages.SUCCESS
        )

    # --- the review page

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/review/",
                self.admin_site.admin_view(self.review_action_view),
                name="{}_{}_review".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: CaptureSession | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(review_context(request, obj))
            context["title"] = session_title(obj)
            context["subtitle"] = None
        return super().render_change_form(request, context, add, change, form_url, obj)

    def review_action_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The review page's buttons: publish selected or every processed image, reprocess
        selected, mark the session abandoned."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        session = self.get_object(request, unquote(object_id))
        if session is None:
            return self.not_found_response(request)
        action = request.POST.get("action", "")
        handlers = {
            "publish_selected": (may_publish, self._publish_selected),
            "publish_processed": (may_publish, self._publish_processed),
            "reprocess_selected": (may_administer, self._reprocess_selected),
            "abandon": (may_publish, self._abandon),
        }
        if action not in handlers:
            self.message_user(request, "Choose an action.", messages.ERROR)
        else:
            allowed, handler = handlers[action]
            if not allowed(request.user):
                raise PermissionDenied
            handler(request, session)
        return HttpResponseRedirect(
            reverse("admin:sessions_app_capturesession_change", args=[session.pk])
        )

    def _selected_images(self, request: HttpRequest, session: CaptureSession) -> list[Image]:
        ids = []
        for raw in request.POST.getlist("image"):
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                continue
        return list(image_selectors.session_images(session=session).filter(pk__in=ids))

    def _say(self, request: HttpRequest, said: list[tuple[int, str]]) -> None:
        for level, text in said:
            self.message_user(request, text, level)

    def _publish_selected(self, request: HttpRequest, session: CaptureSession) -> None:
        images = self._selected_images(request, session)
        if not images:
            self.message_user(request, "Select the images to publish first.", messages.WARNING)
            return
        self._say(request, publish_messages(images_publish(images=images, actor=request.user)))

    def _publish_processed(self, request: HttpRequest, session: CaptureSession) -> None:
        outcome = session_publish_processed(
            session=session,
            actor=request.user,
            include_qc_failures=request.POST.get("include_qc_failures") == "on",
        )
        self._say(request, publish_messages(outcome))

    def _reprocess_selected(self, request: HttpRequest, session: CaptureSession) -> None:
        images = self._selected_images(request, session)
        moved = images_reprocess(images=images, actor=request.user)
        left = len(images) - moved
        note = f" {left} were not processed or failed and did not change." if left else ""
        self.message_user(request, f"Sent {moved} image(s) back for processing.{note}")

    def _abandon(self, request: HttpRequest, session: CaptureSession) -> None:
        try:
            session_finish(
                session=session,
                status=CaptureSession.Status.ABANDONED,
                completed_at=None,
                actor=request.user,
                request_id=getattr(request, "request_id", None),
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, "The session is marked abandoned.", messages.SUCCESS)


def session_title(session: CaptureSession) -> str:
    vehicle = session.vehicle
    names = [f"VIN {vehicle.vin}" if vehicle.vin else "", vehicle.stock or ""]
    return " · ".join(name for name in names if name) or str(vehicle.pk)


def _thumb_urls(image: Image) -> dict[str, str]:
    keys = image.thumb_keys or {}
    return {size: storage.presigned_get(key=keys[size]) for size in THUMB_KEYS if size in keys}


def _qc_badges(image: Image) -> list[dict[str, str]]:
    qc = image.qc or {}
    badges = []
    sharpness = qc.get("sharpness")
    if isinstance(sharpness, dict):
        score = sharpness.get("score")
        text = f"Sharpness {score:.0f}" if isinstance(score, int | float) else "Sharpness"
        badges.append({"status": str(sharpness.get("status", "")), "text": text})
    exposure = qc.get("exposure")
    if isinstance(exposure, dict):
        status = str(exposure.get("status", ""))
        badges.append({"status": status, "text": f"Exposure {status}"})
    return badges


def review_context(request: HttpRequest, session: CaptureSession) -> dict[str, Any]:
    """Everything the review page shows, read in a fixed number of queries."""
    images = list(image_selectors.session_images(session=session))
    urls = {image.pk: _thumb_urls(image) for image in images}
    events_url = reverse("admin:events_app_event_changelist")
    spin = image_selectors.spin_coverage(session=session, images=images)
    # Duplicate photos and spin health (images_app/duplicates.py, spin_health.py): one query.
    flagged = dict(
        ImageSignature.objects.filter(session_id=session.pk)
        .exclude(duplicate_state="")
        .values_list("image_id", "duplicate_state")
    )
    cards = [
        {
            "image": image,
            "label": image_label(image),
            "thumb": urls[image.pk].get(THUMB_MEDIUM),
            "qc_badges": _qc_badges(image),
            "qc_verdict": image_selectors.qc_verdict(image.qc),
            "duplicate": flagged.get(image.pk),
            "duplicates_url": reverse("admin:images_app_image_duplicates", args=[image.pk]),
        }
        for image in images
    ]
    preview = {
        str(image.pk): {
            "label": image_label(image),
            "file_name": image.file_name,
            "status": image.status,
            "error": image.error,
            "url": urls[image.pk].get(THUMB_LARGE),
            "width": image.width,
            "height": image.height,
            "exif": image.exif or {},
            "qc": image.qc or {},
            "change_url": reverse("admin:images_app_image_change", args=[image.pk]),
            "events_url": f"{events_url}?entity_id={image.pk}",
        }
        for image in images
    }
    frames = []
    if spin is not None:
        for slot in spin.slots:
            if slot.image is not None and THUMB_MEDIUM in urls[slot.image.pk]:
                frames.append(
                    {
                        "index": slot.index,
                        "angle": slot.angle_deg,
                        "url": urls[slot.image.pk][THUMB_MEDIUM],
                        "image_id": str(slot.image.pk),
                        "status": slot.image.status,
                        "qc": slot.qc_verdict,
                    }
                )
    processed = [image for image in images if image.status == Image.Status.PROCESSED]
    user = request.user
    return {
        "session": session,
        "cards": cards,
        "spin": spin,
        "stills": image_selectors.stills_coverage(session=session, images=images),
        "spin_frames": frames,
        "spin_health": session.spin_health if spin is not None else None,
        "preview_data": preview,
        "can_publish": may_publish(user),
        "can_reprocess": may_administer(user),
        "can_abandon": may_publish(user) and not session.is_finished,
        "review_action_url": reverse("admin:sessions_app_capturesession_review", args=[session.pk]),
        "session_events_url": f"{events_url}?session={session.pk}",
        "publishable_count": len(processed),
        "publishable_qc_failures": sum(1 for image in processed if qc_failed_checks(image.qc)),
    }


# --- vehicles -----------------------------------------------------------------------------


@admin.register(Vehicle)
class VehicleAdmin(ScopedAdmin):
    """Read-only: vehicles are created by capture sessions (upsert by VIN / stock number)."""

    list_display = ("vin", "stock", "vin_check_digit_ok", "created_at", "sessions_link")
    search_fields = ("vin", "stock")
    ordering = ("-created_at", "id")
    show_full_result_count = False

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        if sees_all_sites(actor):
            return queryset.filter(org_id=actor.org_id)
        visible = sessions_visible_to(actor=actor).values("vehicle_id")
        return queryset.filter(org_id=actor.org_id, pk__in=visible)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="sessions")
    def sessions_link(self, vehicle: Vehicle) -> str:
        url = reverse("admin:sessions_app_capturesession_changelist")
        return format_html('<a href="{}?vehicle={}">sessions</a>', url, vehicle.pk)
