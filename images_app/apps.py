from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images_app"
    verbose_name = "Images"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from images_app import metrics, storage, tasks
        from imaging import health

        # Imported for their registrations: the metrics, and the tasks in Celery's registry
        # in every process (services enqueue them by name, images_app/queue.py).
        del metrics, tasks
        health.readiness_check("storage", storage.bucket_check)
