"""Figures for the X/O network page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.figures import fast_figure, heatmap
from explainer.figures.style import DIVERGING, HIGHLIGHT, PALETTE, margins, number, outline

PM_SCALE = [[0, "#f7f7f7"], [1, "#222222"]]  # −1 light, +1 dark


def input_grid(grid: np.ndarray, *, x_title: str, y_title: str, value_label: str,
               window: tuple[int, int, int] | None = None, height: int = 330) -> go.Figure:
    """The 9×9 ±1 input as clickable squares (a scatter, so clicks select a cell), ±1 written in each."""
    g = np.asarray(grid)
    rows, cols = np.mgrid[:g.shape[0], :g.shape[1]]
    text = np.where(g > 0, "1", "−1")
    trace = dict(type="scatter", x=cols.ravel(), y=rows.ravel(), mode="markers+text",
                 marker=dict(symbol="square", size=26, color=g.ravel(), cmin=-1, cmax=1,
                             colorscale=PM_SCALE, line=dict(color="#999", width=1)),
                 text=text.ravel(), textfont=dict(color=np.where(g.ravel() > 0, "white", "#555"), size=10),
                 hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{marker.color}}<extra></extra>")
    shapes = []
    if window is not None:
        r, c, k = window
        shapes.append(outline(c, r, c + k - 1, r + k - 1, color=HIGHLIGHT, width=4))
    layout = dict(height=height, margin=margins(left=40), shapes=shapes, plot_bgcolor="white",
                  # constrain="domain": square cells shrink the plot area instead of widening the axis range
                  xaxis=dict(title=dict(text=x_title), range=[-0.6, g.shape[1] - 0.4], dtick=1, showgrid=False,
                             zeroline=False, constrain="domain"),
                  yaxis=dict(title=dict(text=y_title), range=[g.shape[0] - 0.4, -0.6], dtick=1, showgrid=False,
                             zeroline=False, scaleanchor="x", constrain="domain"),
                  clickmode="event+select", dragmode=False)
    return fast_figure([trace], layout)


def feature_map(values: np.ndarray, *, title: str, x_title: str, y_title: str, value_label: str,
                zmin: float = -1.0, zmax: float = 1.0, height: int = 300,
                mark: tuple[int, int] | None = None) -> go.Figure:
    """A feature map with its numbers (two decimals), diverging colours centred on 0."""
    fig = heatmap(values, colorscale=DIVERGING, zmin=zmin, zmax=zmax, zmid=0, title=title,
                  number_format=".2f", x_title=x_title, y_title=y_title, value_label=value_label,
                  height=height, showscale=False)
    if values.shape[-1] > 4:
        fig.data[0].textfont = dict(size=9)
    if title and "<br>" in title:  # a two-line title (a long filter name): room for both lines
        fig.layout.margin.t = 62
        fig.layout.title.font = dict(size=14)
    if mark is not None:
        r, c = mark
        fig.layout.shapes = [outline(c, r, color=HIGHLIGHT, width=4)]
    return fig


def votes(classes: list[str], votes: np.ndarray, probabilities: np.ndarray, *, vote_title: str,
          prob_title: str) -> go.Figure:
    bars = dict(type="bar", x=classes, y=votes, marker=dict(color=[PALETTE[0], PALETTE[1]]),
                text=[f"{'+' if v >= 0 else ''}{number(v, '.3f')} ({p:.1%})" for v, p in zip(votes, probabilities)],
                textposition="outside", cliponaxis=False,
                hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    layout = dict(height=260, margin=dict(l=40, r=10, t=20, b=30), yaxis=dict(title=dict(text=vote_title),
                  range=[float(min(votes.min(), 0)) * 1.35 - 1e-9, float(max(votes.max(), 0)) * 1.35 + 1e-9],
                  zeroline=True, zerolinecolor="#444"), xaxis=dict(title=dict(text=prob_title)))
    return fast_figure([bars], layout)
