"""`make test` first checks the services the suite needs and names what is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from django.conf import settings as django_settings

from devtools.seaweed import free_ports

SCRIPT = Path(django_settings.BASE_DIR) / "scripts" / "ensure-test-deps.sh"


def check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_postgresql_and_redis_running_the_check_passes_silently():
    result = check(
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging")
    )

    assert (result.returncode, result.stderr) == (0, "")


def test_without_postgresql_the_check_names_it_and_where_it_looked():
    (closed,) = free_ports(1)

    result = check(DATABASE_URL=f"postgres://postgres:secret@127.0.0.1:{closed}/imaging")

    assert result.returncode == 1
    assert f"PostgreSQL is not running at 127.0.0.1:{closed}" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "secret" not in result.stderr
    assert "Redis" not in result.stderr


def test_without_redis_the_check_names_it_and_where_it_looked():
    (closed,) = free_ports(1)

    result = check(REDIS_CHECK_URL=f"redis://127.0.0.1:{closed}")

    assert result.returncode == 1
    assert f"Redis is not running at 127.0.0.1:{closed}" in result.stderr
    assert "PostgreSQL" not in result.stderr
    # docs/development.md shows this message for the default address.
    shown = result.stderr.replace(f"127.0.0.1:{closed}", "127.0.0.1:6379")
    assert shown in (Path(django_settings.BASE_DIR) / "docs" / "development.md").read_text()
