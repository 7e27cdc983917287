from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from images_app.services import uploads_sweep
from images_app.storage import StorageUnavailable


class Command(BaseCommand):
    help = (
        "Enqueue pending images whose upload arrived (or whose task was lost), take over "
        "stale processing claims, fail uploads that never arrived, and delete the objects no "
        "image claims under settled sessions' prefixes. Safe to run any time; beat runs it "
        "every five minutes."
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
        parser.add_argument(
            "--sessions",
            type=int,
            default=50,
            help="Sessions whose objects are listed per run (default 50).",
        )

    def handle(self, *args, older_than, limit, sessions, **options):
        if older_than < 0 or limit < 1 or sessions < 0:
            raise CommandError("--older-than and --sessions must be >= 0 and --limit >= 1")
        try:
            summary = uploads_sweep(
                older_than=timedelta(minutes=older_than), limit=limit, sessions_limit=sessions
            )
        except StorageUnavailable as exc:
            raise CommandError(f"storage unavailable: {exc}") from exc
        self.stdout.write(str(summary))
