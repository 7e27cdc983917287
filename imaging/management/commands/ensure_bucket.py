from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from images_app import storage
from images_app.seaweed import SeaweedError, wait_for


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
        try:
            wait_for(storage.bucket_ensure, timeout=wait, what=f"bucket {settings.S3_BUCKET}")
        except SeaweedError as exc:
            raise CommandError(str(exc).splitlines()[0]) from exc
        self.stdout.write(settings.S3_BUCKET)
