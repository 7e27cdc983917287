"""Development-only pages, mounted under /dev/ when ``settings.DEV_PAGES`` (DEBUG)."""

from django.urls import path

from devtools import views

urlpatterns = [
    path("viewer/", views.viewer_demo, name="viewer-demo"),
    path(
        "viewer/fixture/manifest.json",
        views.viewer_fixture_manifest,
        name="viewer-fixture-manifest",
    ),
    path(
        "viewer/fixture/withdrawn.json",
        views.viewer_fixture_withdrawn,
        name="viewer-fixture-withdrawn",
    ),
    path(
        "viewer/fixture/<str:kind>/<int:number>/<int:width>.<str:ext>",
        views.viewer_fixture_rendition,
        name="viewer-fixture-rendition",
    ),
]
