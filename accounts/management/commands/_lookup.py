"""Shared argument lookups for the staff commands: by uuid or by name/email."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from accounts.emails import UnusableEmail, email_canonical
from accounts.models import Organization, Site, User


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def org_lookup(value: str) -> Organization:
    pk = _as_uuid(value)
    org = (
        Organization.objects.filter(pk=pk).first()
        if pk
        else Organization.objects.filter(name=value).first()
    )
    if org is None:
        raise CommandError(f"no organization {value!r}")
    return org


def site_lookup(org: Organization, value: str) -> Site:
    pk = _as_uuid(value)
    site = org.sites.filter(pk=pk).first() if pk else org.sites.filter(name=value).first()
    if site is None:
        raise CommandError(f"no site {value!r} in {org.name}")
    return site


def user_lookup(email: str) -> User:
    try:
        canonical = email_canonical(email)
    except UnusableEmail as exc:
        raise CommandError(f"no user {email!r}: {exc}") from exc
    user = User.objects.filter(email=canonical).first()
    if user is None:
        raise CommandError(f"no user {email!r}")
    return user
