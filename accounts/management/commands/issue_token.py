from django.core.management.base import CommandError

from accounts.management.commands._base import StaffCommand
from accounts.management.commands._lookup import user_lookup
from accounts.tokens import user_token_issue


class Command(StaffCommand):
    help = "Issue a user access token (8 hours) for scripts; prints the token."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)

    def handle(self, *args, email, **options):
        user = user_lookup(email)
        if not user.is_active or user.org_id is None:
            raise CommandError(f"user {email!r} is inactive or belongs to no organization")
        self.stdout.write(str(user_token_issue(user=user)))
