"""Development-only tools: the local S3 server, demo seeding and the process supervisor
behind ``make run``. Nothing in production imports this package (CI holds that with
import-linter); it is installed as an app only to offer its management commands."""
