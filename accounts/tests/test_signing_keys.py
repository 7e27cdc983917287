"""Signing keys rotate without logging anyone out; forged kids and algorithms are 401."""

from __future__ import annotations

import io
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from accounts import signing
from accounts.models import SigningKey
from accounts.tests.oidc_provider import hs256_token, unsigned_token
from accounts.tokens import device_token_issue, user_token_issue
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

JWKS = "/v1/.well-known/jwks.json"


@pytest.fixture
def session(org, site, device):
    return CaptureSessionFactory(org=org, site=site, device=device)


def read_session(api, token, session):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(f"/v1/sessions/{session.id}")


def header_of(token) -> dict:
    return jwt.get_unverified_header(str(token))


def claims_of(token) -> dict:
    return jwt.decode(str(token), options={"verify_signature": False})


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("signing_key_rotate", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def another_process() -> None:
    """What every other process sees once it has re-read the keys (within a minute)."""
    signing.keyring_reset()


def test_tokens_carry_the_current_keys_kid_and_algorithm(device):
    token = str(device_token_issue(device=device))
    current = SigningKey.objects.get(is_current=True)

    assert header_of(token) == {"alg": "EdDSA", "kid": current.kid, "typ": "JWT"}


def test_a_token_issued_before_a_rotation_still_works_after_it(api, device, session):
    before = str(device_token_issue(device=device))

    new_kid = rotate()
    another_process()

    assert read_session(api, before, session).status_code == 200
    after = str(device_token_issue(device=device))
    assert header_of(after)["kid"] == new_kid != header_of(before)["kid"]
    assert read_session(api, after, session).status_code == 200


def test_a_retired_key_verifies_until_its_last_token_expires_then_stops(api, device, session):
    token = str(device_token_issue(device=device))
    old_kid = header_of(token)["kid"]
    rotate()
    old = SigningKey.objects.get(kid=old_kid)
    assert old.verify_until == old.retired_at + django_settings.DEVICE_TOKEN_LIFETIME
    assert old.private_key_encrypted == ""  # a retired key never signs again
    assert read_session(api, token, session).status_code == 200

    # Thirty days later the key's last token has expired, and so has the key.
    SigningKey.objects.filter(kid=old_kid).update(verify_until=timezone.now())
    another_process()

    assert_error(read_session(api, token, session), 401, "UNAUTHORIZED")


def test_revoking_previous_keys_stops_their_tokens_even_those_already_verified(
    api, device, session
):
    token = str(device_token_issue(device=device))
    assert read_session(api, token, session).status_code == 200  # verified and kept

    rotate("--revoke-previous")
    another_process()

    assert_error(read_session(api, token, session), 401, "UNAUTHORIZED")
    assert read_session(api, device_token_issue(device=device), session).status_code == 200


def test_a_key_another_process_just_made_is_accepted_at_once(api, device, session):
    stale = signing.keyring()  # this process read the keys a few seconds ago
    rotate()
    token = str(device_token_issue(device=device))
    stale.loaded_at -= 2
    signing._keyring = stale

    assert read_session(api, token, session).status_code == 200


def forged(claims: dict, *, kid: str, key=None, alg: str = "EdDSA") -> str:
    key = key or ed25519.Ed25519PrivateKey.generate()
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def test_a_token_naming_a_kid_we_never_made_is_401(api, device, session):
    claims = claims_of(device_token_issue(device=device))

    assert_error(read_session(api, forged(claims, kid="forged"), session), 401, "UNAUTHORIZED")


def test_a_token_naming_our_kid_but_signed_with_another_key_is_401(api, device, session):
    genuine = device_token_issue(device=device)
    kid = header_of(genuine)["kid"]

    response = read_session(api, forged(claims_of(genuine), kid=kid), session)

    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("alg", ["none", "HS256-with-the-public-key"])
def test_a_token_naming_our_kid_with_another_algorithm_is_401(api, device, session, alg):
    genuine = device_token_issue(device=device)
    kid = header_of(genuine)["kid"]
    public_pem = SigningKey.objects.get(kid=kid).public_key.encode()
    if alg == "none":
        token = unsigned_token({"alg": "none", "kid": kid}, claims_of(genuine))
    else:
        token = hs256_token({"alg": "HS256", "kid": kid}, claims_of(genuine), public_pem)

    assert_error(read_session(api, token, session), 401, "UNAUTHORIZED")


def test_the_jwks_lists_the_public_keys_that_still_verify_and_nothing_private(api, device):
    first = header_of(device_token_issue(device=device))["kid"]
    second = rotate()
    revoked_too = rotate("--revoke-previous")

    response = api().get(JWKS)

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [revoked_too]
    assert first != second != revoked_too
    assert set(keys[0]) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (keys[0]["kty"], keys[0]["crv"], keys[0]["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert "public" in response["Cache-Control"]


def test_another_service_verifies_tokens_with_the_jwks_alone(api, reviewer):
    old_token = str(user_token_issue(user=reviewer))
    rotate("--algorithm", "RS256")
    new_token = str(user_token_issue(user=reviewer))

    key_set = jwt.PyJWKSet.from_dict(api().get(JWKS).json())

    for token in (old_token, new_token):
        key = key_set[header_of(token)["kid"]]
        claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name])
        assert claims["sub"] == str(reviewer.id)
    assert {k.algorithm_name for k in key_set.keys} == {"EdDSA", "RS256"}
    assert all(not getattr(k.key, "private_bytes", None) for k in key_set.keys)


def test_private_keys_are_stored_encrypted(device):
    str(device_token_issue(device=device))
    stored = SigningKey.objects.get(is_current=True).private_key_encrypted

    assert stored and "PRIVATE KEY" not in stored


def legacy_token(device) -> str:
    """Signed as before signing keys existed: HS256 with JWT_SIGNING_KEY, no kid."""
    claims = claims_of(device_token_issue(device=device))
    return jwt.encode(claims, django_settings.JWT_SIGNING_KEY, algorithm="HS256")


def test_a_token_from_before_signing_keys_keeps_working_during_the_transition(api, device, session):
    assert read_session(api, legacy_token(device), session).status_code == 200


def test_tokens_from_before_signing_keys_stop_once_the_last_could_have_expired(
    api, device, session
):
    token = legacy_token(device)
    first_key_made = timezone.now() - django_settings.DEVICE_TOKEN_LIFETIME - timedelta(days=1)
    SigningKey.objects.update(created_at=first_key_made)
    another_process()

    assert_error(read_session(api, token, session), 401, "UNAUTHORIZED")


def test_tokens_from_before_signing_keys_can_be_refused_at_once(api, device, session, settings):
    token = legacy_token(device)
    settings.JWT_LEGACY_HS256 = False
    another_process()

    assert_error(read_session(api, token, session), 401, "UNAUTHORIZED")


def test_a_changed_jwt_signing_key_stops_issuing_with_the_old_key_but_not_its_tokens(
    api, device, session, settings
):
    token = str(device_token_issue(device=device))
    settings.JWT_SIGNING_KEY = "a-new-secret-" * 4
    another_process()

    assert read_session(api, token, session).status_code == 200
    with pytest.raises(Exception, match="signing_key_rotate"):
        str(device_token_issue(device=device))
    rotate()
    assert read_session(api, device_token_issue(device=device), session).status_code == 200


def test_rotation_lists_the_keys_and_prints_the_new_kid_last(device):
    str(device_token_issue(device=device))
    out = io.StringIO()

    call_command("signing_key_rotate", stdout=out)

    lines = out.getvalue().strip().splitlines()
    current = SigningKey.objects.get(is_current=True)
    assert lines[-1] == current.kid
    assert any("current" in line and current.kid in line for line in lines)
    assert any("retired, verifies until" in line for line in lines)
