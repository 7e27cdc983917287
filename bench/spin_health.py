"""Spin health measured: precision and recall on seeded corrupted variants of real spins.

Run: ``.venv/bin/python bench/spin_health.py`` (about 20 s). The variants and the matching
rule are in images_app/tests/spin_variants.py; images_app/tests/test_spin_health.py pins
the same figures. Prints the table docs/spin-health.md shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from images_app import spin_health  # noqa: E402
from images_app.tests import spin_variants  # noqa: E402

SEED, PER_KIND = 16, 20


def main() -> int:
    result = spin_variants.evaluate(seed=SEED, per_kind=PER_KIND)
    spins = ", ".join(spin_variants.SPINS)
    print(f"Spins: {spins}; {PER_KIND} variants per corruption per spin, seed {SEED}")
    print(
        f"Thresholds: duplicate below {spin_health.DUPLICATE_BELOW}, out of order above "
        f"{spin_health.OUT_OF_ORDER_GAIN} usual steps, skipped angle above "
        f"{spin_health.SKIP_STEP_RATIO}x the usual angle step or "
        f"{spin_health.SKIP_DISTANCE_RATIO}x the neighbouring picture steps\n"
    )
    print("| corruption | reported as | variants | recall |")
    print("|---|---|---|---|")
    for kind, recall in result["recall"].items():
        count = PER_KIND * len(spin_variants.SPINS)
        print(f"| {kind} | {spin_variants.FINDING_OF[kind]} | {count} | {recall:.3f} |")
    print("\n| finding | reported | precision |")
    print("|---|---|---|")
    for kind, precision in result["precision"].items():
        print(f"| {kind} | {result['findings'].get(kind, 0)} | {precision:.3f} |")
    print(f"\nFalse alarms on the clean spins: {result['clean_false_alarms']}")
    print(f"Turn direction: {result['directions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
