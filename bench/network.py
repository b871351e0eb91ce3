"""Inside the network: server time of a rerun at defaults and of a detail click (AppTest), the overview figure's
size as sent to the browser (its Plotly JSON), and the two engine jobs' work (timed in-process, as a worker runs it).

    MNIST_DIR=../shared/mnist .venv/bin/python bench/network.py [--runs 7]

Prints medians; nothing is asserted.
"""
from __future__ import annotations

import argparse
import time

from common import ROOT  # the repository on sys.path, MNIST_DIR

from streamlit.testing.v1 import AppTest  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-jobs", action="store_true", help="skip timing the engine jobs' work")
    args = ap.parse_args()
    at = AppTest.from_file(str(ROOT / "pages" / "network.py"), default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, at.exception
    times, cpu = [], []  # wall time, and the process's CPU time (all threads): on a busy machine the second is the
    for _ in range(args.runs):  # fair figure for what a rerun costs the server
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    clicks, clicks_cpu = [], []
    for i in range(args.runs):
        at.number_input(key="nw_row").set_value(5 + i % 2)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        clicks.append(time.perf_counter() - t0)
        clicks_cpu.append(time.process_time() - c0)
    layer_changes, layer_cpu = [], []
    for i in range(args.runs):
        at.selectbox(key="nw_layer").set_value((1, 4, 7)[i % 3])
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        layer_changes.append(time.perf_counter() - t0)
        layer_cpu.append(time.process_time() - c0)
    sizes = {}
    for shown_all in (False, True):
        at.toggle(key="nw_all").set_value(shown_all).run()
        specs = [len(c.proto.spec) for c in at.get("plotly_chart")]
        sizes["all" if shown_all else "default"] = (max(specs), sum(specs))
    med = lambda v: sorted(v)[len(v) // 2] * 1000  # noqa: E731
    print(f"first run (cold caches, MNIST load): {first * 1000:.0f} ms")
    print(f"rerun at defaults: median {med(times):.0f} ms wall, {med(cpu):.0f} ms CPU ({args.runs} runs)")
    print(f"detail click (row changed): median {med(clicks):.0f} ms wall, {med(clicks_cpu):.0f} ms CPU")
    print(f"layer change (conv 1 / 2 / 3): median {med(layer_changes):.0f} ms wall, {med(layer_cpu):.0f} ms CPU")
    for k, (big, total) in sizes.items():
        print(f"overview {k}: largest figure {big / 1e6:.3f} MB, all figures on the page {total / 1e6:.3f} MB")

    from explainer import network as N
    from explainer.mnist import load_mnist

    x_test = load_mnist()[2]
    model = N.reference_model()
    if args.no_jobs:
        return
    for layer in (3, 7, 9):
        t0 = time.perf_counter()
        N.top_patches(model, x_test, layer)
        print(f"job top_patches, layer {layer}, 10,000 digits: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    N.optimise_input(model, 7, 0)
    print(f"job optimise_input ({N.OPTIMISE_STEPS} steps): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
