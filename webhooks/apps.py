from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events_app import services as audit
        from webhooks import services, tasks

        # Registered with Celery in every process (services enqueue delivery by name).
        del tasks

        # Every audit event that a webhook announces writes the outbox in its transaction.
        audit.listen(services.outbox_write)
