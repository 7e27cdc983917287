import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from images_app.models import CheckPolicy


class Command(BaseCommand):
    help = (
        "Show or set an organisation's checks: spin health, warn (the default) or block "
        "publishing an unhealthy spin; duplicates, warn or reject; the duplicate window in "
        "days; coverage, warn or block publishing a session below 100 % of its shot-list "
        "template's required items; reshoot on QC failure: off (the default), suggest or "
        "require."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, metavar="ID")
        parser.add_argument("--spin-health", choices=CheckPolicy.SpinHealth.values)
        parser.add_argument("--duplicates", choices=CheckPolicy.Duplicates.values)
        parser.add_argument("--window-days", type=int, metavar="DAYS")
        parser.add_argument("--qc-reshoot", choices=CheckPolicy.QcReshoot.values)
        parser.add_argument("--coverage", choices=CheckPolicy.Coverage.values)

    def handle(
        self, *args, org, spin_health, duplicates, window_days, qc_reshoot, coverage, **options
    ):
        try:
            organisation = Organization.objects.get(pk=uuid.UUID(org))
        except (ValueError, Organization.DoesNotExist) as exc:
            raise CommandError(f"no organisation {org!r}") from exc
        if window_days is not None and not 1 <= window_days <= 3650:
            raise CommandError("--window-days must be 1 to 3650")
        policy, _ = CheckPolicy.objects.get_or_create(org=organisation)
        changes = {
            "spin_health": spin_health,
            "duplicates": duplicates,
            "duplicate_window_days": window_days,
            "qc_reshoot": qc_reshoot,
            "coverage": coverage,
        }
        for field, value in changes.items():
            if value is not None:
                setattr(policy, field, value)
        policy.save()
        self.stdout.write(
            f"{organisation}: spin health {policy.spin_health}, duplicates "
            f"{policy.duplicates}, window {policy.duplicate_window_days} days, coverage "
            f"{policy.coverage}, reshoot on QC failure {policy.qc_reshoot}"
        )
