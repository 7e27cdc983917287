"""`make run`: the whole product on one machine with no external service.

Starts a local SeaweedFS under var/ when S3 points at this machine and nothing answers
there, creates the bucket, seeds the demo organisation, prints where to go, then serves.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.demo import demo_seed


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Command(BaseCommand):
    help = "Run SeaweedFS (if needed), seed the demo org and serve the web app."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        from images_app import storage
        from images_app.seaweed import SeaweedServer

        seaweed = None
        s3 = urlsplit(settings.S3_ENDPOINT_URL)
        s3_host, s3_port = s3.hostname or "127.0.0.1", s3.port or 80
        if s3_host in ("127.0.0.1", "localhost") and not _answers(s3_host, s3_port):
            self.stdout.write(f"starting SeaweedFS on {settings.S3_ENDPOINT_URL} (var/seaweedfs)")
            seaweed = SeaweedServer(
                settings.VAR_DIR / "seaweedfs",
                host=s3_host,
                s3_port=s3_port,
                access_key=settings.AWS_ACCESS_KEY_ID,
                secret_key=settings.AWS_SECRET_ACCESS_KEY,
            ).start()
        try:
            storage.bucket_ensure()
            demo = demo_seed()
            base = f"http://{host}:{port}"
            lines = [
                "",
                "360 Imaging is running.",
                f"  admin console    {base}/admin/",
                *(f"  login            {e} / {p}" for e, p in demo["passwords"].items()),
                f"  API docs         {base}/v1/docs",
                f"  OpenAPI          {base}/v1/openapi.json",
                f"  demo org id      {demo['org_id']}",
                f"  demo site id     {demo['site_id']}",
                f"  enrollment code  {demo['enrollment_code']}",
                f"  S3 (SeaweedFS)   {settings.S3_ENDPOINT_URL} bucket {settings.S3_BUCKET}",
                "",
            ]
            self.stdout.write("\n".join(lines))
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            if seaweed is not None:
                seaweed.stop()
