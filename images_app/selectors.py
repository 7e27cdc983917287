"""Reads of images, scoped to who is asking.

Visibility follows the sessions (``sessions_app.selectors.sessions_visible_to``): a user
sees the images of sessions at their sites (an admin: every site of the org); a device sees
the images of sessions it created.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_
from typing import Any

import orjson
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import In

from accounts.access import actor_of_shape, visibility_shape
from accounts.actors import Actor
from images_app.models import CheckPolicy, Image, ReshootItem
from images_app.rules import (
    QC_FAIL,
    QC_FLAGGED,
    QC_PASS,
    QC_WARN,
    THUMB_SMALL,
    qc_worst,
    reject_reasons_suggested,
)
from images_app.uploads import spin_angle
from imaging.db import JSONArrayAgg, JSONRecord, PreparedQuery, columns_as_text
from sessions_app.models import CaptureSession
from sessions_app.selectors import sessions_visible_to


def images_visible_to(*, actor: Actor) -> QuerySet[Image]:
    return Image.objects.filter(
        org_id=actor.org_id, session__in=sessions_visible_to(actor=actor).values("pk")
    )


def image_get_visible(*, actor: Actor, image_id: uuid.UUID) -> Image | None:
    return images_visible_to(actor=actor).filter(pk=image_id).first()


def session_images(*, session: CaptureSession, status: str | None = None) -> QuerySet[Image]:
    """A session's images in viewing order: spins by angle, stills by capture order.

    Spin frames without an angle (should not happen) sort last; ``id`` breaks every tie.
    """
    return _images_in_viewing_order(session_id=session.id, is_spin=session.is_spin, status=status)


def _images_in_viewing_order(
    *, session_id: uuid.UUID, is_spin: bool, status: str | None
) -> QuerySet[Image]:
    images = Image.objects.filter(session_id=session_id)
    if status:
        images = images.filter(status=status)
    if is_spin:
        return images.order_by(F("angle_deg").asc(nulls_last=True), "created_at", "id")
    return images.order_by("created_at", "id")


# --- GET /images: compiled once (imaging.db), rows rather than model instances ------------

_visible_session_mode = PreparedQuery(
    lambda shape, *, org_id, principal_id, session_id: (
        sessions_visible_to(actor=actor_of_shape(shape, org_id=org_id, principal_id=principal_id))
        .filter(pk=session_id)
        .values("mode")
    )
)

_session_image_rows = PreparedQuery(
    lambda shape, *, session_id, status=None: _images_in_viewing_order(
        session_id=session_id, is_spin=shape[0], status=status
    ).values(*shape[2])
)


def session_image_page(
    *,
    actor: Actor,
    session_id: uuid.UUID,
    status: str | None,
    limit: int,
    offset: int,
    columns: tuple[str, ...],
) -> tuple[list[dict[str, Any]], int] | None:
    """A page of a visible session's images in viewing order (dicts of ``columns``) and how
    many the whole list has; None if the session is missing or not the caller's."""
    session = _visible_session_mode.first(
        visibility_shape(actor), org_id=actor.org_id, principal_id=actor.id, session_id=session_id
    )
    if session is None:
        return None
    is_spin = session["mode"] in CaptureSession.SPIN_MODES
    shape = (is_spin, bool(status), columns)
    filters = {"status": status} if status else {}
    page = _session_image_rows.rows(
        shape, limit=limit, offset=offset, session_id=session_id, **filters
    )
    # A page shorter than the limit ends the list, unless it is empty past the start.
    if len(page) < limit and (page or offset == 0):
        return page, offset + len(page)
    images = _images_in_viewing_order(session_id=session_id, is_spin=is_spin, status=status)
    return page, images.count()


# --- the review console --------------------------------------------------------------------

# The checks the pipeline writes into ``Image.qc``; each has a ``status`` (QC_STATUSES).
QC_CHECKS = ("sharpness", "exposure")
IN_PROGRESS = (Image.Status.PENDING, Image.Status.PROCESSING)
# Images a reviewer has looked at or may publish: the ones whose QC means something.
REVIEWABLE = (Image.Status.PROCESSED, Image.Status.PUBLISHED)


def qc_verdict_q(verdict: str, *, prefix: str = "") -> Q:
    """Images whose worst QC status is ``verdict`` (``prefix`` for a relation, e.g. "images__").

    ``qc_worst`` as SQL, written with plain JSON key lookups so SQLite (development) and
    PostgreSQL agree.
    """
    status = {check: f"{prefix}qc__{check}__status" for check in QC_CHECKS}
    if verdict == QC_FAIL:
        return reduce(or_, (Q(**{key: QC_FAIL}) for key in status.values()))
    if verdict == QC_WARN:
        none_failed = reduce(
            and_, (Q(**{f"{key}__in": [QC_PASS, QC_WARN]}) for key in status.values())
        )
        return none_failed & reduce(or_, (Q(**{key: QC_WARN}) for key in status.values()))
    if verdict == QC_PASS:
        return reduce(and_, (Q(**{key: QC_PASS}) for key in status.values()))
    raise ValueError(f"unknown QC verdict {verdict!r}")


def qc_verdict(qc: dict | None) -> str | None:
    """The worst status among the checks of one image, or None before processing."""
    return qc_worst(check.get("status") for check in (qc or {}).values() if isinstance(check, dict))


def _count_of_images(**conditions) -> Coalesce:
    per_session = (
        Image.objects.filter(session_id=OuterRef("pk"), **conditions)
        .order_by()
        .values("session_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(per_session, output_field=IntegerField()), 0)


def _qc_failures_of_session() -> Coalesce:
    per_session = (
        Image.objects.filter(
            qc_verdict_q(QC_FAIL), session_id=OuterRef("pk"), status__in=REVIEWABLE
        )
        .order_by()
        .values("session_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(per_session, output_field=IntegerField()), 0)


def sessions_with_image_counts(sessions: QuerySet[CaptureSession]) -> QuerySet[CaptureSession]:
    """Adds ``image_count``, ``processed_count``, ``failed_count``, ``published_count`` and
    ``qc_failure_count`` (processed or published images that failed a check).

    Correlated subqueries, not joins: a page of sessions stays one query, and PostgreSQL
    counts only the rows of the page.
    """
    return sessions.annotate(
        image_count=_count_of_images(),
        processed_count=_count_of_images(status=Image.Status.PROCESSED),
        failed_count=_count_of_images(status=Image.Status.FAILED),
        published_count=_count_of_images(status=Image.Status.PUBLISHED),
        qc_failure_count=_qc_failures_of_session(),
        open_reshoot_count=_open_reshoots_of_session(),
        covered_count=_covered_places_of_session(),
        hero_thumb_key=_hero_thumb_of_session(),
    )


def awaiting_review() -> Exists:
    """A session has processed images no reviewer has published or rejected yet."""
    return Exists(Image.objects.filter(session_id=OuterRef("pk"), status=Image.Status.PROCESSED))


def _covered_places_of_session() -> Coalesce:
    """Frames or shots with a processed or published picture (coverage's numerator)."""
    per_session = (
        Image.objects.filter(session_id=OuterRef("pk"), status__in=REVIEWABLE)
        .order_by()
        .values("session_id")
        .annotate(
            n=Count(Coalesce("frame_index", "angle_deg"), distinct=True)
            + Count("shot_name", distinct=True)
        )
        .values("n")
    )
    return Coalesce(Subquery(per_session, output_field=IntegerField()), 0)


class _JsonKeyText(Func):
    """A top-level key of a JSON object, as text. Not a key transform: Django reads a key
    like "150" as an array index."""

    function = "jsonb_extract_path_text"
    output_field = CharField()

    def __init__(self, field: str, key: str) -> None:
        super().__init__(F(field), Value(key))
        self.key = key

    def as_sqlite(self, compiler, connection, **extra_context):
        # The embedded development database: a quoted key path.
        field_sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({field_sql}, %s)", [*params, f'$."{self.key}"']


def _hero_thumb_of_session() -> Subquery:
    """The small thumbnail of the session's first good picture (published first)."""
    small = _JsonKeyText("thumb_keys", THUMB_SMALL)
    first = (
        Image.objects.filter(session_id=OuterRef("pk"), status__in=REVIEWABLE)
        .annotate(key=small)
        .exclude(key=None)
        .order_by(F("angle_deg").asc(nulls_last=True), "created_at")
        .values("key")[:1]
    )
    return Subquery(first, output_field=CharField())


def _open_reshoots_of_session() -> Coalesce:
    per_session = (
        ReshootItem.objects.filter(session_id=OuterRef("pk"), status=ReshootItem.Status.OPEN)
        .order_by()
        .values("session_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(per_session, output_field=IntegerField()), 0)


def sessions_needing_reshoot(sessions: QuerySet[CaptureSession]) -> QuerySet[CaptureSession]:
    """Sessions with open reshoot items: waiting for the device."""
    open_items = ReshootItem.objects.filter(
        session_id=OuterRef("pk"), status=ReshootItem.Status.OPEN
    )
    return sessions.filter(Exists(open_items))


def sessions_with_qc_failures(sessions: QuerySet[CaptureSession]) -> QuerySet[CaptureSession]:
    failing = Image.objects.filter(
        qc_verdict_q(QC_FAIL), session_id=OuterRef("pk"), status__in=REVIEWABLE
    )
    return sessions.filter(Exists(failing))


def sessions_ready_to_publish(sessions: QuerySet[CaptureSession]) -> QuerySet[CaptureSession]:
    """Complete sessions with processed images waiting, and nothing still uploading or
    processing."""
    images = Image.objects.filter(session_id=OuterRef("pk"))
    return sessions.filter(
        Exists(images.filter(status=Image.Status.PROCESSED)),
        ~Exists(images.filter(status__in=IN_PROGRESS)),
        status=CaptureSession.Status.COMPLETE,
    )


@dataclass(frozen=True)
class CoverageSlot:
    """One expected picture: a spin angle or a shot of the shot list."""

    label: str
    state: str  # missing | failed | rejected | in_progress | processed | published
    image: Image | None  # the picture that stands for this slot, if any
    index: int | None = None
    angle_deg: int | None = None

    @property
    def qc_verdict(self) -> str | None:
        return qc_verdict(self.image.qc) if self.image is not None else None


@dataclass(frozen=True)
class Coverage:
    """What a session was meant to capture against what it has."""

    slots: list[CoverageSlot]

    @property
    def missing(self) -> list[CoverageSlot]:
        return [slot for slot in self.slots if slot.state == "missing"]

    @property
    def failed(self) -> list[CoverageSlot]:
        return [slot for slot in self.slots if slot.state == "failed"]

    @property
    def rejected(self) -> list[CoverageSlot]:
        return [slot for slot in self.slots if slot.state == "rejected"]

    @property
    def covered(self) -> int:
        return len(self.slots) - len(self.missing) - len(self.failed) - len(self.rejected)


_SLOT_STATE_ORDER = ("published", "processed", "in_progress", "failed", "rejected")


def _slot_state(image: Image) -> str:
    if image.status in IN_PROGRESS:
        return "in_progress"
    if image.status == Image.Status.SUPERSEDED:
        return "rejected"
    return str(image.status)


def _best_image(images: list[Image]) -> Image | None:
    """The picture that stands for a slot: published first, then the newest processed
    (a retake replaces the frame), then whatever is still in progress, then a failure."""
    if not images:
        return None
    return min(
        images,
        key=lambda image: (
            _SLOT_STATE_ORDER.index(_slot_state(image)),
            -(image.published_at or image.created_at).timestamp(),
        ),
    )


def _slot(label: str, images: list[Image], **where: Any) -> CoverageSlot:
    image = _best_image(images)
    state = "missing" if image is None else _slot_state(image)
    return CoverageSlot(label=label, state=state, image=image, **where)


def spin_coverage(*, session: CaptureSession, images: Iterable[Image]) -> Coverage | None:
    """A slot per expected frame (angle ``floor(i * 360 / frame_count)``), or None when the
    session is not a spin with a usable ``frame_count``."""
    frame_count = session.frame_count
    if isinstance(frame_count, bool) or not isinstance(frame_count, int) or frame_count < 1:
        return None
    angles = [spin_angle(frame_index=i, frame_count=frame_count) for i in range(frame_count)]
    index_of_angle = {angle: i for i, angle in enumerate(angles)}
    by_frame: dict[int, list[Image]] = {i: [] for i in range(frame_count)}
    for image in images:
        index = image.frame_index
        if index is None and image.angle_deg is not None:
            index = index_of_angle.get(image.angle_deg)
        if index is not None and index in by_frame:
            by_frame[index].append(image)
    return Coverage(
        slots=[
            _slot(f"{angles[i]}°", by_frame[i], index=i, angle_deg=angles[i])
            for i in range(frame_count)
        ]
    )


def stills_coverage(*, session: CaptureSession, images: Iterable[Image]) -> Coverage | None:
    """A slot per shot of ``shot_list.stills``, or None when there is no shot list."""
    names = session.still_names
    if not names:
        return None
    by_name: dict[str, list[Image]] = {name: [] for name in names}
    for image in images:
        if image.shot_name in by_name:
            by_name[image.shot_name].append(image)
    return Coverage(slots=[_slot(name, by_name[name]) for name in names])


# --- reshoots ------------------------------------------------------------------------------

RESHOOT_COLUMNS = (
    "id",
    "session_id",
    "image_id",
    "frame_index",
    "angle_deg",
    "shot_name",
    "reasons",
    "note",
    "status",
    "created_at",
    "fulfilled_at",
    "replacement_id",
    "automatic",
    "required",
)


def reshoots_visible_to(*, actor: Actor) -> QuerySet[ReshootItem]:
    """Reshoot items of the sessions the actor sees (a device: the sessions it started)."""
    return ReshootItem.objects.filter(
        org_id=actor.org_id, session__in=sessions_visible_to(actor=actor).values("pk")
    )


def reshoot_get_visible(*, actor: Actor, reshoot_id: uuid.UUID) -> ReshootItem | None:
    """One reshoot item of a session the actor sees, or None (another org's is None)."""
    return reshoots_visible_to(actor=actor).filter(pk=reshoot_id).first()


def reshoot_page(
    *,
    actor: Actor,
    status: str | None,
    session_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the reshoot items the actor sees, oldest first, and the filtered total,
    in one query (the total as a window count)."""
    items = reshoots_visible_to(actor=actor)
    if status is not None:
        items = items.filter(status=status)
    if session_id is not None:
        items = items.filter(session_id=session_id)
    items = items.annotate(total_rows=Window(Count("*"))).order_by("created_at", "id")
    page = list(items.values(*RESHOOT_COLUMNS, "total_rows")[offset : offset + limit])
    if page:
        return page, page[0]["total_rows"]
    return page, 0 if offset == 0 else items.count()


# --- what the session detail shows: open reshoot items and frames ------------------------
#
# Devices poll the session detail, so its open items and frames come in the detail's own
# statement: each a JSON array the database builds (``session_detail_extra`` in apps.py),
# with ids and times already written as the API's text (``columns_as_text``) and each QC
# check's status picked out of the QC JSON, so nothing is decoded and formatted again per
# value. ``OuterRef("pk")`` is the session. The arrays come unordered: ordered here.


def _json_array_of(items: QuerySet, item: JSONRecord) -> Subquery:
    """``item`` for each of ``items`` (correlated to the session) as the text of one JSON
    array, or null when there is none."""
    return Subquery(
        items.order_by().values("session_id").annotate(items=JSONArrayAgg(item)).values("items"),
        output_field=TextField(),
    )


def session_reshoots_open_json(columns: tuple[str, ...]) -> Subquery:
    """The session's open items with ``columns``, for ``session_reshoots_open_from``."""
    return _json_array_of(
        ReshootItem.objects.filter(session_id=OuterRef("pk"), status=ReshootItem.Status.OPEN),
        JSONRecord(**columns_as_text(ReshootItem, columns)),
    )


def session_reshoots_open_from(items: str | None) -> list[dict[str, Any]]:
    """The open items of ``session_reshoots_open_json``, oldest first."""
    return sorted(orjson.loads(items or "[]"), key=lambda item: (item["created_at"], item["id"]))


FRAME_COLUMNS = ("id", "frame_index", "angle_deg", "shot_name", "status", "error")
FRAME_COLUMNS += ("replaces_id", "created_at")
_QC_STATUS_KEYS = tuple(f"qc_{check}_status" for check in QC_CHECKS)


def _qc_flagged() -> Q:
    """A check warned or failed: only then are the QC's details needed (for the reasons)."""
    return reduce(or_, (Q(In(KT(f"qc__{check}__status"), QC_FLAGGED)) for check in QC_CHECKS))


def session_frames_json() -> Subquery:
    """Every image of the session, for ``session_frames_from``."""
    return _json_array_of(
        Image.objects.filter(session_id=OuterRef("pk")),
        JSONRecord(
            **columns_as_text(Image, FRAME_COLUMNS),
            # Most frames pass: their QC JSON is neither written out nor read back.
            qc_text=Case(When(_qc_flagged(), then=Cast("qc", TextField())), default=None),
            **{
                key: KT(f"qc__{check}__status")
                for key, check in zip(_QC_STATUS_KEYS, QC_CHECKS, strict=True)
            },
        ),
    )


def _frame_order(frame: dict[str, Any]) -> tuple:
    # By frame (spins) or shot (stills), then upload order; as SQL sorts, nulls last.
    index, shot = frame["frame_index"], frame["shot_name"]
    return (index is None, index or 0, shot is None, shot or "", frame["created_at"], frame["id"])


def _frame_data(frame: dict[str, Any]) -> dict[str, Any]:
    verdict = qc_worst(frame.pop(key) for key in _QC_STATUS_KEYS)
    qc_text = frame.pop("qc_text")
    frame["qc"] = verdict
    # Only a frame QC flagged comes with its checks, for the reasons they point at.
    frame["qc_reasons"] = reject_reasons_suggested(orjson.loads(qc_text)) if qc_text else []
    return frame


def session_frames_from(frames: str | None) -> list[dict[str, Any]]:
    """The frames of ``session_frames_json`` by frame or shot then upload order, each with
    its processing state and QC verdict: what a device may read (``FRAME`` writes it)."""
    return [_frame_data(frame) for frame in sorted(orjson.loads(frames or "[]"), key=_frame_order)]


def session_frames(*, session_id: uuid.UUID) -> list[dict[str, Any]]:
    """``session_frames_from`` for one session (the caller already sees it)."""
    frames = CaptureSession.objects.filter(pk=session_id).values_list(
        session_frames_json(), flat=True
    )
    return session_frames_from(frames.first())


# --- shot-list coverage ------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateCoverage:
    """A session against its shot-list template: a required item is covered by a processed
    image that passed QC, or by a published one (the reviewer accepted it despite QC)."""

    required: list[str]
    optional: list[str]
    covered: list[str]
    rejected: list[str]  # required or optional items whose best picture is rejected

    @property
    def missing(self) -> list[str]:
        return [code for code in self.required if code not in self.covered]

    @property
    def percent(self) -> int:
        if not self.required:
            return 100
        return 100 * sum(code in self.covered for code in self.required) // len(self.required)


def _covers(image: Image) -> bool:
    if image.status == Image.Status.PUBLISHED:
        return True
    return image.status == Image.Status.PROCESSED and qc_verdict(image.qc) != QC_FAIL


def coverage_blocks(*, session: CaptureSession) -> bool:
    """Whether publishing the session's images waits for 100 % required coverage: its
    shot-list template says so, or its organisation's policy (``CheckPolicy.coverage``);
    either one blocking blocks. A session made without a template has nothing required."""
    template = session.shot_list_template
    if template is None:
        return False
    if template.block_publishing_below_full_coverage:
        return True
    return CheckPolicy.objects.filter(
        org_id=session.org_id, coverage=CheckPolicy.Coverage.BLOCK
    ).exists()


def template_coverage(
    *, session: CaptureSession, images: Iterable[Image] | None = None
) -> TemplateCoverage | None:
    """Coverage of the session's template, or None when it was made without one."""
    template = session.shot_list_template
    if template is None:
        return None
    if images is None:
        images = Image.objects.filter(session_id=session.pk).only(
            "id", "shot_name", "status", "qc", "created_at", "published_at"
        )
    by_code: dict[str, list[Image]] = {}
    for image in images:
        if image.shot_name:
            by_code.setdefault(image.shot_name, []).append(image)
    codes = [item["code"] for item in template.items]
    covered = [code for code in codes if any(_covers(i) for i in by_code.get(code, []))]
    rejected = [
        code
        for code in codes
        if code not in covered
        and any(
            i.status in (Image.Status.REJECTED, Image.Status.SUPERSEDED)
            for i in by_code.get(code, [])
        )
    ]
    return TemplateCoverage(
        required=template.required_codes,
        optional=[code for code in codes if code not in template.required_codes],
        covered=covered,
        rejected=rejected,
    )


# --- per photographer ----------------------------------------------------------------------


@dataclass
class PhotographerStats:
    """One device or operator over a period: reviewed first takes (published, rejected or
    superseded, not replacements), those published without a reshoot, and why the others
    were rejected."""

    kind: str  # device | operator
    id: uuid.UUID
    name: str
    reviewed: int = 0
    accepted_first_time: int = 0
    reasons: dict[str, int] | None = None

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted_first_time / self.reviewed if self.reviewed else None

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        counted = sorted((self.reasons or {}).items(), key=lambda item: (-item[1], item[0]))
        return counted[:n]


REVIEWED = (Image.Status.PUBLISHED, Image.Status.REJECTED, Image.Status.SUPERSEDED)


def photographer_stats(
    *, sessions: QuerySet[CaptureSession], since: Any, until: Any
) -> list[PhotographerStats]:
    """Stats of the photographers of ``sessions`` (already scoped to the viewer) for the
    first takes uploaded in ``[since, until)``, best acceptance first. One query."""
    rows = (
        Image.objects.filter(
            session__in=sessions.values("pk"),
            replaces__isnull=True,
            status__in=REVIEWED,
            created_at__gte=since,
            created_at__lt=until,
        )
        .annotate(reshot=Exists(ReshootItem.objects.filter(image_id=OuterRef("pk"))))
        .values(
            "status",
            "reject_reasons",
            "reshot",
            "session__device_id",
            "session__device__model",
            "session__device__platform",
            "session__operator_id",
            "session__operator__name",
            "session__operator__email",
        )
    )
    found: dict[tuple[str, Any], PhotographerStats] = {}
    for row in rows:
        if row["session__device_id"] is not None:
            key = ("device", row["session__device_id"])
            name = f"{row['session__device__model']} · {row['session__device__platform']}"
        elif row["session__operator_id"] is not None:
            key = ("operator", row["session__operator_id"])
            name = row["session__operator__name"] or row["session__operator__email"]
        else:
            continue
        stats = found.setdefault(key, PhotographerStats(kind=key[0], id=key[1], name=name))
        stats.reviewed += 1
        if row["status"] == Image.Status.PUBLISHED and not row["reshot"]:
            stats.accepted_first_time += 1
        for code in row["reject_reasons"] or []:
            stats.reasons = stats.reasons or {}
            stats.reasons[code] = stats.reasons.get(code, 0) + 1
    return sorted(
        found.values(), key=lambda s: (-(s.acceptance_rate or 0), s.name.lower(), str(s.id))
    )
