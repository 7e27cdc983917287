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
    THUMB_SIZES,
    PipelineError,
    process_image_bytes,
    qc_thresholds_resolve,
    sniff_format,
)

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_BROKEN = Path("/work/shared/data/broken")
SHARED_SHARPNESS = Path("/work/shared/data/sharpness")

ERROR_CODES = {
    "checksum_mismatch",
    "empty_file",
    "unsupported_format",
    "format_mismatch",
    "too_many_pixels",
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
