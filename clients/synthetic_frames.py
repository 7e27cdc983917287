"""Synthetic photos for the device simulator: a car turning on a studio turntable.

Standard library only: a small renderer (flat-shaded boxes and discs, sensor grain) and a
baseline JPEG encoder (YCbCr 4:2:0 with the standard tables of ITU-T T.81 Annex K), so the
simulator needs no Pillow. ``synthetic_jpeg(angle_deg=…, …)`` is deterministic: the same
arguments give the same bytes, as a retried upload of the same photo would.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

# ==========================================================================================
# A baseline JPEG encoder (YCbCr 4:2:0, the standard Huffman tables), standard library only.
# ==========================================================================================

# Zigzag position -> index in natural (row-major) order.
_ZIGZAG = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip
# ITU-T T.81 Annex K quantization tables, natural order.
_LUMA_Q = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_CHROMA_Q = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *([99] * 32),
)  # fmt: skip
# Annex K Huffman tables: code counts per length 1-16, then the symbols.
_DC_LUMA = ((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0), tuple(range(12)))
_DC_CHROMA = ((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0), tuple(range(12)))
_AC_LUMA = (
    (0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D),
    bytes.fromhex(
        "01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
        "2433627282090a161718191a25262728292a3435363738393a434445464748494a"
        "535455565758595a636465666768696a737475767778797a838485868788898a"
        "92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7"
        "c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"
    ),
)
_AC_CHROMA = (
    (0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77),
    bytes.fromhex(
        "000102031104052131061241510761711322328108144291a1b1c109233352f0"
        "156272d10a162434e125f11718191a262728292a35363738393a434445464748"
        "494a535455565758595a636465666768696a737475767778797a828384858687"
        "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
        "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"
    ),
)
# Arai-Agui-Nakajima scale factors: the float FDCT leaves them in the coefficients.
_AAN = (1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.541196100, 0.275899379)


def _huffman_codes(spec: tuple[tuple[int, ...], bytes | tuple[int, ...]]) -> dict[int, tuple]:
    counts, symbols = spec
    codes: dict[int, tuple[int, int]] = {}
    code, k = 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def _scaled_table(base: tuple[int, ...], quality: int) -> list[int]:
    quality = max(1, min(100, quality))
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [max(1, min(255, (q * scale + 50) // 100)) for q in base]


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.bits = 0

    def write(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.bits += length
        while self.bits >= 8:
            self.bits -= 8
            byte = (self.acc >> self.bits) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)  # byte stuffing
        self.acc &= (1 << self.bits) - 1

    def flush(self) -> bytes:
        if self.bits:
            self.write(0x7F, 8 - self.bits)  # pad with 1-bits
        return bytes(self.out)


def _fdct_quantize(block: list[float], divisors: list[float]) -> list[int]:
    """Float AAN forward DCT of an 8x8 block (level-shifted), quantized, natural order."""
    d = block
    for o in range(0, 64, 8):  # rows
        t0, t7 = d[o] + d[o + 7], d[o] - d[o + 7]
        t1, t6 = d[o + 1] + d[o + 6], d[o + 1] - d[o + 6]
        t2, t5 = d[o + 2] + d[o + 5], d[o + 2] - d[o + 5]
        t3, t4 = d[o + 3] + d[o + 4], d[o + 3] - d[o + 4]
        t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
        d[o], d[o + 4] = t10 + t11, t10 - t11
        z1 = (t12 + t13) * 0.707106781
        d[o + 2], d[o + 6] = t13 + z1, t13 - z1
        t10, t11, t12 = t4 + t5, t5 + t6, t6 + t7
        z5 = (t10 - t12) * 0.382683433
        z2, z4, z3 = 0.5411961 * t10 + z5, 1.306562965 * t12 + z5, t11 * 0.707106781
        z11, z13 = t7 + z3, t7 - z3
        d[o + 5], d[o + 3], d[o + 1], d[o + 7] = z13 + z2, z13 - z2, z11 + z4, z11 - z4
    for o in range(8):  # columns
        t0, t7 = d[o] + d[o + 56], d[o] - d[o + 56]
        t1, t6 = d[o + 8] + d[o + 48], d[o + 8] - d[o + 48]
        t2, t5 = d[o + 16] + d[o + 40], d[o + 16] - d[o + 40]
        t3, t4 = d[o + 24] + d[o + 32], d[o + 24] - d[o + 32]
        t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
        d[o], d[o + 32] = t10 + t11, t10 - t11
        z1 = (t12 + t13) * 0.707106781
        d[o + 16], d[o + 48] = t13 + z1, t13 - z1
        t10, t11, t12 = t4 + t5, t5 + t6, t6 + t7
        z5 = (t10 - t12) * 0.382683433
        z2, z4, z3 = 0.5411961 * t10 + z5, 1.306562965 * t12 + z5, t11 * 0.707106781
        z11, z13 = t7 + z3, t7 - z3
        d[o + 40], d[o + 24], d[o + 8], d[o + 56] = z13 + z2, z13 - z2, z11 + z4, z11 - z4
    return [round(value * divisor) for value, divisor in zip(d, divisors, strict=True)]


def _encode_block(
    writer: _BitWriter, coefficients: list[int], previous_dc: int, dc: dict, ac: dict
) -> int:
    diff = coefficients[0] - previous_dc
    size = abs(diff).bit_length()
    writer.write(*dc[size])
    if size:
        writer.write(diff if diff > 0 else diff + (1 << size) - 1, size)
    run = 0
    for position in range(1, 64):
        value = coefficients[_ZIGZAG[position]]
        if value == 0:
            run += 1
            continue
        while run > 15:
            writer.write(*ac[0xF0])
            run -= 16
        size = abs(value).bit_length()
        writer.write(*ac[(run << 4) | size])
        writer.write(value if value > 0 else value + (1 << size) - 1, size)
        run = 0
    if run:
        writer.write(*ac[0x00])
    return coefficients[0]


def _block(plane: list[bytearray], x0: int, y0: int, width: int, height: int) -> list[float]:
    """An 8x8 block, level-shifted; edges repeat the last row/column."""
    values: list[float] = []
    for y in range(y0, y0 + 8):
        row = plane[min(y, height - 1)]
        if x0 + 8 <= width:
            values.extend(v - 128.0 for v in row[x0 : x0 + 8])
        else:
            values.extend(row[min(x, width - 1)] - 128.0 for x in range(x0, x0 + 8))
    return values


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def encode_jpeg(
    y: list[bytearray],
    cb: list[bytearray],
    cr: list[bytearray],
    *,
    quality: int = 88,
    comment: str = "",
) -> bytes:
    """Baseline JPEG from full-size Y and half-size (4:2:0) Cb/Cr planes of bytes."""
    height, width = len(y), len(y[0])
    chroma_height, chroma_width = len(cb), len(cb[0])
    luma_q, chroma_q = _scaled_table(_LUMA_Q, quality), _scaled_table(_CHROMA_Q, quality)
    luma_div = [1.0 / (q * _AAN[k // 8] * _AAN[k % 8] * 8.0) for k, q in enumerate(luma_q)]
    chroma_div = [1.0 / (q * _AAN[k // 8] * _AAN[k % 8] * 8.0) for k, q in enumerate(chroma_q)]
    dc_luma, ac_luma = _huffman_codes(_DC_LUMA), _huffman_codes(_AC_LUMA)
    dc_chroma, ac_chroma = _huffman_codes(_DC_CHROMA), _huffman_codes(_AC_CHROMA)

    writer = _BitWriter()
    dc_y = dc_cb = dc_cr = 0
    for mcu_y in range(0, height, 16):
        for mcu_x in range(0, width, 16):
            for dy, dx in ((0, 0), (0, 8), (8, 0), (8, 8)):
                block = _block(y, mcu_x + dx, mcu_y + dy, width, height)
                dc_y = _encode_block(
                    writer, _fdct_quantize(block, luma_div), dc_y, dc_luma, ac_luma
                )
            cx, cy = mcu_x // 2, mcu_y // 2
            for plane, name in ((cb, "cb"), (cr, "cr")):
                block = _block(plane, cx, cy, chroma_width, chroma_height)
                coefficients = _fdct_quantize(block, chroma_div)
                if name == "cb":
                    dc_cb = _encode_block(writer, coefficients, dc_cb, dc_chroma, ac_chroma)
                else:
                    dc_cr = _encode_block(writer, coefficients, dc_cr, dc_chroma, ac_chroma)
    scan = writer.flush()

    def dht(table_class_id: int, spec: tuple) -> bytes:
        counts, symbols = spec
        return bytes((table_class_id, *counts)) + bytes(symbols)

    parts = [
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
    ]
    if comment:
        parts.append(_segment(0xFE, comment.encode("utf-8")[:60000]))
    parts += [
        _segment(0xDB, b"\x00" + bytes(luma_q[i] for i in _ZIGZAG)),
        _segment(0xDB, b"\x01" + bytes(chroma_q[i] for i in _ZIGZAG)),
        _segment(
            0xC0,
            b"\x08"
            + height.to_bytes(2, "big")
            + width.to_bytes(2, "big")
            + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01",
        ),
        _segment(
            0xC4,
            dht(0x00, _DC_LUMA)
            + dht(0x10, _AC_LUMA)
            + dht(0x01, _DC_CHROMA)
            + dht(0x11, _AC_CHROMA),
        ),
        _segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"),
        scan,
        b"\xff\xd9",
    ]
    return b"".join(parts)


# ==========================================================================================
# Rendering: a car on a studio turntable, seen from a fixed camera.
# ==========================================================================================

Vec = tuple[float, float, float]


def _rgb_to_ycc(r: float, g: float, b: float) -> tuple[int, int, int]:
    def clamp(v: float) -> int:
        return max(0, min(255, round(v)))

    return (
        clamp(0.299 * r + 0.587 * g + 0.114 * b),
        clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b),
        clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b),
    )


def _box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> list[list[Vec]]:
    """Six outward-facing quads (counter-clockwise seen from outside)."""
    return [
        [(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)],  # +x
        [(x0, y0, z1), (x0, y1, z1), (x0, y1, z0), (x0, y0, z0)],  # -x
        [(x0, y1, z0), (x0, y1, z1), (x1, y1, z1), (x1, y1, z0)],  # +y
        [(x0, y0, z1), (x0, y0, z0), (x1, y0, z0), (x1, y0, z1)],  # -y
        [(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)],  # +z
        [(x1, y0, z0), (x0, y0, z0), (x0, y1, z0), (x1, y1, z0)],  # -z
    ]


def _cabin() -> list[list[Vec]]:
    """A prism with sloped windscreen and rear window."""
    bottom_x0, bottom_x1, top_x0, top_x1 = -1.35, 1.05, -0.85, 0.45
    y0, y1, z0, z1 = 0.98, 1.45, -0.78, 0.78
    return [
        [(bottom_x1, y0, z0), (top_x1, y1, z0), (top_x1, y1, z1), (bottom_x1, y0, z1)],
        [(bottom_x0, y0, z1), (top_x0, y1, z1), (top_x0, y1, z0), (bottom_x0, y0, z0)],
        [(top_x0, y1, z0), (top_x0, y1, z1), (top_x1, y1, z1), (top_x1, y1, z0)],
        [(bottom_x0, y0, z1), (bottom_x1, y0, z1), (top_x1, y1, z1), (top_x0, y1, z1)],
        [(bottom_x1, y0, z0), (bottom_x0, y0, z0), (top_x0, y1, z0), (top_x1, y1, z0)],
    ]


def _wheel(cx: float, cz: float, side: float) -> list[list[Vec]]:
    """A wheel as a 12-sided disc on the car's side, a little outside the body."""
    radius, cy, z = 0.36, 0.36, cz + 0.02 * side
    points = [
        (cx + radius * math.cos(a), cy + radius * math.sin(a), z)
        for a in (2 * math.pi * k / 12 for k in range(12))
    ]
    return [points if side > 0 else points[::-1]]


def _car_parts(color: tuple[int, int, int]) -> list[tuple[list[Vec], tuple[int, int, int]]]:
    glass, tyre, light, tail = (40, 52, 66), (28, 28, 30), (235, 232, 210), (200, 30, 30)
    parts = [(face, color) for face in _box(-2.25, 2.25, 0.32, 0.98, -0.9, 0.9)]
    parts += [(face, glass) for face in _cabin()]
    for x in (-1.45, 1.45):
        for z, side in ((0.9, 1.0), (-0.9, -1.0)):
            parts += [(face, tyre) for face in _wheel(x, z, side)]
    for z0, z1 in ((0.45, 0.78), (-0.78, -0.45)):
        # Only the outward face: it is culled whenever that end of the car faces away.
        parts.append((_box(2.25, 2.28, 0.72, 0.84, z0, z1)[0], light))
        parts.append((_box(-2.28, -2.25, 0.74, 0.86, z0, z1)[1], tail))
    return parts


def _fill_polygon(planes: tuple, points: list[tuple[float, float]], ycc: tuple) -> None:
    """Scanline fill of a convex polygon into the Y plane and the full-size Cb/Cr planes."""
    y_plane, cb_plane, cr_plane = planes
    height, width = len(y_plane), len(y_plane[0])
    ys = [p[1] for p in points]
    top, bottom = max(0, math.ceil(min(ys))), min(height - 1, math.floor(max(ys)))
    edges = list(zip(points, points[1:] + points[:1], strict=True))
    value_y, value_cb, value_cr = ycc
    for row in range(top, bottom + 1):
        scan_y = row + 0.5
        xs = []
        for (x0, y0), (x1, y1) in edges:
            if (y0 <= scan_y < y1) or (y1 <= scan_y < y0):
                xs.append(x0 + (scan_y - y0) * (x1 - x0) / (y1 - y0))
        if len(xs) < 2:
            continue
        left, right = max(0, round(min(xs))), min(width, round(max(xs)))
        if right <= left:
            continue
        span = right - left
        y_plane[row][left:right] = bytes((value_y,)) * span
        cb_plane[row][left:right] = bytes((value_cb,)) * span
        cr_plane[row][left:right] = bytes((value_cr,)) * span


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.cos(a), cy + ry * math.sin(a))
        for a in (2 * math.pi * k / 48 for k in range(48))
    ]


BODY_COLOURS = ((178, 34, 34), (30, 70, 150), (40, 120, 80), (200, 200, 205))


@dataclass(frozen=True)
class Shape:
    """A flat-coloured convex polygon in image coordinates; ``role`` says what it shows."""

    role: str  # "turntable" | "shadow" | "car"
    points: tuple[tuple[float, float], ...]
    rgb: tuple[int, int, int]


def backdrop_luma(row: int, height: int) -> int:
    """The studio: a light cyclorama down to the horizon, a darker floor below."""
    t = row / height
    return int(205 - 40 * t) if row < int(height * 0.58) else int(150 - 50 * t)


def turntable_scene(
    angle_deg: float, *, width: int, height: int, body_rgb: tuple[int, int, int]
) -> list[Shape]:
    """What the camera sees in front of the backdrop, back to front: the turntable, the
    car's shadow, then the car's visible faces, flat-shaded by one light."""
    scale = width / 6.2
    cx, cy = width / 2, height * 0.70
    radians = math.radians(angle_deg)
    cos_a, sin_a = math.cos(radians), math.sin(radians)

    def project(point: Vec) -> tuple[float, float]:
        x, y, z = point
        xr, zr = x * cos_a - z * sin_a, x * sin_a + z * cos_a
        # Camera a little above the car, looking slightly down: depth shifts y upwards.
        return cx + xr * scale, cy - (y * 0.94 + zr * 0.34) * scale

    shapes = [
        Shape("turntable", tuple(_ellipse(cx, cy, 3.0 * scale, 1.02 * scale)), (70, 72, 78)),
        Shape("turntable", tuple(_ellipse(cx, cy, 2.7 * scale, 0.92 * scale)), (92, 94, 100)),
        Shape("shadow", tuple(_ellipse(cx, cy + 2, 2.3 * scale, 0.42 * scale)), (45, 45, 50)),
    ]
    light = (-0.4, 0.8, -0.45)
    # Each part is convex and culled, and the camera looks down: drawing body, cabin, then
    # wheels and lights paints every visible face over what it hides.
    for face, colour in _car_parts(body_rgb):
        projected = [project(p) for p in face]
        (ax, ay), (bx, by), (qx, qy) = projected[0], projected[1], projected[2]
        if (bx - ax) * (qy - ay) - (by - ay) * (qx - ax) <= 0:
            continue  # facing away from the camera
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = face[0], face[1], face[2]
        ux, uy, uz, vx, vy, vz = x1 - x0, y1 - y0, z1 - z0, x2 - x0, y2 - y0, z2 - z0
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        nxr, nzr = nx * cos_a - nz * sin_a, nx * sin_a + nz * cos_a
        length = math.sqrt(nxr * nxr + ny * ny + nzr * nzr) or 1.0
        lambert = max(0.0, (nxr * light[0] + ny * light[1] + nzr * light[2]) / length)
        shade = 0.45 + 0.6 * lambert
        rgb = tuple(min(255, round(c * shade)) for c in colour)
        shapes.append(Shape("car", tuple(projected), rgb))  # type: ignore[arg-type]
    return shapes


def render_turntable_frame(
    angle_deg: float, *, width: int = 480, height: int = 320, seed: int = 0, blur: int = 0
) -> tuple[list[bytearray], list[bytearray], list[bytearray]]:
    """Y, Cb, Cr planes (Cb/Cr at half size) of the car at this turntable angle; ``blur``
    (a radius in pixels) renders it out of focus: no grain, the edges box-blurred."""
    y_plane = [bytearray((backdrop_luma(row, height),)) * width for row in range(height)]
    cb_plane = [bytearray(b"\x80" * width) for _ in range(height)]
    cr_plane = [bytearray(b"\x80" * width) for _ in range(height)]
    planes = (y_plane, cb_plane, cr_plane)
    body = BODY_COLOURS[seed % len(BODY_COLOURS)]
    for shape in turntable_scene(angle_deg, width=width, height=height, body_rgb=body):
        _fill_polygon(planes, list(shape.points), _rgb_to_ycc(*shape.rgb))
    if blur > 0:
        for _ in range(2):  # two box passes: close to a Gaussian
            y_plane = _box_blur(y_plane, blur)
        return y_plane, _half(cb_plane), _half(cr_plane)
    # Sensor grain: real photos have texture, and QC's sharpness measure looks for edges.
    grain = random.Random(seed).randbytes(width * height)
    for row in range(height):
        offset = row * width
        y_plane[row] = bytearray(
            min(255, max(0, v + (g % 29) - 14))
            for v, g in zip(y_plane[row], grain[offset : offset + width], strict=True)
        )
    return y_plane, _half(cb_plane), _half(cr_plane)


def _box_blur_row(row: bytearray | list[int], radius: int) -> bytearray:
    width = len(row)
    window = 2 * radius + 1
    padded = [row[0]] * radius + list(row) + [row[-1]] * radius
    total = sum(padded[:window])
    out = bytearray(width)
    for x in range(width):
        out[x] = total // window
        if x + window < len(padded):
            total += padded[x + window] - padded[x]
    return out


def _box_blur(plane: list[bytearray], radius: int) -> list[bytearray]:
    """A box blur of ``radius`` pixels, horizontal then vertical."""
    rows = [_box_blur_row(row, radius) for row in plane]
    columns = [_box_blur_row(column, radius) for column in zip(*rows, strict=True)]
    return [bytearray(row) for row in zip(*columns, strict=True)]


def _half(plane: list[bytearray]) -> list[bytearray]:
    height, width = len(plane), len(plane[0])
    out = []
    for row in range(0, height, 2):
        upper, lower = plane[row], plane[min(row + 1, height - 1)]
        out.append(
            bytearray(
                (upper[x] + upper[min(x + 1, width - 1)] + lower[x] + lower[min(x + 1, width - 1)])
                // 4
                for x in range(0, width, 2)
            )
        )
    return out


_frame_cache: dict[tuple, bytes] = {}
_frame_cache_lock = threading.Lock()


def synthetic_jpeg(
    *, angle_deg: float, label: str, width: int, height: int, seed: int, blur: int = 0
) -> bytes:
    """A rendered frame as JPEG bytes (deterministic; cached, since sessions repeat frames);
    ``blur`` renders it out of focus, so that QC fails its sharpness."""
    key = (round(angle_deg, 3), label, width, height, seed, blur)
    with _frame_cache_lock:
        cached = _frame_cache.get(key)
    if cached is not None:
        return cached
    planes = render_turntable_frame(angle_deg, width=width, height=height, seed=seed, blur=blur)
    data = encode_jpeg(*planes, comment=f"360 Imaging device simulator: {label}")
    with _frame_cache_lock:
        _frame_cache[key] = data
    return data
