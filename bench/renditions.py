"""Benchmark of the web renditions (publishing) against pyvips producing the same set.

Run: ``.venv/bin/python bench/renditions.py`` (about a minute on 2 cores; needs the dev
requirements' pyvips). Exits non-zero when a target fails.

One 12 MP JPEG (4000 x 3000 stored, EXIF Orientation 6: 3000 x 4000 upright; the
synthetic photo of ``bench/pipeline.py``), in one process, alternating:

- **ours**: ``images_app.pipeline.web_renditions``: draft() decode at the most reduced scale
  covering 1600 px, upright, sRGB, Lanczos to 1600, then 1024, 640 and 320 each from the
  next larger; JPEG q82 progressive and WebP q80 method 4 of each; a 16 px placeholder.
- **pyvips**: ``thumbnail_buffer`` to 1600 wide (shrink-on-load, auto-rotate), then
  ``resize`` (Lanczos3) to each smaller width from the next larger; JPEG q82 interlaced
  and WebP q80 effort 4 with metadata stripped; the same 16 px placeholder.

Both single-threaded (``VIPS_CONCURRENCY=1``; Pillow is), CPU time by
``time.process_time``, warm-ups then 9 alternating pairs, medians. PSNR of each 1600 px
JPEG, decoded, against a Lanczos resize of the full-resolution upright decode.

Target: ours costs no more CPU than pyvips (median ratio <= 1.0).
"""

from __future__ import annotations

import importlib.util
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("VIPS_CONCURRENCY", "1")

import pyvips
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from images_app import pipeline  # noqa: E402
from images_app.rules import RENDITION_WIDTHS  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "bench" / "pipeline.py")
bench_pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_pipeline)

WARMUPS, PAIRS = 2, 9
failures: list[str] = []


def ours(data: bytes) -> dict[tuple[str, int], bytes]:
    result = pipeline.web_renditions(data, content_type="image/jpeg")
    return {key: body for key, (_, body) in result.files.items()}


def vips(data: bytes) -> dict[tuple[str, int], bytes]:
    image = pyvips.Image.thumbnail_buffer(data, RENDITION_WIDTHS[-1], height=100_000)
    files = {}
    for width in sorted(RENDITION_WIDTHS, reverse=True):
        if image.width != width:
            image = image.resize(width / image.width, kernel="lanczos3")
        files[("jpeg", width)] = image.jpegsave_buffer(Q=82, interlace=True, keep="none")
        files[("webp", width)] = image.webpsave_buffer(Q=80, effort=4, keep="none")
    tiny = image.resize(16 / image.width, kernel="linear")
    files[("jpeg", 16)] = tiny.jpegsave_buffer(Q=40, keep="none")
    return files


def cpu_ms(function, data: bytes) -> float:
    started = time.process_time()
    function(data)
    return (time.process_time() - started) * 1000


def reference_1600(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image.convert("RGB"))
    height = round(upright.height * 1600 / upright.width)
    return upright.resize((1600, height), Image.Resampling.LANCZOS)


def decoded(body: bytes) -> Image.Image:
    return Image.open(io.BytesIO(body)).convert("RGB")


def main() -> int:
    print(f"Python {platform.python_version()}, Pillow {Image.__version__}, "
          f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    data = bench_pipeline.synthetic_jpeg()
    print(f"original: 12 MP JPEG, {len(data) / 1e6:.1f} MB")
    mine, theirs = ours(data), vips(data)
    assert {k for k in mine} == {k for k in theirs if k[1] != 16}, (sorted(mine), sorted(theirs))
    for _ in range(WARMUPS):
        ours(data)
        vips(data)
    ours_ms, vips_ms, ratios = [], [], []
    for pair in range(PAIRS):
        if pair % 2:
            b, a = cpu_ms(vips, data), cpu_ms(ours, data)
        else:
            a, b = cpu_ms(ours, data), cpu_ms(vips, data)
        ours_ms.append(a)
        vips_ms.append(b)
        ratios.append(a / b)
    ratio = statistics.median(ratios)
    print(f"  ours   {statistics.median(ours_ms):7.1f} ms CPU for the set (median of {PAIRS})")
    print(f"  pyvips {statistics.median(vips_ms):7.1f} ms CPU for the set (median of {PAIRS})")
    ok = ratio <= 1.0
    print(f"  [{'PASS' if ok else 'FAIL'}] CPU: ours / pyvips = {ratio:.2f} (target <= 1.0)")
    if not ok:
        failures.append("cpu")
    reference = reference_1600(data)
    for label, files in (("ours", mine), ("pyvips", theirs)):
        image = decoded(files[("jpeg", 1600)])
        assert image.size == reference.size, (image.size, reference.size)
        total = sum(len(body) for key, body in files.items() if key[1] != 16)
        print(f"  {label:6} 1600 px JPEG: PSNR {bench_pipeline.psnr(image, reference):.2f} dB "
              f"vs Lanczos of the full decode; set of 8 files {total / 1e6:.2f} MB")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
