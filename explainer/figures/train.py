"""Figures for the MNIST training page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.data.images import LUMA

from explainer.figures import fast_figure, heatmap
from explainer.figures.style import DIVERGING, PALETTE, margins, number, outline, series


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


CONFUSION_SCALE = [[0.0, "#ffffff"], [0.15, "#deebf7"], [0.4, "#9ecae1"], [0.7, "#4292c6"], [1.0, "#08306b"]]


def confusion(matrix: np.ndarray, *, x_title: str, y_title: str, value_label: str,
              selected: tuple[int, int] | None = None, class_names: list[str] | None = None) -> go.Figure:
    """10×10 confusion matrix (rows: true digit, columns: predicted) with clickable cells.

    The colour follows log(1 + count) on a white→dark-blue scale, so 0 is white, a handful of
    mistakes is a visible pale blue and the diagonal's ~1,000 is dark (the printed numbers stay
    the raw counts, in black or white for contrast). A transparent square marker over each cell
    catches clicks (Plotly reports points of scatter traces, not heatmap cells); its hover shows
    the cell. ``selected`` (true, predicted) gets an outline. ``class_names``: the axes' tick labels (the data
    set's classes; default the digits 0…n−1).
    """
    m = np.asarray(matrix, dtype=np.int64)
    n = m.shape[0]
    top = float(np.log1p(max(1, m.max())))
    z = np.log1p(m)
    ticks = [v for v in (0, 1, 10, 100, 1000, 10000) if v <= max(1, m.max())]
    rows, cols = np.mgrid[:n, :n]
    dark = z > 0.55 * top
    data = [dict(type="heatmap", z=z, zmin=0, zmax=top, colorscale=CONFUSION_SCALE, xgap=1, ygap=1, hoverinfo="skip",
                 colorbar=dict(title=dict(text=value_label), thickness=12, tickvals=np.log1p(ticks).tolist(),
                               ticktext=[str(v) for v in ticks])),
            dict(type="scatter", x=cols.ravel(), y=rows.ravel(), mode="text", text=[str(v) for v in m.ravel()],
                 textfont=dict(size=13, color=np.where(dark.ravel(), "white", "black").tolist()), hoverinfo="skip",
                 showlegend=False),
            dict(type="scatter", x=cols.ravel(), y=rows.ravel(), mode="markers", showlegend=False, name="cells",
                 customdata=m.ravel(), marker=dict(size=34, symbol="square", color="rgba(0,0,0,0.004)"),
                 hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{customdata}}<extra></extra>")]
    shapes = []
    if selected is not None:
        r, c = selected
        shapes.append(outline(c, r))
    axis = dict(tickmode="array", tickvals=list(range(n)), ticktext=list(class_names or map(str, range(n))), range=[-0.5, n - 0.5], showgrid=False, zeroline=False,
                constrain="domain")
    layout = dict(height=460, margin=dict(l=50, r=10, t=10, b=40), plot_bgcolor="white", clickmode="event+select",
                  dragmode="zoom", shapes=shapes,
                  xaxis=dict(axis, title=dict(text=x_title)),
                  yaxis=dict(axis, title=dict(text=y_title), range=[n - 0.5, -0.5], scaleanchor="x"))
    return fast_figure(data, layout)


def _mosaic(canvas: np.ndarray, **style) -> go.Figure:
    """Small pictures tiled on one canvas: no axes, no colour bar, no hover (a canvas cell means nothing alone)."""
    fig = heatmap(canvas, numbers=False, x_title="", y_title="", value_label="", showscale=False, hover=False, **style)
    fig.data[0].hoverinfo = "skip"
    fig.data[0].hovertemplate = None
    fig.layout.xaxis.visible = False
    fig.layout.yaxis.visible = False
    return fig


def gallery(images: np.ndarray, captions: list[str], *, cols: int = 8, height: int | None = None) -> go.Figure:
    """Small grey images (N, H, W) in a grid with a caption under each; colour ones (N, H, W, 3) in their colours
    (a Plotly image on white, on the same grid). Each caption has a blank band of half a picture's height under its
    picture, so it never reaches the next row's pictures (the canvas keeps square cells: the band grows with the
    pictures at every width)."""
    images = np.asarray(images)
    colour = images.ndim == 4
    n = len(images)
    side = images.shape[1] if n else 28
    cell, band = side + 2, max(8, side // 2)
    rows = max(1, -(-n // cols))
    canvas = np.full((rows * (cell + band), cols * cell, *((3,) if colour else ())), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * (cell + band) + 1: r * (cell + band) + 1 + side,
               c * cell + 1: c * cell + 1 + img.shape[1]] = img[..., :3] if colour else img
    grey = canvas @ np.array(LUMA) if colour else canvas  # the layout's grid (a colour picture: drawn over it)
    fig = _mosaic(grey, colorscale="Greys", height=height or 60 + rows * 110, zmin=0, zmax=255)
    if colour:
        from explainer.figures.network import image_trace

        fig.data = []
        fig.add_trace(go.Image(**image_trace(canvas / 255.0)))
    fig.layout.annotations = [dict(x=(i % cols) * cell + (cell - 1) / 2, y=(i // cols) * (cell + band) + cell - 0.5,
                                   text=cap, showarrow=False, yanchor="top", font=dict(size=10))
                              for i, cap in enumerate(captions)]
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


def probabilities(p: np.ndarray, *, x_title: str, y_title: str, height: int = 260,
                  class_names: list[str] | None = None) -> go.Figure:
    """One bar per class (``class_names``: the data set's, default the digits)."""
    best = int(np.argmax(p))
    n = len(p)
    xs = list(class_names) if class_names else list(range(n))
    # the most likely digit: another colour and a hatch pattern (a second cue beside the colour)
    data = [dict(type="bar", x=xs, y=100 * p,
                 marker=dict(color=[PALETTE[1] if i == best else PALETTE[0] for i in range(n)],
                             pattern=dict(shape=["/" if i == best else "" for i in range(n)])),
                 text=[f"{number(100 * v, '.1f')}%" for v in p], textposition="outside",
                 hovertemplate="%{x}: %{y:.2f}%<extra></extra>")]
    layout = dict(height=height, margin=margins(left=40),
                  xaxis=dict(title=dict(text=x_title), **({"type": "category"} if class_names else {"dtick": 1})),
                  yaxis=dict(title=dict(text=y_title), range=[0, 115]))
    return fast_figure(data, layout)
