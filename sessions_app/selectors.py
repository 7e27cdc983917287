"""Reads of capture sessions, always scoped to what the caller may see.

Scope: everything is limited to the caller's org. Admins see every site of it; operators
and reviewers their own sites; devices the sites they are limited to (none = all) and,
among those, only the sessions they created themselves. The database decides on every
request: a removed site membership hides that site's sessions at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import (
    Count,
    Expression,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Coalesce

from accounts.access import (
    actor_of_shape,
    may_use_site_of_row,
    site_ids_usable_by,
    visibility_shape,
)
from accounts.actors import Actor
from imaging.db import PreparedQuery
from sessions_app.models import CaptureSession


def sessions_visible_to(*, actor: Actor) -> QuerySet[CaptureSession]:
    sessions = CaptureSession.objects.filter(org_id=actor.org_id)
    if actor.is_device:
        assert actor.device is not None
        # The site rule on the session's own site_id: cheaper to build and compile than a
        # subquery over the sites (a session's site is always of the session's org).
        return sessions.filter(may_use_site_of_row(actor=actor), device_id=actor.device.id)
    site_ids = site_ids_usable_by(actor=actor)
    if site_ids is not None:
        sessions = sessions.filter(site_id__in=site_ids)
    return sessions


def _image_count() -> Coalesce:
    # A correlated subquery rather than Count("images") over a join: PostgreSQL can then
    # count only the rows of the page instead of grouping every matching session first.
    # Images point at their session (``related_name="images"``); the model is reached
    # through that relation, as sessions sit below images and import nothing of theirs.
    images = CaptureSession._meta.get_field("images").related_model
    per_session = (
        images.objects.filter(session_id=OuterRef("pk"))
        .order_by()
        .values("session_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(per_session, output_field=IntegerField()), 0)


def _session_list_query(
    shape: tuple[str, bool, bool, bool, tuple[str, ...]],
    *,
    org_id: uuid.UUID,
    principal_id: uuid.UUID,
    site_id: uuid.UUID | None = None,
    status: str | None = None,
    vehicle_id: uuid.UUID | None = None,
) -> QuerySet[dict[str, Any]]:
    visibility, _, _, _, columns = shape
    actor = actor_of_shape(visibility, org_id=org_id, principal_id=principal_id)
    sessions = sessions_visible_to(actor=actor)
    if site_id is not None:
        sessions = sessions.filter(site_id=site_id)
    if status is not None:
        sessions = sessions.filter(status=status)
    if vehicle_id is not None:
        sessions = sessions.filter(vehicle_id=vehicle_id)
    return (
        sessions.annotate(image_count=_image_count(), total_rows=Window(Count("*")))
        .order_by("-started_at", "-id")
        .values(*columns, "total_rows")
    )


_session_list = PreparedQuery(_session_list_query)


def session_list_page(
    *,
    actor: Actor,
    columns: tuple[str, ...],
    limit: int,
    offset: int,
    site_id: uuid.UUID | None = None,
    status: str | None = None,
    vehicle_id: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the sessions the actor sees, newest first (id breaks ties), one dict per
    session with ``columns`` (``values()`` names, e.g. ``site__name``; ``image_count`` is
    there to ask for), and the length of the whole filtered list.

    Rows rather than model instances (a page built 200 of them, a fifth of the request's
    CPU), with what an item embeds joined in, and ``total_rows``, the length of the whole
    list as a window count, so that a page and its total are one query. An empty page has
    no row to carry it: a ``COUNT`` then gives the total, unless the list is empty.
    """
    filters = {"site_id": site_id, "status": status, "vehicle_id": vehicle_id}
    given = {name: value for name, value in filters.items() if value is not None}
    shape = (
        visibility_shape(actor),
        site_id is not None,
        status is not None,
        vehicle_id is not None,
        columns,
    )
    ids = {"org_id": actor.org_id, "principal_id": actor.id}
    page = _session_list.rows(shape, limit=limit, offset=offset, **ids, **given)
    if page:
        return page, page[0]["total_rows"]
    if offset == 0:
        return page, 0
    return page, _session_list_query(shape, **ids, **given).count()


def _session_detail_query(
    shape: tuple[str, tuple[str, ...], tuple[tuple[str, Callable[[], Expression]], ...]],
    *,
    org_id: uuid.UUID,
    principal_id: uuid.UUID,
    session_id: uuid.UUID,
) -> QuerySet[dict[str, Any]]:
    visibility, columns, extras = shape
    actor = actor_of_shape(visibility, org_id=org_id, principal_id=principal_id)
    sessions = sessions_visible_to(actor=actor).filter(pk=session_id)
    if "image_count" in columns:
        sessions = sessions.annotate(image_count=_image_count())
    return sessions.values(*columns, **{name: value() for name, value in extras})


_session_detail = PreparedQuery(_session_detail_query)


def session_detail_row(
    *,
    actor: Actor,
    session_id: uuid.UUID,
    columns: tuple[str, ...],
    extras: tuple[tuple[str, Callable[[], Expression]], ...] = (),
) -> dict[str, Any] | None:
    """One session with ``columns`` (``values()`` names, what it embeds joined in;
    ``image_count`` is there to ask for) and ``extras`` (name, expression over the session),
    or None if missing or not the caller's."""
    return _session_detail.first(
        (visibility_shape(actor), columns, extras),
        org_id=actor.org_id,
        principal_id=actor.id,
        session_id=session_id,
    )


def session_get(*, actor: Actor, session_id: uuid.UUID) -> CaptureSession | None:
    """One session, or None if missing or not the caller's."""
    return sessions_visible_to(actor=actor).filter(pk=session_id).first()
