from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email

from accounts.management.commands._base import StaffCommand
from accounts.management.commands._lookup import org_lookup, site_lookup
from accounts.models import User
from accounts.services import user_create


class Command(StaffCommand):
    help = "Create a user (staff, may use the admin console); prints its id."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization id or name.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", required=True, choices=User.Role.values)
        parser.add_argument(
            "--site", action="append", default=[], help="Site id or name; repeat for several."
        )
        parser.add_argument("--password", help="Break-glass admin password (default: none).")
        parser.add_argument(
            "--any-domain",
            action="store_true",
            help="Allow an address outside the organisation's email domains.",
        )

    def handle(self, *args, org, email, name, role, site, password, any_domain, **options):
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"invalid email {email!r}") from exc
        organization = org_lookup(org)
        sites = [site_lookup(organization, s) for s in site]
        user = user_create(
            org=organization,
            email=email,
            name=name,
            role=role,
            sites=sites,
            password=password,
            any_domain=any_domain,
        )
        self.stdout.write(str(user.id))
