"""The review loop end to end: a simulated device captures a spin, a reviewer rejects two
frames by keyboard, the device uploads replacements, the reviewer compares them side by
side and publishes; the org's webhook endpoint hears of each rejection, reshoot request
and fulfilled reshoot, signed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import enrollment_code_create
from accounts.tests.factories import UserFactory
from accounts.tokens import user_token_issue
from events_app.models import Event
from images_app.models import Image, ReshootItem
from sessions_app.models import CaptureSession
from tests.browser.conftest import ARTIFACTS, log_in
from webhooks import services as webhook_services
from webhooks.tests.conftest import insecure, receiver  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]

SIMULATOR = Path(django_settings.BASE_DIR) / "clients" / "device_sim.py"
# The docs' two screenshots are made by this test; it writes them into docs/ only when
# asked (DOCS_SCREENSHOTS=1), so a test run leaves the tree as it was.
DOCS_IMAGES = (
    Path(django_settings.BASE_DIR) / "docs" if os.environ.get("DOCS_SCREENSHOTS") else ARTIFACTS
)


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Uploads are processed in the live server's process after commit, as without Redis."""
    from imaging.celery import app as celery_app

    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


def simulate(server_url: str, org, site, *args: str, state: Path) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(SIMULATOR),
            *("--api", server_url, "--org", str(org.id), "--site", str(site.id)),
            *("--state", str(state), "--size", "480x320", "--json", *args),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def review_path(session) -> str:
    return f"/admin/sessions_app/capturesession/{session.pk}/change/"


def card(page, image):
    return page.locator(f'.image-card[data-image-id="{image.pk}"]')


REVIEW_LOOP_WEBHOOKS = ["image.rejected", "reshoot.requested", "reshoot.fulfilled"]


def webhooks_received(listener, endpoint, count: int) -> dict[str, list[dict]]:
    """The first ``count`` requests ``listener`` got, each signature verified with the
    endpoint's secret (as a receiver does), their payloads by type."""
    by_type: dict[str, list[dict]] = {}
    for received in listener.wait_for(count)[:count]:
        payload = received.verify(endpoint.secret)
        by_type.setdefault(payload["type"], []).append(payload["data"])
    return by_type


def test_rejected_frames_go_back_to_the_device_and_their_replacements_are_published(
    page,
    live_server,
    org,
    site,
    tmp_path,
    receiver,  # noqa: F811 (the imported fixture)
    insecure,  # noqa: F811 (the imported fixture: the receiver listens on 127.0.0.1)
):
    # The dealer's system listens for the review loop's webhooks (delivered in the live
    # server's process once each change commits: tasks run eagerly here).
    endpoint = webhook_services.endpoint_create(
        org_id=org.id, url=receiver.url(), event_types=REVIEW_LOOP_WEBHOOKS
    )
    _, code = enrollment_code_create(org=org, uses=2, expires_in=timedelta(days=1), label="rig")
    state = tmp_path / "device.json"
    captured = simulate(
        live_server.url, org, site, "--frames", "8", "--enrollment-code", code, state=state
    )
    session = CaptureSession.objects.get(pk=captured["sessions"][0]["session_id"])
    frames = list(session.images.order_by("frame_index"))
    assert [image.status for image in frames] == ["processed"] * 8
    reviewer = UserFactory(
        org=org, role=User.Role.REVIEWER, name="Rita Reviewer", email="rita@north.example"
    )
    reviewer.sites.set([site])

    # The queue: the session waits for review.
    log_in(page, reviewer)
    page.goto("/admin/sessions_app/capturesession/")
    page.click(f"text={session.vehicle.stock}")
    page.wait_for_url(f"**{review_path(session)}")

    # By keyboard: → to the 90° frame, b (blurred); the page comes back at the next frame,
    # → to 180°, g (glare).
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.locator(".image-card.current").get_attribute("data-image-id") == str(frames[2].pk)
    page.keyboard.press("b")
    page.wait_for_url(f"**{review_path(session)}#image-{frames[3].pk}")
    assert "Rejected 90° (blurred)" in page.locator(".messagelist").inner_text()
    assert page.locator(".image-card.current").get_attribute("data-image-id") == str(frames[3].pk)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("g")
    page.wait_for_url(f"**#image-{frames[5].pk}")
    assert "Rejected 180° (glare / reflection)" in page.locator(".messagelist").inner_text()
    assert card(page, frames[2]).get_attribute("data-status") == "rejected"
    assert card(page, frames[4]).get_attribute("data-status") == "rejected"
    assert page.locator(".reshoot-pair").count() == 2
    assert page.locator(".reshoot-waiting").count() == 2

    rejected = {frames[2].pk: ["blurred"], frames[4].pk: ["glare"]}
    for image_id, reasons in rejected.items():
        image = Image.objects.get(pk=image_id)
        assert (image.status, image.reject_reasons, image.rejected_by) == (
            "rejected",
            reasons,
            reviewer,
        )

    # Each rejection is announced with the reshoot it asks for, signed.
    hooks = webhooks_received(receiver, endpoint, 4)
    assert sorted(hooks) == ["image.rejected", "reshoot.requested"]
    assert [len(hooks[kind]) for kind in sorted(hooks)] == [2, 2]
    assert {(d["image_id"], tuple(d["reasons"])) for d in hooks["image.rejected"]} == {
        (str(image_id), tuple(reasons)) for image_id, reasons in rejected.items()
    }
    assert {d["session_id"] for d in hooks["image.rejected"]} == {str(session.pk)}
    requested = {d["image_id"]: d for d in hooks["reshoot.requested"]}
    assert set(requested) == {str(image_id) for image_id in rejected}
    assert {d["session_id"] for d in requested.values()} == {str(session.pk)}
    assert {d["reshoot_id"] for d in requested.values()} == {
        str(pk) for pk in ReshootItem.objects.values_list("pk", flat=True)
    }

    # The queue while the device has work to do, for the docs.
    page.set_viewport_size({"width": 1366, "height": 640})
    page.goto("/admin/sessions_app/capturesession/")
    expect(page.locator(".reshoot-count")).to_have_text("2")
    # The queue fits a 1366 px wide screen: the table is no wider than its box (which would
    # scroll sideways) and ends on the screen.
    table = page.locator("#result_list").bounding_box()
    box = page.locator("#changelist .results").bounding_box()
    assert table["width"] <= box["width"] + 1
    assert table["x"] + table["width"] <= 1366
    DOCS_IMAGES.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "review-queue.png"))
    page.set_viewport_size({"width": 1360, "height": 1180})

    # The device fetches its open items and uploads replacements (no enrollment code: the
    # saved device refreshes its token).
    reshot = simulate(live_server.url, org, site, "--reshoots", state=state)
    assert len(reshot["reshoots_uploaded"]) == 2
    replacements = {
        image.replaces_id: image for image in session.images.filter(replaces__isnull=False)
    }
    assert set(replacements) == set(rejected)
    assert {image.status for image in replacements.values()} == {"processed"}
    assert set(ReshootItem.objects.values_list("status", flat=True)) == {"fulfilled"}

    # Each replacement is announced as fulfilling its reshoot, signed.
    hooks = webhooks_received(receiver, endpoint, 6)
    fulfilled = {d["reshoot_id"]: d for d in hooks["reshoot.fulfilled"]}
    assert len(hooks["reshoot.fulfilled"]) == 2
    for original_id, replacement in replacements.items():
        announced = fulfilled[requested[str(original_id)]["reshoot_id"]]
        assert announced["image_id"] == str(replacement.pk)
        assert announced["session_id"] == str(session.pk)

    # Side by side: each original with its replacement.
    page.goto(review_path(session))
    pairs = page.locator(".reshoot-pair")
    expect(pairs).to_have_count(2)
    for replacement in replacements.values():
        replacement_figure = f".reshoot-replacement[data-image-id='{replacement.pk}']"
        pair = page.locator(f".reshoot-pair:has({replacement_figure})")
        expect(pair.locator(".reshoot-original img")).to_be_visible()
        expect(pair.locator(".reshoot-replacement img")).to_be_visible()
        assert "Fulfilled" in pair.locator(".reshoot-head").inner_text()
    page.locator("#reshoots").scroll_into_view_if_needed()
    DOCS_IMAGES.mkdir(exist_ok=True)
    page.locator("#reshoots").screenshot(path=str(DOCS_IMAGES / "review-side-by-side.png"))

    # Publish every processed image: the six good frames and the two replacements.
    page.click("#publish-processed")
    page.wait_for_url(f"**{review_path(session)}")
    assert "Published 8 image(s)." in page.locator(".messagelist").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-loop.png"), full_page=True)
    # The history link no longer sits over the last image card.
    history = page.locator(".object-tools").bounding_box()
    last_card = page.locator(".image-card").last.bounding_box()
    assert history["y"] >= last_card["y"] + last_card["height"]

    token = str(user_token_issue(user=reviewer))
    listing = requests.get(
        f"{live_server.url}/v1/images",
        params={"session_id": str(session.pk), "status": "published"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    published = {item["id"] for item in listing["data"]}
    expected = {str(i.pk) for i in frames if i.pk not in rejected}
    expected |= {str(i.pk) for i in replacements.values()}
    assert published == expected
    assert set(Image.objects.filter(pk__in=rejected).values_list("status", flat=True)) == {
        "rejected"
    }
    assert Event.objects.filter(type=Event.Type.REJECTED, actor_id=reviewer.pk).count() == 2
    assert Event.objects.filter(type=Event.Type.RESHOOT_FULFILLED).count() == 2
    # Publishing announces nothing the endpoint did not ask for: six deliveries in all,
    # each one delivered.
    assert len(receiver.received) == 6
    assert set(endpoint.deliveries.values_list("status", flat=True)) == {"delivered"}
