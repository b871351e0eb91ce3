"""What the benchmark scripts share: importing this puts the repository on ``sys.path``, makes it the
working folder and points ``MNIST_DIR`` at ``../shared/mnist`` when that exists and nothing else was set;
``median_ms`` / ``median_seconds`` time a call. Scripts run as ``python bench/<name>.py`` import it as
``common``."""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
# the benches' servers start with lessons showing everything (as before the question cards): a walk clicks what a
# card would hide, and before/after trees compare the same work; EXPLAINER_PREDICT_FIRST=1 measures the cards
os.environ.setdefault("EXPLAINER_PREDICT_FIRST", "0")
if not os.environ.get("MNIST_DIR") and (ROOT.parent / "shared" / "mnist").is_dir():
    os.environ["MNIST_DIR"] = str(ROOT.parent / "shared" / "mnist")


def median_seconds(fn: Callable[[], object], n: int, warm_up: bool = False) -> float:
    """The median wall time of ``n`` calls of ``fn`` (after one untimed call with ``warm_up``)."""
    if warm_up:
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_ms(fn: Callable[[], object], n: int, warm_up: bool = False) -> float:
    return 1000 * median_seconds(fn, n, warm_up)
