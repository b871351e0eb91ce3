"""Figures for the "How kernels learn" lesson: gradient grids with a highlighted cell, the loss curve,
accuracy on shifted digits, saliency and occlusion maps. Every label comes from the caller."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.figures import fast_figure, heatmap, style


def grid(z, *, title: str, x_title: str, y_title: str, value_label: str, signed: bool = True,
         box: tuple[int, int, int, int] | None = None, height: int = 280, number_format: str | None = None,
         colorbar_title: str = "", showscale: bool = False, clickable: bool = False) -> go.Figure:
    """A small grid of numbers (signed: red/blue around 0) with an optional outlined box
    ``(top, left, rows, cols)`` — the cell or window the inspector is explaining. Every cell shows its
    number, so by default there is no colour bar: the narrow columns of the lesson keep the cells readable.

    ``clickable``: a click on a cell selects it (``st.plotly_chart(on_select="rerun", selection_mode="points")``
    reports ``x`` = column, ``y`` = row). Plotly reports clicks on scatter points, not on heatmap cells, so a
    nearly transparent square marker sits over every cell and carries the hover; no dragging (a drag would
    zoom instead of picking)."""
    z = np.asarray(z, dtype=float)
    lim = float(np.max(np.abs(z))) if z.size else 1.0
    heat, layout = heatmap(z, title=title, colorscale="RdBu" if signed else "Greys", reversescale=not signed,
                           zmid=0 if signed else None, zmin=-lim if signed and lim else None,
                           zmax=lim if signed and lim else None, x_title=x_title, y_title=y_title,
                           value_label=value_label, height=height, number_format=number_format,
                           colorbar_title=colorbar_title, showscale=showscale, parts=True)
    data = [heat]  # plain dicts, one unvalidated figure at the end (this lesson rebuilds several per click)
    if box is not None:
        top, left, rows, cols = box
        layout["shapes"] = [style.outline(left, top, left + cols - 1, top + rows - 1)]
    if clickable and z.ndim == 2 and z.size:
        rr, cc = np.mgrid[: z.shape[0], : z.shape[1]]
        data.append(dict(
            type="scatter", x=cc.ravel(), y=rr.ravel(), mode="markers", showlegend=False, name="cells",
            customdata=np.asarray(heat["text"] if heat.get("text") is not None else z).ravel().tolist(),
            # smaller than a cell: where markers overlap, Plotly's "closest" point is any of them (a click picked
            # the row below); outside a marker the nearest centre wins
            marker=dict(symbol="square", size=max(8, min(24, int(0.45 * (height - 80) / max(z.shape)))),
                        color="rgba(0,0,0,0.004)"),
            hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{customdata}}<extra></extra>"))
        heat["hoverinfo"] = "skip"
        heat.pop("hovertemplate", None)
        layout.update(clickmode="event+select", dragmode=False, hovermode="closest")
    return fast_figure(data, layout)


def loss_curve(losses, *, title: str, x_title: str, y_title: str, best: float | None = None,
               best_label: str = "", height: int = 280) -> go.Figure:
    """The fitting loss per step on a log axis, with the best loss a 3×3 kernel can reach as a dashed line."""
    y = np.maximum(np.asarray(losses, dtype=float), 1e-30)
    data = [dict(type="scatter", x=np.arange(len(y)), y=y, mode="lines+markers" if len(y) < 30 else "lines", name=y_title,
                 line=dict(color=style.series(0)["color"], width=2), hovertemplate=f"{x_title} %{{x}}<br>{y_title} %{{y:.3g}}<extra></extra>")]
    shapes = []
    if best is not None:
        b = max(float(best), 1e-30)
        data.append(dict(type="scatter", x=[0, max(1, len(y) - 1)], y=[b, b], mode="lines", name=best_label,
                         line=dict(color=style.series(1)["color"], width=1.5, dash="dash"), hoverinfo="skip"))
    layout = dict(title=dict(text=title), height=height, margin=dict(l=50, r=10, t=40, b=40),
                  xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text=y_title), type="log"),
                  legend=dict(orientation="h", y=-0.25), shapes=shapes, plot_bgcolor="white")
    return fast_figure(data, layout)


def shift_curves(shifts, curves: list[tuple[str, list[float]]], *, title: str, x_title: str, y_title: str,
                 height: int = 340) -> go.Figure:
    """Accuracy (%) against shift in pixels, one line per model."""
    data = []
    for k, (name, acc) in enumerate(curves):
        data.append(dict(type="scatter", x=list(shifts), y=[100 * a for a in acc], mode="lines+markers", name=name,
                         line=dict(color=style.series(k)["color"], width=2, dash=style.series(k)["dash"]),
                         marker=dict(symbol=style.series(k)["symbol"], size=8),
                         hovertemplate=f"{name}<br>{x_title} %{{x}}<br>{y_title} %{{y:.1f}} %<extra></extra>"))
    layout = dict(title=dict(text=title), height=height, margin=dict(l=50, r=10, t=40, b=40), plot_bgcolor="white",
                  xaxis=dict(title=dict(text=x_title), dtick=1, showgrid=True, gridcolor="#eee"),
                  yaxis=dict(title=dict(text=y_title), range=[0, 100], showgrid=True, gridcolor="#eee"),
                  legend=dict(orientation="h", y=-0.25))
    return fast_figure(data, layout)


def attribution(z, *, title: str, x_title: str, y_title: str, value_label: str, colorscale: str = "Hot",
                reversescale: bool = False, zmin: float | None = None, zmax: float | None = None,
                coords=None, height: int = 300) -> go.Figure:
    """A saliency or occlusion map. ``coords``: the image pixel each row/column of a coarser map stands for
    (occlusion: the centre of the grey patch), so both maps share the digit's coordinates."""
    z = np.asarray(z, dtype=float)
    fig = heatmap(z, title=title, colorscale=colorscale, reversescale=reversescale, zmin=zmin, zmax=zmax,
                  numbers=False, x_title=x_title, y_title=y_title, value_label=value_label, height=height)
    if coords is not None:
        fig.data[0].update(x=list(coords), y=list(coords))
        # ticks chosen by Plotly (0, 10, 20 as on the saliency map beside it), not one per patch centre (3.5, 5.5, …
        # 23.5: eleven labels crammed under an 11-cell map ran into each other)
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            axis.dtick = axis.tick0 = None
    return fig
