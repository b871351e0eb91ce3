"""A class poll's histogram: how many gave each answer (the projector's live chart, pages/poll.py)."""
from __future__ import annotations

import math

import plotly.graph_objects as go

from explainer.figures.style import FONT_PX, HIGHLIGHT, PALETTE, margins


def histogram(labels: list[str], counts: list[int], *, title: str, x_title: str, y_title: str, height: int = 220,
              right: int | tuple[int, ...] | None = None):
    """One bar per answer (``labels``, in the order given, each drawn as text, never as markup), its count on it;
    ``right``: the index (or indices: a number's tolerance may accept several) of the right answer's bars, drawn in
    the highlight colour once revealed."""
    rights = {right} if isinstance(right, int) else set(right or ())
    colours = [HIGHLIGHT if i in rights else PALETTE[0] for i in range(len(labels))]
    fig = go.Figure(go.Bar(x=[str(v) for v in labels], y=list(counts), marker_color=colours, text=list(counts),
                           textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{y}<extra></extra>"))
    top = max(counts, default=0)
    fig.update_layout(title=title, height=height, margin=margins(title=True), font=dict(size=FONT_PX),
                      xaxis=dict(title=x_title, type="category"),
                      yaxis=dict(title=y_title, range=[0, max(1, top) * 1.2], dtick=max(1, math.ceil(top / 5)),
                                 tickformat="d"),
                      bargap=0.25, showlegend=False)
    return fig
