"""``/v1/webhooks…`` through HTTP: shapes, the secret shown once, admins only, another org's
objects are 404, the SSRF rule at save, test pings and replays reaching a real receiver."""

from __future__ import annotations

import pytest

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks/imaging"
ENDPOINT_KEYS = {
    "id",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "failing_since",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
}
DELIVERY_KEYS = {
    "id",
    "endpoint_id",
    "webhook_id",
    "event_type",
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_response",
    "last_error",
    "created_at",
    "delivered_at",
    "payload",
}


def create(client, **body):
    return client.post("/v1/webhooks", {"url": PUBLIC, **body}, format="json")


def test_an_admin_adds_an_endpoint_and_sees_its_secret_only_then(api, admin):
    client = api(admin)
    response = create(client, description="DMS", event_types=["vehicle.published"])
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ENDPOINT_KEYS | {"secret"}
    assert body["url"] == PUBLIC
    assert body["description"] == "DMS"
    assert body["event_types"] == ["vehicle.published"]
    assert body["enabled"] is True and body["disabled_reason"] == ""
    assert body["secret"].startswith("whsec_")
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]

    detail = client.get(f"/v1/webhooks/{body['id']}").json()
    assert set(detail) == ENDPOINT_KEYS  # never the secret again
    listing = client.get("/v1/webhooks").json()
    assert listing["total"] == 1 and listing["limit"] == 50 and listing["offset"] == 0
    assert [set(item) for item in listing["data"]] == [ENDPOINT_KEYS]


def test_an_endpoint_is_changed_and_deleted(api, admin):
    client = api(admin)
    pk = create(client).json()["id"]
    response = client.patch(
        f"/v1/webhooks/{pk}",
        {"description": "Listing agency", "event_types": [], "enabled": False},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["description"], body["event_types"], body["enabled"]) == (
        "Listing agency",
        [],
        False,
    )
    assert client.delete(f"/v1/webhooks/{pk}").status_code == 204
    assert client.get(f"/v1/webhooks/{pk}").status_code == 404


def test_enabling_an_endpoint_we_disabled_clears_the_reason(api, admin, org):
    endpoint = services.endpoint_create(org_id=org.id, url=PUBLIC)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason="The endpoint answered 410 Gone."
    )
    body = api(admin).patch(f"/v1/webhooks/{endpoint.pk}", {"enabled": True}, format="json")
    assert body.json()["enabled"] is True and body.json()["disabled_reason"] == ""


def test_rotating_answers_the_new_secret_and_keeps_the_old_one_a_day(api, admin, org):
    endpoint = services.endpoint_create(org_id=org.id, url=PUBLIC)
    response = api(admin).post(f"/v1/webhooks/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != endpoint.secret
    assert body["previous_secret_expires_at"] is not None
    endpoint.refresh_from_db()
    assert endpoint.previous_secret != "" and endpoint.secret == body["secret"]


SSRF = [
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[fc00::]/hook",
    "https://[fe80::1]/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://100.64.0.1/hook",
    "https://240.0.0.1/hook",
    "https://localhost/hook",  # a name resolving to loopback
    "http://93.184.215.14/hook",  # not https
    "https://user:pass@93.184.215.14/hook",
]


@pytest.mark.parametrize("url", SSRF)
def test_urls_that_could_reach_inside_are_refused_at_save(api, admin, org, url):
    client = api(admin)
    response = client.post("/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 409, url
    error = response.json()["error"]
    assert error["code"] == "URL_NOT_ALLOWED"
    assert list(error["details"]) == ["url"]
    endpoint = services.endpoint_create(org_id=org.id, url=PUBLIC)
    response = client.patch(f"/v1/webhooks/{endpoint.pk}", {"url": url}, format="json")
    assert response.status_code == 409
    assert not WebhookEndpoint.objects.exclude(url=PUBLIC).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": 5},
        {"url": PUBLIC, "event_types": ["image.exploded"]},
        {"url": PUBLIC, "event_types": "image.processed"},
        {"url": PUBLIC, "enabled": "true"},
        {"url": PUBLIC, "description": "x" * 201},
        {"url": "not a url"},
    ],
)
def test_bad_bodies_are_validation_errors(api, admin, body):
    response = api(admin).post("/v1/webhooks", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_only_admins_manage_webhooks(api, reviewer, operator, device, org):
    endpoint = services.endpoint_create(org_id=org.id, url=PUBLIC)
    for principal in (reviewer, operator, device):
        client = api(principal)
        assert client.get("/v1/webhooks").status_code == 403
        assert create(client).status_code == 403
        assert client.get(f"/v1/webhooks/{endpoint.pk}").status_code == 403
    assert api().get("/v1/webhooks").status_code == 401


def test_another_orgs_endpoints_and_deliveries_are_404(api, outsider, org, insecure, receiver):
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    delivery = services.endpoint_ping(endpoint=endpoint)
    client = api(outsider)
    assert client.get("/v1/webhooks").json()["total"] == 0
    for method, path in [
        ("get", f"/v1/webhooks/{endpoint.pk}"),
        ("patch", f"/v1/webhooks/{endpoint.pk}"),
        ("delete", f"/v1/webhooks/{endpoint.pk}"),
        ("post", f"/v1/webhooks/{endpoint.pk}/rotate-secret"),
        ("post", f"/v1/webhooks/{endpoint.pk}/test"),
        ("get", f"/v1/webhooks/{endpoint.pk}/deliveries"),
        ("post", f"/v1/webhooks/deliveries/{delivery.pk}/replay"),
    ]:
        response = getattr(client, method)(path, {}, format="json")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_test_ping_is_delivered_listed_and_replayed_with_the_same_id(
    api, admin, insecure, receiver, django_capture_on_commit_callbacks
):
    client = api(admin)
    created = client.post("/v1/webhooks", {"url": receiver.url()}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/v1/webhooks/{created['id']}/test")
    assert response.status_code == 202
    queued = response.json()
    assert set(queued) == DELIVERY_KEYS
    assert (queued["status"], queued["event_type"], queued["attempts"]) == ("pending", "ping", 0)
    [received] = receiver.wait_for(1)
    payload = received.verify(created["secret"])
    assert payload["type"] == "ping" and payload["data"]["endpoint_id"] == created["id"]

    page = client.get(f"/v1/webhooks/{created['id']}/deliveries").json()
    assert page["total"] == 1
    [item] = page["data"]
    assert item["status"] == "delivered" and item["last_status_code"] == 204
    assert item["webhook_id"] == received.webhook_id and item["payload"] == payload
    delivered = client.get(f"/v1/webhooks/{created['id']}/deliveries?status=delivered").json()
    assert delivered["total"] == 1
    assert client.get(f"/v1/webhooks/{created['id']}/deliveries?status=nope").status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(f"/v1/webhooks/deliveries/{item['id']}/replay")
    assert replayed.status_code == 202
    assert replayed.json()["webhook_id"] == item["webhook_id"]
    assert [r.webhook_id for r in receiver.wait_for(2)] == [item["webhook_id"]] * 2


def test_replaying_a_pending_delivery_or_testing_a_disabled_endpoint_is_a_conflict(
    api, admin, org, insecure, receiver
):
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    delivery = services.endpoint_ping(endpoint=endpoint)  # not committed: still pending
    client = api(admin)
    response = client.post(f"/v1/webhooks/deliveries/{delivery.pk}/replay")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DELIVERY_PENDING"
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    for path in (
        f"/v1/webhooks/{endpoint.pk}/test",
        f"/v1/webhooks/deliveries/{delivery.pk}/replay",
    ):
        response = client.post(path)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "ENDPOINT_DISABLED"
