from accounts.management.commands._base import StaffCommand
from accounts.models import Organization
from accounts.services import org_create


class Command(StaffCommand):
    help = "Create an organization; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--open-enrollment",
            action="store_true",
            help="Let devices enroll without a code (knowing the org id is then enough).",
        )

    def handle(self, *args, name, open_enrollment, **options):
        policy = (
            Organization.EnrollmentPolicy.OPEN
            if open_enrollment
            else Organization.EnrollmentPolicy.CODE
        )
        org = org_create(name=name, enrollment_policy=policy)
        self.stdout.write(str(org.id))
