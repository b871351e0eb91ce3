"""Timings of the stepper pages (medians, CPU): a page rerun at defaults and one step (the "Next"
click, which reruns the whole script under AppTest: an upper bound for the fragment-only rerun the
browser does while playing), plus the cost of building one step's figures alone.

    .venv/bin/python bench/stepper.py [repeats]

Goal (issue 4): each page's rerun per step ≤ 100 ms median at defaults.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

logging.getLogger("streamlit").setLevel(logging.ERROR)

from streamlit.testing.v1 import AppTest  # noqa: E402

from explainer.figures import stepper as figs  # noqa: E402
from explainer.stepper import conv_walk, pool_walk  # noqa: E402

import numpy as np  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def page_rows(page: str, view_key: str, views: list[str], prefix: str, repeats: int):
    for view in views:
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60)
        at.session_state[view_key] = view
        at.run()
        at.run()  # warm
        rerun = median_ms(at.run, repeats)
        step = None
        if view in ("stepper", "channels", "transposed"):
            p = {"stepper": prefix, "channels": "sp_c", "transposed": "sp_t"}[view]

            def one_step():
                if at.slider(key=f"{p}_pos").value >= at.slider(key=f"{p}_pos").max:
                    at.button(key=f"{p}_first").click().run()
                at.button(key=f"{p}_next").click().run()

            step = median_ms(one_step, repeats)
        yield page, view, rerun, step


def figures_row(repeats: int):
    x = np.random.default_rng(0).integers(0, 10, (5, 5)).astype(float)
    walk = conv_walk(x, np.tile([1.0, 0.0, -1.0], (3, 1)), 2, 1)
    out = walk.output()

    def build():
        s = walk.step(4)
        for f in (figs.grid_figure(walk, s), figs.window_figure(walk, s), figs.output_figure(out, 5)):
            f.to_json()

    pw = pool_walk(np.random.default_rng(0).integers(0, 10, (6, 6)), 2)
    pout = pw.output()

    def build_pool():
        s = pw.step(4)
        for f in (figs.grid_figure(pw, s), figs.window_figure(pw, s), figs.output_figure(pout, 5)):
            f.to_json()

    return median_ms(build, repeats), median_ms(build_pool, repeats)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    rows = list(page_rows("stride", "sp_view", ["stepper", "channels", "transposed", "receptive"], "sp", repeats))
    rows += list(page_rows("pooling", "pl_view", ["stepper", "image", "xo"], "pl", repeats))
    print(f"{'page':<9} {'part':<11} {'rerun at defaults':>18} {'rerun per step':>15}")
    for page, view, rerun, step in rows:
        step_text = f"{step:.1f} ms" if step is not None else "—"
        print(f"{page:<9} {view:<11} {rerun:>15.1f} ms {step_text:>15}")
    conv_ms, pool_ms = figures_row(repeats)
    print(f"\nfigures only (3 figures built + serialised): conv step {conv_ms:.1f} ms, pool step {pool_ms:.1f} ms")
    print(f"median of {repeats} runs each; goal: rerun per step ≤ 100 ms")


if __name__ == "__main__":
    main()
