import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from publishing import public_store


class Command(BaseCommand):
    help = (
        "Create the public bucket of web renditions and manifests unless it exists, with a "
        "CORS rule for GET from any origin (a fresh SeaweedFS or MinIO; on AWS create it, its "
        "public-read policy and CORS with your infrastructure tools). Waits for the store to "
        "answer. Prints the bucket."
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
                public_store.bucket_ensure()
                break
            except Exception as exc:
                # A store that has just started answers errors for a few seconds.
                if time.monotonic() >= deadline:
                    bucket = settings.PUBLIC_S3_BUCKET
                    message = f"bucket {bucket} not ready after {wait:.0f}s: {exc}"
                    raise CommandError(message.splitlines()[0]) from exc
                time.sleep(0.25)
        self.stdout.write(settings.PUBLIC_S3_BUCKET)
