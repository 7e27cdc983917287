"""Benchmark of every request field's validation on hostile text, against reading the body.

Run: ``.venv/bin/python bench/validators.py`` (about a minute on 2 cores). Exits non-zero
when a target fails.

For each leaf field of every request body and query the OpenAPI document describes (found in
its serializers, as ``imaging/tests/test_hostile_text.py`` finds them) and each hostile shape
of ``imaging/tests/hostile_text.py`` (a long run the field's pattern accepts, ending in a
character it refuses), the field's serializer validates ``--length`` characters (1 MiB by
default) in the field's place. It prints, per field, the worst shape's time next to the
*floor* measured on the same text in the same run: ``json.loads`` of the request body that
carries it (what the server does with any such body before validation starts). Each is the
median of ``--pairs`` runs (``time.perf_counter``: CPU time is counted in 4 ms ticks on some
machines), run as pairs in alternating order; the ratio is the median of the per-pair ratios,
which cancels drift in machine speed.

A validation is stopped after ``--cap`` seconds of CPU (shown as ``>cap``): a quadratic
validator takes hours on a megabyte.

Targets: every validation of 1 MiB under 0.5 s and under 250x its floor. (A linear pattern
that backtracks a few steps per character, like the VIN's over surrounding whitespace, costs
tens of milliseconds a megabyte; a quadratic one, hours.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")

import django  # noqa: E402

django.setup()

from imaging.tests.hostile_text import (  # noqa: E402
    MIB,
    SHAPES,
    CpuTimeExceeded,
    RequestField,
    cpu_time_limit,
    hostile_text,
    request_fields,
    validation_errors,
)

TARGET_SECONDS = 0.5
TARGET_RATIO = 250.0


def _timed(work, cap: float) -> float:
    """Seconds ``work`` took; ``inf`` once it passes ``cap`` seconds of CPU."""
    try:
        with cpu_time_limit(cap):
            start = time.perf_counter()
            work()
            return time.perf_counter() - start
    except CpuTimeExceeded:
        return float("inf")


def _measure(
    field: RequestField, text: str, *, pairs: int, cap: float
) -> tuple[float, float, float]:
    """Median seconds of (validation, floor) for ``text`` in ``field``'s place, and the
    median of the per-pair ratios (each pair run back to back, in alternating order)."""
    body = json.dumps(field.data_with(text), ensure_ascii=False).encode()

    def floor() -> float:
        return _timed(lambda: json.loads(body), cap)

    def validation() -> float:
        return _timed(lambda: validation_errors(field, text), cap)

    if validation() == float("inf"):  # warm-up, and the cap
        return float("inf"), floor(), float("inf")
    results = []
    for index in range(pairs):
        if index % 2:
            results.append((validation(), floor()))
        else:
            floor_seconds = floor()
            results.append((validation(), floor_seconds))
    return (
        statistics.median(v for v, _ in results),
        statistics.median(f for _, f in results),
        statistics.median(v / f for v, f in results),
    )


def _seconds(value: float, cap: float) -> str:
    return f">{cap:g} s" if value == float("inf") else f"{value * 1000:8.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=MIB, help="characters of hostile text")
    parser.add_argument("--pairs", type=int, default=7, help="validation/floor pairs (median)")
    parser.add_argument("--cap", type=float, default=10.0, help="CPU seconds per validation")
    parser.add_argument("--field", help="only fields whose name ends with this (e.g. model)")
    args = parser.parse_args()

    fields = request_fields()
    if args.field:
        fields = [f for f in fields if f.name.endswith(args.field)]
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {args.length} characters")
    print(
        f"{'operation':<24} {'field':<28} {'worst shape':<34} {'validation':>11} "
        f"{'json floor':>11} {'ratio':>7}"
    )
    worst: tuple[float, float, str] = (0.0, 0.0, "")
    failures = []
    for field in fields:
        results = []
        for name, run, end in SHAPES:
            text = hostile_text(run, end, args.length)
            results.append((*_measure(field, text, pairs=args.pairs, cap=args.cap), name))
        validation, floor, ratio, shape = max(results)
        print(
            f"{field.operation:<24} {field.name:<28} {shape:<34} "
            f"{_seconds(validation, args.cap):>11} {_seconds(floor, args.cap):>11} {ratio:7.1f}"
        )
        if validation > worst[0]:
            worst = (validation, ratio, f"{field.operation} {field.name} ({shape})")
        if validation > TARGET_SECONDS or ratio > TARGET_RATIO:
            failures.append(f"{field.operation} {field.name}: {shape}")
    print(
        f"\nworst: {_seconds(worst[0], args.cap).strip()} ({worst[1]:.1f}x the floor), {worst[2]}"
    )
    if args.length >= MIB and failures:
        print(f"targets missed (<= {TARGET_SECONDS} s and <= {TARGET_RATIO:g}x): {failures}")
        return 1
    return 0


if __name__ == "__main__":
    t0 = time.monotonic()
    status = main()
    print(f"({time.monotonic() - t0:.0f} s)")
    sys.exit(status)
