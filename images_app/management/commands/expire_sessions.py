from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._lookup import org_lookup
from images_app.retention import session_expire, sessions_stale
from imaging.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Finish active sessions idle for HOURS as abandoned (a device crashed or lost its "
        "network). Idle: no session start, presign or upload within that time. Idempotent; "
        "prints how many were expired."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            required=True,
            metavar="HOURS",
            help="Idle for at least this many hours.",
        )
        parser.add_argument("--org", help="Only this organisation (id or name).")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would expire, change nothing."
        )

    def handle(self, *args, older_than, org, dry_run, **options):
        if not older_than > 0:
            raise CommandError("--older-than must be a positive number of hours")
        idle_for = timedelta(hours=older_than)
        scope = org_lookup(org) if org else None
        stale = list(sessions_stale(idle_for=idle_for, org=scope))
        if dry_run:
            for session in stale:
                last = f"{session.last_activity:%Y-%m-%d %H:%M}Z"
                self.stdout.write(f"would expire {session.id} (last activity {last})")
            self.stdout.write(f"would expire {len(stale)} session(s)")
            return
        progress = Progress(self.stderr, total=len(stale), label="expiring")
        expired = 0
        for session in stale:
            expired += session_expire(session=session, idle_for=idle_for)
            progress.advance(note=str(session.id))
        progress.finish()
        self.stdout.write(f"expired {expired} session(s)")
