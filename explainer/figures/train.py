"""Figures for the MNIST training page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.figures import fast_figure, heatmap
from explainer.figures.style import DIVERGING, PALETTE, margins, number, series


def curves(runs: list[dict], *, metric: str, x_title: str, y_title: str, train_label: str, test_label: str,
           height: int = 320) -> go.Figure:
    """Train (dashed) and test (solid) curves of every run, against epochs; ``metric`` is "acc" or "loss".
    Each run has its own colour and marker symbol (colour is never the only cue)."""
    data = []
    for k, run in enumerate(runs):
        h = run["history"]
        if not h:
            continue
        st = series(k)
        x = [r["epochs_done"] for r in h]
        for split, dash, lab in (("train", "dash", train_label), ("test", "solid", test_label)):
            y = [r.get(f"{split}_{metric}") for r in h]
            if metric == "acc":
                y = [None if v is None else 100 * v for v in y]
            data.append(dict(type="scatter", x=x, y=y, mode="lines+markers", name=f"{run['label']} · {lab}",
                             line=dict(color=st["color"], dash=dash, width=2),
                             marker=dict(size=7, symbol=st["symbol"], color=st["color"]),
                             hovertemplate=f"{run['label']} · {lab}<br>%{{x:.2f}}: %{{y:.3f}}<extra></extra>"))
    layout = dict(height=height, margin=margins(), legend=dict(orientation="h", y=-0.25),
                  xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text=y_title)))
    return fast_figure(data, layout)


def confusion(matrix: np.ndarray, *, x_title: str, y_title: str, value_label: str) -> go.Figure:
    """10×10 confusion matrix (rows: true digit, columns: predicted), clickable cells."""
    fig = heatmap(matrix, colorscale="Blues", x_title=x_title, y_title=y_title, value_label=value_label,
                  number_format=".0f", height=460, colorbar_title=value_label)
    fig.data[0].zmax = float(np.sort(matrix.ravel())[-11]) if matrix.size > 10 else None  # off-diagonal contrast
    rows, cols = np.mgrid[:10, :10]
    fig.add_trace(dict(type="scatter", x=cols.ravel(), y=rows.ravel(), mode="markers", showlegend=False,
                       marker=dict(size=30, symbol="square", color="rgba(0,0,0,0)"), hoverinfo="skip"))
    fig.layout.xaxis.dtick = 1
    fig.layout.yaxis.dtick = 1
    fig.layout.clickmode = "event+select"
    return fig


def _mosaic(canvas: np.ndarray, **style) -> go.Figure:
    """Small pictures tiled on one canvas: no axes, no colour bar, no hover (a canvas cell means nothing alone)."""
    fig = heatmap(canvas, numbers=False, x_title="", y_title="", value_label="", showscale=False, **style)
    fig.data[0].hoverinfo = "skip"
    fig.data[0].hovertemplate = None
    fig.layout.xaxis.visible = False
    fig.layout.yaxis.visible = False
    return fig


def gallery(images: np.ndarray, captions: list[str], *, cols: int = 8, height: int | None = None) -> go.Figure:
    """Small grey images in a grid with a caption under each."""
    n = len(images)
    rows = max(1, -(-n // cols))
    canvas = np.full((rows * 30, cols * 30), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * 30 + 1: r * 30 + 29, c * 30 + 1: c * 30 + 29] = img
    fig = _mosaic(canvas, colorscale="Greys", height=height or 60 + rows * 95, zmin=0, zmax=255)
    fig.layout.annotations = [dict(x=(i % cols) * 30 + 14.5, y=(i // cols) * 30 + 29.5, text=cap, showarrow=False,
                                   yanchor="top", font=dict(size=10)) for i, cap in enumerate(captions)]
    return fig


def kernels(weights: np.ndarray, *, title_fmt: str, cols: int = 8) -> go.Figure:
    """First-layer kernels (K, 1, kh, kw) as small diverging images, each scaled to its own range."""
    k = weights[:, 0]
    n, kh, kw = k.shape
    rows = -(-n // cols)
    canvas = np.full((rows * (kh + 1), cols * (kw + 1)), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        w = k[i] / (np.abs(k[i]).max() + 1e-12)
        canvas[r * (kh + 1): r * (kh + 1) + kh, c * (kw + 1): c * (kw + 1) + kw] = w
    fig = _mosaic(canvas, colorscale=DIVERGING, zmid=0, zmin=-1, zmax=1, height=70 + rows * 80)
    fig.layout.annotations = [dict(x=(i % cols) * (kw + 1) + (kw - 1) / 2, y=(i // cols) * (kh + 1) - 0.6,
                                   text=title_fmt.format(i=i), showarrow=False, font=dict(size=10))
                              for i in range(n)]
    return fig


def feature_grid(maps: np.ndarray, *, title: str, cols: int = 8, height: int | None = None) -> go.Figure:
    """Channels of one activation (C, H, W) side by side, each normalised to its own range."""
    c, h, w = maps.shape
    c = min(c, 32)
    rows = -(-c // cols)
    canvas = np.full((rows * (h + 1), min(c, cols) * (w + 1)), np.nan)
    for i in range(c):
        r, q = divmod(i, cols)
        m = maps[i]
        rng = m.max() - m.min()
        canvas[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = (m - m.min()) / rng if rng > 0 else 0
    return _mosaic(canvas, colorscale="Viridis", title=title, height=height or 60 + rows * 90)


def probabilities(p: np.ndarray, *, x_title: str, y_title: str, height: int = 260) -> go.Figure:
    best = int(np.argmax(p))
    # the most likely digit: another colour and a hatch pattern (a second cue beside the colour)
    data = [dict(type="bar", x=list(range(10)), y=100 * p,
                 marker=dict(color=[PALETTE[1] if i == best else PALETTE[0] for i in range(10)],
                             pattern=dict(shape=["/" if i == best else "" for i in range(10)])),
                 text=[f"{number(100 * v, '.1f')}%" for v in p], textposition="outside",
                 hovertemplate="%{x}: %{y:.2f}%<extra></extra>")]
    layout = dict(height=height, margin=margins(left=40),
                  xaxis=dict(title=dict(text=x_title), dtick=1), yaxis=dict(title=dict(text=y_title), range=[0, 115]))
    return fast_figure(data, layout)
