from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from images_app import published_set
        from publishing import services, tasks

        # Registered with Celery in every process (the web enqueues the render by name).
        del tasks

        # Every change to a vehicle's published images writes a version, in its transaction.
        published_set.listen(services.publication_version_record)
