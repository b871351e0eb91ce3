"""Presenter mode without Plotly's validated setters (issue 19, item 1: a presenter's every click re-styled each
chart through them, ~10 ms a figure): ``style.presenter_wire(fig, wire_dict(fig))`` sends exactly what
``wire_dict(for_presenter(fig))`` sends, for every kind of figure the lessons draw, and changes neither the
figure nor the wire dict it starts from."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import streamlit.elements.plotly_chart  # noqa: F401 — the server's default template (Streamlit's theme)
from explainer.maths import xo
from explainer.figures import backprop as bp_figs
from explainer.figures import heatmap
from explainer.figures import images as image_figs
from explainer.figures import kernels as kernel_figs
from explainer.figures import optim as optim_figs
from explainer.figures import train as train_figs
from explainer.figures import xo as xo_figs
from explainer.figures.style import PRESENTER_FONT_PX, for_presenter, presenter_wire
from explainer.figures.wire import wire_dict

LAB = dict(x_title="x", y_title="y", value_label="v")
RNG = np.random.default_rng(1)


def _set(o):
    """The JSON with its nulls left out: Plotly's setter sends an unset width or margin as null, which Plotly.js reads
    as unset, like an absent key."""
    if isinstance(o, dict):
        return {k: _set(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [_set(v) for v in o]
    return o


def _builders():
    yield "numbered signed grid", lambda: kernel_figs.grid_figure(RNG.normal(size=(7, 5)), title="t", kind="signed",
                                                                  colorbar_title="c", **LAB)
    yield "large map", lambda: kernel_figs.map_figure(RNG.uniform(0, 255, (120, 90)), kind="grey", title="t",
                                                      colorbar_title="c", **LAB)
    yield "photo with a box", lambda: image_figs.picture(RNG.integers(0, 255, (40, 30, 3), dtype=np.uint8),
                                                         title="p", box=(2, 3, 5))
    yield "x/o input with window", lambda: xo_figs.input_grid(xo.X, window=(1, 2, 3), height=320, **LAB)
    yield "x/o map, marked, no height", lambda: xo_figs.feature_map(xo.run(xo.X).maps[0], title="m", mark=(2, 2), **LAB)
    yield "x/o votes", lambda: xo_figs.votes(["X", "O"], np.array([1.0, -0.2]), np.array([0.9, 0.1]),
                                             vote_title="v", prob_title="p")
    yield "backprop grid, clickable", lambda: bp_figs.grid(RNG.integers(-3, 4, (5, 5)).astype(float), title="g",
                                                           box=(1, 1, 1, 1), clickable=True, **LAB)
    yield "loss curve", lambda: bp_figs.loss_curve(list(np.linspace(3, 0.1, 40)), title="l", x_title="s",
                                                   y_title="L", best=0.05, best_label="b")
    yield "untitled heatmap, no numbers", lambda: heatmap(RNG.normal(size=(30, 30)), numbers=False, **LAB)
    yield "validated go.Figure, string title, annotations", lambda: go.Figure(
        [go.Scatter(x=np.arange(5), y=np.linspace(0, 1, 5), mode="markers+text", text=list("abcde"),
                    marker=dict(size=12)), go.Bar(x=[1, 2], y=[3, 4], text=["3", "4"])],
        layout=dict(title="v", height=250, annotations=[dict(text="n", x=1, y=1, font=dict(size=11)), dict(text="m")],
                    xaxis2=dict(title="second"), margin=dict(l=10, r=5)))
    yield "contour race", lambda: optim_figs.contour_race(
        np.linspace(-2, 2, 20), np.linspace(-1, 3, 20), RNG.uniform(0, 5, (20, 20)), RNG.normal(size=(2, 30, 2)),
        ["sgd", "adam"], [(1.0, 1.0)], log=True, x_title="x", y_title="y", loss_title="L", start_title="s",
        min_title="m", upto=12)
    yield "3-D surface", lambda: optim_figs.surface_3d(
        np.linspace(-2, 2, 15), np.linspace(-1, 3, 15), RNG.uniform(0, 5, (15, 15)), RNG.normal(size=(1, 10, 2)),
        RNG.uniform(0, 5, (1, 10)), ["sgd"], log=False, x_title="x", y_title="y", loss_title="z")
    yield "loss curves", lambda: optim_figs.loss_curves(RNG.uniform(0.1, 5, (2, 30)), ["a", "b"], step_title="s",
                                                         loss_title="l")
    yield "confusion matrix", lambda: train_figs.confusion(RNG.integers(0, 50, (10, 10)), x_title="p", y_title="t",
                                                           value_label="n")


@pytest.mark.parametrize("name,build", list(_builders()), ids=lambda v: v if isinstance(v, str) else "")
def test_presenter_wire_is_for_presenter_without_the_setters(name, build):
    global RNG
    RNG = np.random.default_rng(1)
    fig = build()
    spec = wire_dict(fig)
    before = pio.to_json(spec, validate=False)
    fast = presenter_wire(fig, spec)
    RNG = np.random.default_rng(1)  # the same figure again, styled by Plotly's setters
    want = json.loads(pio.to_json(wire_dict(for_presenter(build())), validate=False))
    assert _set(json.loads(pio.to_json(fast, validate=False))) == _set(want)
    assert "width" not in fast["layout"] and fast["layout"]["font"]["size"] == PRESENTER_FONT_PX
    assert pio.to_json(spec, validate=False) == before  # the normal figure's wire dict is left as it was
    assert pio.to_json(wire_dict(fig), validate=False) == before  # and the figure too
