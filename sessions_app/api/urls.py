from django.urls import path

from sessions_app.api import views

urlpatterns = [
    path("sessions", views.SessionListCreateView.as_view(), name="session-list"),
    path("sessions/<uuid:pk>", views.SessionDetailView.as_view(), name="session-detail"),
    path(
        "shot-list-templates",
        views.ShotListTemplateListView.as_view(),
        name="shot-list-template-list",
    ),
]
