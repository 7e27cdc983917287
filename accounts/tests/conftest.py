"""A local OIDC provider, and settings pointing at it the way a deploy would configure them."""

from __future__ import annotations

import pytest
import requests

from accounts.models import Organization, User
from accounts.tests.lookalikes import ADMIN_EMAIL, IDN_ADMIN_EMAIL
from accounts.tests.oidc_provider import LocalOIDCProvider, ec_signing_key, rsa_signing_key


@pytest.fixture(scope="session")
def oidc_keys():
    """Generated once: an RSA and an EC P-256 signing key of the provider."""
    return {"rsa": rsa_signing_key("rsa-2026-01"), "ec": ec_signing_key("ec-2026-01")}


@pytest.fixture
def oidc_provider(settings, oidc_keys):
    with LocalOIDCProvider(keys=[oidc_keys["rsa"], oidc_keys["ec"]]) as provider:
        discovery = requests.get(
            f"{provider.base_url}/.well-known/openid-configuration", timeout=5
        ).json()
        settings.OIDC_OP_ISSUER = discovery["issuer"]
        settings.OIDC_OP_JWKS_ENDPOINT = discovery["jwks_uri"]
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = discovery["authorization_endpoint"]
        settings.OIDC_OP_TOKEN_ENDPOINT = discovery["token_endpoint"]
        settings.OIDC_OP_USER_ENDPOINT = discovery["userinfo_endpoint"]
        settings.OIDC_RP_CLIENT_ID = provider.client_id
        settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
        provider.served.clear()  # count only what the application asks for
        yield provider


@pytest.fixture
def lookalike_victims(db) -> dict[str, User]:
    """Two provisioned staff admins of an organisation, neither linked to an identity yet."""
    org = Organization.objects.create(name="Strasse Autos")
    return {
        ADMIN_EMAIL: User.objects.create_user(
            ADMIN_EMAIL, org=org, role=User.Role.ADMIN, is_staff=True
        ),
        IDN_ADMIN_EMAIL: User.objects.create_user(
            IDN_ADMIN_EMAIL, org=org, role=User.Role.ADMIN, is_staff=True
        ),
    }
