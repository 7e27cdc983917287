"""The demo organisation `make run` seeds: idempotent, with dev-only credentials in var/."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.models import EnrollmentCode, Organization, Site, User
from accounts.services import enrollment_code_create, enrollment_code_hash

DEMO_ORG = "Demo Motors"
DEMO_SITE = "Demo Studio"
DEMO_USERS = (
    ("admin@demo.example", "Dana Admin", User.Role.ADMIN),
    ("reviewer@demo.example", "Riley Reviewer", User.Role.REVIEWER),
    ("operator@demo.example", "Oli Operator", User.Role.OPERATOR),
)


def _credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


@transaction.atomic
def demo_seed() -> dict:
    """Create (or find) the demo org, its site, three users and a usable enrollment code."""
    path = _credentials_path()
    saved = json.loads(path.read_text()) if path.exists() else {}
    org, _ = Organization.objects.get_or_create(name=DEMO_ORG)
    site, _ = Site.objects.get_or_create(org=org, name=DEMO_SITE)
    passwords = saved.get("passwords", {})
    for email, name, role in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None or email not in passwords:
            passwords[email] = secrets.token_urlsafe(12)
            user = user or User(email=email)
            user.name, user.org, user.role, user.is_staff = name, org, role, True
            user.set_password(passwords[email])
            user.save()
        user.sites.add(site)
    code = saved.get("enrollment_code")
    stored = code and EnrollmentCode.objects.filter(code_hash=enrollment_code_hash(code)).first()
    if not stored or not stored.is_usable:
        _, code = enrollment_code_create(
            org=org, uses=1000, expires_in=timedelta(days=365), label="demo"
        )
    result = {
        "org_id": str(org.id),
        "site_id": str(site.id),
        "passwords": passwords,
        "enrollment_code": code,
    }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.chmod(0o600)
    return result
