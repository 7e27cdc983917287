"""SECURITY.md, "Tokens (API2)", line by line, through HTTP."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings

from accounts.models import User
from accounts.services import device_revoke
from accounts.tests.oidc_provider import hs256_token, unsigned_token
from accounts.tokens import device_token_issue, user_token_issue
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(org, site, device):
    """The device's own session: its token may read it."""
    return CaptureSessionFactory(org=org, site=site, device=device)


def claims_of(token) -> dict:
    return jwt.decode(str(token), options={"verify_signature": False})


def signed(claims: dict) -> str:
    return jwt.encode(claims, django_settings.JWT_SIGNING_KEY, algorithm="HS256")


def public_key_pem() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def changed_claim(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = {**json.loads(base64.urlsafe_b64decode(payload + "==")), **changes}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def without(claims: dict, name: str) -> dict:
    return {k: v for k, v in claims.items() if k != name}


FORGERIES = {
    "alg-none": lambda c, o: unsigned_token({"alg": "none", "typ": "JWT"}, c),
    "hs256-signed-with-a-public-key": lambda c, o: hs256_token(
        {"alg": "HS256", "typ": "JWT"}, c, public_key_pem()
    ),
    "hs256-signed-with-another-secret": lambda c, o: jwt.encode(c, "x" * 64, algorithm="HS256"),
    "changed-org-claim": lambda c, o: changed_claim(signed(c), org_id=str(o.id)),
    "changed-sub-claim": lambda c, o: changed_claim(signed(c), sub=str(o.id)),
    "expired": lambda c, o: signed({**c, "exp": int(time.time()) - 5}),
    "no-exp": lambda c, o: signed(without(c, "exp")),
    "unknown-type": lambda c, o: signed({**c, "typ": "access"}),
    "no-type": lambda c, o: signed(without(c, "typ")),
    "garbage": lambda c, o: "not.a.token",
}


def assert_refused(response) -> None:
    body = assert_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")
    text = response.content.decode()
    # simplejwt's default body lists every token class it tried, with their messages.
    for leak in ("token_class", "AccessToken", "messages", "token_type", "Token is invalid"):
        assert leak not in text
    assert body["error"]["details"] == {}


def with_token(api, token: str):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_or_expired_device_token_is_401(api, device, session, other_org, forge):
    claims = claims_of(device_token_issue(device=device))

    response = with_token(api, forge(claims, other_org)).get(f"/v1/sessions/{session.id}")

    assert_refused(response)


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_or_expired_user_token_is_401(api, admin, other_org, forge):
    claims = claims_of(user_token_issue(user=admin))

    assert_refused(with_token(api, forge(claims, other_org)).get("/v1/sessions"))


def test_the_genuine_tokens_used_above_are_accepted(api, device, admin, session):
    assert api(device).get(f"/v1/sessions/{session.id}").status_code == 200
    assert api(admin).get("/v1/sessions").status_code == 200


def test_user_claims_retyped_as_a_device_token_are_401(api, admin, session):
    retyped = signed({**claims_of(user_token_issue(user=admin)), "typ": "device"})

    assert_refused(with_token(api, retyped).get(f"/v1/sessions/{session.id}"))


def test_device_claims_retyped_as_a_user_token_are_401(api, device):
    retyped = signed({**claims_of(device_token_issue(device=device)), "typ": "user"})

    assert_refused(with_token(api, retyped).get("/v1/sessions"))


def test_a_valid_device_token_where_a_user_is_needed_is_403(api, device):
    assert_error(api(device).get("/v1/sessions"), 403, "FORBIDDEN")


def test_a_valid_user_token_where_a_device_is_needed_is_401(api, reviewer, org):
    body = {"org_id": str(org.id), "platform": "ios", "model": "X", "app_version": "2"}

    response = api(reviewer).post("/v1/auth/device", body, format="json")

    assert_error(response, 401, "UNAUTHORIZED")


def test_a_revoked_device_within_its_token_lifetime_is_401(api, device, session):
    client = api(device)
    device_revoke(device=device)

    assert_refused(client.get(f"/v1/sessions/{session.id}"))


def test_a_deactivated_user_within_its_token_lifetime_is_401(api, reviewer):
    client = api(reviewer)
    User.objects.filter(pk=reviewer.pk).update(is_active=False)

    assert_refused(client.get("/v1/sessions"))


def test_a_deleted_user_within_its_token_lifetime_is_401(api, reviewer):
    client = api(reviewer)
    reviewer.delete()

    assert_refused(client.get("/v1/sessions"))


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Token abc", "Basic dXNlcjpwYXNz", "Bearer \u00e9t\u00e9"],
    ids=["no-token", "two-tokens", "other-scheme", "basic", "not-ascii"],
)
def test_malformed_authorization_headers_are_401_in_the_envelope(api, header):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_refused(client.get("/v1/sessions"))
