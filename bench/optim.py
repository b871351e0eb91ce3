"""Optimizer race timings.

    .venv/bin/python bench/optim.py

Prints medians of: the largest race the page allows (8 optimizers × 2,000 steps, with noise) on every surface,
with the written-out rules (``optim.race``) and, once, with torch.optim and autograd (``optim.race_torch``, the
oracle); a 300×300 loss grid, and the Optimizers page's rerun after changing one hyperparameter (AppTest).
"""
from __future__ import annotations

import statistics
import time

from common import ROOT, median_seconds  # noqa: E402 — the repository on sys.path, MNIST_DIR

from explainer.learning import optim  # noqa: E402



def main() -> None:
    surf = optim.surface("rosenbrock")
    # the page's defaults for this surface (with torch's bare lr 0.01, SGD explodes here within 5 steps)
    runs = [(n, optim.defaults(n, surf)) for n in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                                    "adamw", "nadam")]
    race = median_seconds(lambda: optim.race(surf, runs, surf.start, 1000), 9)
    largest = {}
    names = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam")
    for name in optim.SURFACE_NAMES:
        s = optim.surface(name)
        big = [(n, {"lr": optim.defaults(n, s)["lr"]}) for n in names]
        largest[name] = median_seconds(lambda: optim.race(s, big, s.start, 2000, noise=1.0, seed=1), 5)
    s = optim.surface("beale")
    big = [(n, {"lr": optim.defaults(n, s)["lr"]}) for n in names]
    t0 = time.perf_counter()
    optim.race_torch(s, big, s.start, 2000, noise=1.0, seed=1)
    oracle = time.perf_counter() - t0
    grid = median_seconds(lambda: optim.loss_grid(surf, 300), 21)

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "optimizers.py"), default_timeout=120).run()
    lrs = [0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11]
    rerun = []
    for lr in lrs:
        at.number_input(key="op_rosenbrock_adam_lr").set_value(lr)
        t0 = time.perf_counter()
        at.run()
        rerun.append(time.perf_counter() - t0)
    print("\n| what | median | goal |\n|---|---|---|")
    print(f"| 8 optimizers × 1000 steps, Rosenbrock | {race * 1000:.0f} ms | ≤ 500 ms |")
    for name, sec in largest.items():
        print(f"| largest race (8 × 2,000 steps, noise), {name} | {sec * 1000:.0f} ms | ≤ 50 ms |")
    print(f"| the same on beale with torch.optim + autograd (once) | {oracle * 1000:.0f} ms | – |")
    print(f"| 300×300 loss grid | {grid * 1000:.1f} ms | ≤ 50 ms |")
    print(f"| page rerun after changing Adam's lr | {statistics.median(rerun) * 1000:.0f} ms | ≤ 300 ms |")


if __name__ == "__main__":
    main()
