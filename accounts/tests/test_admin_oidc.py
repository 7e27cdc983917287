"""Admin login through the OIDC provider (authorization-code flow), and password login beside it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from accounts.models import User
from accounts.oidc import AdminOIDCBackend
from accounts.tests.lookalikes import GENUINE, IDN_GENUINE, LOOKALIKES, victim_of

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def start_browser_login(client: Client, provider) -> dict[str, str]:
    """Follow /oidc/authenticate/ to the provider; return the state and nonce it was sent."""
    response = client.get("/oidc/authenticate/", {"next": "/admin/"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.base_url}/authorize"
    )
    params = parse_qs(location.query)
    assert params["client_id"] == [provider.client_id]
    return {"state": params["state"][0], "nonce": params["nonce"][0]}


def finish_browser_login(client: Client, provider, state: str, **claims):
    provider.next_id_token = provider.id_token(**claims)
    return client.get("/oidc/callback/", {"code": "authorization-code", "state": state})


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_staff_user_logs_in_to_the_admin_through_the_provider(oidc_provider, admin):
    admin.oidc_issuer, admin.oidc_subject = oidc_provider.issuer, "ada-sub"
    admin.save(update_fields=["oidc_issuer", "oidc_subject"])
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    response = finish_browser_login(
        client, oidc_provider, flow["state"], sub="ada-sub", nonce=flow["nonce"]
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in_user_id(client) == str(admin.pk)
    assert client.get("/admin/").status_code == 200
    assert oidc_provider.served["/token"] == 1


def test_browser_login_links_a_staff_user_by_verified_email(oidc_provider, admin):
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    finish_browser_login(
        client,
        oidc_provider,
        flow["state"],
        sub="ada-new-sub",
        email="Ada@North.example",
        email_verified=True,
        nonce=flow["nonce"],
    )

    assert logged_in_user_id(client) == str(admin.pk)
    admin.refresh_from_db()
    assert admin.oidc_subject == "ada-new-sub"


def test_non_staff_user_is_not_let_into_the_admin(oidc_provider, operator):
    operator.is_staff = False
    operator.oidc_issuer, operator.oidc_subject = oidc_provider.issuer, "otto-sub"
    operator.save(update_fields=["is_staff", "oidc_issuer", "oidc_subject"])
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    response = finish_browser_login(
        client, oidc_provider, flow["state"], sub="otto-sub", nonce=flow["nonce"]
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert logged_in_user_id(client) is None


def test_id_token_with_another_nonce_is_refused(oidc_provider, admin):
    admin.oidc_issuer, admin.oidc_subject = oidc_provider.issuer, "ada-sub"
    admin.save(update_fields=["oidc_issuer", "oidc_subject"])
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    finish_browser_login(client, oidc_provider, flow["state"], sub="ada-sub", nonce="replayed")

    assert logged_in_user_id(client) is None


def test_id_token_for_another_client_is_refused_in_the_browser_flow_too(oidc_provider, admin):
    admin.oidc_issuer, admin.oidc_subject = oidc_provider.issuer, "ada-sub"
    admin.save(update_fields=["oidc_issuer", "oidc_subject"])
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    finish_browser_login(
        client, oidc_provider, flow["state"], sub="ada-sub", aud="other", nonce=flow["nonce"]
    )

    assert logged_in_user_id(client) is None


def test_backend_finds_the_user_of_the_identity_in_the_claims(oidc_provider, admin, reviewer):
    reviewer.oidc_issuer, reviewer.oidc_subject = oidc_provider.issuer, "rita-sub"
    reviewer.save(update_fields=["oidc_issuer", "oidc_subject"])
    claims = oidc_provider.claims(sub="rita-sub", email=admin.email, email_verified=True)

    assert AdminOIDCBackend().get_or_create_user("access", "id-token", claims) == reviewer


def test_backend_creates_no_user_for_an_unknown_identity(oidc_provider, admin):
    claims = oidc_provider.claims(sub="nobody", email="new@north.example", email_verified=True)

    assert AdminOIDCBackend().get_or_create_user("access", "id-token", claims) is None


def test_backend_is_inert_without_oidc_settings(db):
    request = RequestFactory().get("/oidc/callback/", {"code": "c", "state": "s"})

    assert AdminOIDCBackend().authenticate(request, nonce="n", code_verifier=None) is None


@pytest.mark.parametrize("configured", [False, True], ids=["oidc_unset", "oidc_set"])
def test_password_login_to_the_admin_keeps_working(request, admin, configured):
    if configured:
        request.getfixturevalue("oidc_provider")
    admin.set_password(PASSWORD)
    admin.save(update_fields=["password"])

    assert authenticate(username=admin.email, password=PASSWORD) == admin
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": admin.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(admin.pk)


# --- look-alike emails (accounts.emails: one canonical form, matched exactly)


@pytest.mark.parametrize("email", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_verified_lookalike_email_does_not_open_the_admin(
    oidc_provider, lookalike_victims, email
):
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    response = finish_browser_login(
        client,
        oidc_provider,
        flow["state"],
        sub="lookalike-sub",
        email=email,
        email_verified=True,
        nonce=flow["nonce"],
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert logged_in_user_id(client) is None
    assert client.get("/admin/").status_code == 302
    assert not User.objects.filter(oidc_subject="lookalike-sub").exists()


@pytest.mark.parametrize("email", GENUINE + IDN_GENUINE)
def test_the_genuine_email_opens_the_admin_as_its_admin(oidc_provider, lookalike_victims, email):
    client = Client()
    flow = start_browser_login(client, oidc_provider)

    finish_browser_login(
        client,
        oidc_provider,
        flow["state"],
        sub="genuine-sub",
        email=email,
        email_verified=True,
        nonce=flow["nonce"],
    )

    assert logged_in_user_id(client) == str(victim_of(email, lookalike_victims).pk)


@pytest.mark.parametrize("email", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_lookalike_username_with_the_admins_password_is_no_login(lookalike_victims, email):
    victim = victim_of(email, lookalike_victims)
    victim.set_password(PASSWORD)
    victim.save(update_fields=["password"])
    client = Client()

    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": PASSWORD})

    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    genuine = client.post(
        "/admin/login/?next=/admin/", {"username": victim.email.upper(), "password": PASSWORD}
    )
    assert genuine.status_code == 302
    assert logged_in_user_id(client) == str(victim.pk)


def test_the_libraries_user_filter_matches_the_canonical_email_only(lookalike_victims):
    backend = AdminOIDCBackend()

    assert list(backend.filter_users_by_claims({"email": "KIT.SIMS@strasse.example"})) == [
        lookalike_victims["kit.sims@strasse.example"]
    ]
    assert not backend.filter_users_by_claims({"email": "k\u0131t.sims@strasse.example"}).exists()
    assert not backend.filter_users_by_claims({}).exists()
