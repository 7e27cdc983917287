"""Development-only pages (mounted by imaging/urls.py when ``DEV_PAGES``, i.e. DEBUG): the
spin viewer's demo page and its fixture vehicle."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from devtools import viewer_fixture

EXTENSIONS = {"jpg": "jpeg", "webp": "webp"}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d+)?$|^https?://\[[0-9a-fA-F:]+\](:\d+)?$")


def _public(response: HttpResponse) -> HttpResponse:
    # As the public bucket answers: readable from any dealer's page, no credentials.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def viewer_demo(request: HttpRequest) -> HttpResponse:
    """A dealer's vehicle page in miniature: the embed snippet around ``?manifest=`` (default:
    the fixture vehicle), under a strict Content-Security-Policy that lets the page reach
    only the manifest's origin, so a stray request shows as a refusal in the console."""
    manifest = request.GET.get("manifest") or request.build_absolute_uri(
        reverse("viewer-fixture-manifest")
    )
    parts = urlsplit(manifest)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not _ORIGIN.match(origin):
        return HttpResponseBadRequest("manifest must be an http(s) URL", content_type="text/plain")
    fixture = request.build_absolute_uri(reverse("viewer-fixture-manifest"))
    response = render(
        request,
        "devtools/viewer_demo.html",
        {
            "manifest": manifest,
            "intro_off": request.GET.get("intro") == "off",
            "examples": {
                "the fixture vehicle": fixture,
                "turning clockwise": fixture + "?direction=clockwise",
                "withdrawn": request.build_absolute_uri(reverse("viewer-fixture-withdrawn")),
            },
        },
    )
    response["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"connect-src {origin}; img-src {origin} data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return response


def _url_for(request: HttpRequest):
    def url_for(kind: str, number: int, width: int, fmt: str) -> str:
        ext = "jpg" if fmt == "jpeg" else fmt
        path = reverse("viewer-fixture-rendition", args=[kind, number, width, ext])
        return request.build_absolute_uri(path)

    return url_for


def viewer_fixture_manifest(request: HttpRequest) -> HttpResponse:
    direction = request.GET.get("direction", "counterclockwise")
    if direction not in ("clockwise", "counterclockwise"):
        return HttpResponseBadRequest(
            "direction: clockwise or counterclockwise", content_type="text/plain"
        )
    manifest = viewer_fixture.fixture_manifest(url_for=_url_for(request), direction=direction)
    return _public(JsonResponse(manifest, json_dumps_params={"ensure_ascii": False}))


def viewer_fixture_withdrawn(request: HttpRequest) -> HttpResponse:
    manifest = viewer_fixture.fixture_manifest(url_for=_url_for(request), withdrawn=True)
    return _public(JsonResponse(manifest))


def viewer_fixture_rendition(
    request: HttpRequest, kind: str, number: int, width: int, ext: str
) -> HttpResponse:
    try:
        data = viewer_fixture.rendition(kind, number, width, EXTENSIONS.get(ext, ""))
    except ValueError:
        return HttpResponse(status=404)
    response = HttpResponse(data, content_type=f"image/{EXTENSIONS[ext]}")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return _public(response)
