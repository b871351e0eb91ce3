"""Figures for the optimizer race: contour map whose paths grow step by step, 3-D surface with paths, loss curves."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.figures import fast_figure
from explainer.figures.style import HALO, fmt, margins, number, series
from explainer.i18n import translate


def _levels(Z: np.ndarray, log: bool) -> np.ndarray:
    return np.log10(1 + Z - Z.min()) if log else Z


def race_marks(steps: int, frames: int = 40) -> list[int]:
    """The step counts the race view can show: 0 (the start), …, ``steps``, at most ``frames + 1`` of them."""
    steps = max(0, int(steps))
    return sorted(set(np.linspace(0, steps, min(frames, steps) + 1).round().astype(int).tolist()))


def _path_traces(xs, ys, paths: np.ndarray, labels: list[str], minima, upto: int, *, x_title: str, y_title: str,
                 start_title: str, min_title: str) -> list[dict]:
    """The race's top layer: a transparent grid of points (a click chooses a new start), the minima, the start, and
    each optimizer's path up to step ``upto`` with a dot at its head."""
    data = []
    gx, gy = np.meshgrid(np.linspace(xs[0], xs[-1], 41), np.linspace(ys[0], ys[-1], 41))
    data.append(dict(type="scatter", x=gx.ravel(), y=gy.ravel(), mode="markers", name="start picker",
                     marker=dict(size=9, color="rgba(0,0,0,0)"), showlegend=False,
                     hovertemplate=f"{x_title} %{{x:.2f}}, {y_title} %{{y:.2f}}<extra></extra>"))
    if len(minima):
        m = np.asarray(minima)
        data.append(dict(type="scatter", x=m[:, 0], y=m[:, 1], mode="markers", name=min_title,
                         marker=dict(symbol="star", size=16, color="gold", line=dict(color="black", width=1))))
    data.append(dict(type="scatter", x=[paths[0, 0, 0]], y=[paths[0, 0, 1]], mode="markers", name=start_title,
                     marker=dict(symbol="x", size=12, color="white", line=dict(color="black", width=1))))
    for k, (path, label) in enumerate(zip(paths, labels)):
        style = series(k)  # colour, dash and marker: optimizers never told apart by colour alone
        c = style["color"]
        shown = path[: upto + 1]
        good = shown[~np.isnan(shown).any(1)]
        head = good[-1:] if len(good) else path[:1]
        # a light underlay keeps dark lines (SGD's blue) visible on the dark valley of the surface
        data.append(dict(type="scatter", x=shown[:, 0], y=shown[:, 1], mode="lines", line=HALO, showlegend=False,
                         legendgroup=label, hoverinfo="skip"))
        data.append(dict(type="scatter", x=shown[:, 0], y=shown[:, 1], mode="lines", name=label,
                         line=dict(color=c, width=2.5, dash=style["dash"]), legendgroup=label, opacity=0.9,
                         hovertemplate=f"{label}<br>%{{x:.3f}}, %{{y:.3f}}<extra></extra>"))
        data.append(dict(type="scatter", x=head[:, 0], y=head[:, 1], mode="markers", showlegend=False,
                         legendgroup=label, name=f"{label} · head",
                         marker=dict(size=12, color=c, symbol=style["symbol"], line=dict(color="white", width=1.5)),
                         hoverinfo="skip"))
    return data


def contour_race(xs, ys, Z, paths: np.ndarray, labels: list[str], minima, *, log: bool, x_title: str,
                 y_title: str, loss_title: str, start_title: str, min_title: str, upto: int | None = None,
                 height: int = 520, layer: str = "both") -> go.Figure:
    """Contour map with every optimizer's path drawn up to step ``upto`` (all steps when None) and a
    dot at each path's head: the page steps ``upto`` forward to play the race, so the contours stay
    and each path grows with its head.

    ``layer``: "both" (one figure), or the map in two stacked figures of the same plot area (fixed margins,
    no zoom): "surface" (the contours, the axes and the colour bar: the same figure at every step, so the
    page's chart is never remounted while playing) and "paths" (transparent, drawn on top: the minima, the
    start, the paths, the legend, and a transparent grid of points over the map whose click chooses a new start).
    """
    zc = _levels(Z, log)
    last = paths.shape[1] - 1
    upto = last if upto is None else max(0, min(int(upto), last))
    data = []
    if layer in ("both", "surface"):
        data.append(dict(type="contour", x=xs, y=ys, z=zc, colorscale="Viridis", ncontours=30, showscale=True,
                         colorbar=dict(title=dict(text=("log₁₀(1+f)" if log else loss_title)), thickness=12,
                                       x=1.01, xanchor="left"),
                         contours=dict(coloring="heatmap", showlines=True),
                         line=dict(width=0.5, color="rgba(255,255,255,0.4)"),
                         hovertemplate=f"{x_title} %{{x:.2f}}, {y_title} %{{y:.2f}}<extra></extra>"))
    if layer in ("both", "paths"):
        data += _path_traces(xs, ys, paths, labels, minima, upto, x_title=x_title, y_title=y_title,
                             start_title=start_title, min_title=min_title)
    (x0, x1), (y0, y1) = (xs[0], xs[-1]), (ys[0], ys[-1])
    # the legend at the bottom, under the x-axis title: the toolbar at the top no longer covers it on a phone.
    # Fixed margins (no automatic growth for the colour bar or the legend): both layers have the same plot area.
    axis = dict(fixedrange=True) if layer == "both" else dict(fixedrange=True, showgrid=False, zeroline=False)
    if layer == "paths":
        axis["visible"] = False
    layout = dict(height=height + 40, margin=dict(l=55, r=75, t=30, b=130, autoexpand=False),
                  xaxis=dict(title=dict(text=x_title), range=[x0, x1], **axis),
                  yaxis=dict(title=dict(text=y_title), range=[y0, y1], **axis),
                  legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0.01, yanchor="bottom"),
                  showlegend=layer != "surface",
                  clickmode="event+select", dragmode="zoom", uirevision="race")
    if layer == "paths":
        layout.update(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return fast_figure(data, layout)


def surface_3d(xs, ys, Z, paths: np.ndarray, path_losses: np.ndarray, labels: list[str], *, log: bool,
               x_title: str, y_title: str, loss_title: str, height: int = 520) -> go.Figure:
    zc = _levels(Z, log)
    data = [dict(type="surface", x=xs, y=ys, z=zc, colorscale="Viridis", opacity=0.85, showscale=False,
                 hovertemplate=f"{x_title} %{{x:.2f}}<br>{y_title} %{{y:.2f}}<br>{loss_title} %{{z:.3f}}<extra></extra>")]
    zmin = Z.min()
    for k, (path, fl, label) in enumerate(zip(paths, path_losses, labels)):
        zz = np.log10(1 + fl - zmin) if log else fl
        inside = (path[:, 0] >= xs[0]) & (path[:, 0] <= xs[-1]) & (path[:, 1] >= ys[0]) & (path[:, 1] <= ys[-1])
        p = np.where(inside[:, None], path, np.nan)
        st = series(k)
        data.append(dict(type="scatter3d", x=p[:, 0], y=p[:, 1], z=np.where(inside, zz, np.nan), mode="lines",
                         name=label, line=dict(color=st["color"], width=6, dash=st["dash"])))
    layout = dict(height=height, margin=dict(l=0, r=0, t=10, b=0),
                  scene=dict(xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text=y_title)),
                             zaxis=dict(title=dict(text="log₁₀(1+f)" if log else loss_title))),
                  legend=dict(orientation="h"))
    return fast_figure(data, layout)


def loss_curves(path_losses: np.ndarray, labels: list[str], *, step_title: str, loss_title: str,
                log_y: bool = True, height: int = 340) -> go.Figure:
    data = []
    floor = np.nanmin(path_losses)
    shift = -floor + 1e-12 if log_y and floor <= 0 else 0.0
    for k, (fl, label) in enumerate(zip(path_losses, labels)):
        st = series(k)
        data.append(dict(type="scatter", x=np.arange(len(fl)), y=fl + shift, mode="lines+markers", name=label,
                         line=dict(color=st["color"], width=2, dash=st["dash"]),
                         # about a dozen markers per line: the second cue beside the colour and dash
                         marker=dict(symbol=st["symbol"], size=8, maxdisplayed=12, color=st["color"]),
                         hovertemplate=f"{label}: %{{y:.4g}}<extra></extra>"))
    layout = dict(height=height, margin=margins(), legend=dict(orientation="h"),
                  xaxis=dict(title=dict(text=step_title)),
                  yaxis=dict(title=dict(text=loss_title + (f" (+{shift:.3g})" if shift else "")),
                             type="log" if log_y else "linear"))
    return fast_figure(data, layout)


def landscape(alphas, betas, loss, *, x_title: str, y_title: str, loss_title: str, height: int = 480) -> go.Figure:
    data = [dict(type="contour", x=alphas, y=betas, z=loss, colorscale="Viridis", ncontours=25,
                 colorbar=dict(title=dict(text=loss_title), thickness=12),
                 hovertemplate=f"{x_title} %{{x:.2f}}, {y_title} %{{y:.2f}}<br>{loss_title} %{{z:.4f}}<extra></extra>"),
            dict(type="scatter", x=[0], y=[0], mode="markers", showlegend=False,
                 marker=dict(symbol="star", size=16, color="gold", line=dict(color="black", width=1)))]
    layout = dict(height=height, margin=margins(), xaxis=dict(title=dict(text=x_title)),
                  yaxis=dict(title=dict(text=y_title), scaleanchor="x"))
    return fast_figure(data, layout)


# ---------------------------------------------------------------- the charts' text summaries (captions)
def _sig(v: float) -> str:
    """A loss as a learner reads it: 3 significant digits ("2,510" for a large one, no "2.51e+03"), a true minus."""
    return number(v, ",.0f" if abs(v) >= 1000 else ".3g")


def race_summary(xs, ys, Z, paths: np.ndarray, path_losses: np.ndarray, labels: list[str], *, log: bool,
                 upto: int | None, lang: str) -> str:
    """The contour map's caption: the loss range on the map (and the colours' log₁₀(1 + loss) range when the
    colours are logarithmic), then where each optimizer is at step ``upto`` (its position and loss), or the step
    where it diverged."""
    Z = np.asarray(Z, dtype=float)
    r, c = np.unravel_index(int(np.nanargmin(Z)), Z.shape)
    words = dict(lo=_sig(np.nanmin(Z)), hi=_sig(np.nanmax(Z)), x=fmt(xs[c]), y=fmt(ys[r]))
    if log:
        zc = _levels(Z, True)
        parts = [translate("optimizers.caption_surface_log", lang, clo=fmt(np.nanmin(zc)), chi=fmt(np.nanmax(zc)),
                           **words)]
    else:
        parts = [translate("optimizers.caption_surface", lang, **words)]
    last = paths.shape[1] - 1
    upto = last if upto is None else max(0, min(int(upto), last))
    for path, fl, label in zip(paths, path_losses, labels):
        ok = np.flatnonzero(~np.isnan(path[: upto + 1]).any(1))
        at = int(ok[-1])
        if at < upto:  # cut before this step
            parts.append(translate("optimizers.caption_diverged", lang, name=label, step=at + 1))
        else:
            parts.append(translate("optimizers.caption_at", lang, name=label, step=at, x=fmt(path[at, 0]),
                                   y=fmt(path[at, 1]), loss=_sig(fl[at])))
    return translate("chart.joiner", lang).join(parts) + translate("chart.full_stop", lang)


def final_losses_summary(path_losses: np.ndarray, labels: list[str], *, lang: str) -> str:
    """The loss chart's caption: each optimizer's last loss and its step."""
    parts = []
    for fl, label in zip(path_losses, labels):
        ok = np.flatnonzero(~np.isnan(fl))
        at = int(ok[-1]) if ok.size else 0
        parts.append(translate("optimizers.caption_final", lang, name=label, loss=_sig(fl[at]), step=at))
    return translate("chart.joiner", lang).join(parts) + translate("chart.full_stop", lang)
