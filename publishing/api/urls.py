from django.urls import path

from publishing.api import views

urlpatterns = [
    path("images/<uuid:pk>/unpublish", views.ImageUnpublishView.as_view(), name="image-unpublish"),
    path("vehicles/<uuid:pk>/publication", views.PublicationView.as_view(), name="publication"),
    path(
        "vehicles/<uuid:pk>/publication/versions",
        views.PublicationVersionsView.as_view(),
        name="publication-versions",
    ),
    path(
        "vehicles/<uuid:pk>/publication/rollback",
        views.PublicationRollbackView.as_view(),
        name="publication-rollback",
    ),
    path(
        "vehicles/<uuid:pk>/publication/withdraw",
        views.PublicationWithdrawView.as_view(),
        name="publication-withdraw",
    ),
    path("feeds/vehicles.csv", views.VehicleFeedView.as_view(), name="feed-vehicles"),
]
