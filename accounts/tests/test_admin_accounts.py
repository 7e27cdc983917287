"""Who manages organisations, sites, users, devices and enrollment codes in the console."""

from __future__ import annotations

import json
import re

import pytest

from accounts.models import Device, EnrollmentCode, Site, User
from accounts.services import enrollment_code_create, enrollment_code_hash
from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from sessions_app.tests.console import console

pytestmark = pytest.mark.django_db

MANAGED = {
    "sites": "/admin/accounts/site/",
    "users": "/admin/accounts/user/",
    "devices": "/admin/accounts/device/",
    "enrollment codes": "/admin/accounts/enrollmentcode/",
    "organisation": "/admin/accounts/organization/",
}


def ids_listed(response) -> set[str]:
    """The ids of the rows a changelist links to."""
    return set(
        re.findall(r'href="/admin/accounts/\w+/([0-9a-f-]{36})/change/', response.content.decode())
    )


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@platform.example", "pw-for-root-1")


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("what", MANAGED)
@pytest.mark.parametrize("role", ["reviewer", "operator"])
def test_reviewers_and_operators_may_not_open_what_admins_manage(role, what, request):
    user = request.getfixturevalue(role)

    assert console(user).get(MANAGED[what]).status_code == 403


@pytest.mark.parametrize("what", MANAGED)
def test_an_org_admin_manages_sites_users_devices_codes_and_their_organisation(admin, what):
    assert console(admin).get(MANAGED[what]).status_code == 200


def test_the_console_home_shows_a_reviewer_only_what_they_work_with(reviewer):
    page = console(reviewer).get("/admin/").content.decode()

    for path in (
        "/admin/sessions_app/capturesession/",
        "/admin/sessions_app/vehicle/",
        "/admin/images_app/image/",
        "/admin/events_app/event/",
    ):
        assert f'href="{path}"' in page
    for path in MANAGED.values():
        assert f'href="{path}"' not in page
    assert "/admin/auth/group/" not in page


# --- organisations --------------------------------------------------------------------------


def test_an_org_admin_sees_and_edits_only_their_own_organisation(org, admin, other_org):
    client = console(admin)

    assert ids_listed(client.get(MANAGED["organisation"])) == {str(org.pk)}
    assert client.get(f"/admin/accounts/organization/{other_org.pk}/change/").status_code == 404
    assert client.get("/admin/accounts/organization/add/").status_code == 403
    response = client.post(
        f"/admin/accounts/organization/{org.pk}/change/",
        {
            "name": "Renamed Motors",
            "enrollment_policy": "open",
            "qc_thresholds": json.dumps({"sharpness_fail_below": 60}),
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.enrollment_policy) == ("Northside Motors", "open")
    assert org.qc_thresholds == {"sharpness_fail_below": 60}


def test_a_superuser_sees_every_organisation_and_its_users(org, admin, outsider, superuser):
    client = console(superuser)

    assert {str(org.pk), str(outsider.org.pk)} <= ids_listed(client.get(MANAGED["organisation"]))
    assert {str(admin.pk), str(outsider.pk)} <= ids_listed(client.get(MANAGED["users"]))


# --- sites ----------------------------------------------------------------------------------


def test_an_org_admin_adds_a_site_to_their_own_organisation(org, admin):
    response = console(admin).post("/admin/accounts/site/add/", {"name": " Wash Bay "})

    assert response.status_code == 302
    site = Site.objects.get(name="Wash Bay")
    assert site.org == org


def test_a_site_name_is_unique_within_the_organisation(org, site, admin):
    response = console(admin).post("/admin/accounts/site/add/", {"name": "Main Studio"})

    assert response.status_code == 200
    assert "Northside Motors already has a site called &#x27;Main Studio&#x27;." in (
        response.content.decode()
    )
    assert Site.objects.filter(name="Main Studio").count() == 1


def test_another_orgs_sites_are_neither_listed_nor_reachable(org, site, admin, outsider):
    theirs = outsider.sites.get()
    client = console(admin)

    assert ids_listed(client.get(MANAGED["sites"])) == {str(site.pk)}
    assert client.get(f"/admin/accounts/site/{theirs.pk}/change/").status_code == 404
    assert (
        client.post(f"/admin/accounts/site/{theirs.pk}/delete/", {"post": "yes"}).status_code == 404
    )
    assert Site.objects.filter(pk=theirs.pk).exists()


def test_the_raw_id_popup_lists_only_the_admins_sites(org, site, admin, outsider):
    page = console(admin).get(MANAGED["sites"], {"_popup": "1", "_to_field": "id"})

    assert page.status_code == 200
    assert "Main Studio" in page.content.decode()
    assert "South Studio" not in page.content.decode()


def test_the_sites_autocomplete_offers_only_the_admins_organisation(org, site, admin, outsider):
    response = console(admin).get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "user", "field_name": "sites", "term": "Studio"},
    )

    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["Main Studio"]


def test_a_reviewer_gets_no_autocomplete_of_sites(reviewer):
    response = console(reviewer).get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "user", "field_name": "sites", "term": ""},
    )

    assert response.status_code == 403


# --- users ----------------------------------------------------------------------------------


def user_form(**fields):
    return {"email": "", "name": "", "role": "reviewer", "sites": [], "is_staff": "on", **fields}


def test_an_org_admin_creates_an_sso_user_at_sites_of_their_organisation(org, site, admin):
    response = console(admin).post(
        "/admin/accounts/user/add/",
        {
            **user_form(email="New.Reviewer@North.example", name="Nina", sites=[str(site.pk)]),
            "usable_password": "false",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.reviewer@north.example")
    assert (user.org, user.role, user.is_superuser) == (org, "reviewer", False)
    assert list(user.sites.all()) == [site]
    assert not user.has_usable_password()


def test_a_user_cannot_be_given_another_orgs_site(org, admin, outsider):
    response = console(admin).post(
        "/admin/accounts/user/add/",
        {
            **user_form(email="x@north.example", sites=[str(outsider.sites.get().pk)]),
            "usable_password": "false",
        },
    )

    assert response.status_code == 200
    assert not User.objects.filter(email="x@north.example").exists()


def test_an_org_admin_cannot_make_or_see_superusers(org, admin, reviewer, superuser):
    client = console(admin)

    assert (
        "is_superuser"
        not in client.get(f"/admin/accounts/user/{reviewer.pk}/change/").content.decode()
    )
    assert str(superuser.pk) not in ids_listed(client.get(MANAGED["users"]))
    assert client.get(f"/admin/accounts/user/{superuser.pk}/change/").status_code == 404
    response = client.post(
        f"/admin/accounts/user/{reviewer.pk}/change/",
        {
            "email": reviewer.email,
            "name": reviewer.name,
            "role": "reviewer",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert not reviewer.is_superuser


def test_another_orgs_users_are_neither_listed_nor_reachable(admin, outsider):
    client = console(admin)

    assert str(outsider.pk) not in ids_listed(client.get(MANAGED["users"]))
    assert client.get(f"/admin/accounts/user/{outsider.pk}/change/").status_code == 404
    assert client.get(f"/admin/accounts/user/{outsider.pk}/password/").status_code == 404


def test_an_org_admin_sets_a_break_glass_password(admin, reviewer):
    response = console(admin).post(
        f"/admin/accounts/user/{reviewer.pk}/password/",
        {
            "password1": "correct horse battery staple",
            "password2": "correct horse battery staple",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert reviewer.check_password("correct horse battery staple")


def test_users_are_deactivated_not_deleted_by_an_org_admin(admin, reviewer):
    response = console(admin).post(f"/admin/accounts/user/{reviewer.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert User.objects.filter(pk=reviewer.pk).exists()


# --- devices --------------------------------------------------------------------------------


def test_revoking_a_device_stops_its_token_at_once(api, org, admin, device):
    client = api(device)
    ping = {"entity_type": "device", "entity_id": str(device.pk), "type": "upload_started"}
    assert client.post("/v1/events", ping, format="json").status_code == 201

    response = console(admin).post(
        MANAGED["devices"],
        {"action": "revoke", "_selected_action": [str(device.pk)]},
        follow=True,
    )

    assert "Revoked 1 device(s); their tokens no longer work." in response.content.decode()
    assert client.post("/v1/events", ping, format="json").status_code == 401
    device.refresh_from_db()
    assert device.revoked_at is not None
    revoked = Event.objects.get(type=Event.Type.DEVICE_REVOKED)
    assert (revoked.entity_id, revoked.actor_type, revoked.actor_id) == (
        device.pk,
        "user",
        admin.pk,
    )


def test_the_devices_list_shows_last_seen_app_version_and_sites(org, site, admin):
    DeviceFactory(org=org, model="Pixel 9", app_version="2.4.1", sites=[site])

    page = console(admin).get(MANAGED["devices"]).content.decode()

    assert "Pixel 9" in page and "2.4.1" in page and "Main Studio" in page


def test_another_orgs_device_cannot_be_seen_or_revoked(admin, other_org):
    theirs = DeviceFactory(org=other_org)
    client = console(admin)

    assert client.get(f"/admin/accounts/device/{theirs.pk}/change/").status_code == 404
    client.post(MANAGED["devices"], {"action": "revoke", "_selected_action": [str(theirs.pk)]})

    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_devices_are_not_created_or_deleted_in_the_console(admin, device):
    client = console(admin)

    assert client.get("/admin/accounts/device/add/").status_code == 403
    assert (
        client.post(f"/admin/accounts/device/{device.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Device.objects.filter(pk=device.pk).exists()


# --- enrollment codes -----------------------------------------------------------------------


def test_an_enrollment_code_is_shown_once_and_enrolls_a_device(api, org, admin):
    client = console(admin)

    response = client.post(
        "/admin/accounts/enrollmentcode/add/",
        {"label": "Lot phones", "uses": "2", "expires_in_days": "3"},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plain = re.search(
        r'id="plain-enrollment-code"[^>]*>([^<]+)</code>', response.content.decode()
    ).group(1)
    code = EnrollmentCode.objects.get()
    assert (code.org, code.label, code.uses_left) == (org, "Lot phones", 2)
    assert code.code_hash == enrollment_code_hash(plain)
    assert (
        plain
        not in client.get(f"/admin/accounts/enrollmentcode/{code.pk}/change/").content.decode()
    )
    assert plain not in client.get(MANAGED["enrollment codes"]).content.decode()
    enrolled = api().post(
        "/v1/auth/device",
        {
            "org_id": str(org.pk),
            "platform": "android",
            "model": "Pixel 9",
            "app_version": "2.4.1",
            "enrollment_code": plain,
        },
        format="json",
    )
    assert enrolled.status_code == 200


def test_another_orgs_enrollment_codes_are_not_listed(admin, other_org):
    theirs, _ = enrollment_code_create(org=other_org)

    assert str(theirs.pk) not in ids_listed(console(admin).get(MANAGED["enrollment codes"]))
    assert (
        console(admin).get(f"/admin/accounts/enrollmentcode/{theirs.pk}/change/").status_code == 404
    )


def test_a_superuser_creates_a_code_for_a_chosen_organisation(other_org, superuser):
    response = console(superuser).post(
        "/admin/accounts/enrollmentcode/add/",
        {"org": str(other_org.pk), "label": "", "uses": "1", "expires_in_days": "7"},
    )

    assert response.status_code == 200
    assert EnrollmentCode.objects.get().org == other_org


# --- the login page -------------------------------------------------------------------------


def test_the_login_page_offers_password_login_only_without_oidc(client, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = ""

    page = client.get("/admin/login/").content.decode()

    assert "Sign in with your organisation (SSO)" not in page
    assert 'id="login-form"' in page


def test_the_login_page_links_the_organisations_sso_when_oidc_is_configured(client, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://login.north.example/authorize"

    page = client.get("/admin/login/").content.decode()

    link = re.search(
        r'<a class="button" href="([^"]+)">Sign in with your organisation \(SSO\)</a>', page
    )
    assert link.group(1) == "/oidc/authenticate/?next=/admin/"
    assert 'id="login-form"' in page  # break-glass password login stays


# --- provisioning never crosses organisations, whoever does it and through which door


def test_even_a_superuser_cannot_limit_a_device_to_another_orgs_site(
    org, device, superuser, other_site_of_other_org
):
    response = console(superuser).post(
        f"/admin/accounts/device/{device.pk}/change/", {"sites": [str(other_site_of_other_org.pk)]}
    )

    assert response.status_code == 200  # the form again, with its error
    assert "Choose sites of its own organisation." in response.content.decode()
    assert not device.sites.exists()


def test_a_superuser_limits_a_device_to_its_own_orgs_site(org, site, device, superuser):
    response = console(superuser).post(
        f"/admin/accounts/device/{device.pk}/change/", {"sites": [str(site.pk)]}
    )

    assert response.status_code == 302
    assert list(device.sites.all()) == [site]


def test_user_create_refuses_a_site_of_another_org(org, other_site_of_other_org):
    from accounts.services import user_create
    from imaging.api.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        user_create(
            org=org,
            email="new@north.example",
            name="New",
            role="operator",
            sites=[other_site_of_other_org],
        )

    assert refused.value.code == "VALIDATION_ERROR"
    assert not User.objects.filter(email="new@north.example").exists()
