"""The principal reads authentication makes on every request."""

from __future__ import annotations

import uuid

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts.models import Device, User
from accounts.selectors import device_enrolled_get, user_active_get
from accounts.tests.factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_enrolled_device_is_read_whole_as_the_orm_reads_it(org, site, device):
    device.sites.set([site])
    device.last_seen_at = timezone.now()
    device.save()

    found = device_enrolled_get(device_id=device.id, org_id=org.id)

    assert model_to_dict(found) | {"sites": None} == model_to_dict(
        Device.objects.get(pk=device.pk)
    ) | {"sites": None}
    assert isinstance(found.id, uuid.UUID)
    assert found.last_seen_at == device.last_seen_at


def test_a_revoked_device_is_not_found(org, device):
    Device.objects.filter(pk=device.pk).update(revoked_at=timezone.now())

    assert device_enrolled_get(device_id=device.id, org_id=org.id) is None


def test_a_device_is_not_found_in_another_org(device, other_org):
    assert device_enrolled_get(device_id=device.id, org_id=other_org.id) is None


def test_an_unknown_device_is_not_found(org):
    assert device_enrolled_get(device_id=uuid.uuid4(), org_id=org.id) is None


def test_an_active_user_is_read_whole_as_the_orm_reads_it(org, reviewer):
    found = user_active_get(user_id=reviewer.id, org_id=org.id)

    assert model_to_dict(found) | {"sites": None, "groups": None, "user_permissions": None} == (
        model_to_dict(User.objects.get(pk=reviewer.pk))
        | {"sites": None, "groups": None, "user_permissions": None}
    )
    assert found.role == User.Role.REVIEWER
    assert found.is_active is True


def test_a_deactivated_user_is_not_found(org, reviewer):
    User.objects.filter(pk=reviewer.pk).update(is_active=False)

    assert user_active_get(user_id=reviewer.id, org_id=org.id) is None


def test_a_user_is_not_found_in_another_org(reviewer, other_org):
    assert user_active_get(user_id=reviewer.id, org_id=other_org.id) is None


def test_a_user_without_an_org_is_not_found(org):
    staff = UserFactory(org=None, email="platform@example.com")

    assert user_active_get(user_id=staff.id, org_id=org.id) is None


def test_each_read_is_one_query(org, reviewer, django_assert_num_queries):
    device = DeviceFactory(org=org)

    with django_assert_num_queries(2):
        assert user_active_get(user_id=reviewer.id, org_id=org.id) is not None
        assert device_enrolled_get(device_id=device.id, org_id=org.id) is not None
