from django.utils import timezone

from accounts.management.commands._base import StaffCommand
from accounts.models import SigningKey
from accounts.signing import signing_key_rotate


class Command(StaffCommand):
    help = (
        "Make a new key to sign API tokens. Tokens signed before keep working until they "
        "expire (nobody is logged out); --revoke-previous stops them at once (a leaked key). "
        "Lists the keys and prints the new kid last."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--algorithm",
            choices=SigningKey.Algorithm.values,
            default=None,
            help="default: the JWT_ALGORITHM setting (EdDSA)",
        )
        parser.add_argument(
            "--revoke-previous",
            action="store_true",
            help="every earlier key stops verifying now: all devices and users sign in again",
        )
        parser.add_argument("--list", dest="list_only", action="store_true", help="only list keys")

    def handle(self, *args, algorithm, revoke_previous, list_only, **options):
        key = None
        if not list_only:
            key = signing_key_rotate(algorithm=algorithm, revoke_previous=revoke_previous)
        now = timezone.now()
        for row in SigningKey.objects.all():
            if row.is_current:
                state = "current"
            elif row.verify_until and row.verify_until > now:
                state = f"retired, verifies until {row.verify_until:%Y-%m-%d %H:%M}Z"
            else:
                state = "no longer verifies"
            self.stdout.write(f"{row.kid}  {row.algorithm:<5}  {row.created_at:%Y-%m-%d}  {state}")
        if key is not None:
            self.stdout.write(key.kid)
