"""The image pipeline on real photos and hostile files, bytes in and result out.

Every core assertion uses the files in ``fixtures/`` (sources and licenses in NOTICE.md). When
the shared test corpus is present, every file of its ``broken/`` folder is checked too.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from PIL.TiffImagePlugin import IFDRational

from images_app import pipeline
from images_app.pipeline import (
    DEFAULT_QC_THRESHOLDS,
    MAX_JPEG_SCANS,
    MAX_JPEG_SEGMENTS,
    THUMB_SIZES,
    PipelineError,
    jpeg_scan_count,
    process_image_bytes,
    qc_thresholds_resolve,
    sniff_format,
)
from images_app.tests.jpeg_bombs import progressive_jpeg, progressive_scan_bomb, scan_segments

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_BROKEN = Path("/work/shared/data/broken")
SHARED_SHARPNESS = Path("/work/shared/data/sharpness")

ERROR_CODES = {
    "checksum_mismatch",
    "empty_file",
    "unsupported_format",
    "format_mismatch",
    "too_many_pixels",
    "too_many_scans",
    "too_many_segments",
    "corrupt_image",
}

# Fixture files that must be refused, with the reason.
HOSTILE_FIXTURES = {
    "bomb_gif_pillow.gif": "unsupported_format",
    "bomb_jpeg_64250x64250_lottapixel.jpg": "too_many_pixels",
    "heic_corrupted_pillowheif.heic": "corrupt_image",
    "heic_empty_0_bytes.heic": "empty_file",
    "heif_decoder_eof.heif": "corrupt_image",
    "heif_invalid_atom_size.heif": "corrupt_image",
    "jpeg_truncated_pillow.jpg": "corrupt_image",
    "png_signature_then_garbage_pillow.png": "unsupported_format",
    "wrong_magic_gif_header_php_body.gif": "unsupported_format",
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def declared_type(path: Path) -> str:
    """What a device would declare for this file name."""
    return "image/heic" if path.suffix.lower() in {".heic", ".heif", ".hif"} else "image/jpeg"


def process_fixture(name: str, **kwargs) -> pipeline.PipelineResult:
    path = FIXTURES / name
    return process_image_bytes(path.read_bytes(), content_type=declared_type(path), **kwargs)


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def small_jpeg(*, size=(64, 48), ifd0: dict | None = None, exif_ifd: dict | None = None) -> bytes:
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    sub_ifd = exif.get_ifd(0x8769)
    for tag, value in (exif_ifd or {}).items():
        sub_ifd[tag] = value
    gradient = np.tile(np.linspace(0, 255, size[0], dtype=np.uint8), (size[1], 1))
    buffer = io.BytesIO()
    Image.fromarray(gradient, "L").convert("RGB").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A valid small JPEG whose frame header is rewritten to declare another size."""
    data = bytearray(small_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def ink_spans(image: Image.Image) -> tuple[float, float]:
    """Horizontal extent of dark marker ink in the top and bottom 5 % of its bounding box,
    as a share of the box width."""
    ink = np.asarray(image.convert("L")) < 80
    rows, cols = np.nonzero(ink)
    box = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    band = max(1, box.shape[0] // 20)

    def span(part: np.ndarray) -> float:
        columns = np.nonzero(part.any(axis=0))[0]
        return (columns.max() - columns.min() + 1) / box.shape[1]

    return span(box[:band]), span(box[-band:])


# --- EXIF -------------------------------------------------------------------------------


def test_real_phone_jpeg_reports_its_true_exif_values():
    result = process_fixture("mei_samsung_sm-j327t1_orient6.jpg")

    assert result.exif == {
        "iso": 40,
        "shutter": "1/2801",
        "aperture": "f/1.9",
        "timestamp": "2019-09-26T16:38:00Z",
    }


def test_iphone_heic_reports_its_true_exif_values():
    result = process_fixture("pillowheif_arrow_iphone8plus_orient6.heic")

    assert result.exif == {
        "iso": 25,
        "shutter": "1/33",
        "aperture": "f/1.8",
        "timestamp": "2018-07-31T14:52:07Z",
    }


def test_timestamp_is_moved_to_utc_with_the_offset_the_camera_wrote():
    data = small_jpeg(exif_ifd={0x9003: "2025:01:15 11:01:00", 0x9011: "+01:00"})

    assert process_image_bytes(data, content_type="image/jpeg").exif["timestamp"] == (
        "2025-01-15T10:01:00Z"
    )


def test_negative_offsets_move_the_timestamp_forward():
    data = small_jpeg(exif_ifd={0x9003: "2025:01:15 11:01:00", 0x9011: "-05:30"})

    assert process_image_bytes(data, content_type="image/jpeg").exif["timestamp"] == (
        "2025-01-15T16:31:00Z"
    )


def test_timestamp_without_offset_is_the_local_clock_reported_as_utc():
    data = small_jpeg(exif_ifd={0x9003: "2025:01:15 11:01:00"})

    assert process_image_bytes(data, content_type="image/jpeg").exif["timestamp"] == (
        "2025-01-15T11:01:00Z"
    )


@pytest.mark.parametrize(
    ("exposure_time", "shutter"),
    [
        (IFDRational(1, 250), "1/250"),
        (IFDRational(10, 300), "1/30"),
        (IFDRational(1, 4), "1/4"),
        (IFDRational(1, 2), "0.5s"),
        (IFDRational(2, 1), "2s"),
        (IFDRational(30, 1), "30s"),
    ],
)
def test_shutter_speed_reads_like_a_camera_display(exposure_time, shutter):
    data = small_jpeg(exif_ifd={0x829A: exposure_time})

    assert process_image_bytes(data, content_type="image/jpeg").exif["shutter"] == shutter


def test_aperture_falls_back_to_the_apex_aperture_value():
    data = small_jpeg(exif_ifd={0x9202: IFDRational(169, 100)})

    assert process_image_bytes(data, content_type="image/jpeg").exif["aperture"] == "f/1.8"


def test_wrong_typed_or_impossible_exif_values_are_ignored():
    data = small_jpeg(
        exif_ifd={
            0x8827: "lots",
            0x829A: "fast",
            0x829D: "wide open",
            0x9003: "0000:00:00 00:00:00",
        }
    )

    result = process_image_bytes(data, content_type="image/jpeg")

    assert result.exif == {"iso": None, "shutter": None, "aperture": None, "timestamp": None}


def test_zero_denominators_and_impossible_dates_are_ignored():
    data = small_jpeg(exif_ifd={0x829A: IFDRational(1, 0), 0x9003: "2020:02:30 10:00:00"})

    exif = process_image_bytes(data, content_type="image/jpeg").exif

    assert exif["shutter"] is None
    assert exif["timestamp"] is None


def test_photo_without_exif_has_every_exif_value_none():
    result = process_fixture("176_HONOR-7X_S.jpg")

    assert result.exif == {"iso": None, "shutter": None, "aperture": None, "timestamp": None}


# --- Orientation and dimensions ---------------------------------------------------------


def test_real_phone_jpeg_with_orientation_6_reports_upright_full_resolution_dimensions():
    result = process_fixture("mei_samsung_sm-j327t1_orient6.jpg")

    # Stored 2576 x 1932 (landscape sensor), shown rotated 90 degrees clockwise.
    assert (result.width, result.height) == (1932, 2576)
    assert decoded(result.thumbnails[1200]).size == (900, 1200)


@pytest.mark.parametrize("name", ["Portrait_6.jpg", "Portrait_8.jpg", "Portrait_0.jpg"])
def test_orientation_is_applied_once_so_the_photo_matches_the_upright_original(name):
    upright = process_fixture("Portrait_1.jpg")
    result = process_fixture(name)

    assert (result.width, result.height) == (1200, 1800)
    expected = np.asarray(decoded(upright.thumbnails[150]).convert("L"), np.float32)
    actual = np.asarray(decoded(result.thumbnails[150]).convert("L"), np.float32)
    # Same picture: about 1 grey level apart on average; upside down it is about 58 apart.
    assert np.abs(actual - expected).mean() < 5
    assert np.abs(actual[::-1] - expected).mean() > 30


def test_string_orientation_in_exif_is_ignored():
    result = process_fixture("broken/exif_php_payload_in_tags.jpg")

    assert (result.width, result.height) == (640, 356)
    assert set(result.thumbnails) == set(THUMB_SIZES)


def test_heic_arrow_points_up_because_the_decoder_rotation_is_not_applied_twice():
    result = process_fixture("pillowheif_arrow_iphone8plus_orient6.heic")

    assert (result.width, result.height) == (3024, 4032)
    top, bottom = ink_spans(decoded(result.thumbnails[600]))
    # The tip is a point at the top; the base of the shaft is wide at the bottom.
    assert top < 0.2
    assert bottom > 0.35


# --- Thumbnails -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["mei_samsung_sm-j327t1_orient6.jpg", "pillowheif_arrow_iphone8plus_orient6.heic"]
)
def test_thumbnails_are_1200_600_and_150_px_rgb_jpegs_on_the_longest_side(name):
    result = process_fixture(name)

    sizes = {longest: decoded(jpeg).size for longest, jpeg in result.thumbnails.items()}
    assert sizes == {1200: (900, 1200), 600: (450, 600), 150: (113, 150)}
    for jpeg in result.thumbnails.values():
        image = decoded(jpeg)
        assert (image.format, image.mode) == ("JPEG", "RGB")


@pytest.mark.parametrize(
    "name", ["mei_samsung_sm-j327t1_orient6.jpg", "pillowheif_arrow_iphone8plus_orient6.heic"]
)
def test_thumbnails_carry_no_exif_gps_xmp_or_icc_profile(name):
    result = process_fixture(name)

    for jpeg in result.thumbnails.values():
        image = decoded(jpeg)
        assert not image.getexif()
        assert "exif" not in image.info
        assert "icc_profile" not in image.info
        assert b"Exif\x00\x00" not in jpeg
        assert b"ICC_PROFILE" not in jpeg
        assert b"http://ns.adobe.com/xap" not in jpeg


def test_small_photos_are_never_upscaled():
    result = process_fixture("broken/exif_php_payload_in_tags.jpg")

    sizes = {longest: decoded(jpeg).size for longest, jpeg in result.thumbnails.items()}
    assert sizes == {1200: (640, 356), 600: (600, 334), 150: (150, 83)}


def test_a_one_pixel_photo_gets_one_pixel_thumbnails_and_fails_sharpness():
    result = process_image_bytes(small_jpeg(size=(1, 1)), content_type="image/jpeg")

    assert (result.width, result.height) == (1, 1)
    assert {decoded(jpeg).size for jpeg in result.thumbnails.values()} == {(1, 1)}
    assert result.qc["sharpness"] == {"score": 0.0, "status": "fail"}


# --- QC ---------------------------------------------------------------------------------


def test_sharp_photo_passes_sharpness_and_exposure():
    result = process_fixture("176_HONOR-7X_S.jpg")

    assert result.qc["sharpness"]["status"] == "pass"
    assert result.qc["sharpness"]["score"] > 300
    assert result.qc["exposure"]["status"] == "pass"
    assert set(result.qc["exposure"]) == {
        "status",
        "mean",
        "clipped_shadows",
        "clipped_highlights",
    }
    assert result.qc_status == "pass"


@pytest.mark.parametrize("name", ["176_HONOR-7X_F.jpg", "176_HONOR-7X_M.jpg"])
def test_defocused_and_motion_blurred_photos_fail_sharpness(name):
    sharp = process_fixture("176_HONOR-7X_S.jpg")
    blurred = process_fixture(name)

    assert blurred.qc["sharpness"]["status"] == "fail"
    assert blurred.qc_status == "fail"
    assert sharp.qc["sharpness"]["score"] >= 5 * blurred.qc["sharpness"]["score"]


def shared_sharpness_triplets() -> list[tuple[str, str]]:
    """Every shared blurred photo with its sharp twin, plus the copied Honor triplet."""
    pairs = {
        ("176_HONOR-7X_S.jpg", "176_HONOR-7X_F.jpg"),
        ("176_HONOR-7X_S.jpg", "176_HONOR-7X_M.jpg"),
    }
    if SHARED_SHARPNESS.is_dir():
        for blurred in SHARED_SHARPNESS.iterdir():
            stem, kind = blurred.stem.rsplit("_", 1)
            if kind in {"F", "M"}:
                pairs.add((f"{stem}_S{blurred.suffix}", blurred.name))
    return sorted(pairs)


@pytest.mark.parametrize(("sharp_name", "blurred_name"), shared_sharpness_triplets())
def test_every_sharp_and_blurred_pair_is_told_apart_by_the_default_thresholds(
    sharp_name, blurred_name
):
    def load(name: str) -> bytes:
        local = FIXTURES / name
        return local.read_bytes() if local.exists() else (SHARED_SHARPNESS / name).read_bytes()

    sharp = process_image_bytes(load(sharp_name), content_type="image/jpeg")
    blurred = process_image_bytes(load(blurred_name), content_type="image/jpeg")

    assert sharp.qc["sharpness"]["status"] == "pass"
    assert blurred.qc["sharpness"]["status"] == "fail"


def test_an_organisation_can_loosen_the_sharpness_thresholds():
    result = process_fixture(
        "176_HONOR-7X_M.jpg",
        thresholds={"sharpness_fail_below": 5, "sharpness_warn_below": 10},
    )

    assert result.qc["sharpness"]["status"] == "pass"


def test_an_organisation_can_tighten_the_exposure_thresholds():
    result = process_fixture(
        "176_HONOR-7X_S.jpg",
        thresholds={"exposure_mean_warn_above": 100, "exposure_mean_fail_above": 120},
    )

    assert result.qc["exposure"]["status"] == "fail"


def test_warn_sits_between_pass_and_fail():
    score = process_fixture("176_HONOR-7X_M.jpg").qc["sharpness"]["score"]

    result = process_fixture(
        "176_HONOR-7X_M.jpg",
        thresholds={"sharpness_fail_below": score - 1, "sharpness_warn_below": score + 1},
    )

    assert result.qc["sharpness"]["status"] == "warn"
    assert result.qc_status == "warn"


def test_unknown_keys_and_non_numeric_overrides_are_ignored():
    thresholds = qc_thresholds_resolve(
        {
            "sharpness_fail_below": "high",
            "sharpness_warn_below": True,
            "clipped_shadows_fail_above": float("nan"),
            "no_such_threshold": 3,
            "exposure_mean_fail_below": 20,
        }
    )

    assert thresholds == {**DEFAULT_QC_THRESHOLDS, "exposure_mean_fail_below": 20.0}


def test_overexposed_studio_white_fails_exposure_with_the_defaults():
    white = io.BytesIO()
    Image.new("RGB", (400, 300), (255, 255, 255)).save(white, "JPEG")

    result = process_image_bytes(white.getvalue(), content_type="image/jpeg")

    assert result.qc["exposure"] == {
        "status": "fail",
        "mean": 255.0,
        "clipped_shadows": 0.0,
        "clipped_highlights": 1.0,
    }


# --- Integrity, format and hostile files ------------------------------------------------


def test_matching_checksum_in_any_letter_case_is_accepted():
    data = fixture("176_HONOR-7X_S.jpg")

    result = process_image_bytes(
        data, content_type="image/jpeg", expected_sha256=hashlib.sha256(data).hexdigest().upper()
    )

    assert result.width == 2048


def test_bytes_that_differ_from_the_declared_checksum_are_refused():
    data = fixture("176_HONOR-7X_S.jpg")

    with pytest.raises(PipelineError) as error:
        process_image_bytes(
            data[:-1], content_type="image/jpeg", expected_sha256=hashlib.sha256(data).hexdigest()
        )

    assert error.value.code == "checksum_mismatch"


@pytest.mark.parametrize(("name", "code"), sorted(HOSTILE_FIXTURES.items()))
def test_hostile_file_is_refused_with_a_clear_code(name, code):
    with pytest.raises(PipelineError) as error:
        process_fixture(f"broken/{name}")

    assert error.value.code == code
    assert error.value.message


def test_200_megapixel_heic_is_refused_as_too_many_pixels_before_decoding():
    with pytest.raises(PipelineError) as error:
        process_fixture("pillowheif_samsung_s24ultra_200MP.heic")

    assert error.value.code == "too_many_pixels"


def test_pixel_counts_between_pillows_warning_and_error_limits_are_refused():
    # 81 MP: above our 64 MP limit but under twice it, where Pillow only warns.
    data = jpeg_claiming_size(9000, 9000)

    with pytest.raises(PipelineError) as error:
        process_image_bytes(data, content_type="image/jpeg")

    assert error.value.code == "too_many_pixels"


def test_jpeg_cut_inside_its_headers_is_corrupt():
    data = fixture("Portrait_1.jpg")[:300]

    with pytest.raises(PipelineError) as error:
        process_image_bytes(data, content_type="image/jpeg")

    assert error.value.code == "corrupt_image"


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><body>not a photo</body></html>",
        b"<?php system($_GET['c']); ?>",
        b"\xff\x00\x00\x00" * 32,
        b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif",
    ],
)
def test_bytes_that_are_not_jpeg_or_heic_are_unsupported(data):
    with pytest.raises(PipelineError) as error:
        process_image_bytes(data, content_type="image/jpeg")

    assert error.value.code == "unsupported_format"


def test_content_types_other_than_jpeg_and_heic_are_unsupported():
    with pytest.raises(PipelineError) as error:
        process_image_bytes(fixture("Portrait_1.jpg"), content_type="image/png")

    assert error.value.code == "unsupported_format"


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("Portrait_1.jpg", "image/heic"),
        ("pillowheif_arrow_iphone8plus_orient6.heic", "image/jpeg"),
    ],
)
def test_image_bytes_that_contradict_the_declared_type_are_a_format_mismatch(name, declared):
    with pytest.raises(PipelineError) as error:
        process_image_bytes(fixture(name), content_type=declared)

    assert error.value.code == "format_mismatch"


def test_processing_hostile_files_never_loosens_pillows_guards():
    for name in HOSTILE_FIXTURES:
        with pytest.raises(PipelineError):
            process_fixture(f"broken/{name}")

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == pipeline.MAX_IMAGE_PIXELS == 64_000_000


def corpus_broken_files() -> list[Path]:
    files = {path.name: path for path in (FIXTURES / "broken").iterdir()}
    if SHARED_BROKEN.is_dir():
        files.update({path.name: path for path in SHARED_BROKEN.iterdir()})
    return sorted(files.values())


@pytest.mark.parametrize("path", corpus_broken_files(), ids=lambda path: path.name)
def test_every_broken_file_is_refused_with_a_code_or_processed_with_bad_tags_ignored(path):
    try:
        result = process_image_bytes(path.read_bytes(), content_type=declared_type(path))
    except PipelineError as error:
        assert error.code in ERROR_CODES
    else:
        assert result.width > 0
        assert result.height > 0
        assert set(result.thumbnails) == set(THUMB_SIZES)


# --- Work bound: scans of a progressive JPEG ----------------------------------------------


def count_decoder_opens(monkeypatch) -> list[int]:
    """From now on, counts Pillow decoders opened: proof that a refusal came first."""
    opened: list[int] = []
    real_open = Image.open

    def counting_open(*args, **kwargs):
        opened.append(1)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(pipeline.Image, "open", counting_open)
    return opened


def test_a_jpeg_repeating_one_scan_thousands_of_times_is_refused_before_decoding(monkeypatch):
    bomb = progressive_scan_bomb(repeats=5000)  # about 400 KB, seconds of CPU to decode
    decoder_opens = count_decoder_opens(monkeypatch)

    with pytest.raises(PipelineError) as error:
        process_image_bytes(bomb, content_type="image/jpeg")

    assert error.value.code == "too_many_scans"
    assert decoder_opens == []


def test_the_scan_bomb_is_a_valid_jpeg_that_the_decoder_would_accept():
    bomb = progressive_scan_bomb(repeats=200, size=(800, 533))

    result = process_image_bytes(bomb, content_type="image/jpeg", max_jpeg_scans=1000)

    assert (result.width, result.height) == (800, 533)


@pytest.mark.parametrize("name", ["mei_samsung_sm-j327t1_orient6.jpg", "176_HONOR-7X_S.jpg"])
def test_real_photos_baseline_or_progressive_are_far_under_the_scan_limit(name):
    baseline = fixture(name)
    with Image.open(io.BytesIO(baseline)) as image:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, progressive=True, exif=image.info.get("exif", b""))
    progressive = out.getvalue()

    assert jpeg_scan_count(baseline, max_scans=MAX_JPEG_SCANS) == 1
    assert jpeg_scan_count(progressive, max_scans=MAX_JPEG_SCANS) == 10
    assert process_image_bytes(progressive, content_type="image/jpeg").width > 0


def test_exactly_the_scan_limit_is_decoded_and_one_more_is_refused():
    at_limit = progressive_scan_bomb(repeats=MAX_JPEG_SCANS - 10, size=(400, 267))
    over_limit = progressive_scan_bomb(repeats=MAX_JPEG_SCANS - 9, size=(400, 267))

    assert process_image_bytes(at_limit, content_type="image/jpeg").width == 400
    with pytest.raises(PipelineError) as error:
        process_image_bytes(over_limit, content_type="image/jpeg")
    assert error.value.code == "too_many_scans"


def test_a_baseline_jpeg_repeating_its_only_scan_is_refused_by_the_decoder_at_once():
    with Image.open(io.BytesIO(progressive_jpeg(size=(400, 267)))) as image:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
    data = out.getvalue()
    [(start, end)] = scan_segments(data)
    bomb = data[:end] + data[start:end] * 500 + data[end:]

    # libjpeg decodes a sequential scan of every component, then refuses a second SOS: the
    # walk ends at the first scan, before the entropy-coded data.
    assert jpeg_scan_count(bomb, max_scans=MAX_JPEG_SCANS) == 1
    with pytest.raises(PipelineError) as error:
        process_image_bytes(bomb, content_type="image/jpeg")
    assert error.value.code == "corrupt_image"


def test_sequential_scans_of_one_component_each_are_all_counted():
    frame = b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03" + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x12\x34\xff\x00\x56"
    data = b"\xff\xd8" + frame + scan * (MAX_JPEG_SCANS + 1) + b"\xff\xd9"

    with pytest.raises(PipelineError) as error:
        jpeg_scan_count(data, max_scans=MAX_JPEG_SCANS)

    assert error.value.code == "too_many_scans"


def test_garbage_bytes_between_scans_do_not_hide_them_from_the_count():
    data = progressive_jpeg(size=(400, 267))
    start, end = scan_segments(data)[4]
    # libjpeg skips bytes that are no marker (and 0xFF 0x00, and 0xFF fill) before a segment.
    hidden = (b"\x00garbage\xff\x00\xff\xff" + data[start:end]) * 200
    last_end = scan_segments(data)[-1][1]
    bomb = data[:last_end] + hidden + data[last_end:]

    with pytest.raises(PipelineError) as error:
        process_image_bytes(bomb, content_type="image/jpeg")

    assert error.value.code == "too_many_scans"


def test_scan_markers_inside_segments_or_after_the_end_of_the_image_are_not_counted():
    data = progressive_jpeg(size=(400, 267))
    sos = data[scan_segments(data)[4][0] :][:12]
    # A comment segment full of SOS lookalikes (as an EXIF thumbnail carries its own scans),
    # and a second image after EOI (MPF, a motion photo's video): libjpeg decodes neither.
    comment = b"\xff\xfe" + (2 + 300 * len(sos)).to_bytes(2, "big") + sos * 300
    photo = data[:2] + comment + data[2:] + sos * 300

    assert jpeg_scan_count(photo, max_scans=MAX_JPEG_SCANS) == 10
    assert process_image_bytes(photo, content_type="image/jpeg").width == 400


def test_a_jpeg_of_thousands_of_tiny_segments_is_refused():
    data = progressive_jpeg(size=(400, 267))
    comments = b"\xff\xfe\x00\x02" * (MAX_JPEG_SEGMENTS + 1)

    with pytest.raises(PipelineError) as error:
        process_image_bytes(data[:2] + comments + data[2:], content_type="image/jpeg")

    assert error.value.code == "too_many_segments"


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xda",
        b"\xff\xd8\xff\xda\x00",
        b"\xff\xd8\xff\xda\x00\x00\xff\xda\x00\x01",
        b"\xff\xd8\xff\xe1\xff\xff" + b"\x00" * 100,
        b"\xff\xd8" + b"\xff" * 100_000,
        b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff\x00" * 100_000,
        b"\xff\xd8" + b"\xff\xd0" * 100_000,
    ],
    ids=[
        "soi",
        "sos-no-length",
        "sos-half-length",
        "zero-lengths",
        "overlong",
        "fill",
        "stuffed",
        "restarts",
    ],
)
def test_the_scan_walk_ends_on_truncated_or_garbage_jpegs_with_a_count_or_a_code(data):
    try:
        assert 0 <= jpeg_scan_count(data, max_scans=MAX_JPEG_SCANS) <= MAX_JPEG_SCANS
    except PipelineError as error:
        assert error.code == "too_many_segments"
    with pytest.raises(PipelineError):
        process_image_bytes(data, content_type="image/jpeg")


def test_every_cut_and_every_flipped_byte_of_a_progressive_jpeg_ends_with_a_result_or_a_code():
    data = progressive_jpeg(size=(64, 48))
    rng = np.random.default_rng(7)
    variants = [data[:cut] for cut in range(3, len(data), max(1, len(data) // 300))]
    for _ in range(300):
        flipped = bytearray(data)
        for position in rng.integers(2, len(data), size=3):
            flipped[position] = int(rng.integers(0, 256))
        variants.append(bytes(flipped))

    for variant in variants:
        try:
            process_image_bytes(variant, content_type="image/jpeg")
        except PipelineError as error:
            assert error.code in ERROR_CODES


# --- Format sniffing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", "image/heic"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"\xff\xd8", None),
        (b"", None),
    ],
)
def test_format_is_sniffed_from_magic_bytes(data, content_type):
    assert sniff_format(data) == content_type


def test_sniffing_reads_the_real_fixtures():
    assert sniff_format(fixture("mei_samsung_sm-j327t1_orient6.jpg")) == "image/jpeg"
    assert sniff_format(fixture("pillowheif_arrow_iphone8plus_orient6.heic")) == "image/heic"
