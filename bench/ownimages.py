"""Your own images: how long a zip takes to prepare (explainer.data.ownimages.read_zip), per picture mode.

    python bench/ownimages.py [pictures]     # default 2,000 pictures of 32×32, crops of scikit-image's photographs

Then one epoch of the default fast CNN (the app's settings: Adam, one-cycle, batch 128) on the prepared colour set, on
2 PyTorch threads like the engine's worker, training time only (the final scoring excluded).

The issue's goals: 2,000 colour 32×32 pictures prepared in ≤ 3 s, one epoch in ≤ 5 s (one run, on the 2-core
machine). Each figure is printed with the load average, as the machine may be shared."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explainer.data import datasets  # noqa: E402
from explainer.data.ownimages import read_zip  # noqa: E402
from tests.ownzips import make_zip, picture_files  # noqa: E402


def main(n: int = 2000) -> None:
    files = picture_files(n // 4, lo=32, hi=33, fmts=("PNG",))
    blob = make_zip(files)
    print(f"{len(files)} PNG pictures of 32×32, zip {len(blob) / 2**20:.1f} MB")
    print("| mode | best of 3 (s) | pictures / s | load average (1, 5, 15 min) |\n| --- | --- | --- | --- |")
    held = {}
    for mode in ("colour32", "grey28"):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            held[mode] = read_zip(blob, mode)
            best = min(best, time.perf_counter() - t0)
        print(f"| {mode} | {best:.2f} | {len(files) / best:,.0f} | {_load()} |", flush=True)
    epoch(held["colour32"])


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def epoch(own) -> None:
    """One epoch of the default fast CNN on the prepared set, as the engine's worker trains it (2 threads)."""
    import numpy as np
    import torch

    from explainer.learning.train import TrainConfig, train

    torch.set_num_threads(2)
    arrays = tuple(np.array(a) for a in (own.train_x, own.train_y, own.test_x, own.test_y))
    cfg = TrainConfig(model="fast", dataset=datasets.OWN, own=datasets.own_spec(own), epochs=1, device="cpu",
                      evals_per_epoch=1)
    res = train(cfg, arrays)
    print(f"one epoch, fast CNN, {len(own.train_y)} colour 32×32 pictures: {res.train_seconds:.2f} s "
          f"({res.images_per_second:,.0f} images/s), test accuracy {100 * res.test_accuracy:.1f} %; load {_load()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
