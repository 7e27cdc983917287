from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events_app"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"
