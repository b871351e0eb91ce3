"""Your own images: how long a zip takes to prepare (explainer.data.ownimages.read_zip), per picture mode.

    python bench/ownimages.py [pictures]     # default 2,000 pictures of 32×32, crops of scikit-image's photographs

The issue's goal: 2,000 colour 32×32 pictures prepared in ≤ 3 s (one run, on the 2-core machine)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explainer.data.ownimages import read_zip  # noqa: E402
from tests.ownzips import make_zip, picture_files  # noqa: E402


def main(n: int = 2000) -> None:
    files = picture_files(n // 4, lo=32, hi=33, fmts=("PNG",))
    blob = make_zip(files)
    print(f"{len(files)} PNG pictures of 32×32, zip {len(blob) / 2**20:.1f} MB")
    print("| mode | best of 3 (s) | pictures / s |\n| --- | --- | --- |")
    for mode in ("colour32", "grey28"):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            read_zip(blob, mode)
            best = min(best, time.perf_counter() - t0)
        print(f"| {mode} | {best:.2f} | {len(files) / best:,.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
