"""POST /v1/auth/login against a real OIDC provider running on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
from drf_spectacular.generators import SchemaGenerator

from accounts import signing
from accounts.authentication import principal_for, read_token
from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.tests.lookalikes import GENUINE, IDN_GENUINE, LOOKALIKES, victim_of
from accounts.tests.oidc_provider import (
    ABSENT,
    SilentServer,
    closed_port_url,
    hs256_token,
    rsa_signing_key,
    unsigned_token,
)

pytestmark = pytest.mark.django_db

URL = "/v1/auth/login"


def link(user: User, provider, subject: str) -> User:
    user.oidc_issuer, user.oidc_subject = provider.issuer, subject
    user.save(update_fields=["oidc_issuer", "oidc_subject"])
    return user


def login(api, id_token, **extra):
    return api().post(URL, {"id_token": id_token}, format="json", **extra)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert body["request_id"] == response["X-Request-ID"]


def access_claims(access_token: str) -> dict:
    claims, _kid = signing.token_verify(access_token)  # signature checked with our keys
    return claims


# --- valid tokens


def test_valid_rs256_id_token_returns_a_user_token_with_the_contract_claims(
    api, oidc_provider, oidc_keys, operator, site
):
    link(operator, oidc_provider, "otto-sub")

    response = login(api, oidc_provider.id_token(key=oidc_keys["rsa"], sub="otto-sub"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"user_id", "access_token", "expires_in"}
    assert body["user_id"] == str(operator.id)
    assert body["expires_in"] == 28800
    claims = access_claims(body["access_token"])
    assert claims["sub"] == str(operator.id)
    assert claims["org_id"] == str(operator.org_id)
    assert claims["role"] == "operator"
    assert claims["site_ids"] == [str(site.id)]
    assert claims["typ"] == "user"
    assert abs(claims["exp"] - (time.time() + 28800)) < 60


def test_valid_es256_id_token_is_accepted(api, oidc_provider, oidc_keys, reviewer, site):
    link(reviewer, oidc_provider, "rita-sub")

    response = login(api, oidc_provider.id_token(key=oidc_keys["ec"], sub="rita-sub"))

    assert response.status_code == 200, response.content
    claims = access_claims(response.json()["access_token"])
    assert claims["sub"] == str(reviewer.id)
    assert claims["role"] == "reviewer"
    assert claims["site_ids"] == [str(site.id)]


def test_the_returned_token_identifies_the_user_to_the_api(api, oidc_provider, admin):
    link(admin, oidc_provider, "ada-sub")
    token = login(api, oidc_provider.id_token(sub="ada-sub")).json()["access_token"]

    actor = principal_for(read_token(token))

    assert (actor.kind, actor.user, actor.org_id) == ("user", admin, admin.org_id)


def test_several_audiences_are_accepted_when_azp_names_this_client(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")
    token = oidc_provider.id_token(
        sub="otto-sub",
        aud=[oidc_provider.client_id, "another-client"],
        azp=oidc_provider.client_id,
    )

    assert login(api, token).status_code == 200


def test_clock_skew_within_the_leeway_is_tolerated(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")
    now = int(time.time())
    token = oidc_provider.id_token(sub="otto-sub", iat=now + 10, nbf=now + 10)

    assert login(api, token).status_code == 200


def test_a_stale_bearer_header_does_not_stand_in_the_way_of_login(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")

    response = login(
        api, oidc_provider.id_token(sub="otto-sub"), HTTP_AUTHORIZATION="Bearer expired.or.junk"
    )

    assert response.status_code == 200, response.content


def test_login_by_a_linked_identity_takes_three_queries(
    api, oidc_provider, operator, django_assert_num_queries
):
    link(operator, oidc_provider, "otto-sub")
    token = oidc_provider.id_token(sub="otto-sub")
    signing.keyring()  # a running process holds its signing keys (re-read once a minute)

    # user by (issuer, subject); last_login update; site ids for the token.
    with django_assert_num_queries(3):
        assert login(api, token).status_code == 200


# --- invalid tokens: 401 for every one of them


def _now() -> int:
    return int(time.time())


def _forged_hs256_with_public_key(provider, keys) -> str:
    rsa_key = keys["rsa"]
    header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
    return hs256_token(header, provider.claims(sub="otto-sub"), rsa_key.public_pem)


def _tampered(provider, keys) -> str:
    genuine = provider.id_token(sub="someone-else")
    forged = provider.id_token(sub="otto-sub")
    header, _, signature = genuine.split(".")
    return f"{header}.{forged.split('.')[1]}.{signature}"


INVALID_TOKENS = {
    "wrong_aud": lambda p, k: p.id_token(sub="otto-sub", aud="another-client"),
    "aud_list_without_our_client": lambda p, k: p.id_token(sub="otto-sub", aud=["a", "b"]),
    "several_aud_without_azp": lambda p, k: p.id_token(
        sub="otto-sub", aud=[p.client_id, "another-client"]
    ),
    "wrong_azp": lambda p, k: p.id_token(sub="otto-sub", azp="another-client"),
    "wrong_iss": lambda p, k: p.id_token(sub="otto-sub", iss="https://evil.example"),
    "iss_with_trailing_slash": lambda p, k: p.id_token(sub="otto-sub", iss=p.issuer + "/"),
    "missing_iss": lambda p, k: p.id_token(sub="otto-sub", iss=ABSENT),
    "missing_aud": lambda p, k: p.id_token(sub="otto-sub", aud=ABSENT),
    "missing_sub": lambda p, k: p.id_token(sub=ABSENT, email="otto@north.example"),
    "missing_exp": lambda p, k: p.id_token(sub="otto-sub", exp=ABSENT),
    "past_exp": lambda p, k: p.id_token(sub="otto-sub", exp=_now() - 120),
    "exp_as_string": lambda p, k: p.id_token(sub="otto-sub", exp=str(_now() + 300)),
    "future_nbf": lambda p, k: p.id_token(sub="otto-sub", nbf=_now() + 300),
    "stale_iat": lambda p, k: p.id_token(sub="otto-sub", iat=_now() - 3600),
    "future_iat": lambda p, k: p.id_token(sub="otto-sub", iat=_now() + 300),
    "missing_iat": lambda p, k: p.id_token(sub="otto-sub", iat=ABSENT),
    "unknown_kid": lambda p, k: p.id_token(sub="otto-sub", headers={"kid": "no-such-key"}),
    "alg_none": lambda p, k: unsigned_token(
        {"alg": "none", "typ": "JWT", "kid": k["rsa"].kid}, p.claims(sub="otto-sub")
    ),
    "hs256_signed_with_the_public_key": _forged_hs256_with_public_key,
    "attacker_key_with_the_real_kid": lambda p, k: p.id_token(
        sub="otto-sub", key=rsa_signing_key("attacker").with_kid(k["rsa"].kid)
    ),
    "ec_signature_under_the_rsa_kid": lambda p, k: p.id_token(
        sub="otto-sub", key=k["ec"].with_kid(k["rsa"].kid)
    ),
    "tampered_claims": _tampered,
    "garbage": lambda p, k: "this is not a token",
    "three_garbage_segments": lambda p, k: "abc.def.ghi",
    "empty_string": lambda p, k: "",
}


@pytest.mark.parametrize("make_token", INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
def test_invalid_id_token_is_unauthorized(api, oidc_provider, oidc_keys, operator, make_token):
    link(operator, oidc_provider, "otto-sub")

    response = login(api, make_token(oidc_provider, oidc_keys))

    assert_error(response, 401, "UNAUTHORIZED")
    assert response.json()["error"]["message"] == "Invalid OIDC token."


def test_nonce_in_an_api_login_token_is_not_held_against_it(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")

    response = login(api, oidc_provider.id_token(sub="otto-sub", nonce="app-side-nonce"))

    assert response.status_code == 200


# --- which user


def test_verified_email_links_a_pre_provisioned_user_on_first_login(api, oidc_provider, operator):
    token = oidc_provider.id_token(
        sub="first-time-sub", email="OTTO@North.Example", email_verified=True
    )

    response = login(api, token)

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == str(operator.id)
    operator.refresh_from_db()
    assert (operator.oidc_issuer, operator.oidc_subject) == (oidc_provider.issuer, "first-time-sub")


@pytest.mark.parametrize("email_verified", [False, "true", ABSENT])
def test_unverified_email_does_not_link(api, oidc_provider, operator, email_verified):
    token = oidc_provider.id_token(
        sub="first-time-sub", email=operator.email, email_verified=email_verified
    )

    assert_error(login(api, token), 403, "FORBIDDEN")
    operator.refresh_from_db()
    assert operator.oidc_subject is None


def test_user_bound_to_another_identity_is_not_rebound_by_email(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-original-sub")
    token = oidc_provider.id_token(sub="impostor-sub", email=operator.email, email_verified=True)

    assert_error(login(api, token), 403, "FORBIDDEN")
    operator.refresh_from_db()
    assert operator.oidc_subject == "otto-original-sub"


def test_unknown_user_is_forbidden(api, oidc_provider, operator):
    token = oidc_provider.id_token(
        sub="stranger-sub", email="stranger@elsewhere.example", email_verified=True
    )

    assert_error(login(api, token), 403, "FORBIDDEN")
    assert not User.objects.filter(email="stranger@elsewhere.example").exists()


def test_inactive_user_is_forbidden(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")
    operator.is_active = False
    operator.save(update_fields=["is_active"])

    assert_error(login(api, oidc_provider.id_token(sub="otto-sub")), 403, "FORBIDDEN")


def test_inactive_user_is_not_linked_by_email(api, oidc_provider, operator):
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    token = oidc_provider.id_token(sub="otto-sub", email=operator.email, email_verified=True)

    assert_error(login(api, token), 403, "FORBIDDEN")
    operator.refresh_from_db()
    assert operator.oidc_subject is None


def test_user_outside_any_organisation_is_forbidden(api, oidc_provider, db):
    staff = link(UserFactory(org=None, email="root@imaging.example"), oidc_provider, "root-sub")

    assert_error(login(api, oidc_provider.id_token(sub=staff.oidc_subject)), 403, "FORBIDDEN")


def test_same_subject_from_another_issuer_is_another_identity(
    api, oidc_provider, operator, settings
):
    operator.oidc_issuer, operator.oidc_subject = "https://other-idp.example", "otto-sub"
    operator.save(update_fields=["oidc_issuer", "oidc_subject"])

    assert_error(login(api, oidc_provider.id_token(sub="otto-sub")), 403, "FORBIDDEN")


def test_second_login_after_linking_works_by_subject_even_if_email_changed(
    api, oidc_provider, operator
):
    first = oidc_provider.id_token(sub="otto-sub", email=operator.email, email_verified=True)
    assert login(api, first).status_code == 200

    renamed = oidc_provider.id_token(
        sub="otto-sub", email="otto.renamed@north.example", email_verified=False
    )
    response = login(api, renamed)

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == str(operator.id)


def test_login_records_the_time_of_login(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")

    login(api, oidc_provider.id_token(sub="otto-sub"))

    operator.refresh_from_db()
    assert operator.last_login is not None


# --- the provider's keys: cached, rotated, and an unreachable provider


def test_jwks_is_fetched_once_and_then_served_from_the_cache(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")

    for _ in range(3):
        assert login(api, oidc_provider.id_token(sub="otto-sub")).status_code == 200

    assert oidc_provider.served["/jwks"] == 1


def test_a_rotated_key_is_picked_up_by_one_refetch(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")
    assert login(api, oidc_provider.id_token(sub="otto-sub")).status_code == 200
    new_key = rsa_signing_key("rsa-2026-02")
    oidc_provider.publish(new_key)

    response = login(api, oidc_provider.id_token(sub="otto-sub", key=new_key))

    assert response.status_code == 200, response.content
    assert oidc_provider.served["/jwks"] == 2


def test_unknown_kids_do_not_refetch_the_jwks_on_every_request(api, oidc_provider, operator):
    link(operator, oidc_provider, "otto-sub")
    assert login(api, oidc_provider.id_token(sub="otto-sub")).status_code == 200

    for n in range(5):
        token = oidc_provider.id_token(sub="otto-sub", headers={"kid": f"made-up-{n}"})
        assert_error(login(api, token), 401, "UNAUTHORIZED")

    # The first fetch, and one refetch in case the provider had rotated its keys.
    assert oidc_provider.served["/jwks"] == 2


def test_provider_refusing_connections_is_service_unavailable(
    api, oidc_provider, operator, settings
):
    link(operator, oidc_provider, "otto-sub")
    token = oidc_provider.id_token(sub="otto-sub")
    settings.OIDC_OP_JWKS_ENDPOINT = closed_port_url()

    assert_error(login(api, token), 503, "SERVICE_UNAVAILABLE")


def test_provider_that_never_answers_is_service_unavailable_within_the_timeout(
    api, oidc_provider, operator, settings
):
    link(operator, oidc_provider, "otto-sub")
    token = oidc_provider.id_token(sub="otto-sub")
    settings.OIDC_TIMEOUT = 0.3

    with SilentServer() as silent:
        settings.OIDC_OP_JWKS_ENDPOINT = silent.url
        started = time.monotonic()
        response = login(api, token)
        elapsed = time.monotonic() - started
        again = login(api, token)

        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        # Not a hang: a generous bound, many times the configured timeout.
        assert elapsed < 10
        # During the back-off the next login does not wait on the provider again.
        assert_error(again, 503, "SERVICE_UNAVAILABLE")
        assert silent.connections == 1


@pytest.mark.parametrize(
    "failure",
    [(200, b"{not json"), (200, b'{"no_keys": []}'), (500, b"{}"), (200, b"[]")],
    ids=["bad_json", "no_keys_list", "server_error", "json_array"],
)
def test_provider_serving_a_broken_jwks_is_service_unavailable(
    api, oidc_provider, operator, failure
):
    link(operator, oidc_provider, "otto-sub")
    oidc_provider.jwks_failure = failure

    assert_error(login(api, oidc_provider.id_token(sub="otto-sub")), 503, "SERVICE_UNAVAILABLE")


def test_login_is_unavailable_when_oidc_is_not_configured(api, oidc_provider, operator, settings):
    link(operator, oidc_provider, "otto-sub")
    token = oidc_provider.id_token(sub="otto-sub")
    settings.OIDC_OP_ISSUER = ""

    assert_error(login(api, token), 503, "SERVICE_UNAVAILABLE")


# --- the request itself


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id_token": None},
        {"id_token": 12345},
        {"id_token": ["a.b.c"]},
        {"id_token": "x" * 8193},
    ],
    ids=["missing", "null", "number", "list", "too_long"],
)
def test_malformed_request_is_a_validation_error(api, oidc_provider, body):
    response = api().post(URL, body, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert "id_token" in response.json()["error"]["details"]


def test_form_encoded_login_is_unsupported_media_type(api, oidc_provider):
    response = api().post(URL, {"id_token": "a.b.c"})

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_login_is_documented_as_an_unauthenticated_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/v1/auth/login"]["post"]

    assert operation["operationId"] == "auth_login"
    assert operation["security"] == [{}]
    assert {"200", "400", "401", "403", "415", "429", "503"} <= set(operation["responses"])


# --- look-alike emails (accounts.emails: one canonical form, matched exactly)


@pytest.mark.parametrize("email", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_verified_lookalike_email_signs_in_as_nobody(
    api, oidc_provider, lookalike_victims, email
):
    token = oidc_provider.id_token(sub="lookalike-sub", email=email, email_verified=True)

    assert_error(login(api, token), 403, "FORBIDDEN")
    assert not User.objects.filter(oidc_subject="lookalike-sub").exists()


@pytest.mark.parametrize("email", GENUINE + IDN_GENUINE)
def test_the_genuine_email_in_any_ascii_case_still_links(
    api, oidc_provider, lookalike_victims, email
):
    token = oidc_provider.id_token(sub="genuine-sub", email=email, email_verified=True)

    response = login(api, token)

    assert response.status_code == 200, response.content
    victim = victim_of(email, lookalike_victims)
    assert response.json()["user_id"] == str(victim.id)
    victim.refresh_from_db()
    assert victim.oidc_subject == "genuine-sub"
