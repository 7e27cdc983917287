from django.core.management.base import BaseCommand

from accounts.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent) and print how to log in. Development only."

    def handle(self, *args, **options):
        demo = demo_seed()
        self.stdout.write(f"demo org        {demo['org_id']}")
        self.stdout.write(f"demo site       {demo['site_id']}")
        for email, password in demo["passwords"].items():
            self.stdout.write(f"login           {email} / {password}")
        self.stdout.write(f"enrollment code {demo['enrollment_code']}")
