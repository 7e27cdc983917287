from django.urls import path

from accounts.api.login import LoginView
from accounts.api.views import DeviceAuthView

urlpatterns = [
    path("auth/device", DeviceAuthView.as_view(), name="auth-device"),
    path("auth/login", LoginView.as_view(), name="auth-login"),
]
