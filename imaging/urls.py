from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from imaging import health, observability
from imaging.api.views import not_found

api_patterns = [
    path("", include("accounts.api.urls")),
    path("", include("sessions_app.api.urls")),
    path("", include("images_app.api.urls")),
    path("", include("publishing.api.urls")),
    path("", include("webhooks.api.urls")),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="api-docs"),
    # Unknown API paths answer in the envelope even with DEBUG on (no HTML debug page).
    re_path(r"^.*$", not_found),
]

urlpatterns = [
    path("v1/", include(api_patterns)),
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability.metrics_view, name="metrics"),
]
if settings.DEV_PAGES:
    # Named by string: production code never imports devtools.
    urlpatterns.append(path("dev/", include("devtools.urls")))

handler400 = "imaging.api.views.bad_request"
handler403 = "imaging.api.views.permission_denied"
handler404 = "imaging.api.views.not_found"
handler500 = "imaging.api.views.server_error"
