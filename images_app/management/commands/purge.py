from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.management.commands._lookup import org_lookup
from images_app.retention import session_purge, session_storage_keys, sessions_purgeable
from images_app.storage import StorageError
from imaging.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Delete abandoned sessions that finished over DAYS ago: their originals and "
        "thumbnails from the store, then their rows. Events are kept. Dry run unless --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--abandoned-older-than",
            type=float,
            required=True,
            metavar="DAYS",
            help="Abandoned at least this many days ago.",
        )
        parser.add_argument("--org", help="Only this organisation (id or name).")
        parser.add_argument("--yes", action="store_true", help="Delete (default: only list).")

    def handle(self, *args, abandoned_older_than, org, yes, **options):
        if not abandoned_older_than >= 0:
            raise CommandError("--abandoned-older-than must be 0 or more days")
        finished_before = timezone.now() - timedelta(days=abandoned_older_than)
        scope = org_lookup(org) if org else None
        sessions = list(sessions_purgeable(finished_before=finished_before, org=scope))
        if not yes:
            images = objects = 0
            for session in sessions:
                count, keys = session.images.count(), session_storage_keys(session=session)
                images, objects = images + count, objects + len(keys)
                self.stdout.write(
                    f"would purge {session.id} (abandoned {session.completed_at:%Y-%m-%d}, "
                    f"{count} image(s), {len(keys)} object key(s))"
                )
            self.stdout.write(
                f"dry run: would purge {len(sessions)} session(s), {images} image(s), "
                f"{objects} object key(s); run again with --yes to delete"
            )
            return
        progress = Progress(self.stderr, total=len(sessions), label="purging")
        purged = images = objects = 0
        for session in sessions:
            try:
                result = session_purge(session=session, finished_before=finished_before)
            except StorageError as exc:
                progress.finish()
                raise CommandError(
                    f"storage error after {purged} session(s), nothing lost: {exc}"
                ) from exc
            purged += result.purged
            images += result.images
            objects += result.objects
            progress.advance(note=str(session.id))
        progress.finish()
        self.stdout.write(
            f"purged {purged} session(s), {images} image(s), {objects} object key(s); events kept"
        )
