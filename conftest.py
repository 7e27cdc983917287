"""Shared fixtures: named personas of two organisations and API clients acting as them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import DeviceFactory, OrganizationFactory, SiteFactory, UserFactory
from accounts.tokens import device_token_issue, user_token_issue


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


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
