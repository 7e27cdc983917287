"""A URLconf with a view that fails, to prove unhandled errors keep the envelope."""

from django.urls import include, path

from imaging.api.views import ApiView


class Crash(ApiView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internals: password=hunter2")


urlpatterns = [
    path("v1/crash", Crash.as_view()),
    path("", include("imaging.urls")),
]
