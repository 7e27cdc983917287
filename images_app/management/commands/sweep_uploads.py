from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from images_app.services import uploads_sweep
from images_app.storage import StorageUnavailable


class Command(BaseCommand):
    help = (
        "Enqueue pending images whose upload arrived (or whose task was lost), take over "
        "stale processing claims, and fail uploads that never arrived. Safe to run any time; "
        "beat runs it every five minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=10,
            metavar="MINUTES",
            help="Only look at pending images quiet for this long (default 10).",
        )
        parser.add_argument("--limit", type=int, default=1000, help="Images per kind and run.")

    def handle(self, *args, older_than, limit, **options):
        if older_than < 0 or limit < 1:
            raise CommandError("--older-than must be >= 0 and --limit >= 1")
        try:
            summary = uploads_sweep(older_than=timedelta(minutes=older_than), limit=limit)
        except StorageUnavailable as exc:
            raise CommandError(f"storage unavailable: {exc}") from exc
        self.stdout.write(str(summary))
