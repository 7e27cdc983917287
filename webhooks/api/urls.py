from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhooks", views.EndpointsView.as_view(), name="webhooks"),
    path(
        "webhooks/deliveries/<uuid:pk>/replay",
        views.DeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
    path("webhooks/<uuid:pk>", views.EndpointDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:pk>/rotate-secret",
        views.EndpointRotateView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<uuid:pk>/test", views.EndpointTestView.as_view(), name="webhook-test"),
    path(
        "webhooks/<uuid:pk>/deliveries",
        views.EndpointDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
]
