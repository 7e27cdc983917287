"""The spin viewer's size as a dealer's visitor downloads it: gzip (level 9) of the file as
shipped, and of it minified with terser (`npm ci` installs terser into node_modules/).

    python scripts/viewer_size.py      # or: make viewer-size
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEWER = ROOT / "images_app" / "static" / "imaging-viewer" / "imaging-viewer.js"
TERSER = ROOT / "node_modules" / ".bin" / "terser"
BUDGET = 12 * 1024


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> int:
    source = VIEWER.read_bytes()
    print(f"{VIEWER.relative_to(ROOT)}: {len(source)} B, gzip {gzipped(source)} B (as shipped)")
    if not TERSER.exists():
        print("minified: run `npm ci` first (terser, development only)", file=sys.stderr)
        return 1
    minified = subprocess.run(
        [str(TERSER), str(VIEWER), "--compress", "--mangle", "--comments", "/^!/"],
        check=True,
        capture_output=True,
    ).stdout
    size = gzipped(minified)
    print(f"minified: {len(minified)} B, gzip {size} B (budget {BUDGET} B)")
    return 0 if size <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
