"""Provisioning and device enrollment."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.access import sites_of_another_org
from accounts.emails import UnusableEmail, domain_canonical, email_canonical, email_domain
from accounts.models import Device, EnrollmentCode, Organization, Site, User
from events_app.models import Event
from events_app.services import event_record
from imaging.api.errors import ApplicationError


def enrollment_code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def org_create(*, name: str, enrollment_policy: str = Organization.EnrollmentPolicy.CODE):
    name = name.strip()
    if not name:
        raise ApplicationError("VALIDATION_ERROR", "Organization name is empty.")
    if Organization.objects.filter(name=name).exists():
        raise ApplicationError("CONFLICT", f"Organization {name!r} exists.", status_code=409)
    return Organization.objects.create(name=name, enrollment_policy=enrollment_policy)


def site_create(*, org: Organization, name: str) -> Site:
    name = name.strip()
    if not name:
        raise ApplicationError("VALIDATION_ERROR", "Site name is empty.")
    if org.sites.filter(name=name).exists():
        raise ApplicationError("CONFLICT", f"Site {name!r} exists in {org}.", status_code=409)
    return Site.objects.create(org=org, name=name)


# The same answer whoever holds the address (another org, a platform operator) or when it
# is reserved: a provisioner learns nothing about accounts they cannot see.
EMAIL_NOT_AVAILABLE = "This email address cannot be used."


def org_email_domains_clean(*, domains: list[str]) -> list[str]:
    """An organisation's allowed email domains in canonical form, sorted, without repeats."""
    try:
        return sorted({domain_canonical(domain) for domain in domains if domain.strip()})
    except UnusableEmail as exc:
        raise ApplicationError("VALIDATION_ERROR", str(exc)) from exc


def user_email_clean(
    *, email: str, org: Organization | None, any_domain: bool, user: User | None = None
) -> str:
    """The canonical address to give a new user (or ``user``), else ``ApplicationError``.

    Who may provision what: when ``org`` lists email domains, its users get addresses at
    those domains only, unless ``any_domain`` (platform operators: superusers, and staff
    commands given ``--any-domain``). An address already held is refused with the same
    message whoever holds it. A user keeping their address is not re-checked against the
    domains (they may predate the list).
    """
    try:
        canonical = email_canonical(email)
    except UnusableEmail as exc:
        raise ApplicationError("VALIDATION_ERROR", str(exc)) from exc
    changed = user is None or canonical != user.email
    restricted = not any_domain and org is not None and bool(org.email_domains)
    if changed and restricted and email_domain(canonical) not in org.email_domains:
        allowed = ", ".join(f"@{domain}" for domain in org.email_domains)
        raise ApplicationError("VALIDATION_ERROR", f"Addresses of {org} must end in {allowed}.")
    taken = User.objects.filter(email=canonical)
    if user is not None:
        taken = taken.exclude(pk=user.pk)
    if taken.exists():
        raise ApplicationError("CONFLICT", EMAIL_NOT_AVAILABLE, status_code=409)
    return canonical


def user_create(
    *,
    org: Organization,
    email: str,
    name: str,
    role: str,
    sites: list[Site] | None = None,
    is_staff: bool = True,
    password: str | None = None,
    any_domain: bool = False,
) -> User:
    if role not in User.Role.values:
        raise ApplicationError("VALIDATION_ERROR", f"Unknown role {role!r}.")
    email = user_email_clean(email=email, org=org, any_domain=any_domain)
    if sites_of_another_org(org_id=org.id, sites=sites or []):
        raise ApplicationError("VALIDATION_ERROR", "Choose sites of the user's organisation.")
    with transaction.atomic():
        user = User.objects.create_user(
            email, password=password, name=name, org=org, role=role, is_staff=is_staff
        )
        if sites:
            user.sites.set(sites)
    return user


def enrollment_code_create(
    *, org: Organization, uses: int = 1, expires_in: timedelta = timedelta(days=7), label=""
) -> tuple[EnrollmentCode, str]:
    """Create a code; the plain value is returned once and only its hash is stored."""
    if uses < 1:
        raise ApplicationError("VALIDATION_ERROR", "uses must be at least 1.")
    if expires_in <= timedelta(0):
        raise ApplicationError("VALIDATION_ERROR", "expiry must be in the future.")
    plain = "-".join(secrets.token_hex(3).upper() for _ in range(3))
    code = EnrollmentCode.objects.create(
        org=org,
        code_hash=enrollment_code_hash(plain),
        expires_at=timezone.now() + expires_in,
        uses_left=uses,
        label=label,
    )
    return code, plain


def _enrollment_refused() -> ApplicationError:
    return ApplicationError(
        "UNAUTHORIZED", "Enrollment refused: invalid or expired enrollment code.", status_code=401
    )


@transaction.atomic
def device_enroll(
    *,
    org_id,
    platform: str,
    model: str,
    app_version: str,
    enrollment_code: str | None,
    request_id: str | None = None,
) -> Device:
    """A new device: needs a usable code of that org, unless the org has open enrollment."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise _enrollment_refused()
    code = None
    if enrollment_code:
        code = (
            EnrollmentCode.objects.select_for_update()
            .filter(org=org, code_hash=enrollment_code_hash(enrollment_code))
            .first()
        )
        if code is None or not code.is_usable:
            raise _enrollment_refused()
        EnrollmentCode.objects.filter(pk=code.pk).update(uses_left=code.uses_left - 1)
    elif org.enrollment_policy != Organization.EnrollmentPolicy.OPEN:
        raise _enrollment_refused()
    device = Device.objects.create(
        org=org,
        platform=platform,
        model=model,
        app_version=app_version,
        enrolled_with=code,
        last_seen_at=timezone.now(),
    )
    event_record(
        org_id=org.id,
        actor_type=Event.ActorType.DEVICE,
        actor_id=device.id,
        entity_type=Event.EntityType.DEVICE,
        entity_id=device.id,
        type=Event.Type.DEVICE_ENROLLED,
        meta={"platform": platform, "model": model, "app_version": app_version},
        request_id=request_id,
    )
    return device


def device_refresh(*, device: Device, platform: str, model: str, app_version: str) -> Device:
    device.platform, device.model, device.app_version = platform, model, app_version
    device.last_seen_at = timezone.now()
    device.save(update_fields=["platform", "model", "app_version", "last_seen_at"])
    return device


@transaction.atomic
def device_revoke(*, device: Device, actor=None) -> Device:
    from events_app.services import actor_fields

    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        event_record(
            org_id=device.org_id,
            entity_type=Event.EntityType.DEVICE,
            entity_id=device.id,
            type=Event.Type.DEVICE_REVOKED,
            **actor_fields(actor),
        )
    return device
