"""Spin health measured: precision and recall on seeded corrupted variants of real spins.

Run: ``.venv/bin/python bench/spin_health.py`` (about a minute). The variants and the matching
rule are in images_app/tests/spin_variants.py; images_app/tests/test_spin_health.py pins
the same figures. Prints the table docs/spin-health.md shows: every variant judged as a
finished session that declared its frame count (a drop: the spin's own count), and drops
with the rest renumbered also without a declared count (the pictures alone).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from images_app import spin_health  # noqa: E402
from images_app.tests import spin_variants  # noqa: E402

SEED, PER_KIND = 16, 20
# Other seeds, to show how much the figures depend on which variants were drawn.
MORE_SEEDS = (17, 99)


def main() -> int:
    result = spin_variants.evaluate(seed=SEED, per_kind=PER_KIND)
    more = [spin_variants.evaluate(seed=seed, per_kind=PER_KIND) for seed in MORE_SEEDS]
    spins = ", ".join(spin_variants.SPINS)
    print(f"Spins: {spins}; {PER_KIND} variants per corruption per spin, seed {SEED}")
    print(
        f"Thresholds: duplicate below {spin_health.DUPLICATE_BELOW}; out of order (thumbnails "
        f"reduced {spin_health.COARSE_FACTOR}x) above {spin_health.OUT_OF_ORDER_GAIN} usual "
        f"steps and {spin_health.OUT_OF_ORDER_SHARE:.0%} of the change around the frame, "
        f"from {spin_health.MIN_ORDER_FRAMES} frames; skipped angle above "
        f"{spin_health.SKIP_STEP_RATIO}x the usual angle step, or (angles consecutive) where "
        f"the mirror pairs fit {spin_health.MIRROR_GAIN}x better with a frame missing "
        f"(and the step is {spin_health.MIRROR_STEP_RATIO}x its smaller neighbour), or a "
        f"picture step {spin_health.SKIP_DISTANCE_RATIO}x both neighbouring steps; a finished "
        f"session short of its declared frames (up to {spin_health.MAX_HOLES_PLACED}) gets "
        f"them where the pictures point when the best place scores "
        f"{spin_health.HOLE_CLEAR} or {spin_health.HOLE_APART}x the next (mirror pairs, step, "
        f"distances across, and the kink in the vehicle's top and bottom edges: "
        f"{spin_health.OUTLINE_SHARE:.0%} of its contrast, a line through "
        f"{spin_health.OUTLINE_FRAMES} frames each side)\n"
    )
    seeds = ", ".join(map(str, (SEED, *MORE_SEEDS)))
    print(f"| corruption | reported as | variants | recall | seeds {seeds}: lowest, mean |")
    print("|---|---|---|---|---|")
    for kind, recall in result["recall"].items():
        count = PER_KIND * len(spin_variants.SPINS)
        every = [recall, *(r["recall"][kind] for r in more)]
        print(
            f"| {kind} | {spin_variants.FINDING_OF[kind]} | {count} | {recall:.3f} | "
            f"{min(every):.3f}, {sum(every) / len(every):.3f} |"
        )
    every = [result["recall_pictures_only"], *(r["recall_pictures_only"] for r in more)]
    print(
        f"| drop_renumbered, no declared count | skipped_angles | "
        f"{PER_KIND * len(spin_variants.SPINS)} | {every[0]:.3f} | "
        f"{min(every):.3f}, {sum(every) / len(every):.3f} |"
    )
    told = "/".join(f"{r['reported']['drop_renumbered']:.3f}" for r in (result, *more))
    print(
        f"\ndrop_renumbered found, or reported as a frame missing without a place (seeds "
        f"{seeds}): {told}"
    )
    unplaced = "; ".join(
        f"seed {s}: {r['unplaced'] or 'none'}"
        for s, r in zip((SEED, *MORE_SEEDS), (result, *more), strict=True)
    )
    print(f"Shortfalls reported without a place, by corruption: {unplaced}")
    by_spin = ", ".join(
        f"{spin} "
        + "/".join(f"{r['recall_pictures_only_by_spin'][spin]:.2f}" for r in (result, *more))
        for spin in spin_variants.SPINS
    )
    print(f"\ndrop_renumbered without a declared count by spin (seeds {seeds}): {by_spin}", end="")
    for kind in ("drop_renumbered", "swap"):
        by_spin = ", ".join(
            f"{spin} " + "/".join(f"{r['recall_by_spin'][kind, spin]:.2f}" for r in (result, *more))
            for spin in spin_variants.SPINS
        )
        print(f"\n{kind} by spin (seeds {seeds}): {by_spin}", end="")
    print()
    print(f"\n| finding | reported | precision | seeds {seeds}: lowest, mean |")
    print("|---|---|---|---|")
    for kind, precision in result["precision"].items():
        every = [precision, *(r["precision"][kind] for r in more)]
        print(
            f"| {kind} | {result['findings'].get(kind, 0)} | {precision:.3f} | "
            f"{min(every):.3f}, {sum(every) / len(every):.3f} |"
        )
    print(f"\nFalse alarms on the clean spins: {result['clean_false_alarms']}")
    print(
        f"Turn direction right (and flipped when reversed) on {result['directions_right']} of "
        f"{len(spin_variants.SPINS)} spins: {result['directions']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
