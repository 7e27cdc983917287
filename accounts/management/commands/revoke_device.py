import uuid

from django.core.management.base import CommandError

from accounts.management.commands._base import StaffCommand
from accounts.models import Device
from accounts.services import device_revoke


class Command(StaffCommand):
    help = "Revoke a device: its tokens stop working at once. Prints the device id."

    def add_arguments(self, parser):
        parser.add_argument("device_id")

    def handle(self, *args, device_id, **options):
        try:
            device = Device.objects.filter(pk=uuid.UUID(device_id)).first()
        except ValueError:
            device = None
        if device is None:
            raise CommandError(f"no device {device_id!r}")
        device_revoke(device=device)
        self.stdout.write(str(device.id))
