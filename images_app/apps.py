from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images_app"
    verbose_name = "Images"
    default_auto_field = "django.db.models.BigAutoField"
