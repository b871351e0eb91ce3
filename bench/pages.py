"""Each page's script run time (AppTest) at defaults and after a typical widget change, and the
app's cold start to first render in a real browser.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/pages.py [--runs 7] [--no-browser]

Prints a table of medians (ms). Timings are measured here, never asserted in tests.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from common import ROOT  # noqa: E402 — the repository on sys.path, MNIST_DIR

from streamlit.testing.v1 import AppTest  # noqa: E402

from ui.nav import LESSONS  # noqa: E402


# A typical change per page: (widget kind, key, two values to alternate between).
CHANGES = {
    "home": ("selectbox", "home_kernel", ("sobel_x", "vertical_edge")),
    "images": ("number_input", "im_digit", (1, 0)),
    "kernels": ("selectbox", "kn_kernel", ("sobel_x", "vertical_edge")),
    "xo": ("segmented_control", "xo_preset", ("x_shifted", "x")),
    "stride": ("slider", "sp_s", (1, 2)),
    "pooling": ("slider", "pl_size", (3, 2)),
    "optimizers": ("number_input", "op_rosenbrock_adam_lr", (0.06, 0.05)),
    "backprop": ("slider", "bp_s", (2, 1)),
    "train": ("selectbox", "tr_model", ("lenet5", "fast")),
    "network": ("number_input", "nw_row", (5, 6)),
}


def _change(at, page: str, i: int):
    kind, key, values = CHANGES[page]
    getattr(at, kind)(key=key).set_value(values[i % 2])
    return f"{kind} {key}"


def time_page(path: str, runs: int) -> dict:
    at = AppTest.from_file(str(ROOT / path), default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    if at.exception:
        return {"page": path, "error": at.exception[0].message}
    defaults = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        defaults.append(time.perf_counter() - t0)
    page = Path(path).stem
    changed = []
    what = None
    for i in range(runs):
        what = _change(at, page, i)
        t0 = time.perf_counter()
        at.run()
        changed.append(time.perf_counter() - t0)
    return {"page": path, "first": first, "defaults": statistics.median(defaults),
            "changed": statistics.median(changed) if what else None, "what": what or "-"}


def cold_start() -> tuple[float, float]:
    """Seconds from `streamlit run` to the server answering, and to the home page fully rendered."""
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                             "--server.headless", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        up = time.perf_counter() - t0
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("""() => { const a = document.querySelector('[data-testid="stApp"]');
                return a && a.getAttribute('data-test-script-state') === 'notRunning'
                       && document.querySelector('h1'); }""", timeout=60_000)
            rendered = time.perf_counter() - t0
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return up, rendered


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    rows = [time_page(path, args.runs) for path, *_ in LESSONS if Path(path).exists()]
    print(f"\nPage script runs, AppTest, median of {args.runs} (ms); goal at defaults ≤ 150 ms\n")
    print(f"| {'page':<22} | first run | defaults | after change | change made")
    print(f"|{'-' * 24}|-----------|----------|--------------|------------")
    for r in rows:
        if "error" in r:
            print(f"| {r['page']:<22} | ERROR: {r['error'][:80]}")
            continue
        ch = f"{r['changed'] * 1000:12.0f}" if r["changed"] is not None else f"{'-':>12}"
        print(f"| {r['page']:<22} | {r['first'] * 1000:9.0f} | {r['defaults'] * 1000:8.0f} | {ch} | {r['what']}")
    if not args.no_browser:
        up, rendered = cold_start()
        print(f"\nCold start: server healthy after {up:.2f} s; home page rendered in Chromium after {rendered:.2f} s")


if __name__ == "__main__":
    main()
