"""Reads of vehicles and their publications, scoped to what the caller may see.

A vehicle is seen by admins of its organisation, and by reviewers who see one of its
capture sessions (a session at one of their sites): the site rules of ``accounts.access``.
Another organisation's vehicle is simply not found (404).
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from accounts.access import may_use_site_of_row, sees_all_sites
from accounts.actors import Actor
from publishing.models import Publication, PublicationVersion
from sessions_app.models import CaptureSession, Vehicle


def vehicles_visible_to(*, actor: Actor) -> QuerySet[Vehicle]:
    vehicles = Vehicle.objects.filter(org_id=actor.org_id)
    if sees_all_sites(actor):
        return vehicles
    sessions = CaptureSession.objects.filter(
        may_use_site_of_row(actor=actor), vehicle_id=OuterRef("pk")
    )
    return vehicles.filter(Exists(sessions))


def vehicle_get_visible(*, actor: Actor, vehicle_id: uuid.UUID) -> Vehicle | None:
    return vehicles_visible_to(actor=actor).filter(pk=vehicle_id).first()


def publication_of(*, vehicle: Vehicle) -> Publication | None:
    return Publication.objects.filter(vehicle_id=vehicle.pk).select_related("vehicle").first()


def live_version(*, publication: Publication) -> PublicationVersion | None:
    if not publication.live_version:
        return None
    return publication.versions.filter(number=publication.live_version).first()


def versions_page(*, publication: Publication, limit: int, offset: int):
    versions = publication.versions.select_related("created_by").order_by("-number")
    return list(versions[offset : offset + limit]), versions.count()


def live_publications(*, org_id: uuid.UUID) -> QuerySet[Publication]:
    """The org's live publications with their live version (for the feeds), oldest first."""
    return (
        Publication.objects.filter(
            org_id=org_id, status=Publication.Status.LIVE, live_version__gt=0
        )
        .select_related("vehicle")
        .order_by("updated_at", "id")
    )
