import uuid

from django.core.management.base import BaseCommand, CommandError

from images_app.models import Image
from images_app.services import REPROCESSABLE, image_reprocess


class Command(BaseCommand):
    help = (
        "Move failed or processed images back to pending and enqueue them (published images "
        "are left alone). Prints how many were requeued."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--session", metavar="ID", help="Every image of one session.")
        which.add_argument("--status", choices=[s.value for s in REPROCESSABLE])
        which.add_argument(
            "--all", dest="every", action="store_true", help="Every failed or processed image."
        )

    def handle(self, *args, session, status, every, **options):
        images = Image.objects.filter(status__in=REPROCESSABLE)
        if session:
            try:
                images = images.filter(session_id=uuid.UUID(session))
            except ValueError as exc:
                raise CommandError(f"not a session id: {session!r}") from exc
        elif status:
            images = images.filter(status=status)
        requeued = sum(
            image_reprocess(image=image)
            for image in images.only("id", "org_id", "status")
            .order_by("created_at", "id")
            .iterator()
        )
        self.stdout.write(f"requeued {requeued} image(s)")
