"""Shared fixtures: named personas of two organisations and API clients acting as them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import signing
from accounts.models import User
from accounts.tests.factories import DeviceFactory, OrganizationFactory, SiteFactory, UserFactory
from accounts.tokens import device_token_issue, user_token_issue


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_signing_keys():
    """Each test's database starts without signing keys: forget the ones this process
    held (the first token a test issues makes its key)."""
    signing.keyring_reset()
    yield
    signing.keyring_reset()


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Northside Motors")


@pytest.fixture
def site(org):
    return SiteFactory(org=org, name="Main Studio")


@pytest.fixture
def other_site(org):
    return SiteFactory(org=org, name="Back Lot")


@pytest.fixture
def admin(org, site):
    return UserFactory(org=org, role=User.Role.ADMIN, name="Ada Admin", email="ada@north.example")


@pytest.fixture
def reviewer(org, site):
    return UserFactory(
        org=org,
        role=User.Role.REVIEWER,
        name="Rita Reviewer",
        email="rita@north.example",
        sites=[site],
    )


@pytest.fixture
def operator(org, site):
    return UserFactory(
        org=org,
        role=User.Role.OPERATOR,
        name="Otto Operator",
        email="otto@north.example",
        sites=[site],
    )


@pytest.fixture
def device(org):
    return DeviceFactory(org=org, model="iPhone 15 Pro")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Southside Cars")


@pytest.fixture
def other_site_of_other_org(other_org):
    return SiteFactory(org=other_org, name="South Studio")


@pytest.fixture
def outsider(other_org, other_site_of_other_org):
    """An admin of another organisation."""
    return UserFactory(
        org=other_org,
        role=User.Role.ADMIN,
        name="Oscar Outsider",
        email="oscar@south.example",
        sites=[other_site_of_other_org],
    )


def token_for(principal) -> str:
    if isinstance(principal, User):
        return str(user_token_issue(user=principal))
    return str(device_token_issue(device=principal))


@pytest.fixture
def api():
    """``api(principal)`` → an APIClient sending that principal's token; ``api()`` → none."""

    def make(principal=None) -> APIClient:
        client = APIClient()
        if principal is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(principal)}")
        return client

    return make


# --- S3: one real SeaweedFS per pytest process (per xdist worker)


@dataclass(frozen=True)
class S3Server:
    """Where the test SeaweedFS listens. ``env`` holds the settings that point at it, as
    environment variables for a subprocess (e.g. a Celery worker)."""

    endpoint_url: str
    bucket: str
    region: str
    access_key: str
    secret_key: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_PUBLIC_ENDPOINT_URL": self.endpoint_url,
            "S3_BUCKET": self.bucket,
            "S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


@pytest.fixture(scope="session")
def _seaweedfs(tmp_path_factory):
    from django.conf import settings as django_settings
    from django.test import override_settings

    from devtools.seaweed import SeaweedServer, wait_for
    from images_app import storage

    access_key = django_settings.AWS_ACCESS_KEY_ID or "test-access-key"
    secret_key = django_settings.AWS_SECRET_ACCESS_KEY or "test-secret-key"
    server = SeaweedServer(
        tmp_path_factory.mktemp("seaweedfs"), access_key=access_key, secret_key=secret_key
    )
    server.start()
    try:
        info = S3Server(
            endpoint_url=server.endpoint_url,
            bucket=django_settings.S3_BUCKET or "imaging",
            region=django_settings.S3_REGION or "us-east-1",
            access_key=access_key,
            secret_key=secret_key,
        )
        with override_settings(**info.env):
            wait_for(storage.bucket_ensure, timeout=30, what="SeaweedFS bucket")
            from publishing import public_store

            wait_for(public_store.bucket_ensure, timeout=30, what="SeaweedFS public bucket")
        yield info
    finally:
        server.stop(graceful=False)  # a throw-away store: no need to wait for weed's shutdown


@pytest.fixture
def s3(_seaweedfs, settings) -> S3Server:
    """A real S3 (SeaweedFS) with the bucket created; settings point at it for this test."""
    for name, value in _seaweedfs.env.items():
        setattr(settings, name, value)
    return _seaweedfs
