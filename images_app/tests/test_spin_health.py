"""Spin health measured on real spins and their corrupted variants (tests/spin_variants.py).

The figures are the ones in docs/spin-health.md; a change that makes any of them worse
fails here."""

import pytest

from images_app.spin_health import SpinFrame, spin_health_assess
from images_app.tests import spin_variants


@pytest.fixture(scope="module")
def measured():
    return spin_variants.evaluate(seed=16, per_kind=20)


def test_clean_real_spins_raise_no_alarm(measured):
    assert measured["clean_false_alarms"] == {name: 0 for name in spin_variants.SPINS}


def test_duplicates_swaps_and_drops_are_found_with_the_documented_recall(measured):
    recall = measured["recall"]
    assert recall["duplicate"] >= 1.0
    assert recall["swap"] >= 0.95
    assert recall["move"] >= 0.93
    assert recall["swap_neighbours"] >= 0.78
    assert recall["drop"] >= 1.0


def test_findings_are_precise(measured):
    precision = measured["precision"]
    assert precision["duplicate"] >= 0.96
    assert precision["out_of_order"] >= 0.97
    assert precision["skipped_angles"] >= 0.96


def test_the_turn_direction_flips_when_the_spin_is_reversed(measured):
    directions = measured["directions"]
    # The car turns clockwise seen from above: frame 1 shows its driver side, frame 10 its rear.
    assert directions["car_toyota_chr_evox_36"] == "clockwise"
    for name in spin_variants.SPINS:
        assert {directions[name], directions[name + " reversed"]} == {
            "clockwise",
            "counter_clockwise",
        }


def test_a_swapped_pair_is_named_with_the_angle_each_frame_belongs_at():
    frames = spin_variants.clean("car_toyota_chr_evox_36")
    tinies = [f.tiny for f in frames]
    tinies[5], tinies[20] = tinies[20], tinies[5]
    swapped = [
        SpinFrame(index=f.index, angle=f.angle, tiny=t) for f, t in zip(frames, tinies, strict=True)
    ]
    report = spin_health_assess(swapped)
    assert report["status"] == "unhealthy"
    found = {f["frame_index"]: f["fits_angle"] for f in report["findings"]}
    assert found == {5: 200.0, 20: 50.0}


def test_too_few_frames_are_not_judged():
    frames = spin_variants.clean("demo_24")[:3]
    assert spin_health_assess(frames)["status"] == "unknown"


def test_a_spin_still_being_captured_is_not_unhealthy_for_its_missing_last_frames():
    frames = spin_variants.clean("car_toyota_chr_evox_36")
    assert spin_health_assess(frames[:12], frame_count=36)["status"] == "ok"
    # Once the last frame is in, a gap is a gap: here the first two never came.
    report = spin_health_assess(frames[2:], frame_count=36)
    assert [(f["type"], f["frame_index"]) for f in report["findings"]] == [("skipped_angles", 2)]


@pytest.mark.xfail(
    strict=True,
    reason="The whole-frame shift reads the demo's synthetic car as clockwise: its far edge "
    "and roof, seen from above, outweigh the near side (docs/spin-health.md).",
)
def test_the_demo_turntable_reads_counter_clockwise():
    # The demo seed's car (devtools/demo.py): as the angle grows its left end swings towards
    # the camera, so seen from above it turns counter-clockwise (docs/viewer.md).
    from devtools.demo import render_turntable_photo
    from images_app import pipeline

    frames = [
        SpinFrame(
            index=i,
            angle=i * 15,
            tiny=pipeline.process_image_bytes(
                render_turntable_photo(i * 15), content_type="image/jpeg"
            ).signature.tiny,
        )
        for i in range(24)
    ]
    assert spin_health_assess(frames, frame_count=24)["direction"] == "counter_clockwise"
