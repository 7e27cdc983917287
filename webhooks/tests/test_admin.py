"""The console's webhooks: admins only, scoped to their organisation; the secret shown once
on create and rotate; a test ping and a replay reach a real receiver."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.tests.factories import UserFactory
from sessions_app.tests.console import console
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "admin:webhooks_webhookendpoint_changelist"
DELIVERIES = "admin:webhooks_webhookdelivery_changelist"


@pytest.fixture
def staff_admin(org):
    return UserFactory(org=org, role="admin", is_staff=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_admin_adds_an_endpoint_and_sees_the_secret_once(staff_admin, org, insecure, receiver):
    client = console(staff_admin)
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {
            "url": receiver.url(),
            "description": "DMS",
            "event_types": ["vehicle.published"],
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.org_id == org.id and endpoint.event_types == ["vehicle.published"]
    [message] = [m for m in messages_of(response) if "secret" in m]
    assert endpoint.secret in message and "shown only now" in message
    shown = client.get(response.url)  # the page after the save shows it, once
    assert endpoint.secret.encode() in shown.content
    page = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert endpoint.secret.encode() not in page.content


def test_a_private_url_is_refused_by_the_form(staff_admin):
    response = console(staff_admin).post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": "https://169.254.169.254/latest/meta-data/", "enabled": "on"},
    )
    assert response.status_code == 200
    assert b"cloud metadata address" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_rotate_and_test_actions_and_the_delivery_log_with_replay(
    staff_admin, org, insecure, receiver, django_capture_on_commit_callbacks
):
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    client = console(staff_admin)
    response = client.post(
        reverse(ENDPOINTS), {"action": "rotate_secret", "_selected_action": [str(endpoint.pk)]}
    )
    endpoint.refresh_from_db()
    assert response.status_code == 302
    assert any(endpoint.secret in m for m in messages_of(response))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse(ENDPOINTS), {"action": "send_test", "_selected_action": [str(endpoint.pk)]}
        )
    [ping] = receiver.wait_for(1)
    ping.verify(endpoint.secret)
    ping.verify(endpoint.previous_secret)

    log = client.get(reverse(DELIVERIES))
    assert log.status_code == 200
    assert b"ping" in log.content and b"delivered" in log.content
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse(DELIVERIES), {"action": "replay", "_selected_action": [str(delivery.pk)]}
        )
    assert [r.webhook_id for r in receiver.wait_for(2)] == [ping.webhook_id] * 2


def test_the_disabled_reason_is_shown_to_the_admins(staff_admin, org):
    endpoint = services.endpoint_create(org_id=org.id, url="https://93.184.215.14/hook")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason="The endpoint answered 410 Gone on 2026-12-01 10:00 UTC."
    )
    page = console(staff_admin).get(reverse(ENDPOINTS))
    assert b"answered 410 Gone" in page.content


def test_only_admins_of_the_organisation_see_webhooks(org, site, other_org):
    endpoint = services.endpoint_create(org_id=org.id, url="https://93.184.215.14/hook")
    reviewer = UserFactory(org=org, role="reviewer", sites=[site], is_staff=True)
    assert console(reviewer).get(reverse(ENDPOINTS)).status_code == 403
    assert console(reviewer).get(reverse(DELIVERIES)).status_code == 403
    outsider = UserFactory(org=other_org, role="admin", is_staff=True)
    change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    assert console(outsider).get(change).status_code == 404
    assert endpoint.url.encode() not in console(outsider).get(reverse(ENDPOINTS)).content
