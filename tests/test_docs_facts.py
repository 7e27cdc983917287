"""What the documentation states about services, ports and tests is what the code does.

The Redis databases the tests use, the ports `make run`, S3 and the test services listen on,
and the test names SECURITY.md cites are read from the code here and compared with every
page that states them, so a change on either side without the other fails the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

BASE_DIR = Path(django_settings.BASE_DIR)
SKIP_DIRS = {".venv", ".git", "site", "var", "node_modules", "test-artifacts"}
SHARED_REDIS = re.compile(r"redis://127\.0\.0\.1:6379/(\d+)")


def read(relative: str) -> str:
    return (BASE_DIR / relative).read_text()


def pages() -> dict[str, str]:
    """README, SECURITY.md and every page of the documentation site."""
    found = {name: read(name) for name in ("README.md", "SECURITY.md")}
    for page in sorted((BASE_DIR / "docs").glob("*.md")):
        found[f"docs/{page.name}"] = page.read_text()
    return found


def python_sources() -> list[Path]:
    return [
        path
        for path in BASE_DIR.rglob("*.py")
        if not SKIP_DIRS.intersection(path.relative_to(BASE_DIR).parts)
        and path.name != "test_docs_facts.py"
    ]


def shared_redis_databases_in_code() -> dict[int, set[str]]:
    """Database number → the files that use it, on the machine's Redis (127.0.0.1:6379)."""
    used: dict[int, set[str]] = {}
    for path in python_sources():
        for number in SHARED_REDIS.findall(path.read_text()):
            used.setdefault(int(number), set()).add(str(path.relative_to(BASE_DIR)))
    return used


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^## ", text[start + len(heading) :], re.M)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def makefile_default(name: str) -> str:
    return re.search(rf"^{name} \?= (\S+)$", read("Makefile"), re.M).group(1)


def settings_default(name: str) -> str:
    """The default in imaging/settings.py, whatever the environment of this test run says."""
    return re.search(
        rf'{name} = env\.str\("{name}", default="([^"]+)"\)', read("imaging/settings.py")
    ).group(1)


# --- Redis -----------------------------------------------------------------------------------


def test_the_tests_use_only_the_shared_redis_databases_the_docs_list():
    in_code = shared_redis_databases_in_code()
    table = section(read("docs/development.md"), "## Local services the tests use")
    readme = section(read("README.md"), "## `make test`")

    assert in_code, "no test uses the machine's Redis: update the docs and this test"
    assert {int(n) for n in SHARED_REDIS.findall(table)} == set(in_code)
    assert {int(n) for n in SHARED_REDIS.findall(readme)} == set(in_code)


def test_each_file_the_docs_name_for_a_redis_database_uses_that_database():
    in_code = shared_redis_databases_in_code()
    table = section(read("docs/development.md"), "## Local services the tests use")

    rows = [line for line in table.splitlines() if SHARED_REDIS.search(line)]
    for row in rows:
        (number,) = {int(n) for n in SHARED_REDIS.findall(row)}
        assert f"database {number}" in row
        named = set(re.findall(r"`([\w/]+\.py)`", row))
        assert named <= in_code[number], f"{row}\nuses database {number}: {in_code[number]}"


def test_no_page_names_a_shared_redis_database_the_code_does_not_use():
    in_code = set(shared_redis_databases_in_code())

    for name, text in pages().items():
        # Database 0 is the example REDIS_URL for running the product, not for tests.
        stated = {int(n) for n in SHARED_REDIS.findall(text)} - {0}
        assert stated <= in_code, f"{name} names Redis databases {stated - in_code}"
        assert not re.search(r"\bdb \d", text), f"{name}: name Redis databases by URL"


def test_the_make_test_check_looks_for_redis_where_the_tests_use_it():
    script = read("scripts/ensure-test-deps.sh")

    assert "REDIS_CHECK_URL:-redis://127.0.0.1:6379}" in script


# --- ports -----------------------------------------------------------------------------------


def runstack_default_port() -> int:
    from devtools.management.commands.runstack import Command

    return Command().create_parser("manage.py", "runstack").parse_args([]).port


def documented_ports() -> dict[str, int]:
    s3 = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", settings_default("S3_ENDPOINT_URL"))
    database = re.search(r"@127\.0\.0\.1:(\d+)/", makefile_default("TEST_DATABASE_URL"))
    return {
        "make run": int(makefile_default("PORT")),
        "S3": int(s3.group(1)),
        "PostgreSQL": int(database.group(1)),
        "Redis": 6379,
    }


def test_make_run_serves_where_the_docs_say():
    ports = documented_ports()
    host = makefile_default("HOST")

    assert runstack_default_port() == ports["make run"]
    for name in ("README.md", "docs/index.md"):
        assert f"`http://{host}:{ports['make run']}`" in read(name), name
        assert f"`http://{host}:{ports['S3']}`" in read(name), name


def test_every_local_address_in_the_docs_is_one_the_code_uses():
    allowed = set(documented_ports().values())

    for name, text in pages().items():
        stated = {int(port) for port in re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)", text)}
        assert stated <= allowed, f"{name} names ports {stated - allowed}"


def test_the_test_database_the_docs_name_is_the_one_make_test_uses():
    default = makefile_default("TEST_DATABASE_URL")

    assert f"DATABASE_URL:-{default}}}" in read("scripts/ensure-test-deps.sh")
    assert f"`{default}`" in section(read("README.md"), "## `make test`")
    assert f"`{default}`" in section(read("docs/development.md"), "## Local services the tests use")


def test_the_ports_compose_publishes_are_the_ones_the_docs_name():
    compose = read("docker-compose.yml")
    published = sorted(int(p) for p in re.findall(r'- "\$\{\w+:-(\d+)\}:\d+"', compose))

    assert published == [8000, 8333]
    assert "Only the web (8000) and the S3 gateway (8333," in read("docs/operations.md")


# --- SECURITY.md and the tests it cites ------------------------------------------------------


def cited_tests() -> list[tuple[str, str]]:
    return re.findall(r"\(test: `([\w/]+\.py)::(\w+)`\)", read("SECURITY.md"))


def test_security_md_has_every_section_the_security_tests_cite():
    headings = set(re.findall(r"^### (.+)$", read("SECURITY.md"), re.M))

    for path in sorted((BASE_DIR / "tests" / "security").glob("test_*.py")):
        cited = re.match(r'"""SECURITY\.md, "([^"]+)"', path.read_text())
        assert cited, f"{path.name} does not say which SECURITY.md section it proves"
        assert cited.group(1) in headings, f"{path.name} cites {cited.group(1)!r}"


@pytest.mark.parametrize(("path", "name"), cited_tests(), ids=lambda value: value)
def test_every_test_security_md_cites_exists(path, name):
    assert re.search(rf"^def {name}\(", read(path), re.M), f"{path}::{name}"


def test_security_md_cites_at_least_one_test_per_matrix_file():
    cited_files = {path for path, _ in cited_tests()}
    matrix_files = {
        str(path.relative_to(BASE_DIR))
        for path in (BASE_DIR / "tests" / "security").glob("test_matrix_*.py")
    }

    assert matrix_files <= cited_files
