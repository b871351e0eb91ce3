"""conv2d against scipy.signal.correlate2d and torch on grey images, and the Kernels page rerun
after a kernel change on a 1024² image.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/conv.py [--runs 7] [--no-page]

Prints medians (ms) and each method's ratio to the fastest of scipy and torch. Goals from the
issue: conv2d within 1.5× of the faster of the two; the page rerun ≤ 200 ms. Nothing here is
asserted in tests.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from common import ROOT, median_ms  # noqa: E402 — the repository on sys.path, MNIST_DIR

from explainer.maths.conv import conv2d  # noqa: E402



def conv_table(runs: int) -> None:
    import scipy.signal
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'image':>6} {'kernel':>6} | {'conv2d':>9} {'scipy':>9} {'torch':>9} | {'conv2d/fastest':>14}")
    for n in (512, 1024):
        img = rng.integers(0, 256, size=(n, n)).astype(np.float64)
        timg = torch.from_numpy(img)[None, None]
        for k in (3, 5, 7):
            ker = rng.normal(size=(k, k))
            tker = torch.from_numpy(ker)[None, None]
            ours = median_ms(lambda: conv2d(img, ker), runs, warm_up=True)
            sp = median_ms(lambda: scipy.signal.correlate2d(img, ker, mode="valid"), runs, warm_up=True)
            th = median_ms(lambda: F.conv2d(timg, tker).numpy(), runs, warm_up=True)
            print(f"{n:>5}² {k}×{k:<4} | {ours:>7.1f}ms {sp:>7.1f}ms {th:>7.1f}ms | {ours / min(sp, th):>13.2f}×")


def page_rerun(runs: int) -> None:
    from streamlit.testing.v1 import AppTest

    from explainer.data.images import sample, to_grey
    from ui.images import PickedImage

    photo = sample("astronaut")
    grey = to_grey(photo) if photo.ndim == 3 else photo
    big = np.kron(grey, np.ones((2, 2), dtype=np.uint8))[:1024, :1024]  # a 1024² grey photo
    at = AppTest.from_file(str(ROOT / "pages" / "kernels.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["kn_src"] = "upload"
    at.session_state["_kn_uploaded"] = PickedImage(big, "astronaut-1024.png", False)
    at.run()
    assert not at.exception, at.exception
    names = ["sobel_x", "vertical_edge", "gaussian_5", "laplacian_8", "sharpen", "box_blur_3"]
    times = []
    for i in range(runs + 1):
        at.selectbox(key="kn_kernel").set_value(names[i % len(names)])
        t0 = time.perf_counter()
        at.run()
        if i:
            times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    print(f"Kernels page rerun after changing the kernel, 1024² image: median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; goal ≤ 200 ms)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-page", action="store_true")
    a = ap.parse_args()
    conv_table(a.runs)
    if not a.no_page:
        page_rerun(a.runs)
