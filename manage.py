#!/usr/bin/env python
import os
import sys

# Commands that only read the code and write files for developers: they run in development
# settings when DEBUG is not set, so a checkout with no environment can make and check its
# migrations. Every other command started without DEBUG runs as production and refuses to
# start without its secrets (imaging/settings.py).
DEVELOPMENT_COMMANDS = {"makemigrations"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")
    if len(sys.argv) > 1 and sys.argv[1] in DEVELOPMENT_COMMANDS:
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
