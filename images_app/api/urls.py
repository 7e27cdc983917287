from django.urls import path

from images_app.api import events, presign, review, views

urlpatterns = [
    path("events", events.EventIngestView.as_view(), name="events"),
    path("presign", presign.PresignView.as_view(), name="presign"),
    path("images", views.ImageListView.as_view(), name="image-list"),
    path("images/<uuid:pk>", views.ImageDetailView.as_view(), name="image-detail"),
    path("images/<uuid:pk>/publish", views.ImagePublishView.as_view(), name="image-publish"),
    path("images/<uuid:pk>/reject", review.ImageRejectView.as_view(), name="image-reject"),
    path("reshoots", review.ReshootListCreateView.as_view(), name="reshoot-list"),
    path("reshoots/<uuid:pk>/dismiss", review.ReshootDismissView.as_view(), name="reshoot-dismiss"),
]
