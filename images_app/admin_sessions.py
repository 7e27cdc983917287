"""The review console's sessions: the changelist reviewers work from, and the review page.

The review page (the session's change page) shows the session's images as the API orders
them, a spin viewer for spins, what the session is missing, and the actions — which call
the same services as the API (``image_publish`` and friends, ``session_finish``).
"""

from __future__ import annotations

import contextlib
import csv
import uuid
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
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
    may_dismiss_reshoot,
    may_publish,
    may_reject,
    may_request_reshoot,
)
from images_app import selectors as image_selectors
from images_app import storage
from images_app.models import Image, ImageSignature, ReshootItem
from images_app.review import image_reject, reshoot_dismiss, reshoot_request
from images_app.rules import (
    REJECT_REASONS,
    THUMB_KEYS,
    THUMB_LARGE,
    THUMB_MEDIUM,
    reject_reasons_suggested,
)
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

# The review page's keyboard: one key per common reject reason (it rejects the current
# image with that reason), ``p`` publishes it, ← and → move between images.
REJECT_KEYS = {
    "b": "blurred",
    "u": "underexposed",
    "o": "overexposed",
    "g": "glare",
    "a": "wrong_angle",
    "c": "cropped",
    "x": "obstructed",
    "d": "dirty_vehicle",
}
PUBLISH_KEY = "p"


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
    if outcome.blocked_by_coverage:
        said.append(
            (
                messages.ERROR,
                f"Held back {len(outcome.blocked_by_coverage)} image(s): the shot list is not "
                "fully covered, and this organisation publishes only complete sessions.",
            )
        )
    if outcome.blocked_by_reshoot:
        said.append(
            (
                messages.ERROR,
                f"Held back {len(outcome.blocked_by_reshoot)} image(s) that failed QC: this "
                "organisation requires a reshoot (accept them as they are under Reshoots).",
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


class NeedsReshootFilter(admin.SimpleListFilter):
    title = "reshoots"
    parameter_name = "reshoot"

    def lookups(self, request, model_admin):
        return (("yes", "Needs reshoot"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return image_selectors.sessions_needing_reshoot(queryset)
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
    # The review queue: sessions with processed images waiting come first, oldest first;
    # compact enough for a 1366 px screen.
    list_display = (
        "hero",
        "vehicle_keys",
        "status",
        "image_summary",
        "coverage",
        "qc_failures",
        "open_reshoots",
        "where_and_who",
        "started",
    )
    list_display_links = ("vehicle_keys",)
    list_filter = (
        SiteFilter,
        "status",
        "mode",
        "started_at",
        QcFailuresFilter,
        NeedsReshootFilter,
        ReadyToPublishFilter,
    )
    list_select_related = ("vehicle", "site", "operator", "device")
    search_fields = ("vehicle__vin", "vehicle__stock")
    search_help_text = "VIN or stock number (or part of one)."
    ordering = ("started_at", "id")
    show_full_result_count = False  # one COUNT per page is enough
    list_per_page = 50
    actions = ("publish_processed", "mark_abandoned")
    change_form_template = "admin/sessions_app/capturesession/review.html"
    change_list_template = "admin/sessions_app/capturesession/change_list.html"
    fieldsets = (
        (
            "Session details",
            {
                "fields": (
                    "vehicle",
                    "site",
                    "mode",
                    "shot_list_summary",
                    "status",
                    "operator",
                    "device",
                    "started",
                    "finished",
                    "id",
                ),
            },
        ),
    )
    # Dates in the one format the console uses, the shot list in words (not raw JSON).
    readonly_fields = (
        "vehicle",
        "site",
        "mode",
        "shot_list_summary",
        "status",
        "operator",
        "device",
        "started",
        "finished",
        "id",
    )

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset & sessions_visible_to(actor=actor)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        sessions = super().get_queryset(request).select_related(*self.list_select_related)
        return image_selectors.sessions_with_image_counts(sessions)

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        # The queue: sessions with processed images waiting for review first, oldest first
        # (an expression, so not in the static ``ordering``, which names fields only).
        return (image_selectors.awaiting_review().desc(), "started_at", "id")

    # Sessions are captured by devices and finished through the API or the actions here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user)

    # --- columns

    class Media:
        css = {"all": ("sessions_app/queue.css",)}

    @admin.display(description="")
    def hero(self, session: CaptureSession) -> SafeString | str:
        if not session.hero_thumb_key:
            return ""
        return format_html(
            '<img src="{}" width="64" alt="" loading="lazy" class="hero-thumb">',
            storage.presigned_get(key=session.hero_thumb_key),
        )

    @admin.display(description="vehicle (VIN / stock)", ordering="vehicle__vin")
    def vehicle_keys(self, session: CaptureSession) -> SafeString:
        return format_html(
            '<span class="vin">{}</span><br><span class="stock">{}</span> '
            '<span class="mode">{}</span>',
            session.vehicle.vin or "—",
            session.vehicle.stock or "—",
            session.mode,
        )

    @admin.display(description="site / captured by", ordering="site__name")
    def where_and_who(self, session: CaptureSession) -> SafeString:
        return format_html(
            '{}<br><small class="counts">{}</small>', session.site, self.captured_by(session)
        )

    @admin.display(description="images", ordering="image_count")
    def image_summary(self, session: CaptureSession) -> SafeString:
        return format_html(
            '{}<br><small class="counts">{} processed · {} published · {} failed</small>',
            session.image_count,
            session.processed_count,
            session.published_count,
            session.failed_count,
        )

    @admin.display(description="coverage", ordering="covered_count")
    def coverage(self, session: CaptureSession) -> str:
        expected = session.frame_count or len(session.still_names)
        if not expected:
            return "—"
        return f"{min(session.covered_count, expected)}/{expected}"

    @admin.display(description="mode", ordering="mode")
    def mode_name(self, session: CaptureSession) -> str:
        return session.mode

    @admin.display(description="started", ordering="started_at")
    def started(self, session: CaptureSession) -> str:
        return date_format(localtime(session.started_at), "Y-m-d H:i")

    @admin.display(description="finished")
    def finished(self, session: CaptureSession) -> str:
        if session.completed_at is None:
            return "—"
        return date_format(localtime(session.completed_at), "Y-m-d H:i")

    @admin.display(description="shot list")
    def shot_list_summary(self, session: CaptureSession) -> str:
        parts = []
        if session.frame_count:
            parts.append(f"{session.frame_count}-frame spin")
        if session.still_names:
            parts.append("stills: " + ", ".join(session.still_names))
        return "; ".join(parts) or "—"

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

    @admin.display(description="reshoots", ordering="open_reshoot_count")
    def open_reshoots(self, session: CaptureSession) -> str:
        if not session.open_reshoot_count:
            return "0"
        return format_html('<strong class="reshoot-count">{}</strong>', session.open_reshoot_count)

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
                "photographers/",
                self.admin_site.admin_view(self.photographers_view),
                name="{}_{}_photographers".format(*info),
            ),
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

    def photographers_view(self, request: HttpRequest) -> HttpResponse:
        """First-time acceptance and the common reject reasons per device or operator over
        the last ``days`` (7, 30 or 90), on a page or as CSV (``?format=csv``)."""
        try:
            days = int(request.GET.get("days", "30"))
        except ValueError:
            days = 30
        days = days if days in STATS_PERIODS else 30
        until = timezone.now()
        since = until - timedelta(days=days)
        stats = image_selectors.photographer_stats(
            sessions=self.get_queryset(request), since=since, until=until
        )
        if request.GET.get("format") == "csv":
            return _photographers_csv(stats, days=days)
        context = {
            **self.admin_site.each_context(request),
            "title": "Photographers",
            "subtitle": None,
            "opts": self.opts,
            "stats": [
                {
                    "row": row,
                    "rate": _percent(row.acceptance_rate),
                    "reasons": [
                        (REJECT_REASONS.get(code, code), n) for code, n in row.top_reasons()
                    ],
                }
                for row in stats
            ],
            "days": days,
            "periods": STATS_PERIODS,
        }
        return TemplateResponse(
            request, "admin/sessions_app/capturesession/photographers.html", context
        )

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
            "reject_selected": (may_reject, self._reject_selected),
            "request_missing": (may_request_reshoot, self._request_missing),
            "dismiss_reshoot": (may_dismiss_reshoot, self._dismiss_reshoot),
            "abandon": (may_publish, self._abandon),
        }
        if action not in handlers:
            self.message_user(request, "Choose an action.", messages.ERROR)
        else:
            allowed, handler = handlers[action]
            if not allowed(request.user):
                raise PermissionDenied
            handler(request, session)
        url = reverse("admin:sessions_app_capturesession_change", args=[session.pk])
        # The keyboard's place: the image to look at next.
        with contextlib.suppress(ValueError):
            url += f"#image-{uuid.UUID(request.POST.get('next', ''))}"
        return HttpResponseRedirect(url)

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

    def _reject_selected(self, request: HttpRequest, session: CaptureSession) -> None:
        images = self._selected_images(request, session)
        if not images:
            self.message_user(request, "Select the images to reject first.", messages.WARNING)
            return
        reasons = request.POST.getlist("reasons")
        note = request.POST.get("note", "")
        rejected, refused = [], []
        for image in images:
            try:
                image_reject(image=image, actor=request.user, reasons=reasons, note=note)
            except ApplicationError as exc:
                if exc.code == "VALIDATION_ERROR":
                    self.message_user(
                        request, "Choose at least one reason to reject.", messages.ERROR
                    )
                    return
                refused.append(image)
            else:
                rejected.append(image)
        if rejected:
            labels = ", ".join(REJECT_REASONS[code] for code in REJECT_REASONS if code in reasons)
            self.message_user(
                request,
                f"Rejected {_labels(rejected)} ({labels.lower()}); a reshoot is requested.",
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                "Left images that are not processed or published: "
                + ", ".join(f"{image_label(i)} ({i.status})" for i in refused)
                + ".",
                messages.WARNING,
            )

    def _request_missing(self, request: HttpRequest, session: CaptureSession) -> None:
        """Ask the device for every frame or shot the session is missing."""
        images = list(image_selectors.session_images(session=session))
        spin = image_selectors.spin_coverage(session=session, images=images)
        stills = image_selectors.stills_coverage(session=session, images=images)
        note = request.POST.get("note", "")
        asked = []
        for slot in spin.missing if spin else []:
            reshoot_request(session=session, actor=request.user, frame_index=slot.index, note=note)
            asked.append(slot.label)
        for slot in stills.missing if stills and not session.is_spin else []:
            reshoot_request(session=session, actor=request.user, shot_name=slot.label, note=note)
            asked.append(slot.label)
        if asked:
            self.message_user(
                request, f"Asked the device for {', '.join(asked)}.", messages.SUCCESS
            )
        else:
            self.message_user(request, "Nothing is missing.", messages.INFO)

    def _dismiss_reshoot(self, request: HttpRequest, session: CaptureSession) -> None:
        """ "Accept as is": close one open reshoot item of this session."""
        try:
            item_id = uuid.UUID(request.POST.get("reshoot", ""))
        except ValueError:
            item_id = None
        item = ReshootItem.objects.filter(session_id=session.pk, pk=item_id).first()
        if item is None:
            self.message_user(request, "No such reshoot item.", messages.ERROR)
            return
        try:
            reshoot_dismiss(item=item, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.WARNING)
            return
        self.message_user(
            request, f"Accepted {item} as it is; the device no longer retakes it.", messages.SUCCESS
        )

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


STATS_PERIODS = (7, 30, 90)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f} %"


def _photographers_csv(stats: list, *, days: int) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="photographers-{days}d.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["kind", "id", "name", "reviewed", "accepted_first_time", "acceptance_rate", "reasons"]
    )
    for row in stats:
        rate = "" if row.acceptance_rate is None else f"{row.acceptance_rate:.3f}"
        reasons = "; ".join(f"{code} {n}" for code, n in row.top_reasons(len(REJECT_REASONS)))
        # A name is text its owner chose: never let a spreadsheet read it as a formula.
        name = "'" + row.name if row.name[:1] in ("=", "+", "-", "@", "\t", "\r") else row.name
        writer.writerow(
            [row.kind, row.id, name, row.reviewed, row.accepted_first_time, rate, reasons]
        )
    return response


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
    health = session.spin_health if spin is not None else None
    found_on: dict[str, set[str]] = {}
    if isinstance(health, dict):
        for finding in health.get("findings") or []:
            if isinstance(finding, dict) and finding.get("image_id"):
                found_on.setdefault(str(finding["image_id"]), set()).add(str(finding.get("type")))
    cards = [
        {
            "image": image,
            "label": image_label(image),
            "thumb": urls[image.pk].get(THUMB_MEDIUM),
            "qc_badges": _qc_badges(image),
            "qc_verdict": image_selectors.qc_verdict(image.qc),
            "suggested": " ".join(
                reject_reasons_suggested(
                    image.qc,
                    duplicate=bool(flagged.get(image.pk)),
                    spin_findings=found_on.get(str(image.pk), ()),
                )
            ),
            "reject_labels": [REJECT_REASONS.get(code, code) for code in image.reject_reasons],
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
    keys = {reason: key for key, reason in REJECT_KEYS.items()}
    return {
        "template_coverage": _template_strip(session=session, images=images),
        "reshoots": reshoot_pairs(session=session, images=images, urls=urls),
        "can_reject": may_reject(user),
        "can_dismiss": may_dismiss_reshoot(user),
        "missing_count": may_request_reshoot(user)
        and sum(
            len(coverage.missing)
            for coverage in (
                image_selectors.spin_coverage(session=session, images=images),
                None
                if session.is_spin
                else image_selectors.stills_coverage(session=session, images=images),
            )
            if coverage is not None
        ),
        "reject_reasons": [
            {"code": code, "label": label, "key": keys.get(code, "")}
            for code, label in REJECT_REASONS.items()
        ],
        "publish_key": PUBLISH_KEY,
        "session": session,
        "cards": cards,
        "spin": spin,
        "stills": image_selectors.stills_coverage(session=session, images=images),
        "spin_frames": frames,
        "spin_health": health,
        "preview_data": preview,
        "can_publish": may_publish(user),
        "can_reprocess": may_administer(user),
        "can_abandon": may_publish(user) and not session.is_finished,
        "review_action_url": reverse("admin:sessions_app_capturesession_review", args=[session.pk]),
        "session_events_url": f"{events_url}?session={session.pk}",
        "publishable_count": len(processed),
        "publishable_qc_failures": sum(1 for image in processed if qc_failed_checks(image.qc)),
    }


def _template_strip(*, session: CaptureSession, images: list[Image]) -> dict[str, Any] | None:
    """The coverage strip of a session made from a shot-list template: one cell per item,
    required or optional, covered, missing or rejected."""
    coverage = image_selectors.template_coverage(session=session, images=images)
    if coverage is None:
        return None
    template = session.shot_list_template
    cells = []
    for item in template.items:
        code = item["code"]
        state = (
            "covered"
            if code in coverage.covered
            else "rejected"
            if code in coverage.rejected
            else "missing"
        )
        cells.append(
            {
                "code": code,
                "label": item.get("label") or code,
                "category": item.get("category", ""),
                "required": bool(item.get("required")),
                "state": state,
            }
        )
    return {
        "template": template,
        "cells": cells,
        "percent": coverage.percent,
        "missing": [c["label"] for c in cells if c["required"] and c["state"] != "covered"],
        "blocks": image_selectors.coverage_blocks(session=session),
    }


def reshoot_pairs(
    *, session: CaptureSession, images: list[Image], urls: dict[Any, dict[str, str]]
) -> list[dict[str, Any]]:
    """Each reshoot item of the session with its original and its replacements, for the
    side-by-side view: the original (rejected) on the left, what the device sent since on
    the right, newest first."""
    by_id = {image.pk: image for image in images}
    replacements: dict[Any, list[Image]] = {}
    for image in images:
        if image.replaces_id is not None:
            replacements.setdefault(image.replaces_id, []).append(image)
    pairs = []
    items = ReshootItem.objects.filter(session_id=session.pk).order_by("created_at", "id")
    for item in items:
        original = by_id.get(item.image_id)
        sent = list(replacements.get(item.image_id, [])) if item.image_id else []
        fulfilled_by = by_id.get(item.replacement_id)
        if fulfilled_by is not None and fulfilled_by not in sent:
            sent.append(fulfilled_by)
        if not sent and item.image_id is None:
            # A missing frame or shot: whatever was uploaded there since it was asked for.
            sent = [
                image
                for image in images
                if image.created_at >= item.created_at
                and (
                    (item.frame_index is not None and image.frame_index == item.frame_index)
                    or (item.shot_name is not None and image.shot_name == item.shot_name)
                )
            ]
        sent.sort(key=lambda image: image.created_at, reverse=True)
        pairs.append(
            {
                "item": item,
                "label": str(item),
                "reasons": [REJECT_REASONS.get(code, code) for code in item.reasons],
                "original": original,
                "original_thumb": urls[original.pk].get(THUMB_MEDIUM) if original else None,
                "replacements": [
                    {
                        "image": image,
                        "thumb": urls[image.pk].get(THUMB_MEDIUM),
                        "qc_verdict": image_selectors.qc_verdict(image.qc),
                    }
                    for image in sent
                ],
            }
        )
    return pairs


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
