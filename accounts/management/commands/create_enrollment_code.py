from datetime import timedelta

from accounts.management.commands._base import StaffCommand
from accounts.management.commands._lookup import org_lookup
from accounts.services import enrollment_code_create


class Command(StaffCommand):
    help = "Create a device enrollment code; prints the code (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization id or name.")
        parser.add_argument("--uses", type=int, default=1)
        parser.add_argument("--expires-in", type=float, default=7, help="Days (default 7).")
        parser.add_argument("--label", default="")

    def handle(self, *args, org, uses, expires_in, label, **options):
        code, plain = enrollment_code_create(
            org=org_lookup(org), uses=uses, expires_in=timedelta(days=expires_in), label=label
        )
        self.stdout.write(f"expires {code.expires_at:%Y-%m-%dT%H:%M:%SZ}, {code.uses_left} uses")
        self.stdout.write(plain)
