"""The organisation's spin and duplicate checks in the console: its admins edit their own
organisation's row only; reviewers and operators cannot open it."""

from __future__ import annotations

import pytest

from accounts.models import User
from images_app.models import CheckPolicy
from sessions_app.tests.console import console

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/images_app/checkpolicy/"


def change_url(policy: CheckPolicy) -> str:
    return f"{CHANGELIST}{policy.pk}/change/"


FORM = {
    "coverage": "warn",
    "qc_reshoot": "suggest",
    "spin_health": "block",
    "duplicates": "reject",
    "duplicate_window_days": "30",
}


def test_an_org_admin_gets_their_orgs_row_with_the_defaults_and_edits_it(admin, org, other_org):
    theirs = CheckPolicy.objects.create(org=other_org, duplicates="reject")
    client = console(admin)

    page = client.get(CHANGELIST)

    assert page.status_code == 200
    mine = CheckPolicy.objects.get(org=org)
    assert (mine.spin_health, mine.duplicates, mine.duplicate_window_days) == ("warn", "warn", 90)
    assert change_url(mine) in page.content.decode()
    assert change_url(theirs) not in page.content.decode()

    response = client.post(change_url(mine), {**FORM, "org": str(other_org.pk)})

    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.org_id, mine.spin_health, mine.duplicates, mine.duplicate_window_days) == (
        org.pk,
        "block",
        "reject",
        30,
    )
    theirs.refresh_from_db()
    assert (theirs.spin_health, theirs.duplicates) == ("warn", "reject")


def test_another_orgs_row_is_a_404_to_an_org_admin(admin, other_org):
    theirs = CheckPolicy.objects.create(org=other_org)
    client = console(admin)

    assert client.get(change_url(theirs)).status_code == 404
    assert client.post(change_url(theirs), FORM).status_code == 404
    theirs.refresh_from_db()
    assert theirs.spin_health == "warn"


def test_an_org_admin_neither_adds_nor_deletes_a_row(admin, org):
    client = console(admin)
    client.get(CHANGELIST)
    mine = CheckPolicy.objects.get(org=org)

    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CheckPolicy.objects.filter(org=org).exists()


@pytest.mark.parametrize("role", ["reviewer", "operator"])
def test_reviewers_and_operators_cannot_open_or_change_the_policy(role, org, request):
    user = request.getfixturevalue(role)
    policy = CheckPolicy.objects.create(org=org)
    client = console(user)

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(policy)).status_code == 403
    assert client.post(change_url(policy), FORM).status_code == 403
    policy.refresh_from_db()
    assert policy.spin_health == "warn"
    assert f'href="{CHANGELIST}"' not in client.get("/admin/").content.decode()


def test_a_superuser_sees_every_orgs_row_and_adds_one(org, other_org):
    root = User.objects.create_superuser("root@platform.example", "pw-for-root-1")
    theirs = CheckPolicy.objects.create(org=other_org)
    client = console(root)

    response = client.post(f"{CHANGELIST}add/", {**FORM, "org": str(org.pk)})

    assert response.status_code == 302
    assert CheckPolicy.objects.get(org=org).spin_health == "block"
    page = client.get(CHANGELIST).content.decode()
    assert change_url(theirs) in page
    # A superuser belongs to no organisation: no row is made for them.
    assert CheckPolicy.objects.count() == 2
