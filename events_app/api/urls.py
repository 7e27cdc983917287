from django.urls import path

from events_app.api import views

urlpatterns = [
    path("events", views.EventIngestView.as_view(), name="events"),
]
