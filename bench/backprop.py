"""How kernels learn: timings at the page's defaults.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/backprop.py [--runs 9]

Prints medians (ms) of: the page's script rerun at defaults (AppTest), the rerun after pressing Step,
one learning step (camera, vertical edge target, Adam — the defaults; goal ≤ 100 ms), one Play frame
(5 steps + the figures the frame redraws), and the by-hand backward pass. Timings are measured here, never
asserted in tests.
"""
from __future__ import annotations

import argparse

from common import ROOT, median_ms  # noqa: E402 — the repository on sys.path, MNIST_DIR

import numpy as np  # noqa: E402

from explainer.learning import backprop as bp  # noqa: E402
from explainer.figures import backprop as figs  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "backprop.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    rerun = median_ms(at.run, args.runs)
    step_rerun = median_ms(lambda: at.button(key="bp_step_btn").click().run(), args.runs)

    fit = bp.KernelFit("camera", "vertical_edge", "adam")
    one_step = median_ms(lambda: fit.step(1), max(50, args.runs))
    x, t = bp.fit_problem("camera", "vertical_edge")
    lab = dict(x_title="column", y_title="row", value_label="value")

    def frame():
        fit.step(5)
        figs.grid(fit.weights, title="w", number_format=".2f", **lab)
        figs.grid(bp.target_kernel("vertical_edge"), title="goal", number_format=".2f", **lab)
        figs.grid(fit.last_update, title="update", number_format=".2f", **lab)
        out = fit.output()
        figs.attribution(out, title="out", colorscale="RdBu", **lab)
        figs.attribution(t, title="target", colorscale="RdBu", **lab)
        figs.loss_curve(fit.losses, title="loss", x_title="step", y_title="loss")

    play_frame = median_ms(frame, args.runs)
    ex = bp.hand_example(bp.hand_input("step_edge"), np.ones((3, 3)), [[1, 0, -1]] * 3, stride=2, padding=1)
    hand = median_ms(lambda: bp.conv2d_backward(ex.x, ex.w, ex.grad_y, 2, 1), 51)

    print(f"\nHow kernels learn, median of {args.runs} (ms); goal ≤ 150 ms a rerun, ≤ 100 ms a learning step\n")
    print("| what                                              |     ms |")
    print("|---------------------------------------------------|--------|")
    for name, v in (("page rerun at defaults (AppTest)", rerun), ("page rerun after pressing Step", step_rerun),
                    ("one learning step (camera 48×48, Adam)", one_step),
                    ("one Play frame: 5 steps + its 6 figures", play_frame),
                    ("by-hand backward pass (6×6, stride 2, pad 1)", hand)):
        print(f"| {name:<49} | {v:6.2f} |")


if __name__ == "__main__":
    main()
