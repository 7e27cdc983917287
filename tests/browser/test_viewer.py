"""The embeddable spin viewer (images_app/static/imaging-viewer/imaging-viewer.js) on the
development demo page, as a dealer's visitor meets it: in Chromium, on a desktop and on a
phone, with the fixture vehicle's manifest served from another origin than the page, as a
public bucket or CDN would serve it."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

VIEWER_JS = (
    Path(__file__).resolve().parents[2] / "images_app/static/imaging-viewer/imaging-viewer.js"
)
RENDITION = re.compile(r"/dev/viewer/fixture/(spin|still)/(\d+)/(\d+)\.(webp|jpg)$")
DESKTOP = {"width": 1000, "height": 900}  # the demo page's column: 600 CSS px wide
SLOW = 30_000  # the fixture's renditions are drawn on first request
PHONE = {
    "viewport": {"width": 393, "height": 851},
    "device_scale_factor": 2.75,
    "is_mobile": True,
    "has_touch": True,
}


def other_origin(url: str) -> str:
    """The live server under its other name: a second origin for the manifest."""
    parts = urlsplit(url)
    host = "127.0.0.1" if parts.hostname == "localhost" else "localhost"
    return f"{parts.scheme}://{host}:{parts.port}"


@pytest.fixture
def browse(chromium, live_server):
    """Opens the demo page in a fresh browser context; fails the test on any refusal of the
    page's Content-Security-Policy (it allows only the manifest's origin) or script error."""
    contexts, problems = [], []

    def open_demo(
        *,
        manifest: str = "manifest.json",
        query: dict | None = None,
        context=None,
        wait=True,
        **params,
    ):
        context_options = {"viewport": DESKTOP, **(context or {})}
        browser_context = chromium.new_context(locale="en-US", **context_options)
        browser_context.set_default_timeout(15_000)
        contexts.append(browser_context)
        page = browser_context.new_page()
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.requests = []
        # Recorded from the "request" event, which reaches this listener before any
        # expect_request() waiter; routing every request keeps the browser cache out.
        page.on("request", lambda request: page.requests.append(request.url))
        page.route("**/*", lambda route: route.continue_())
        manifest_url = f"{other_origin(live_server.url)}/dev/viewer/fixture/{manifest}"
        if query:
            manifest_url += "?" + urlencode(query)
        page.goto(
            f"{live_server.url}/dev/viewer/?" + urlencode({"manifest": manifest_url, **params})
        )
        if wait:
            expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
                "data-state", "ready", timeout=SLOW
            )
        return page

    yield open_demo
    for context in contexts:
        context.close()
    assert problems == []


def renditions(page) -> list[tuple[str, int, int, str]]:
    found = [RENDITION.search(url) for url in page.requests]
    return [(m[1], int(m[2]), int(m[3]), m[4]) for m in found if m]


def frame(page) -> str:
    return page.get_by_role("slider").get_attribute("aria-valuenow")


@pytest.mark.parametrize(("pixel_ratio", "width"), [(1, 640), (1.5, 1024)])
def test_before_any_interaction_every_frame_is_fetched_once_at_the_width_the_page_needs(
    browse, live_server, pixel_ratio, width
):
    page = browse(context={"device_scale_factor": pixel_ratio}, intro="off")
    expect(page.get_by_role("slider")).to_have_attribute("aria-valuemax", "24")
    fetched = renditions(page)
    spin = [r for r in fetched if r[0] == "spin"]
    # The first frame first, alone, then every other frame: each once, at one width, in WebP.
    assert spin[0] == ("spin", 0, width, "webp")
    assert sorted(spin) == [("spin", index, width, "webp") for index in range(24)]
    # The strip's thumbnails at the smallest width, nothing larger anywhere.
    assert sorted(r for r in fetched if r[0] == "still") == [
        ("still", n, 320, "webp") for n in range(4)
    ]
    assert fetched.index(spin[1]) > fetched.index(spin[0])


def test_the_first_frame_arrives_before_any_other_is_asked_for(browse, live_server):
    page = browse(wait=False, intro="off")
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
        "data-state", "ready", timeout=SLOW
    )
    # Replay with frame 0 held back: nothing else is requested until it is delivered.
    held = []
    page.route("**/fixture/spin/0/*", lambda route: held.append(route))
    page.requests.clear()
    page.reload()
    # The placeholder is on screen while frame 0 is on its way.
    expect(page.get_by_role("img", name="The vehicle turned 0°")).to_have_class("p")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)  # time enough for a request that should not come
    assert [route.request.url.rsplit("/", 2)[-2] for route in held] == ["0"]
    assert [r[:2] for r in renditions(page)] == [("spin", 0)]
    held[0].continue_()
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
        "data-state", "ready", timeout=SLOW
    )
    assert sorted(r[1] for r in renditions(page) if r[0] == "spin") == list(range(24))


def test_no_request_leaves_the_manifests_origin_and_nothing_is_stored(browse, live_server):
    page = browse()
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
        "data-intro", "done", timeout=SLOW
    )
    page.get_by_role("button", name="Full screen").click()
    page.keyboard.press("ArrowRight")
    manifest_origin = other_origin(live_server.url)
    page_own = {
        f"{live_server.url}{p}"
        for p in ("/static/devtools/viewer-demo.css", "/static/imaging-viewer/imaging-viewer.js")
    }
    elsewhere = [
        u
        for u in page.requests[1:]
        if u not in page_own and not u.startswith(manifest_origin + "/")
    ]
    assert elsewhere == []
    assert page.context.cookies() == []
    assert page.evaluate("[document.cookie, localStorage.length, sessionStorage.length]") == [
        "",
        0,
        0,
    ]


def test_dragging_with_the_mouse_turns_the_vehicle_the_way_the_pointer_goes(browse):
    page = browse(intro="off")
    box = page.get_by_role("slider").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    # 600 px for a whole turn of 24 frames: 100 px to the right is 4 frames on.
    page.mouse.move(x + 100, y, steps=8)
    page.mouse.up()
    assert frame(page) == "5"
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y, steps=8)
    page.mouse.up()
    assert frame(page) == "23"


def test_a_touch_drag_turns_the_vehicle_on_a_phone(browse):
    page = browse(context=PHONE, intro="off")
    slider = page.get_by_role("slider")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch = page.context.new_cdp_session(page)

    def finger(kind: str, at_x: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": at_x, "y": y}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    finger("touchStart", x)
    for step in range(1, 9):
        finger("touchMove", x + step * 10)
    finger("touchEnd", x + 80)
    assert frame(page) != "1"
    # 361 CSS px at 2.75 device pixels per CSS pixel: the 1024 px rendition.
    assert {r[2] for r in renditions(page) if r[0] == "spin"} == {1024}


def test_a_pinch_zooms_in_and_fetches_the_larger_rendition_of_the_frame_on_screen(browse):
    page = browse(context=PHONE, intro="off")
    slider = page.get_by_role("slider")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch = page.context.new_cdp_session(page)

    def fingers(kind: str, apart: float) -> None:
        points = [{"x": x - apart / 2, "y": y, "id": 1}, {"x": x + apart / 2, "y": y, "id": 2}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    with page.expect_request(re.compile(r"/fixture/spin/0/1600\.webp$")):
        fingers("touchStart", 40)
        for apart in range(60, 161, 20):
            fingers("touchMove", apart)
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert "scale(4)" in page.locator(".l").get_attribute("style")
    assert frame(page) == "1"  # a pinch zooms, it does not turn
    assert [r[1] for r in renditions(page) if r[2] == 1600] == [0]


def test_arrow_keys_turn_the_vehicle_in_the_direction_the_manifest_gives(browse):
    page = browse(intro="off")
    slider = page.get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert frame(page) == "2"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert frame(page) == "24"
    assert slider.get_attribute("aria-valuetext") == "The vehicle turned 345°"

    clockwise = browse(query={"direction": "clockwise"}, intro="off")
    clockwise.get_by_role("slider").focus()
    clockwise.keyboard.press("ArrowRight")
    assert frame(clockwise) == "24"


def test_full_screen_shows_the_1600_px_rendition_of_each_frame_shown(browse):
    page = browse(intro="off")
    assert {r[2] for r in renditions(page) if r[0] == "spin"} == {640}
    with page.expect_request(re.compile(r"/fixture/spin/0/1600\.webp$")):
        page.get_by_role("button", name="Full screen").click()
    expect(page.get_by_role("button", name="Exit full screen")).to_be_visible()
    with page.expect_request(re.compile(r"/fixture/spin/1/1600\.webp$")):
        page.keyboard.press("ArrowRight")
    # Only the frames shown: the other 22 stay at the page's width.
    assert sorted(r[1] for r in renditions(page) if r[2] == 1600) == [0, 1]


def test_the_wheel_zooms_in_once_the_viewer_is_in_use_and_fetches_a_larger_width(browse):
    page = browse(intro="off")
    slider = page.get_by_role("slider")
    box = slider.bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 200)
    slider.click()
    with page.expect_request(re.compile(r"/fixture/spin/0/(1024|1600)\.webp$")):
        page.mouse.wheel(0, -600)
    assert "scale(" in page.locator(".l").get_attribute("style")
    assert {r[1] for r in renditions(page) if r[2] > 640} == {0}


def test_the_stills_gallery_is_reached_with_the_keyboard_and_labelled_from_the_manifest(browse):
    page = browse(intro="off")
    dashboard = page.get_by_role("button", name="Dashboard")
    page.get_by_role("slider").focus()
    for _ in range(8):
        page.keyboard.press("Tab")
        if dashboard.evaluate("b => b.getRootNode().activeElement === b"):
            break
    else:
        pytest.fail("the Dashboard thumbnail is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("img", name="Dashboard of the vehicle")).to_be_visible()
    expect(page.get_by_role("button", name="Dashboard")).to_have_attribute("aria-current", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("img", name="Rear three-quarter of the vehicle")).to_be_visible()
    assert ("still", 3, 640, "webp") in renditions(page)


def test_the_vehicle_turns_once_on_first_view_unless_the_visitor_prefers_reduced_motion(
    browse, chromium
):
    page = browse()
    seen = page.evaluate_handle("() => new Set()")
    page.evaluate(
        """seen => setInterval(() => seen.add(document.querySelector('[data-imaging-manifest]')
            .shadowRoot.querySelector('[role=slider]').getAttribute('aria-valuenow')), 50)""",
        seen,
    )
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
        "data-intro", "done", timeout=SLOW
    )
    assert page.evaluate("seen => seen.size", seen) > 10
    assert frame(page) == "1"

    still = browse(context={"reduced_motion": "reduce"})
    expect(still.locator("[data-imaging-manifest]")).to_have_attribute("data-intro", "off")
    assert frame(still) == "1"


def test_a_withdrawn_vehicle_shows_a_polite_message_and_loads_no_photo(browse):
    page = browse(manifest="withdrawn.json", wait=False)
    expect(page.get_by_role("status")).to_have_text("This vehicle is no longer available.")
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute("data-state", "withdrawn")
    assert renditions(page) == []


def test_the_viewer_script_is_small():
    # Shipped as written (comments and all); `make viewer-size` reports the minified size.
    assert len(gzip.compress(VIEWER_JS.read_bytes(), 9)) < 12 * 1024


def test_markup_in_a_manifests_labels_and_alt_text_is_shown_as_text_never_run(browse, live_server):
    hostile = '<img src=x onerror="window.pwned=1">'

    def tampered(route):
        manifest = route.fetch().json()
        for image in [*manifest["spin"]["frames"], *manifest["stills"]]:
            image["alt"] = hostile
        manifest["stills"][0]["label"] = hostile
        route.fulfill(json=manifest, headers={"Access-Control-Allow-Origin": "*"})

    page = browse(wait=False, intro="off")
    page.route("**/fixture/manifest.json", tampered)
    page.reload()
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute(
        "data-state", "ready", timeout=SLOW
    )
    expect(page.get_by_role("button", name=hostile)).to_be_visible()
    assert page.get_by_role("slider").get_attribute("aria-valuetext") == hostile
    assert page.evaluate("window.pwned") is None
    # The only <img> elements are the viewer's own (nothing parsed from the labels).
    assert (
        page.evaluate(
            "document.querySelector('[data-imaging-manifest]').shadowRoot"
            ".querySelectorAll('img:not([draggable=false])').length"
        )
        == 0
    )


def test_a_manifest_that_cannot_be_read_shows_a_polite_message(browse):
    page = browse(manifest="no-such-manifest.json", wait=False)
    expect(page.get_by_role("status")).to_have_text("The photos could not be loaded.")
    expect(page.locator("[data-imaging-manifest]")).to_have_attribute("data-state", "error")


def test_the_demo_page_refuses_a_manifest_that_is_not_an_http_url(client):
    response = client.get("/dev/viewer/", {"manifest": "javascript:alert(1)"})
    assert response.status_code == 400
    response = client.get("/dev/viewer/", {"manifest": "https://cdn.example.com/v/manifest.json"})
    assert response.status_code == 200
    assert "connect-src https://cdn.example.com;" in response["Content-Security-Policy"]


def test_the_fixture_serves_only_the_renditions_its_manifest_names(client):
    manifest = client.get("/dev/viewer/fixture/manifest.json").json()
    url = manifest["spin"]["frames"][3]["renditions"]["jpeg"][0]["url"]
    assert client.get(url).headers["Content-Type"] == "image/jpeg"
    for missing in ("spin/24/320.jpg", "spin/0/333.jpg", "still/9/320.webp", "other/0/320.jpg"):
        assert client.get(f"/dev/viewer/fixture/{missing}").status_code == 404
