from django.core.management.base import BaseCommand

from devtools.demo import demo_photo_count, demo_seed
from imaging.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Create the demo organisation (idempotent): logins, an enrollment code, a processed "
        "24-frame studio360 spin, a stills session and a spin with rejected frames, a retake "
        "and an open reshoot. Prints how to log in. Development only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-sessions", action="store_true", help="Only the org, users and enrollment code."
        )

    def handle(self, *args, no_sessions, **options):
        progress: Progress | None = None

        def advance(note: str) -> None:
            nonlocal progress
            if progress is None:
                progress = Progress(self.stderr, total=demo_photo_count(), label="demo photos")
            progress.advance(note=note)

        demo = demo_seed(sessions=not no_sessions, progress=advance)
        if progress is not None:
            progress.finish()
        self.stdout.write(f"demo org        {demo['org_id']}")
        self.stdout.write(f"demo site       {demo['site_id']}")
        for email, password in demo["passwords"].items():
            self.stdout.write(f"login           {email} / {password}")
        if not no_sessions:
            self.stdout.write(f"spin session    {demo['spin_session_id']}")
            self.stdout.write(f"stills session  {demo['stills_session_id']}")
            self.stdout.write(f"reshoot session {demo['reshoot_session_id']}")
        self.stdout.write(f"enrollment code {demo['enrollment_code']}")
