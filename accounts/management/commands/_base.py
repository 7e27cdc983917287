"""Staff commands print their result as the last line and fail with a one-line reason."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from imaging.api.errors import ApplicationError


class StaffCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
