"""Hostile text for validators, and the request fields to send it to.

A backtracking pattern is slow on a long run of characters it accepts that ends in one it
refuses: each way of splitting the run is tried before giving up. The shapes below are such
runs for the patterns of this API (visible text, spaces, JSON whitespace, digits). The
fields are found in the serializers the OpenAPI document is generated from, so a new field
or endpoint is covered without being listed.

Shared by ``imaging/tests/test_hostile_text.py`` and ``bench/validators.py``.
"""

from __future__ import annotations

import gc
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

MIB = 1024 * 1024

# (name, run, end): the run repeated to the length, then the end. Each ends in a control
# character, which no field of the API accepts.
SHAPES: tuple[tuple[str, str, str], ...] = (
    ("visible-then-control", "a", "\x1f"),
    ("spaces-then-control", " ", "\x1f"),
    ("json-whitespace-then-control", "\t", "\x1f"),
    ("words-then-bidi-override", "a ", "\u202e"),
    ("ideographic-spaces-then-next-line", "\u3000", "\x85"),
    ("digits-then-control", "0", "\x1f"),
    ("vin-then-spaces-then-control", "1HGCM82633A004352" + " " * 64, "\x1f"),
)
# The three that go through HTTP (each request carries a megabyte).
HTTP_SHAPES = SHAPES[:3]


def hostile_text(run: str, end: str, length: int) -> str:
    """``length`` characters: ``run`` over and over, then ``end``."""
    body = length - len(end)
    return (run * (body // len(run) + 1))[:body] + end


# --- the fields


@dataclass(frozen=True)
class RequestField:
    """A field of a request body or query, and how to reach it in the data."""

    operation: str  # "POST /v1/presign"
    serializer: type[serializers.BaseSerializer]
    path: tuple[str | int, ...]  # keys and list indexes from the top of the data

    @property
    def name(self) -> str:
        return ".".join(str(step) for step in self.path)

    def data_with(self, value: Any) -> Any:
        """Data holding ``value`` at this field's place and nothing else."""
        for step in reversed(self.path):
            value = [value] if isinstance(step, int) else {step: value}
        return value


def _documented_serializers() -> Iterator[tuple[str, Any]]:
    """(operation, serializer) of every request body and query the API documents."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        view.request = None
        operation = f"{method} {path}"
        for query in view.schema.get_override_parameters():
            if isinstance(query, type) and issubclass(query, serializers.BaseSerializer):
                yield operation, query
        if method in ("POST", "PUT", "PATCH"):
            body = view.schema.get_request_serializer()
            if isinstance(body, PolymorphicProxySerializer):
                branches = body.serializers
                yield from (
                    (operation, branch)
                    for branch in (branches.values() if isinstance(branches, dict) else branches)
                )
            elif body is not None:
                yield operation, body


def _leaves(field: serializers.Field, path: tuple[str | int, ...]) -> Iterator[tuple]:
    if field.read_only:
        return
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        yield from _leaves(field.child, (*path, 0))
    elif isinstance(field, serializers.BaseSerializer):
        for name, child in field.fields.items():
            yield from _leaves(child, (*path, name))
    elif isinstance(field, serializers.DictField):
        yield from _leaves(field.child, (*path, "key"))
    else:
        yield path


def request_fields() -> list[RequestField]:
    """Every leaf field of every documented request body and query, once each."""
    found: dict[tuple, RequestField] = {}
    for operation, serializer in _documented_serializers():
        cls = serializer if isinstance(serializer, type) else type(serializer)
        for name, field in cls().fields.items():
            for path in _leaves(field, (name,)):
                found.setdefault((operation, path), RequestField(operation, cls, path))
    return list(found.values())


def validation_errors(field: RequestField, text: str) -> dict[str, Any]:
    """What the field's serializer says of ``text`` in its place ({} when it accepts it)."""
    serializer = field.serializer(data=field.data_with(text))
    serializer.is_valid()
    return dict(serializer.errors)


# --- CPU time


class CpuTimeExceeded(Exception):
    pass


@dataclass
class CpuTime:
    seconds: float = 0.0


@contextmanager
def cpu_time_limit(seconds: float) -> Iterator[CpuTime]:
    """The calling thread's CPU time spent inside, and ``CpuTimeExceeded`` once it passes
    ``seconds``.

    CPU time, not wall-clock time: other processes on a busy machine do not count, nor do
    other threads of this process (a live server's, a receiver's) nor a garbage collection
    owed by earlier tests (the collector is paused inside: collecting the heap first cost
    seconds in a long test run). The profiling timer counts the whole process, so when it
    fires early for others' CPU it is set again for what is left of ours. The signal also
    stops a runaway regular expression (``re`` checks for signals as it backtracks), so a
    quadratic validator fails in ``seconds`` instead of after hours.
    """
    collecting = gc.isenabled()
    gc.disable()
    start = time.thread_time()

    def expired(signum: int, frame: Any) -> None:
        left = seconds - (time.thread_time() - start)
        if left <= 0:
            raise CpuTimeExceeded(f"over {seconds} s of CPU")
        signal.setitimer(signal.ITIMER_PROF, left)

    spent = CpuTime()
    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield spent
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        spent.seconds = time.thread_time() - start
        if collecting:
            gc.enable()
