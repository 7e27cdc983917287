"""Benchmark of the image pipeline against the cost of decoding alone.

Run: ``.venv/bin/python bench/pipeline.py`` (about a minute on 2 cores). Exits non-zero when a
target fails.

For each fixture, one process alternates the *floor* and the real `process_image_bytes` on the
same bytes (warm-ups first, then at least 31 pairs, the order flipped every pair) and measures
CPU time with `time.process_time`. It prints the median of each and the median of the per-pair
ratios, which cancels drift in machine speed.

- Floor, JPEG: SHA-256 + Pillow ``draft()`` decode at the most reduced scale whose output still
  covers 1200 px on the longest side (what any pipeline must at least do).
- Floor, HEIC: SHA-256 + full decode (libheif cannot decode at a reduced scale).

Fixtures: a 12 MP JPEG (4000 x 3000, EXIF Orientation 6, quality 90) generated here from a
fixed seed with photo-like texture (fractal noise, hard-edged shapes, sensor grain), and the
real iPhone 8 Plus HEIC from the test fixtures.

Targets: JPEG <= 2.0x its floor, with the 1200 px image at >= 40 dB PSNR against a Lanczos
resize of the full-resolution decode; HEIC <= 1.2x its decode; peak RSS growth <= 100 MiB for
one 12 MP JPEG in a fresh process. The same run checks upright dimensions, thumbnail sizes,
EXIF values, thumbnails without EXIF, and that sharp / blurred sharpness scores are >= 5.

The PSNR target is measured on the pixels handed to the JPEG encoder (the 1200 px image the
pipeline encodes): it judges the draft + reduce + bilinear shortcut. The PSNR of the decoded
quality-85 thumbnail is printed too, next to the same encoder applied to the reference, to
show that the encoder, not the shortcut, is what costs there.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, features
from PIL.TiffImagePlugin import IFDRational

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from images_app import pipeline  # noqa: E402

FIXTURES = ROOT / "images_app" / "tests" / "fixtures"
HEIC_FIXTURE = FIXTURES / "pillowheif_arrow_iphone8plus_orient6.heic"
SHARP_FIXTURE = FIXTURES / "176_HONOR-7X_S.jpg"
BLURRED_FIXTURES = (FIXTURES / "176_HONOR-7X_F.jpg", FIXTURES / "176_HONOR-7X_M.jpg")

WARMUPS = 3
PAIRS = 33
THROUGHPUT_IMAGES = {"image/jpeg": 48, "image/heic": 12}
# The largest thumbnail: what any pipeline must at least decode.
LARGEST = max(pipeline.THUMB_SIZES)

JPEG_MAX_RATIO = 2.0
HEIC_MAX_RATIO = 1.2
MIN_PSNR_DB = 40.0
MAX_RSS_GROWTH_MIB = 100.0
MIN_SHARP_TO_BLURRED = 5.0

SYNTHETIC_EXIF = {
    "iso": 100,
    "shutter": "1/250",
    "aperture": "f/1.8",
    "timestamp": "2025-01-15T10:01:00Z",
}
HEIC_EXIF = {
    "iso": 25,
    "shutter": "1/33",
    "aperture": "f/1.8",
    "timestamp": "2018-07-31T14:52:07Z",
}

failures: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    if not ok:
        failures.append(name)


def synthetic_jpeg(width: int = 4000, height: int = 3000, seed: int = 360) -> bytes:
    """A deterministic 12 MP photo stand-in: stored landscape, EXIF says rotate 90 CW."""
    rng = np.random.default_rng(seed)
    field = np.zeros((height, width), np.float32)
    for octave in range(11):  # fractal value noise, amplitude falling as 0.78^octave
        grid = rng.standard_normal((2 * 2**octave + 1, 3 * 2**octave + 1)).astype(np.float32)
        layer = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        field += np.asarray(layer) * (0.78**octave)
    field = (field - field.min()) / (field.max() - field.min())
    rgb = np.stack([field, field**1.3, 1 - field * 0.7], axis=-1) * 200 + 20
    image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(40, 500))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle([x, y, x + size, y + size // 2], fill=colour)
        else:
            draw.ellipse([x, y, x + size, y + size], outline=colour, width=int(rng.integers(2, 12)))
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    grain = rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Bench"
    sub_ifd = exif.get_ifd(0x8769)
    sub_ifd[0x8827] = 100
    sub_ifd[0x829A] = IFDRational(1, 250)
    sub_ifd[0x829D] = IFDRational(18, 10)
    sub_ifd[0x9003] = "2025:01:15 11:01:00"
    sub_ifd[0x9011] = "+01:00"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def floor_jpeg(data: bytes) -> None:
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", fit(image.size, LARGEST))
        image.load()


def floor_heic(data: bytes) -> None:
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def real(data: bytes, content_type: str) -> Callable[[], None]:
    digest = hashlib.sha256(data).hexdigest()

    def run() -> None:
        pipeline.process_image_bytes(data, content_type=content_type, expected_sha256=digest)

    return run


def cpu_ms(function: Callable[[], None]) -> float:
    started = time.process_time()
    function()
    return (time.process_time() - started) * 1000


def compare_with_floor(
    label: str, floor: Callable[[], None], actual: Callable[[], None], max_ratio: float
) -> None:
    for _ in range(WARMUPS):
        floor()
        actual()
    floors, actuals, ratios = [], [], []
    for pair in range(PAIRS):
        if pair % 2:
            actual_ms, floor_ms = cpu_ms(actual), cpu_ms(floor)
        else:
            floor_ms, actual_ms = cpu_ms(floor), cpu_ms(actual)
        floors.append(floor_ms)
        actuals.append(actual_ms)
        ratios.append(actual_ms / floor_ms)
    ratio = statistics.median(ratios)
    print(
        f"  {label}: floor {statistics.median(floors):.1f} ms, pipeline "
        f"{statistics.median(actuals):.1f} ms CPU (medians of {PAIRS} pairs)"
    )
    check(f"{label} speed", ratio <= max_ratio, f"{ratio:.2f}x the floor (target <= {max_ratio}x)")


def psnr(a: Image.Image, b: Image.Image) -> float:
    difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mse = float(np.mean(difference**2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def reference_1200(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image.convert("RGB"))
    return upright.resize(fit(upright.size, LARGEST), Image.Resampling.LANCZOS)


def encode_decode(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=pipeline.THUMB_JPEG_QUALITY)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def check_result(
    label: str, data: bytes, content_type: str, upright: tuple[int, int], exif: dict
) -> None:
    result = pipeline.process_image_bytes(data, content_type=content_type)
    check(
        f"{label} upright size",
        (result.width, result.height) == upright,
        f"{result.width}x{result.height}",
    )
    sizes = {}
    carries_exif = False
    for longest, jpeg in result.thumbnails.items():
        with Image.open(io.BytesIO(jpeg)) as thumbnail:
            sizes[longest] = thumbnail.size
            carries_exif |= bool(thumbnail.getexif()) or b"Exif\x00\x00" in jpeg
    expected = {longest: fit(upright, longest) for longest in pipeline.THUMB_SIZES}
    check(f"{label} thumbnail sizes", sizes == expected, str(sizes))
    check(f"{label} thumbnails carry no EXIF", not carries_exif, "no APP1 Exif segment")
    check(f"{label} EXIF", result.exif == exif, str(result.exif))


def check_psnr(data: bytes) -> None:
    reference = reference_1200(data)
    preview = pipeline.upright_preview(data, content_type="image/jpeg").image
    thumbnail = pipeline.process_image_bytes(data, content_type="image/jpeg").thumbnails[LARGEST]
    decoded = Image.open(io.BytesIO(thumbnail)).convert("RGB")
    value = psnr(preview, reference)
    check(
        "JPEG 1200 px quality",
        value >= MIN_PSNR_DB,
        f"{value:.1f} dB PSNR vs Lanczos of the full decode (target >= {MIN_PSNR_DB} dB)",
    )
    print(
        f"  (after quality-{pipeline.THUMB_JPEG_QUALITY} encoding: thumbnail "
        f"{psnr(decoded, reference):.1f} dB; the reference through the same encoder "
        f"{psnr(encode_decode(reference), reference):.1f} dB)"
    )


def check_sharpness() -> None:
    sharp = pipeline.process_image_bytes(SHARP_FIXTURE.read_bytes(), content_type="image/jpeg")
    check(f"{SHARP_FIXTURE.name} QC", sharp.qc["sharpness"]["status"] == "pass", str(sharp.qc))
    for path in BLURRED_FIXTURES:
        blurred = pipeline.process_image_bytes(path.read_bytes(), content_type="image/jpeg")
        ratio = sharp.qc["sharpness"]["score"] / max(blurred.qc["sharpness"]["score"], 1e-9)
        check(
            f"sharp / {path.name}",
            ratio >= MIN_SHARP_TO_BLURRED and blurred.qc["sharpness"]["status"] == "fail",
            f"{ratio:.1f}x ({blurred.qc['sharpness']}; target >= {MIN_SHARP_TO_BLURRED}x, fail)",
        )


def signature_cost(label: str, data: bytes, content_type: str) -> None:
    """What the perceptual signature (pHash + spin thumbnail) adds: its CPU time on the grey
    preview the pipeline holds, against the whole pipeline's (medians of PAIRS runs)."""
    gray = pipeline.upright_preview(data, content_type=content_type).image.convert("L")
    whole = real(data, content_type)
    for _ in range(WARMUPS):
        pipeline.signature_measure(gray)
    signature = statistics.median(
        cpu_ms(lambda: pipeline.signature_measure(gray)) for _ in range(PAIRS)
    )
    total = statistics.median(cpu_ms(whole) for _ in range(min(PAIRS, 11)))
    print(
        f"  {label}: signature {signature:.2f} ms of {total:.1f} ms "
        f"({100 * signature / total:.1f} % of the pipeline)"
    )


_worker_data: tuple[bytes, str] = (b"", "")


def _worker_init(data: bytes, content_type: str) -> None:
    global _worker_data
    _worker_data = (data, content_type)


def _worker_process(_: int) -> None:
    data, content_type = _worker_data
    pipeline.process_image_bytes(data, content_type=content_type)


def throughput(label: str, data: bytes, content_type: str) -> None:
    count = THROUGHPUT_IMAGES[content_type]
    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=_worker_init, initargs=(data, content_type)) as pool:
        pool.map(_worker_process, range(4))  # warm both workers
        started = time.perf_counter()
        pool.map(_worker_process, range(count), chunksize=1)
        elapsed = time.perf_counter() - started
    print(f"  {label}: {count / elapsed:.1f} images/s with 2 worker processes")


# ru_maxrss survives fork and exec on Linux: a child of a big parent starts with the parent's
# peak. So the probes run before this process decodes anything, and VmHWM (the peak of the
# child's own address space) cross-checks the figure.
RSS_PROBE = """
import gc, resource, sys
sys.path.insert(0, sys.argv[1])
from images_app import pipeline

def vm_hwm_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

data = open(sys.argv[2], "rb").read()
gc.collect()
maxrss_before, hwm_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, vm_hwm_kib()
pipeline.process_image_bytes(data, content_type=sys.argv[3])
maxrss_after, hwm_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, vm_hwm_kib()
print((maxrss_after - maxrss_before) / 1024, (hwm_after - hwm_before) / 1024)
"""


def rss_growth_mib(data: bytes, content_type: str) -> tuple[float, float]:
    """(ru_maxrss growth, VmHWM growth) in MiB for one image in a fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(data)
        handle.flush()
        output = subprocess.run(
            [sys.executable, "-c", RSS_PROBE, str(ROOT), handle.name, content_type],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    maxrss, hwm = (float(value) for value in output.split())
    return maxrss, hwm


def synthetic_jpeg_in_child() -> bytes:
    """Generated in a short-lived child so that this process stays small for the RSS probes."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(synthetic_jpeg)


def main() -> int:
    started = time.perf_counter()
    print(
        f"Python {platform.python_version()}, Pillow {Image.__version__} "
        f"(libjpeg-turbo {features.version('libjpeg_turbo')}), pillow-heif "
        f"{pipeline.pillow_heif.__version__} (libheif {pipeline.pillow_heif.libheif_version()}), "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs"
    )
    jpeg = synthetic_jpeg_in_child()
    heic = HEIC_FIXTURE.read_bytes()
    print(
        f"Fixtures: synthetic 4000x3000 JPEG q90 ({len(jpeg) / 1e6:.1f} MB), {HEIC_FIXTURE.name} "
        f"({len(heic) / 1e6:.1f} MB)"
    )

    print("\nMemory (peak RSS growth for one image in a fresh process)")
    for label, data, content_type, limit in (
        ("JPEG 12 MP", jpeg, "image/jpeg", MAX_RSS_GROWTH_MIB),
        ("HEIC 12 MP", heic, "image/heic", None),
    ):
        maxrss, hwm = rss_growth_mib(data, content_type)
        detail = f"ru_maxrss +{maxrss:.1f} MiB (VmHWM +{hwm:.1f} MiB)"
        if limit is None:
            print(f"  {label}: {detail}, no target")
        else:
            growth = max(maxrss, hwm)
            check(
                f"{label} peak RSS growth", growth <= limit, f"{detail}, target <= {limit:.0f} MiB"
            )

    print("\nCorrectness")
    check_result("JPEG", jpeg, "image/jpeg", (3000, 4000), SYNTHETIC_EXIF)
    check_result("HEIC", heic, "image/heic", (3024, 4032), HEIC_EXIF)
    check_psnr(jpeg)
    check_sharpness()

    print("\nSpeed (CPU time, one process)")
    compare_with_floor(
        "JPEG 12 MP", lambda: floor_jpeg(jpeg), real(jpeg, "image/jpeg"), JPEG_MAX_RATIO
    )
    compare_with_floor(
        "HEIC 12 MP", lambda: floor_heic(heic), real(heic, "image/heic"), HEIC_MAX_RATIO
    )

    print("\nPerceptual signature (included in the figures above)")
    signature_cost("JPEG 12 MP", jpeg, "image/jpeg")
    signature_cost("HEIC 12 MP", heic, "image/heic")

    print("\nThroughput (wall time)")
    throughput("JPEG 12 MP", jpeg, "image/jpeg")
    throughput("HEIC 12 MP", heic, "image/heic")

    verdict = f"FAIL: {', '.join(failures)}" if failures else "PASS: all targets met"
    print(f"\n{verdict} ({time.perf_counter() - started:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
