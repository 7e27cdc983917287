"""Corrupted variants of real spins, and how well spin health finds what was done to them.

Spins: the car (36 frames) and the bicycle (34) in fixtures/spin/ and the demo spin
(24 rendered frames of clients/synthetic_frames.py). Each frame goes through the real
pipeline once; a "re-shot" of a frame is the same photo re-encoded at JPEG quality 60 and
brightened 6 %, then processed again, so a duplicate is never byte-identical.

Corruptions, with a fixed seed: duplicate a frame (a re-shot inserted after it), swap two
neighbours, swap two frames anywhere, move one frame elsewhere, drop one or two frames
(the angles of the others kept, as when an upload never arrives), drop one frame and
renumber (the device never knew), reverse the order. A finding matches what was done
when it has the same type and names a frame within one position of it.

Each variant is judged as the frames of a finished session that declared how many frames
it would take: for a drop the spin's own count (the frames that never came were declared),
for every other variant and clean spin the frames it has. Drops with the rest renumbered are
also judged without a declared count (pictures only), which `evaluate` reports apart.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from images_app import pipeline
from images_app.spin_health import SpinFrame, spin_health_assess

FIXTURES = Path(__file__).parent / "fixtures" / "spin"
SPINS = ("car_toyota_chr_evox_36", "bicycle_spritespin_34", "demo_24")
# How each spin turns, seen from above, as the frame index grows (judged from the pictures):
# the car shows its driver side in frame 1 and its rear in frame 10; the bicycle's rear wheel
# comes towards the camera (larger, lower) from frame 1 to its rear view in frame 9; the demo
# spin's car swings its left end towards the camera as the angle grows.
TURNS = {
    "car_toyota_chr_evox_36": "clockwise",
    "bicycle_spritespin_34": "clockwise",
    "demo_24": "counter_clockwise",
}
OTHER_WAY = {"clockwise": "counter_clockwise", "counter_clockwise": "clockwise"}
KINDS = (
    "duplicate",
    "swap_neighbours",
    "swap",
    "move",
    "drop",
    "drop_renumbered",
    "reverse",
)
# What each corruption should be reported as.
FINDING_OF = {
    "duplicate": "duplicate",
    "swap_neighbours": "out_of_order",
    "swap": "out_of_order",
    "move": "out_of_order",
    "drop": "skipped_angles",
    "drop_renumbered": "skipped_angles",
}


@cache
def spin_photos(name: str) -> tuple[bytes, ...]:
    if name == "demo_24":
        from clients.synthetic_frames import synthetic_jpeg

        return tuple(
            synthetic_jpeg(
                angle_deg=i * 15, label=f"spin_{i:02d}.jpg", width=480, height=320, seed=0
            )
            for i in range(24)
        )
    return tuple(p.read_bytes() for p in sorted((FIXTURES / name).glob("*.jpg")))


def _tiny(data: bytes) -> bytes:
    return pipeline.process_image_bytes(data, content_type="image/jpeg").signature.tiny


@cache
def spin_signatures(name: str) -> tuple[tuple[bytes, bytes], ...]:
    """(tiny, tiny of a re-shot) per frame."""
    from PIL import Image, ImageEnhance

    out = []
    for data in spin_photos(name):
        image = ImageEnhance.Brightness(Image.open(io.BytesIO(data)).convert("RGB")).enhance(1.06)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=60)
        out.append((_tiny(data), _tiny(buffer.getvalue())))
    return tuple(out)


@dataclass
class Variant:
    spin: str
    kind: str
    frames: list[SpinFrame]
    # Frame indexes (as the variant numbers them) where the finding is expected.
    expected: list[int] = field(default_factory=list)
    # The frames the session declared (shot_list frame_count); None: as many as it has.
    declared: int | None = None

    @property
    def frame_count(self) -> int:
        return self.declared if self.declared is not None else len(self.frames)


def clean(name: str) -> list[SpinFrame]:
    signatures = spin_signatures(name)
    n = len(signatures)
    return [
        SpinFrame(index=i, angle=round(i * 360 / n, 1), tiny=t)
        for i, (t, _) in enumerate(signatures)
    ]


# Coarser spins made from the real ones: every 2nd and every 3rd frame (20-30° steps).
COARSER = (2, 3)


def clean_spins() -> dict[str, list[SpinFrame]]:
    """The clean spins, and each taken every 2nd and every 3rd frame (renumbered)."""
    spins = {}
    for name in SPINS:
        spins[name] = clean(name)
        for step in COARSER:
            spins[f"{name} every {step}"] = _renumber([f.tiny for f in clean(name)][::step])
    return spins


def without_frame(name: str, index: int) -> list[SpinFrame]:
    """The spin without its frame ``index``, the rest renumbered with even angles (as a
    device that never knew numbers them)."""
    tinies = [f.tiny for f in clean(name)]
    del tinies[index]
    return _renumber(tinies)


def _renumber(tinies: list[bytes]) -> list[SpinFrame]:
    n = len(tinies)
    return [SpinFrame(index=i, angle=round(i * 360 / n, 1), tiny=t) for i, t in enumerate(tinies)]


def corrupt(name: str, kind: str, rng: random.Random) -> Variant:
    signatures = spin_signatures(name)
    tinies = [t for t, _ in signatures]
    n = len(tinies)
    if kind == "duplicate":
        i = rng.randrange(n)
        tinies.insert(i + 1, signatures[i][1])
        return Variant(name, kind, _renumber(tinies), [i + 1])
    if kind == "swap_neighbours":
        i = rng.randrange(n - 1)
        tinies[i], tinies[i + 1] = tinies[i + 1], tinies[i]
        return Variant(name, kind, _renumber(tinies), [i, i + 1])
    if kind == "swap":
        i, j = sorted(rng.sample(range(n), 2))
        while min(j - i, n - (j - i)) < 3:
            i, j = sorted(rng.sample(range(n), 2))
        tinies[i], tinies[j] = tinies[j], tinies[i]
        return Variant(name, kind, _renumber(tinies), [i, j])
    if kind == "move":
        i = rng.randrange(n)
        j = rng.randrange(n - 1)
        while min(abs(j - i), n - abs(j - i)) < 3:
            j = rng.randrange(n - 1)
        item = tinies.pop(i)
        tinies.insert(j, item)
        return Variant(name, kind, _renumber(tinies), [j])
    if kind == "drop":
        count = rng.choice((1, 2))
        start = rng.randrange(1, n - count)
        kept = [
            SpinFrame(index=k, angle=round(k * 360 / n, 1), tiny=tinies[k])
            for k in range(n)
            if not start <= k < start + count
        ]
        return Variant(name, kind, kept, [start + count], declared=n)
    if kind == "drop_renumbered":
        i = rng.randrange(1, n)
        del tinies[i]
        return Variant(name, kind, _renumber(tinies), [i % (n - 1)], declared=n)
    if kind == "reverse":
        return Variant(name, kind, _renumber(tinies[::-1]), [])
    raise ValueError(kind)


def variants(*, seed: int = 16, per_kind: int = 20) -> list[Variant]:
    rng = random.Random(seed)
    return [corrupt(name, kind, rng) for name in SPINS for kind in KINDS for _ in range(per_kind)]


def _near(a: int, b: int, n: int) -> bool:
    return min(abs(a - b), n - abs(a - b)) <= 1


def judged(frames: list[SpinFrame], *, declared: int | None = None) -> dict:
    """Spin health of ``frames`` as a finished session's, which declared ``declared`` frames
    (by default as many as it has)."""
    count = len(frames) if declared is None else declared
    return spin_health_assess(frames, frame_count=count, finished=True)


def _unplaced(finding: dict) -> bool:
    """A shortfall the pictures could not place: it names no frame."""
    return finding["frame_index"] is None


def _hit(finding: dict, variant: Variant) -> bool:
    n = len(variant.frames) + (2 if variant.kind == "drop" else 0)
    if _unplaced(finding):
        return False
    return finding["type"] == FINDING_OF.get(variant.kind) and any(
        _near(finding["frame_index"], e, n) for e in variant.expected
    )


def evaluate(*, seed: int = 16, per_kind: int = 20) -> dict:
    """Recall per corruption (and per corruption and spin), precision per finding type,
    false alarms on clean spins and the turn direction of clean and reversed spins, every
    variant judged with the count its session declared; and the recall of drops with the
    rest renumbered judged without a declared count (``recall_pictures_only``).

    A finished session short of its declared frames whose pictures do not show where the
    hole is gets a finding without a frame (``frame_index`` None): it is not a hit (recall
    counts holes found within one frame) nor a false finding (precision is about findings
    that name a frame); ``unplaced`` counts them per corruption and ``reported`` is the
    share of variants found or, at least, reported short."""
    detected: Counter = Counter()
    done: Counter = Counter()
    detected_on: Counter = Counter()  # (kind, spin)
    done_on: Counter = Counter()
    true_findings: Counter = Counter()
    all_findings: Counter = Counter()
    pictures_only: Counter = Counter()  # spin -> drop_renumbered found without a count
    # Shortfalls reported without a place (frame_index None), per corruption: counted apart
    # from precision and recall, which are about placed findings.
    unplaced: Counter = Counter()
    told: Counter = Counter()
    directions = {}
    for name in SPINS:
        forward = judged(clean(name))
        directions[name] = forward["direction"]
        directions[name + " reversed"] = judged(_renumber([f.tiny for f in clean(name)][::-1]))[
            "direction"
        ]
    clean_alarms = {name: len(judged(frames)["findings"]) for name, frames in clean_spins().items()}
    for variant in variants(seed=seed, per_kind=per_kind):
        report = judged(variant.frames, declared=variant.frame_count)
        if variant.kind in FINDING_OF:
            done[variant.kind] += 1
            done_on[variant.kind, variant.spin] += 1
            found = any(_hit(f, variant) for f in report["findings"])
            # Found, or (a drop) at least reported as frames missing.
            told[variant.kind] += found or any(_unplaced(f) for f in report["findings"])
            detected[variant.kind] += found
            detected_on[variant.kind, variant.spin] += found
        if variant.kind == "drop_renumbered":
            alone = spin_health_assess(variant.frames)["findings"]
            pictures_only[variant.spin] += any(_hit(f, variant) for f in alone)
        for finding in report["findings"]:
            if _unplaced(finding):
                unplaced[variant.kind] += 1
                continue
            all_findings[finding["type"]] += 1
            true_findings[finding["type"]] += _hit(finding, variant)
    renumbered = done["drop_renumbered"]
    return {
        "recall": {kind: detected[kind] / done[kind] for kind in done},
        "recall_by_spin": {key: detected_on[key] / done_on[key] for key in done_on},
        # Found where it is, or for a drop, reported as frames missing without a place.
        "reported": {kind: told[kind] / done[kind] for kind in done},
        "recall_pictures_only": sum(pictures_only.values()) / renumbered,
        "recall_pictures_only_by_spin": {
            spin: pictures_only[spin] / done_on["drop_renumbered", spin] for spin in SPINS
        },
        "precision": {
            kind: (true_findings[kind] / all_findings[kind]) if all_findings[kind] else 1.0
            for kind in ("duplicate", "out_of_order", "skipped_angles")
        },
        "findings": dict(all_findings),
        "unplaced": dict(unplaced),
        "variants": sum(done.values()) + per_kind * len(SPINS),
        "clean_false_alarms": clean_alarms,
        "directions": directions,
        "directions_right": sum(
            directions[name] == TURNS[name]
            and directions[name + " reversed"] == OTHER_WAY[TURNS[name]]
            for name in SPINS
        ),
    }
