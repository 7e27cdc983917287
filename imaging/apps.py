from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "360 Imaging"

    def ready(self) -> None:
        from imaging import observability

        # Task log lines and metrics wherever tasks run: a worker, or in-process without Redis.
        observability.connect_celery_signals()
