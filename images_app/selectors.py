"""Reads of images, scoped to who is asking.

Visibility follows the sessions (``sessions_app.selectors.sessions_visible_to``): a user
sees the images of sessions at their sites (an admin: every site of the org); a device sees
the images of sessions it created.
"""

from __future__ import annotations

import uuid

from django.db.models import F, QuerySet

from images_app.models import Image
from imaging.api.authentication import Actor
from sessions_app.models import CaptureSession
from sessions_app.selectors import sessions_visible_to


def images_visible_to(*, actor: Actor) -> QuerySet[Image]:
    return Image.objects.filter(
        org_id=actor.org_id, session__in=sessions_visible_to(actor=actor).values("pk")
    )


def image_get_visible(*, actor: Actor, image_id: uuid.UUID) -> Image | None:
    return images_visible_to(actor=actor).filter(pk=image_id).first()


def session_get_visible(*, actor: Actor, session_id: uuid.UUID) -> CaptureSession | None:
    return sessions_visible_to(actor=actor).filter(pk=session_id).first()


def session_images(*, session: CaptureSession, status: str | None = None) -> QuerySet[Image]:
    """A session's images in viewing order: spins by angle, stills by capture order.

    Spin frames without an angle (should not happen) sort last; ``id`` breaks every tie.
    """
    images = Image.objects.filter(session=session)
    if status:
        images = images.filter(status=status)
    if session.is_spin:
        return images.order_by(F("angle_deg").asc(nulls_last=True), "created_at", "id")
    return images.order_by("created_at", "id")
