"""Who may give which email address to a user, and what a refusal tells the provisioner.

An org admin provisions addresses at their organisation's email domains only (when the
organisation has a list; superusers set it and may provision anything). A refusal because
the address is held says the same whoever holds it: another org, a superuser, or this org.
"""

from __future__ import annotations

import html
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from sessions_app.tests.console import console

pytestmark = pytest.mark.django_db

ADD = "/admin/accounts/user/add/"
NOT_AVAILABLE = "This email address cannot be used."


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@platform.example", "pw-for-root-1")


def errors(response) -> list[str]:
    """The error messages a console form shows."""
    items = re.findall(
        r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
    )
    return [html.unescape(text) for item in items for text in re.findall(r"<li>(.*?)</li>", item)]


def add_user(client, email: str, **fields):
    body = {"email": email, "name": "New", "role": "reviewer", "is_staff": "on"}
    return client.post(ADD, {**body, "usable_password": "false", **fields})


def north_only(org) -> None:
    org.email_domains = ["north.example"]
    org.save(update_fields=["email_domains"])


@pytest.mark.parametrize(
    "email",
    ["oscar@south.example", "OSCAR@South.Example", "root@platform.example", "rita@north.example"],
    ids=["another org", "another org, other case", "a superuser", "this org"],
)
def test_an_address_someone_holds_is_refused_with_the_same_words_whoever_it_is(
    admin, reviewer, outsider, superuser, email
):
    response = add_user(console(admin), email)

    assert response.status_code == 200
    assert errors(response) == [NOT_AVAILABLE]
    page = response.content.decode()
    assert outsider.org.name not in page
    assert "exists" not in page
    assert User.objects.filter(email=email.lower()).count() == 1


def test_an_org_admin_provisions_only_at_their_organisations_domains(org, admin, outsider):
    north_only(org)
    client = console(admin)

    free = add_user(client, "newcomer@south.example")
    held = add_user(client, outsider.email)

    assert errors(free) == ["Addresses of Northside Motors must end in @north.example."]
    assert errors(held) == errors(free)  # nothing said about who holds an address there
    assert not User.objects.filter(email="newcomer@south.example").exists()
    assert add_user(client, "Newcomer@North.example").status_code == 302
    assert User.objects.get(email="newcomer@north.example").org == org


def test_an_org_admin_cannot_move_a_user_to_another_domain(org, admin, reviewer):
    north_only(org)

    response = console(admin).post(
        f"/admin/accounts/user/{reviewer.pk}/change/",
        {
            "email": "rita@south.example",
            "name": reviewer.name,
            "role": "reviewer",
            "is_active": "on",
            "is_staff": "on",
        },
    )

    assert response.status_code == 200
    reviewer.refresh_from_db()
    assert reviewer.email == "rita@north.example"


def test_a_user_from_before_the_domain_list_keeps_their_address(org, admin, reviewer):
    org.email_domains = ["northside.example"]
    org.save(update_fields=["email_domains"])

    response = console(admin).post(
        f"/admin/accounts/user/{reviewer.pk}/change/",
        {
            "email": reviewer.email,
            "name": "Rita R.",
            "role": "reviewer",
            "is_active": "on",
            "is_staff": "on",
        },
    )

    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert (reviewer.email, reviewer.name) == ("rita@north.example", "Rita R.")


def test_a_lookalike_address_cannot_be_provisioned(admin):
    response = add_user(console(admin), "k\u0131t@north.example")

    assert response.status_code == 200
    assert "plain ASCII" in errors(response)[0]
    assert User.objects.filter(org=admin.org).count() == 1


def test_a_superuser_provisions_any_address_in_any_organisation(org, superuser):
    north_only(org)

    response = add_user(console(superuser), "Guest@Elsewhere.example", org=str(org.pk))

    assert response.status_code == 302
    assert User.objects.get(email="guest@elsewhere.example").org == org


def test_only_a_superuser_sets_an_organisations_email_domains(org, admin, superuser):
    change = f"/admin/accounts/organization/{org.pk}/change/"
    settings_of_org = {"name": org.name, "enrollment_policy": "code", "qc_thresholds": "{}"}

    console(admin).post(change, {**settings_of_org, "email_domains": "south.example"})
    org.refresh_from_db()
    assert org.email_domains == []

    refused = console(superuser).post(
        change, {**settings_of_org, "email_domains": "\u017ftrasse.example"}
    )
    assert refused.status_code == 200
    assert "IDNA2008" in errors(refused)[0]

    response = console(superuser).post(
        change,
        {**settings_of_org, "email_domains": "North.Example\n\u00e5land.example, north.example"},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.email_domains == ["north.example", "xn--land-poa.example"]


def test_an_org_admin_can_neither_set_nor_probe_sso_identities(admin, reviewer, outsider):
    outsider.oidc_issuer, outsider.oidc_subject = "https://idp.example", "oscar-sub"
    outsider.save(update_fields=["oidc_issuer", "oidc_subject"])
    client = console(admin)
    change = f"/admin/accounts/user/{reviewer.pk}/change/"

    assert 'name="oidc_subject"' not in client.get(change).content.decode()
    response = client.post(
        change,
        {
            "email": reviewer.email,
            "name": reviewer.name,
            "role": "reviewer",
            "is_active": "on",
            "is_staff": "on",
            "oidc_issuer": "https://idp.example",
            "oidc_subject": "oscar-sub",
        },
    )

    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert reviewer.oidc_subject is None


def test_a_superuser_setting_a_taken_identity_gets_a_generic_refusal(reviewer, outsider, superuser):
    outsider.oidc_issuer, outsider.oidc_subject = "https://idp.example", "oscar-sub"
    outsider.save(update_fields=["oidc_issuer", "oidc_subject"])

    response = console(superuser).post(
        f"/admin/accounts/user/{reviewer.pk}/change/",
        {
            "email": reviewer.email,
            "name": reviewer.name,
            "org": str(reviewer.org_id),
            "role": "reviewer",
            "is_active": "on",
            "is_staff": "on",
            "oidc_issuer": "https://idp.example",
            "oidc_subject": "oscar-sub",
        },
    )

    assert response.status_code == 200
    assert errors(response) == ["This sign-in identity cannot be used."]


# --- the staff command uses the same rules (accounts.services.user_create)


def create_user(org, email: str, *extra: str) -> str:
    out = StringIO()
    call_command(
        "create_user", "--org", org.name, "--email", email, "--name", "N", "--role", "reviewer",
        *extra, stdout=out,
    )  # fmt: skip
    return out.getvalue().strip()


def test_the_create_user_command_refuses_a_held_address_without_naming_its_org(org, outsider):
    with pytest.raises(CommandError) as excinfo:
        create_user(org, "Oscar@South.example")

    assert str(excinfo.value) == NOT_AVAILABLE


def test_the_create_user_command_keeps_to_the_org_domains_unless_told_otherwise(org):
    north_only(org)

    with pytest.raises(CommandError, match=r"must end in @north\.example"):
        create_user(org, "eve@east.example")
    user_id = create_user(org, "eve@east.example", "--any-domain")

    assert User.objects.get(pk=user_id).email == "eve@east.example"
