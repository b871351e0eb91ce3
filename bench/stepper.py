"""Timings of the stepper pages (medians, CPU): a page rerun at defaults; one step as AppTest runs
it (the "Next" click reruns the whole script: an upper bound); and one step as the browser runs it
while playing (only the stepper's ``st.fragment`` reruns: its body is timed inside the page run).

    .venv/bin/python bench/stepper.py [repeats]

Goal (issue 4): each page's rerun per step ≤ 100 ms median at defaults.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from common import ROOT, median_ms  # noqa: E402 — the repository on sys.path, MNIST_DIR

import logging  # noqa: E402

logging.getLogger("streamlit").setLevel(logging.ERROR)

from streamlit.testing.v1 import AppTest  # noqa: E402

from explainer.figures import stepper as figs  # noqa: E402
from explainer.maths.stepper import conv_walk, pool_walk  # noqa: E402

import numpy as np  # noqa: E402



WRAPPER = """
import runpy, time
import streamlit as st
if not getattr(st.fragment, "_bench", False):
    real = st.fragment
    def timed(*args, **kwargs):
        deco = real(*args, **kwargs)
        def wrap(fn):
            def body():
                t0 = time.perf_counter()
                fn()
                st.session_state["_bench_fragment_ms"] = 1000 * (time.perf_counter() - t0)
            body.__qualname__ = fn.__qualname__
            return deco(body)
        return wrap
    timed._bench = True
    st.fragment = timed
runpy.run_path({path!r}, run_name="__main__")
"""


def page_rows(page: str, view_key: str, views: list[str], prefix: str, repeats: int):
    import tempfile

    wrapper = Path(tempfile.mkdtemp()) / f"timed_{page}.py"
    wrapper.write_text(WRAPPER.format(path=str(ROOT / "pages" / f"{page}.py")))
    for view in views:
        at = AppTest.from_file(str(wrapper), default_timeout=60)
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

            fragment = []

            def one_step_fragment():
                one_step()
                fragment.append(at.session_state["_bench_fragment_ms"])

            step = median_ms(one_step_fragment, repeats)
            yield page, view, rerun, step, statistics.median(fragment)
        else:
            yield page, view, rerun, None, None


def figures_row(repeats: int):
    x = np.random.default_rng(0).integers(0, 10, (5, 5)).astype(float)
    walk = conv_walk(x, np.tile([1.0, 0.0, -1.0], (3, 1)), 2, 1)
    out = walk.output()

    LAB = figs.labels_for("en")

    def build():
        s = walk.step(4)
        for f in (figs.grid_figure(walk, s, labels=LAB), figs.window_figure(walk, s, labels=LAB), figs.output_figure(out, 5, labels=LAB)):
            f.to_json()

    pw = pool_walk(np.random.default_rng(0).integers(0, 10, (6, 6)), 2)
    pout = pw.output()

    def build_pool():
        s = pw.step(4)
        for f in (figs.grid_figure(pw, s, labels=LAB), figs.window_figure(pw, s, labels=LAB), figs.output_figure(pout, 5, labels=LAB)):
            f.to_json()

    return median_ms(build, repeats), median_ms(build_pool, repeats)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    rows = list(page_rows("stride", "sp_view", ["stepper", "channels", "transposed", "receptive"], "sp", repeats))
    rows += list(page_rows("pooling", "pl_view", ["stepper", "image", "xo"], "pl", repeats))
    print(f"{'page':<9} {'part':<11} {'page rerun (defaults)':>22} {'step: whole script':>19} "
          f"{'step: fragment only':>20}")
    for page, view, rerun, step, fragment in rows:
        step_text = f"{step:.1f} ms" if step is not None else "—"
        frag_text = f"{fragment:.1f} ms" if fragment is not None else "—"
        print(f"{page:<9} {view:<11} {rerun:>19.1f} ms {step_text:>19} {frag_text:>20}")
    conv_ms, pool_ms = figures_row(repeats)
    print(f"\nfigures only (3 figures built + serialised): conv step {conv_ms:.1f} ms, pool step {pool_ms:.1f} ms")
    print(f"median of {repeats} runs each; goal: rerun per step ≤ 100 ms")


if __name__ == "__main__":
    main()
