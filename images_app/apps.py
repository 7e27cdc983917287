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
        self._session_detail_reshoots()

    @staticmethod
    def _session_detail_reshoots() -> None:
        """``GET /v1/sessions/{id}`` shows the session's open reshoot items."""
        from images_app.api.review_serializers import RESHOOT_ITEM, ReshootItemOutput
        from images_app.selectors import session_reshoots_open
        from sessions_app.api.extras import session_detail_extra

        session_detail_extra(
            "reshoots",
            field=ReshootItemOutput(
                many=True, help_text="Open reshoot items: frames or shots to capture again."
            ),
            read=lambda session_id: [
                RESHOOT_ITEM.write(row)
                for row in session_reshoots_open(
                    session_id=session_id, columns=RESHOOT_ITEM.columns
                )
            ],
        )
