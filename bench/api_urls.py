"""The application's URLs plus two reference views for the API load benchmark.

Both answer ``{"ok": true}`` through everything in ``settings.MIDDLEWARE`` and the same
gunicorn; they differ only in what a request does before the view:

- ``GET /v1/bench/ceiling``: a plain Django view returning a ``JsonResponse``. No DRF, no
  token, no database, no Redis. This is the ceiling every endpoint is compared with.
- ``GET /v1/bench/api-floor``: an ``ApiView`` with the project's DRF defaults, like a real
  endpoint: ``TokenAuthentication`` (JWT decode and the principal's query),
  ``ContractRateLimit`` (the Redis counter), ``IsAuthenticated``, the JSON renderer and the
  error envelope. It shows what being an authenticated API request costs before any work.

Served only under ``bench.api_settings``; the product's URLconf never includes this module.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.response import Response

from imaging.api.views import ApiView
from imaging.urls import handler400, handler403, handler404, handler500
from imaging.urls import urlpatterns as application_urlpatterns


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class ApiFloorView(ApiView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("v1/bench/ceiling", ceiling, name="bench-ceiling"),
    path("v1/bench/api-floor", ApiFloorView.as_view(), name="bench-api-floor"),
    *application_urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
