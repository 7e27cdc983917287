"""Spin health measured on real spins and their corrupted variants (tests/spin_variants.py).

The figures are the ones in docs/spin-health.md; a change that makes any of them worse
fails here."""

from functools import cache

import numpy as np
import pytest

from images_app import spin_health
from images_app.spin_health import SpinFrame, spin_health_assess
from images_app.tests import spin_variants


@pytest.fixture(scope="module")
def measured():
    return spin_variants.evaluate(seed=16, per_kind=20)


def test_clean_real_spins_raise_no_alarm_nor_do_coarser_ones(measured):
    # The real spins, and each taken every 2nd and every 3rd frame (20-30° steps).
    assert measured["clean_false_alarms"] == dict.fromkeys(spin_variants.clean_spins(), 0)
    assert len(measured["clean_false_alarms"]) == 3 * len(spin_variants.SPINS)


def test_duplicates_swaps_moves_and_drops_are_found_with_the_target_recall(measured):
    recall = measured["recall"]
    for kind in ("duplicate", "swap_neighbours", "swap", "move", "drop"):
        assert recall[kind] >= 0.95, kind


def test_a_dropped_frame_with_the_rest_renumbered_is_found_with_the_target_recall(measured):
    # With the angles consecutive only the pictures tell. Judged as a finished session that
    # declared the spin's own count, the count says a frame is missing and the pictures
    # where: 0.983 on seed 16 (0.967-0.983 over seeds 16, 17 and 99), found on the car and
    # the demo spin every time; the bicycle, whose side-on frames barely change, 0.95 (its
    # holes are placed by the kink in its top and bottom edges where nothing else shows
    # them). A regression below the measured figures fails here.
    assert measured["recall"]["drop_renumbered"] >= 0.98
    by_spin = measured["recall_by_spin"]
    assert by_spin["drop_renumbered", "car_toyota_chr_evox_36"] == 1.0
    assert by_spin["drop_renumbered", "demo_24"] == 1.0
    assert by_spin["drop_renumbered", "bicycle_spritespin_34"] >= 0.95
    # Where the pictures do not show the place, the shortfall is still reported (without a
    # frame): every renumbered drop on seed 16 makes its spin unhealthy. No variant that
    # lost no frame gets such a finding.
    assert measured["reported"]["drop_renumbered"] == 1.0
    assert set(measured["unplaced"]) <= {"drop", "drop_renumbered"}
    # Without a declared count (the pictures alone, thresholds): 0.80 on seed 16.
    assert measured["recall_pictures_only"] >= 0.80
    assert measured["recall_pictures_only_by_spin"]["car_toyota_chr_evox_36"] == 1.0


def bicycle_without_frame_20() -> list[SpinFrame]:
    """The bicycle's 34 frames without frame 20, the rest renumbered with even angles (the
    device never knew): a drop the pictures alone miss."""
    return spin_variants.without_frame("bicycle_spritespin_34", 20)


def test_a_finished_session_short_of_its_declared_frames_gets_the_hole_where_it_is():
    report = spin_health_assess(bicycle_without_frame_20(), frame_count=34, finished=True)
    assert report["status"] == "unhealthy"
    assert [(f["type"], f["frame_index"]) for f in report["findings"]] == [("skipped_angles", 20)]
    (finding,) = report["findings"]
    assert finding["message"] == (
        "The session declared 34 frames and 33 arrived; the pictures put a missing one "
        "between frames 19 and 20."
    )
    assert (finding["missing"], finding["after_index"]) == (1, 19)


def test_a_shortfall_the_pictures_cannot_place_is_reported_without_a_frame():
    # The bicycle's frame 1 is side on, where its frames barely change.
    frames = spin_variants.without_frame("bicycle_spritespin_34", 1)
    report = spin_health_assess(frames, frame_count=34, finished=True)
    assert report["status"] == "unhealthy"
    (finding,) = report["findings"]
    assert (finding["type"], finding["frame_index"], finding["missing"]) == (
        "skipped_angles",
        None,
        1,
    )
    # While the session may still be uploading, the count proves nothing yet.
    assert spin_health_assess(frames, frame_count=34, finished=False)["status"] == "ok"
    # Short of more than can be placed: shot coarser than declared, no finding.
    assert spin_health_assess(frames[::2], frame_count=34, finished=True)["findings"] == []


@pytest.mark.parametrize("dropped", [1, 2])
def test_a_side_on_hole_shows_as_a_kink_in_the_vehicles_top_and_bottom_edges(dropped):
    # Side on, the bicycle's frames barely change, but its near wheel comes steadily lower
    # as it turns: without frame 1 or 2 (the rest renumbered) the edges run straightest with
    # the hole put where it is, and frame 2's is reported there.
    frames = spin_variants.without_frame("bicycle_spritespin_34", dropped)
    thumbs = np.stack([spin_health._normalised(f.tiny) for f in frames])
    kink = spin_health._outline_kink(thumbs)
    assert int(np.argmax(kink)) == dropped
    assert kink[dropped] > 2.0
    report = spin_health_assess(frames, frame_count=34, finished=True)
    if dropped == 2:
        assert [(f["type"], f["frame_index"]) for f in report["findings"]] == [
            ("skipped_angles", 2)
        ]


def test_a_session_still_uploading_is_not_missing_the_frames_yet_to_come():
    # The same 33 frames while the session is active (or a frame of it still processing):
    # the last frames may be on their way, so the count proves nothing yet.
    report = spin_health_assess(bicycle_without_frame_20(), frame_count=34, finished=False)
    assert report["status"] == "ok"


def test_a_session_without_a_declared_count_is_judged_from_the_pictures_alone():
    frames = bicycle_without_frame_20()
    assert spin_health_assess(frames, frame_count=None, finished=True) == spin_health_assess(frames)
    assert spin_health_assess(frames)["findings"] == []
    # Nor does a finished session that has all its declared frames change anything.
    whole = spin_variants.clean("car_toyota_chr_evox_36")
    assert spin_health_assess(whole, frame_count=36, finished=True) == spin_health_assess(whole)


def test_a_spin_shot_much_coarser_than_declared_gets_no_invented_holes():
    # Every 2nd frame of the car, evenly spaced, in a session that declared 36: too many
    # missing to place; the picture rules find the spin smooth.
    frames = spin_variants.clean_spins()["car_toyota_chr_evox_36 every 2"]
    report = spin_health_assess(frames, frame_count=36, finished=True)
    assert report["findings"] == []


def test_findings_are_precise(measured):
    for kind, precision in measured["precision"].items():
        assert precision >= 0.95, kind


def test_a_swap_of_neighbours_names_both_frames_with_the_angle_each_belongs_at():
    frames = spin_variants.clean("car_toyota_chr_evox_36")
    tinies = [f.tiny for f in frames]
    tinies[12], tinies[13] = tinies[13], tinies[12]
    swapped = [
        SpinFrame(index=f.index, angle=f.angle, tiny=t) for f, t in zip(frames, tinies, strict=True)
    ]
    report = spin_health_assess(swapped)
    found = {f["frame_index"]: f["fits_angle"] for f in report["findings"]}
    assert found == {12: 130.0, 13: 120.0}
    assert report["findings"][0]["message"].startswith("Frame 12 (120°) belongs at position 13")


def test_a_dropped_frame_is_found_from_the_pictures_when_the_angles_are_consecutive():
    report = spin_health_assess(spin_variants.without_frame("car_toyota_chr_evox_36", 20))
    assert [(f["type"], f["frame_index"]) for f in report["findings"]] == [("skipped_angles", 20)]
    assert "missing between frames 19 and 20" in report["findings"][0]["message"]


def test_a_dropped_frame_near_the_cars_axis_is_found_from_the_jump_it_leaves():
    # The rear view (frame 9) mirrors itself: without it the mirror pairs still fit, but the
    # picture jumps between its neighbours.
    report = spin_health_assess(spin_variants.without_frame("car_toyota_chr_evox_36", 9))
    assert [(f["type"], f["frame_index"]) for f in report["findings"]] == [("skipped_angles", 9)]
    assert "A jump between frames 8 and 9" in report["findings"][0]["message"]


def test_the_turn_direction_flips_when_the_spin_is_reversed(measured):
    directions = measured["directions"]
    for name, turn in spin_variants.TURNS.items():
        assert directions[name] == turn
        assert directions[name + " reversed"] == spin_variants.OTHER_WAY[turn]
    assert measured["directions_right"] == len(spin_variants.SPINS)


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


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
@pytest.mark.parametrize("step", [1, *spin_variants.COARSER], ids=lambda s: f"every-{s}")
@pytest.mark.parametrize("name", spin_variants.SPINS)
def test_the_turn_direction_is_read_from_the_near_side_against_the_far_side(name, step, reverse):
    turn = spin_variants.TURNS[name]
    tinies = [f.tiny for f in spin_variants.clean(name)][::step]
    direction = spin_health_assess(spin_variants._renumber(tinies[::-1] if reverse else tinies))[
        "direction"
    ]
    assert direction == (spin_variants.OTHER_WAY[turn] if reverse else turn)


@cache
def demo_turntable_tinies() -> tuple[bytes, ...]:
    from devtools.demo import render_turntable_photo
    from images_app import pipeline

    return tuple(
        pipeline.process_image_bytes(
            render_turntable_photo(i * 15), content_type="image/jpeg"
        ).signature.tiny
        for i in range(24)
    )


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_the_demo_turntable_reads_counter_clockwise(reverse):
    # The demo seed's car (devtools/demo.py): as the angle grows its left end swings towards
    # the camera, so seen from above it turns counter-clockwise (docs/viewer.md). Its roof and
    # far edge have more texture than its near side, which once fooled a whole-frame shift.
    tinies = list(demo_turntable_tinies())
    frames = spin_variants._renumber(tinies[::-1] if reverse else tinies)
    expected = "clockwise" if reverse else "counter_clockwise"
    assert spin_health_assess(frames, frame_count=24)["direction"] == expected
