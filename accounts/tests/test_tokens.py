"""Tokens identify the caller; forged, expired or revoked ones are 401 in the envelope."""

import base64
import json
import time
import uuid

import jwt
import pytest
from django.conf import settings as django_settings

from accounts.models import User
from accounts.tokens import device_token_issue, user_token_issue

pytestmark = pytest.mark.django_db

# Any authenticated endpoint works to probe authentication; this one exists for every caller.
PROBE = "/v1/auth/device"


def probe(api, org, token):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"org_id": str(org.id), "platform": "ios", "model": "X", "app_version": "2"}
    return client.post(PROBE, body, format="json")


def assert_401(response):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert "token_class" not in response.content.decode()
    assert "AccessToken" not in response.content.decode()
    assert response["WWW-Authenticate"].startswith("Bearer")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_device_token_has_the_contract_claims(device):
    claims = claims_of(str(device_token_issue(device=device)))
    assert claims["sub"] == str(device.id)
    assert claims["org_id"] == str(device.org_id)
    assert claims["role"] == "device"
    assert claims["typ"] == "device"
    assert 30 * 86400 - 5 <= claims["exp"] - time.time() <= 30 * 86400


def test_user_token_has_the_contract_claims(reviewer, site):
    claims = claims_of(str(user_token_issue(user=reviewer)))
    assert claims["sub"] == str(reviewer.id)
    assert claims["org_id"] == str(reviewer.org_id)
    assert claims["role"] == "reviewer"
    assert claims["site_ids"] == [str(site.id)]
    assert claims["typ"] == "user"
    assert 8 * 3600 - 5 <= claims["exp"] - time.time() <= 8 * 3600


def test_device_refresh_keeps_the_device_id_and_updates_its_details(api, device, org):
    response = probe(api, org, device_token_issue(device=device))
    assert response.status_code == 200
    assert response.json()["device_id"] == str(device.id)
    device.refresh_from_db()
    assert device.model == "X"
    assert device.app_version == "2"


def _forge(claims: dict, key: str = "", alg: str = "HS256", headers=None) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def _valid_claims(device) -> dict:
    claims = claims_of(str(device_token_issue(device=device)))
    return claims


def test_alg_none_is_refused(api, device, org):
    claims = _valid_claims(device)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_401(probe(api, org, f"{header}.{payload}."))


def test_token_signed_with_another_key_is_refused(api, device, org):
    assert_401(probe(api, org, _forge(_valid_claims(device), "not-the-key" * 4)))


def test_changed_claim_is_refused(api, device, org, other_org):
    token = str(device_token_issue(device=device))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["org_id"] = str(other_org.id)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_401(probe(api, org, f"{header}.{forged}.{signature}"))


def test_expired_token_is_refused(api, device, org):
    claims = {**_valid_claims(device), "exp": int(time.time()) - 10}
    assert_401(probe(api, org, _forge(claims, django_settings.JWT_SIGNING_KEY)))


def test_token_without_exp_is_refused(api, device, org):
    claims = _valid_claims(device)
    del claims["exp"]
    assert_401(probe(api, org, _forge(claims, django_settings.JWT_SIGNING_KEY)))


def test_token_of_unknown_type_is_refused(api, device, org):
    claims = {**_valid_claims(device), "typ": "access"}
    assert_401(probe(api, org, _forge(claims, django_settings.JWT_SIGNING_KEY)))


def test_user_claims_in_a_device_typed_token_are_refused(api, reviewer, org):
    claims = {**claims_of(str(user_token_issue(user=reviewer))), "typ": "device"}
    assert_401(probe(api, org, _forge(claims, django_settings.JWT_SIGNING_KEY)))


def test_garbage_and_wrong_scheme_are_refused(api, org, device):
    assert_401(probe(api, org, "garbage"))
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {device_token_issue(device=device)}")
    assert_401(client.post(PROBE, {}, format="json"))


def test_revoked_device_token_stops_working_at_once(api, device, org):
    from accounts.services import device_revoke

    token = device_token_issue(device=device)
    device_revoke(device=device)
    assert_401(probe(api, org, token))


def test_deactivated_user_token_stops_working_at_once(api, reviewer, org):
    token = user_token_issue(user=reviewer)
    User.objects.filter(pk=reviewer.pk).update(is_active=False)
    assert_401(probe(api, org, token))


def test_deleted_user_token_stops_working(api, reviewer, org):
    token = user_token_issue(user=reviewer)
    reviewer.delete()
    assert_401(probe(api, org, token))


def test_a_user_token_cannot_refresh_a_device(api, reviewer, org):
    response = probe(api, org, user_token_issue(user=reviewer))
    assert response.status_code == 401


def test_a_device_cannot_refresh_into_another_org(api, device, other_org):
    response = probe(api, other_org, device_token_issue(device=device))
    assert response.status_code == 401
    assert uuid.UUID(response.json()["request_id"])
