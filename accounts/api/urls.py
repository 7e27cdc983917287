from django.urls import path

from accounts.api.jwks import JwksView
from accounts.api.login import LoginView
from accounts.api.views import DeviceAuthView

urlpatterns = [
    path("auth/device", DeviceAuthView.as_view(), name="auth-device"),
    path("auth/login", LoginView.as_view(), name="auth-login"),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
]
