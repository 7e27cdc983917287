from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events_app"
    default_auto_field = "django.db.models.BigAutoField"
