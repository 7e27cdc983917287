"""SECURITY.md, "OIDC login (/auth/login)", line by line, against a real local provider."""

from __future__ import annotations

import threading
import time

import pytest

from accounts.tests.oidc_provider import (
    ABSENT,
    SilentServer,
    closed_port_url,
    hs256_token,
    rsa_signing_key,
    unsigned_token,
)
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

SUBJECT = "otto-sub"
# A hang guard, not a timing assertion: without a timeout the login would never return.
HANG_GUARD_SECONDS = 30


@pytest.fixture
def linked(operator, oidc_provider):
    operator.oidc_issuer, operator.oidc_subject = oidc_provider.issuer, SUBJECT
    operator.save(update_fields=["oidc_issuer", "oidc_subject"])
    return operator


def login(api, id_token: str):
    return api().post("/v1/auth/login", {"id_token": id_token}, format="json")


def now() -> int:
    return int(time.time())


BAD_ID_TOKENS = {
    "wrong-aud": lambda p, k: p.id_token(sub=SUBJECT, aud="another-client"),
    "wrong-azp": lambda p, k: p.id_token(sub=SUBJECT, azp="another-client"),
    "wrong-iss": lambda p, k: p.id_token(sub=SUBJECT, iss="https://evil.example"),
    "missing-exp": lambda p, k: p.id_token(sub=SUBJECT, exp=ABSENT),
    "past-exp": lambda p, k: p.id_token(sub=SUBJECT, exp=now() - 120),
    "future-nbf": lambda p, k: p.id_token(sub=SUBJECT, nbf=now() + 300),
    "stale-iat": lambda p, k: p.id_token(sub=SUBJECT, iat=now() - 3600),
    "unknown-kid": lambda p, k: p.id_token(sub=SUBJECT, headers={"kid": "no-such-key"}),
    "alg-none": lambda p, k: unsigned_token(
        {"alg": "none", "typ": "JWT", "kid": k["rsa"].kid}, p.claims(sub=SUBJECT)
    ),
    "hs256-with-the-public-key": lambda p, k: hs256_token(
        {"alg": "HS256", "typ": "JWT", "kid": k["rsa"].kid},
        p.claims(sub=SUBJECT),
        k["rsa"].public_pem,
    ),
    "attacker-key-with-the-real-kid": lambda p, k: p.id_token(
        sub=SUBJECT, key=rsa_signing_key("attacker").with_kid(k["rsa"].kid)
    ),
    "garbage": lambda p, k: "garbage",
}


@pytest.mark.parametrize("make", BAD_ID_TOKENS.values(), ids=BAD_ID_TOKENS.keys())
def test_an_id_token_that_fails_any_check_is_401(api, oidc_provider, oidc_keys, linked, make):
    response = login(api, make(oidc_provider, oidc_keys))

    assert_error(response, 401, "UNAUTHORIZED")


def test_the_genuine_id_token_used_above_logs_in(api, oidc_provider, linked):
    assert login(api, oidc_provider.id_token(sub=SUBJECT)).status_code == 200


def test_the_jwks_is_cached_between_logins(api, oidc_provider, linked):
    for _ in range(3):
        assert login(api, oidc_provider.id_token(sub=SUBJECT)).status_code == 200

    assert oidc_provider.served["/jwks"] == 1


def test_a_provider_refusing_connections_is_503(api, oidc_provider, linked, settings):
    token = oidc_provider.id_token(sub=SUBJECT)
    settings.OIDC_OP_JWKS_ENDPOINT = closed_port_url()

    assert_error(login(api, token), 503, "SERVICE_UNAVAILABLE")


def test_a_provider_that_never_answers_is_503_after_the_timeout_then_503_at_once(
    api,
    oidc_provider,
    linked,
    settings,
):
    token = oidc_provider.id_token(sub=SUBJECT)
    settings.OIDC_TIMEOUT = 0.3
    responses = []

    with SilentServer() as silent:
        settings.OIDC_OP_JWKS_ENDPOINT = silent.url
        caller = threading.Thread(target=lambda: responses.append(login(api, token)))
        caller.start()
        caller.join(HANG_GUARD_SECONDS)
        assert not caller.is_alive(), "the JWKS fetch has no timeout"
        again = login(api, token)

        assert_error(responses[0], 503, "SERVICE_UNAVAILABLE")
        assert_error(again, 503, "SERVICE_UNAVAILABLE")
        assert silent.connections == 1  # the second login did not wait on the provider


def test_the_identity_is_issuer_and_subject(api, oidc_provider, operator):
    operator.oidc_issuer, operator.oidc_subject = "https://other-idp.example", SUBJECT
    operator.save(update_fields=["oidc_issuer", "oidc_subject"])

    assert_error(login(api, oidc_provider.id_token(sub=SUBJECT)), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    "email_verified", [False, "true", ABSENT], ids=["false", "string", "absent"]
)
def test_an_unverified_email_does_not_link_a_user(api, oidc_provider, operator, email_verified):
    token = oidc_provider.id_token(
        sub="new-sub", email=operator.email, email_verified=email_verified
    )

    assert_error(login(api, token), 403, "FORBIDDEN")
    operator.refresh_from_db()
    assert operator.oidc_subject is None


def test_a_verified_email_links_the_pre_provisioned_user(api, oidc_provider, operator):
    token = oidc_provider.id_token(sub="new-sub", email=operator.email, email_verified=True)

    response = login(api, token)

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == str(operator.id)


def test_a_valid_token_without_a_user_is_403(api, oidc_provider, operator):
    token = oidc_provider.id_token(
        sub="stranger", email="stranger@elsewhere.example", email_verified=True
    )

    assert_error(login(api, token), 403, "FORBIDDEN")
