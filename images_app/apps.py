import functools

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
        self._session_detail_extras()
        self._session_finished_hooks()

    @staticmethod
    def _session_finished_hooks() -> None:
        """A spin's health is judged again once its session finishes (the audit log's
        ``session_finished``): only then is a shortfall of declared frames known to be one
        (images_app/spin_health.py)."""
        from events_app.services import listen
        from images_app.spin_health import spin_health_heard

        listen(spin_health_heard)

    @staticmethod
    def _session_detail_extras() -> None:
        """``GET /v1/sessions/{id}`` shows the session's open reshoot items and its frames.

        Whatever changes either bumps the session's ``detail_version`` in its transaction
        (``sessions_app.services.session_detail_changed``), or adds an image (which changes
        the session's image count): both make the detail's ETag."""
        from images_app.api.review_serializers import (
            FRAME,
            RESHOOT_ITEM_AS_TEXT,
            FrameOutput,
            ReshootItemOutput,
        )
        from images_app.selectors import (
            session_frames_from,
            session_frames_json,
            session_reshoots_open_from,
            session_reshoots_open_json,
        )
        from sessions_app.api.extras import session_detail_extra

        session_detail_extra(
            "reshoots",
            field=ReshootItemOutput(
                many=True, help_text="Open reshoot items: frames or shots to capture again."
            ),
            value=functools.partial(session_reshoots_open_json, RESHOOT_ITEM_AS_TEXT.columns),
            write=lambda items: [
                RESHOOT_ITEM_AS_TEXT.write(item) for item in session_reshoots_open_from(items)
            ],
        )
        session_detail_extra(
            "frames",
            field=FrameOutput(
                many=True,
                help_text="Every image of the session: its processing state and QC verdict, "
                "by frame or shot, then upload order.",
            ),
            value=session_frames_json,
            write=lambda frames: [FRAME.write(frame) for frame in session_frames_from(frames)],
        )
