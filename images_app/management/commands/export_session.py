import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from images_app.export import ExportError, session_export
from images_app.storage import StorageError
from imaging.management.progress import Progress
from sessions_app.models import CaptureSession


class Command(BaseCommand):
    help = (
        "Write a zip of a session's published originals and thumbnails with a manifest.json "
        "in the API's shapes. Prints the archive's path last."
    )

    def add_arguments(self, parser):
        parser.add_argument("session", metavar="SESSION", help="Session id.")
        parser.add_argument(
            "--output", "-o", type=Path, help="Zip file to write (default session-<id>.zip)."
        )

    def handle(self, *args, session, output, **options):
        try:
            session_id = uuid.UUID(session)
        except ValueError as exc:
            raise CommandError(f"not a session id: {session!r}") from exc
        found = CaptureSession.objects.filter(pk=session_id).first()
        if found is None:
            raise CommandError(f"no session {session_id}")
        destination = output or Path(f"session-{session_id}.zip")
        total = found.images.filter(status="published").count()
        progress = Progress(self.stderr, total=total, label="exporting")
        try:
            result = session_export(
                session=found,
                destination=destination,
                progress=lambda note: progress.advance(note=note),
            )
        except (ExportError, StorageError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.finish()
        self.stdout.write(
            f"exported {result.images} image(s), {result.files} file(s), "
            f"{result.bytes / 1e6:.1f} MB"
        )
        self.stdout.write(str(result.path))
