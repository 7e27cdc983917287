"""Progressive JPEG scan bombs, built at test time from a real photo (nothing big committed).

A scan bomb is a valid progressive JPEG that repeats one scan thousands of times. Each scan
costs the decoder a pass over every 8x8 block of the components it covers, however few bytes
it has: on a smooth image an AC scan is a handful of end-of-band runs, about 25 bytes, so
5,000 repeats add 125 KB to the file and several seconds of CPU to its decode.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = FIXTURES / "Portrait_6.jpg"  # a real 1800 x 1200 photo (NOTICE.md)

SOS = 0xDA


def progressive_jpeg(*, size: tuple[int, int] = (4000, 2667)) -> bytes:
    """The real photo's 1/30 thumbnail blown up to `size` (smooth: tiny AC scans), saved as
    a progressive JPEG by Pillow (libjpeg's standard script: 10 scans)."""
    with Image.open(SOURCE) as photo:
        smooth = photo.reduce(30).resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    smooth.save(out, "JPEG", quality=85, progressive=True)
    return out.getvalue()


def scan_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan: its SOS segment and the entropy-coded data after it.

    Only for the well-formed files Pillow writes (no fill bytes, no garbage)."""
    scans = []
    position = 2
    while position + 4 <= len(data) and data[position + 1] != 0xD9:
        marker = data[position + 1]
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == SOS:
            # Up to the next marker that is neither a stuffed 0xFF nor RST0-7.
            while not (data[end] == 0xFF and data[end + 1] not in (0, *range(0xD0, 0xD8))):
                end += 1
            scans.append((position, end))
        position = end
    return scans


def cheapest_luma_ac_scan(data: bytes) -> tuple[int, int]:
    """The smallest scan of the first component alone over AC coefficients: the most decode
    work per byte (every luma block, a few bytes of end-of-band runs)."""

    def is_luma_ac(scan: tuple[int, int]) -> bool:
        start, _ = scan
        components = data[start + 4]
        spectral_start = data[start + 5 + 2 * components]
        return components == 1 and data[start + 5] == 1 and spectral_start > 0

    return min(filter(is_luma_ac, scan_segments(data)), key=lambda s: s[1] - s[0])


def progressive_scan_bomb(*, repeats: int, size: tuple[int, int] = (4000, 2667)) -> bytes:
    """A progressive JPEG of `size` whose cheapest luma AC scan appears `repeats` more times
    after the last scan. It stays valid: libjpeg decodes it (the image is unchanged)."""
    data = progressive_jpeg(size=size)
    start, end = cheapest_luma_ac_scan(data)
    last_end = scan_segments(data)[-1][1]
    return data[:last_end] + data[start:end] * repeats + data[last_end:]
