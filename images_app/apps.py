from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images_app"
    verbose_name = "Images"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from images_app import metrics, storage
        from imaging import health

        del metrics  # imported for its registrations
        health.readiness_check("storage", storage.bucket_check)
