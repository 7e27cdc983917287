import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from publishing.feeds import CHANNELS, feed_csv


class Command(BaseCommand):
    help = (
        "Write an organisation's live vehicles as a listing feed (CSV) for a channel: VIN, "
        "stock, manifest URL, hero image and additional images in the channel's order and "
        "limits. Withdrawn vehicles are left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation id or exact name.")
        parser.add_argument("--channel", required=True, choices=sorted(CHANNELS))
        parser.add_argument("--output", "-o", type=Path, help="File to write (default stdout).")

    def handle(self, *args, org, channel, output, **options):
        try:
            found = Organization.objects.filter(pk=uuid.UUID(org)).first()
        except ValueError:
            found = Organization.objects.filter(name=org).first()
        if found is None:
            raise CommandError(f"no organisation {org!r}")
        body = feed_csv(org_id=found.pk, channel=CHANNELS[channel])
        if output is None:
            self.stdout.write(body, ending="")
        else:
            output.write_text(body, encoding="utf-8")
            self.stderr.write(f"wrote {output}")
