"""Staff commands print the new id/code/token last and fail with a one-line reason."""

from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command

from accounts.models import Device, EnrollmentCode, Organization, Site, User
from accounts.services import enrollment_code_hash

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_provisioning_an_org_from_scratch():
    org_id = run("create_org", "Eastside Auto")
    org = Organization.objects.get(pk=org_id)
    site_id = run("create_site", "--org", "Eastside Auto", "Showroom")
    assert Site.objects.get(pk=site_id).org == org
    user_id = run(
        "create_user",
        "--org",
        org_id,
        "--email",
        "Eve@East.example",
        "--name",
        "Eve",
        "--role",
        "reviewer",
        "--site",
        "Showroom",
    )
    user = User.objects.get(pk=user_id)
    assert (user.email, user.role, user.org) == ("eve@east.example", "reviewer", org)
    assert list(user.sites.values_list("id", flat=True)) == [Site.objects.get(pk=site_id).id]
    code = run("create_enrollment_code", "--org", org_id, "--uses", "3", "--expires-in", "2")
    stored = EnrollmentCode.objects.get(code_hash=enrollment_code_hash(code))
    assert stored.uses_left == 3
    token = run("issue_token", "--email", "eve@east.example")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == user_id
    assert claims["role"] == "reviewer"


@pytest.mark.parametrize(
    "args",
    [
        ("create_site", "--org", "No Such Org", "X"),
        (
            "create_user",
            "--org",
            "No Such Org",
            "--email",
            "a@b.example",
            "--name",
            "A",
            "--role",
            "admin",
        ),
        ("create_enrollment_code", "--org", "No Such Org"),
        ("issue_token", "--email", "nobody@nowhere.example"),
        ("revoke_device", "not-a-uuid"),
    ],
)
def test_bad_input_fails_with_a_one_line_reason(args):
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    assert "\n" not in str(excinfo.value)


def test_duplicates_and_bad_values_are_refused(org):
    with pytest.raises(CommandError, match="exists"):
        run("create_org", org.name)
    with pytest.raises(CommandError, match="invalid email"):
        run("create_user", "--org", org.name, "--email", "nope", "--name", "N", "--role", "admin")
    with pytest.raises(CommandError, match="no site"):
        run(
            "create_user",
            "--org",
            org.name,
            "--email",
            "n@x.example",
            "--name",
            "N",
            "--role",
            "admin",
            "--site",
            "Nowhere",
        )
    with pytest.raises(CommandError, match="at least 1"):
        run("create_enrollment_code", "--org", org.name, "--uses", "0")


def test_revoke_device_makes_its_token_useless(api, device, org):
    from accounts.tokens import device_token_issue

    token = device_token_issue(device=device)
    assert run("revoke_device", str(device.id)) == str(device.id)
    assert Device.objects.get(pk=device.pk).revoked_at is not None
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"org_id": str(org.id), "platform": "ios", "model": "X", "app_version": "1"}
    assert client.post("/v1/auth/device", body, format="json").status_code == 401


def test_seed_demo_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = StringIO()
    call_command("seed_demo", "--no-sessions", stdout=first)
    second = StringIO()
    call_command("seed_demo", "--no-sessions", stdout=second)
    assert first.getvalue() == second.getvalue()
    assert Organization.objects.filter(name="Demo Motors").count() == 1
    assert User.objects.filter(org__name="Demo Motors").count() == 3
