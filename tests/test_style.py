"""The one plot style (explainer/figures/style.py) and the charts' text alternatives (explainer/figures/describe.py)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from explainer.figures import heatmap
from explainer.figures import kernels as kfigs
from explainer.figures import optim as ofigs
from explainer.figures import stepper as sfigs
from explainer.figures import train as tfigs
from explainer.figures import xo as xfigs
from explainer.figures.describe import summary, tables
from explainer.figures.style import (DASHES, DIVERGING, MARKERS, PALETTE, PRESENTER_MIN_CELL_FONT_PX, fmt,
                                     for_presenter, number, outline, series)
from explainer.maths.stepper import conv_walk

LABELS = sfigs.labels_for("en")

ROOT = Path(__file__).resolve().parents[1]

# Machado, Oliveira & Fernandes (2009), deuteranopia at severity 1.0, on linear RGB
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])


def _linear(rgb):
    c = np.asarray(rgb, float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear):
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(linear, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _hex(h):
    return [int(h[i:i + 2], 16) for i in (1, 3, 5)]


def deuteranopia_delta_e(a: str, b: str) -> float:
    """CIE76 colour distance of two colours as a deuteranope sees them."""
    return float(np.linalg.norm(_lab(DEUTERANOPIA @ _linear(_hex(a))) - _lab(DEUTERANOPIA @ _linear(_hex(b)))))


def test_palette_stays_apart_under_deuteranopia():
    first = PALETTE[:6]  # the lines a page shows at once (optimizers race: up to 6)
    worst = min(deuteranopia_delta_e(a, b) for a, b in itertools.combinations(first, 2))
    assert worst > 15  # the old palette's red/green pair: 7.3
    old = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")
    assert min(deuteranopia_delta_e(a, b) for a, b in itertools.combinations(old, 2)) < 8


def test_every_series_has_a_second_cue():
    styles = [series(k) for k in range(len(PALETTE))]
    assert len({(s["dash"], s["symbol"]) for s in styles}) == len(styles)
    assert len(set(MARKERS)) == len(MARKERS) and len(DASHES) == len(PALETTE)


def test_numbers_use_a_true_minus():
    assert fmt(-3.0) == "−3" and fmt(0.5) == "0.5" and fmt(-0.125) == "−0.12" and fmt(float("-inf")) == "−∞"
    assert number(-3.5, ".2f") == "−3.50" and number(float("nan"), ".2f") == ""
    fig = heatmap(np.array([[-3.0, 2.0], [1.0, -0.5]]), x_title="column", y_title="row", value_label="value")
    assert fig.data[0].texttemplate == "%{text}" and fig.data[0].text[0][0] == "−3.00"
    assert "%{text}" in fig.data[0].hovertemplate


def test_one_diverging_scale_negative_blue():
    assert DIVERGING[0][1] == "#2166ac" and DIVERGING[-1][1] == "#b2182b"
    assert kfigs.DIVERGING is DIVERGING and sfigs.SCALES["RdBu"] is DIVERGING
    fig = xfigs.feature_map(np.zeros((3, 3)), title="t", x_title="x", y_title="y", value_label="v")
    assert fig.data[0].colorscale[0][1] == "#2166ac"  # Plotly's own "RdBu" would start red
    sources = "\n".join(p.read_text() for p in (ROOT / "explainer" / "figures").glob("*.py") if p.name != "style.py")
    assert "DIVERGING = [" not in sources


def test_cell_outline_is_one_shape():
    o = outline(2, 1, 4, 3, width=4)
    assert (o["x0"], o["y0"], o["x1"], o["y1"]) == (1.5, 0.5, 4.5, 3.5) and o["line"]["width"] == 4
    sources = {p.name: p.read_text() for p in (ROOT / "explainer" / "figures").glob("*.py")}
    sources.update({p.name: p.read_text() for p in (ROOT / "pages").glob("*.py")})
    assert [n for n, s in sources.items() if re.search(r'type="rect", x0=', s) and n != "style.py"] == []


def test_presenter_cell_numbers_are_at_least_16px():
    w = conv_walk(np.arange(25.0).reshape(5, 5), np.ones((3, 3)), padding=1)
    figs = [sfigs.grid_figure(w, w.step(1), labels=LABELS), sfigs.output_figure(w.output(), 4, labels=LABELS), sfigs.window_figure(w, w.step(1), labels=LABELS),
            xfigs.feature_map(np.full((7, 7), -0.11), title="t", x_title="x", y_title="y", value_label="v", height=220)]
    for fig in figs:
        before = fig.layout.height
        fig = for_presenter(fig)
        for tr in fig.data:
            if tr.texttemplate:
                assert min(np.atleast_1d(tr.textfont.size)) >= PRESENTER_MIN_CELL_FONT_PX
        assert fig.layout.height > before and fig.layout.font.size >= 20
    # a 7×7 map of "−0.11" gets room for its 16 px numbers (≥ ~50 px per cell)
    assert figs[-1].layout.height >= 7 * 50


def test_summary_of_a_grid():
    z = np.zeros((510, 510))
    z[227, 303], z[0, 0] = 644, -638
    fig = kfigs.map_figure(z, kind="signed", title="Output", colorbar_title="c", x_title="x", y_title="y",
                           value_label="v")
    assert summary(fig, "en") == "510×510 grid, values −638 to 644; strongest: 644 at row 227, column 303."
    assert summary(fig, "zh").startswith("510×510 网格，数值从 −638 到 644") and summary(fig, "zh").endswith("。")


def test_summary_of_stepper_lines_and_bars():
    w = conv_walk(np.arange(25.0).reshape(5, 5) - 12, np.array([[1, 0, -1]] * 3), padding=1, stride=2)
    assert summary(sfigs.grid_figure(w, w.step(1), labels=LABELS), "en") == "7×7 grid, values −12 to 12; strongest: −12 at row 0, column 0."
    assert summary(sfigs.output_figure(w.output(), 3, labels=LABELS), "en").endswith("; 3 of 9 cells have a value.")
    runs = [dict(label="run 1", history=[dict(epochs_done=1, train_acc=0.9, test_acc=0.91),
                                         dict(epochs_done=2, train_acc=0.95, test_acc=0.94)])]
    text = summary(tfigs.curves(runs, metric="acc", x_title="e", y_title="a", train_label="train", test_label="test"), "en")
    assert text == "2 lines: run 1 · train ends at 95 (x = 2); run 1 · test ends at 94 (x = 2)."
    p = np.zeros(10)
    p[7] = 1
    bars = ", ".join(f"{d} = {100 if d == 7 else 0}" for d in range(10))  # every bar named with its value, not only the 7
    assert summary(tfigs.probabilities(p, x_title="d", y_title="p"), "en") == bars + "."
    fig = ofigs.loss_curves(np.array([[3, 2, 1, 0.5, 0.25], [3, 3, 3, 3, 3.0]]), ["SGD", "Adam"], step_title="s",
                            loss_title="l", log_y=False)
    assert summary(fig, "en") == "2 lines: SGD ends at 0.25 (x = 4); Adam ends at 3 (x = 4)."


def test_chart_summaries_count_one_in_the_singular():
    """Issue 21 item 16: "1 of 9 cells have a value", "1 lines" (the summaries' counts take the catalogue's plural
    forms; Chinese has none)."""
    w = conv_walk(np.arange(25.0).reshape(5, 5) - 12, np.array([[1, 0, -1]] * 3), padding=1, stride=2)
    one = summary(sfigs.output_figure(w.output(), 1, labels=LABELS), "en")
    assert one.endswith("; 1 of 9 cells has a value."), one
    fig = ofigs.loss_curves(np.array([[3, 2, 1, 0.5, 0.25]]), ["SGD"], step_title="s", loss_title="l", log_y=False)
    assert summary(fig, "en") == "1 line: SGD ends at 0.25 (x = 4).", summary(fig, "en")
    assert summary(fig, "zh").startswith("共 1 条曲线："), summary(fig, "zh")


def test_tables_hold_the_printed_numbers():
    w = conv_walk(np.arange(9.0).reshape(3, 3) - 4, np.array([[1, -1], [0, 2]]))
    (grid,) = tables(sfigs.grid_figure(w, w.step(0), labels=LABELS))
    assert grid["rows"] == ["0", "1", "2"] and grid["cells"][0] == ["−4", "−3", "−2"]
    (window,) = tables(sfigs.window_figure(w, w.step(0), labels=LABELS))
    assert window["cells"][0][1] == "(−3)×(−1) → 3"
    assert tables(kfigs.histogram_figure(np.arange(100.0), title="h", x_title="x", y_title="n")) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_summary_of_an_empty_figure(lang):
    fig = tfigs.curves([], metric="acc", x_title="e", y_title="a", train_label="t", test_label="t")
    assert summary(fig, lang) in ("No data yet", "暂无数据")
