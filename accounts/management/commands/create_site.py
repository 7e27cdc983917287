from accounts.management.commands._base import StaffCommand
from accounts.management.commands._lookup import org_lookup
from accounts.services import site_create


class Command(StaffCommand):
    help = "Create a site in an organization; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization id or name.")
        parser.add_argument("name")

    def handle(self, *args, org, name, **options):
        site = site_create(org=org_lookup(org), name=name)
        self.stdout.write(str(site.id))
