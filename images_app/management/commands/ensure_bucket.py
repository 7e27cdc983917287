import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from images_app import storage


class Command(BaseCommand):
    help = (
        "Create the S3 bucket unless it exists (a fresh SeaweedFS or MinIO; on AWS create it "
        "with your infrastructure tools). Waits for the store to answer. Prints the bucket."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=30, metavar="SECONDS", help="How long to retry."
        )

    def handle(self, *args, wait, **options):
        if wait < 0:
            raise CommandError("--wait must be 0 or more seconds")
        deadline = time.monotonic() + wait
        while True:
            try:
                storage.bucket_ensure()
                break
            except Exception as exc:
                # A store that has just started answers errors for a few seconds.
                if time.monotonic() >= deadline:
                    message = f"bucket {settings.S3_BUCKET} not ready after {wait:.0f}s: {exc}"
                    raise CommandError(message.splitlines()[0]) from exc
                time.sleep(0.25)
        self.stdout.write(settings.S3_BUCKET)
