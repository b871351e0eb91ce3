"""Figures for the Kernels page: input and output maps at the same scale, the output's histogram,
the pixel inspector's grids, and a clickable neighbourhood of the inspected output cell.

Small grids are Plotly heatmaps (hover values, numbers in the cells up to 20×20). Large images
are sent as one JPEG picture (colour-mapped here, with a matching colour bar) so a 1024² image stays fast.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from explainer.figures import fast_figure, heatmap
from explainer.figures.describe import grid_meta
from explainer.figures.style import DIVERGING, GREY, HIGHLIGHT, MUTED, PALETTE, margins, number, outline

MAX_HEATMAP_SIDE = 160  # above this, a map is drawn as a PNG (no per-pixel hover; use the inspector)
MAX_PICTURE_SIDE = 512  # larger maps are shown reduced (block means): a screen shows ~400 px of it anyway
MAGNITUDE = [[0.0, "#000000"], [0.5, "#d95f0e"], [1.0, "#ffffb2"]]
SCALES = {"signed": DIVERGING, "grey": GREY, "magnitude": MAGNITUDE}
PICK = HIGHLIGHT


def value_range(z: np.ndarray, kind: str) -> tuple[float, float]:
    """Colour range of a map: ``signed`` symmetric around 0, ``grey`` 0–255, ``magnitude`` 0–max (for maps
    larger than 20×20, the 99.5th percentile of |value|, so that a few extreme values don't wash the map out)."""
    if kind == "grey":
        return 0.0, 255.0
    flat = np.ravel(z)
    if flat.size > 400:
        # A photo's output is mostly near 0 with a few strong edges: scaling colours to the single largest
        # value would leave the map nearly white. Saturate the top 0.5 % instead (a sample is enough).
        sample = np.abs(flat[:: max(1, flat.size // 65536)])
        sample = sample[np.isfinite(sample)]
        top = float(np.percentile(sample, 99.5)) if sample.size else 1.0
        top = top or float(sample.max(initial=0.0))
    else:
        finite = np.abs(flat[np.isfinite(flat)])
        top = float(finite.max()) if finite.size else 1.0
    top = top if top > 0 else 1.0
    return (-top, top) if kind == "signed" else (0.0, top)


def _lut(scale: list, n: int = 256) -> np.ndarray:
    stops = np.array([s for s, _ in scale])
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in scale], dtype=float)
    pos = np.linspace(0, 1, n)
    return np.stack([np.interp(pos, stops, rgb[:, k]) for k in range(3)], axis=1).astype(np.uint8)


_LUTS = {k: _lut(v) for k, v in SCALES.items()}


def block_mean(z: np.ndarray, f: int) -> np.ndarray:
    """``z`` reduced ``f`` times in both directions, each pixel the mean of an f×f block."""
    h, w = z.shape
    H, W = -(-h // f) * f, -(-w // f) * f
    zp = z if (H, W) == (h, w) else np.pad(z, ((0, H - h), (0, W - w)), mode="edge")
    return zp.reshape(H // f, f, W // f, f).sum(axis=3).sum(axis=1) / (f * f)


def jpeg_data_uri(img: np.ndarray, quality: int = 92) -> str:
    """An (H, W, 3) uint8 picture as a JPEG ``data:`` URI: ~20× faster to encode than PNG and ~5× smaller
    for a 512² colour-mapped photo; no chroma subsampling, so thin red/blue edges keep their colour."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(buf, "JPEG", quality=quality, subsampling=0)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def colourise(z: np.ndarray, kind: str, zmin: float, zmax: float) -> np.ndarray:
    """``z`` mapped through the page's colour scale ``kind`` to an (H, W, 3) uint8 picture.

    The same numbers as ``clip((z - zmin) / (zmax - zmin) * 255, 0, 255)`` and the table looked up by index, with
    one temporary array instead of four and ``np.take`` for the look-up (5.3 → 2.1 ms on a 512² map)."""
    scaled = np.subtract(z, zmin, dtype=np.float64)
    np.divide(scaled, zmax - zmin, out=scaled)
    np.multiply(scaled, 255.0, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return np.take(_LUTS[kind], scaled.astype(np.uint8), axis=0)


def map_figure(z, *, kind: str, title: str, colorbar_title: str, x_title: str, y_title: str,
               value_label: str, offset: tuple[float, float] = (0.0, 0.0), extent: tuple[int, int] | None = None,
               box: tuple[int, int, int, int] | None = None, height: int = 380) -> go.Figure:
    """An image or output map. ``kind``: ``grey`` (0–255), ``signed`` (diverging, centred at 0) or
    ``magnitude``. ``offset`` places the map's first cell where input pixel (row, col) is drawn beside it, so
    that input and output line up at the same scale (a 3×3 kernel's output starts at input pixel (1, 1)), while
    the axes, the hover and ``box`` count the map's own rows and columns (output cell (0, 1) is at axis 0, 1);
    ``extent`` (H, W): the input's size, the span both axes show. ``box`` (top, left, rows, cols) outlines cells."""
    z = np.asarray(z, dtype=float)
    h, w = z.shape
    zmin, zmax = value_range(z, kind)
    r0, c0 = offset
    eh, ew = extent or (h, w)
    if max(h, w) <= MAX_HEATMAP_SIDE:
        fig = heatmap(z, colorscale=SCALES[kind], zmin=zmin, zmax=zmax, colorbar_title=colorbar_title,
                      x_title=x_title, y_title=y_title, value_label=value_label, title=title, height=height)
        fig.data[0].update(x0=0, y0=0, dx=1, dy=1)
    else:
        f = -(-max(h, w) // MAX_PICTURE_SIDE)
        picture = colourise(z if f == 1 else block_mean(z, f), kind, zmin, zmax)
        data = [dict(type="image", source=jpeg_data_uri(picture), x0=(f - 1) / 2, y0=(f - 1) / 2,
                     dx=f, dy=f, hoverinfo="skip"),
                dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                     marker=dict(color=[zmin, zmax], cmin=zmin, cmax=zmax, colorscale=SCALES[kind], showscale=True,
                                 colorbar=dict(title=dict(text=colorbar_title), thickness=12)))]
        layout = dict(title=dict(text=title), height=height, margin=margins(title=True, left=40),
                      plot_bgcolor="white",
                      xaxis=dict(title=dict(text=x_title), showgrid=False, zeroline=False),
                      yaxis=dict(title=dict(text=y_title), scaleanchor="x", showgrid=False, zeroline=False))
        fig = fast_figure(data, layout)
    fig.layout.meta = grid_meta(z)  # the text summary counts the map's own rows and columns, as the inspector does
    # the input's span, shifted so the map's own cell (0, 0) sits where input pixel ``offset`` does
    fig.layout.xaxis.range = [-0.5 - c0, ew - 0.5 - c0]
    fig.layout.yaxis.range = [eh - 0.5 - r0, -0.5 - r0]
    fig.layout.yaxis.autorange = None
    if max(h, w) <= 20:  # numbered cells only: no "−1" in the margin beside the map
        fig.layout.xaxis.update(tickmode="array", tickvals=list(range(w)))
        fig.layout.yaxis.update(tickmode="array", tickvals=list(range(h)))
    if box is not None:
        top, left, bh, bw = box
        fig.layout.shapes = [outline(left, top, left + bw - 1, top + bh - 1, color=PICK)]
    return fig


def boxed(data: list, layout: dict, box: tuple[int, int, int, int] | None = None, side: int = 0) -> go.Figure:
    """A (cached, plain-dict) map figure with ``box`` (top, left, rows, cols) outlined: the window or the inspected
    cell. On a large image (``side`` pixels) a one-pixel box would be invisible, so a ring marks its centre too."""
    layout = dict(layout)
    if box is not None:
        top, left, bh, bw = box
        shapes = [outline(left, top, left + bw - 1, top + bh - 1, color=PICK)]
        if side > MAX_HEATMAP_SIDE:
            rad, cy, cx = side / 30, top + (bh - 1) / 2, left + (bw - 1) / 2
            shapes.append(dict(type="circle", x0=cx - rad, y0=cy - rad, x1=cx + rad, y1=cy + rad,
                               line=dict(color=PICK, width=3)))
        layout["shapes"] = shapes
    return fast_figure(data, layout)


def histogram_figure(z, *, title: str, x_title: str, y_title: str, bins: int = 60, height: int = 260) -> go.Figure:
    """How often each output value occurs (bars from ``np.histogram``: cheap for any image size)."""
    z = np.asarray(z, dtype=float).ravel()
    z = z[np.isfinite(z)] if not np.isfinite(z).all() else z  # NaN/±inf can't be binned: count the rest
    if z.size == 0:
        z = np.zeros(1)
    lo, hi = float(z.min()), float(z.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    # np.histogram's counts (up to values exactly on a bin edge), faster on a megapixel map: bin index by
    # scaling, the last bin closed on the right as in NumPy.
    idx = np.minimum(((z - lo) * (bins / (hi - lo))).astype(np.intp), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    data = [dict(type="bar", x=centres, y=counts, width=float(edges[1] - edges[0]), marker=dict(color=PALETTE[0]),
                 hovertemplate=f"{x_title} ≈ %{{x:.4g}}<br>{y_title} = %{{y}}<extra></extra>")]
    layout = dict(title=dict(text=title), height=height, margin=margins(title=True), bargap=0,
                  xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text=y_title)),
                  meta={"histogram": histogram_numbers(z, counts, centres)})
    return fast_figure(data, layout)


DISTINCT_CHECK_MAX = 262_144  # values: up to a 512² map, a few distinct values are listed one by one (np.unique)


def histogram_numbers(z: np.ndarray, counts: np.ndarray, centres: np.ndarray) -> dict:
    """What the histogram's text summary says (``explainer.figures.describe``): how many values, and either the
    distinct values with their counts (when there are at most ``describe.MAX_LISTED``: the 60|0 step edge's 16
    values are 8 × 0 and 8 × 180, not "60 bars") or the range, the non-empty bars and the most common one."""
    filled = counts > 0
    numbers = dict(n=int(z.size), lo=float(z.min()), hi=float(z.max()), bins=int(counts.size),
                   filled=int(filled.sum()))
    if numbers["filled"] <= 10 and z.size <= DISTINCT_CHECK_MAX:
        values, times = np.unique(z, return_counts=True)
        if values.size <= 10:
            numbers["values"] = [[float(v), int(c)] for v, c in zip(values, times)]
    k = int(np.argmax(counts))
    numbers.update(peak_at=float(centres[k]), peak_count=int(counts[k]))
    return numbers


def grid_figure(z, *, title: str, kind: str, colorbar_title: str, x_title: str, y_title: str,
                value_label: str, height: int = 260) -> go.Figure:
    """A small grid (window, kernel, products) with its numbers in the cells."""
    z = np.asarray(z, dtype=float)
    zmin, zmax = value_range(z, kind)
    fmt = ".0f" if np.allclose(z, np.round(z)) else ".3g"
    return heatmap(z, title=title, colorscale=SCALES[kind], zmin=zmin, zmax=zmax, colorbar_title=colorbar_title,
                   x_title=x_title, y_title=y_title, value_label=value_label, numbers=True, number_format=fmt,
                   height=height)


def neighbourhood_picker(out, row: int, col: int, *, radius: int = 4, title: str, x_title: str, y_title: str,
                         value_label: str, height: int = 340) -> go.Figure:
    """The output cells around (``row``, ``col``) as clickable squares with their values (a scatter:
    Plotly heatmaps report no clicks). The inspected cell is outlined in orange."""
    return neighbourhood_block(*neighbourhood(out, row, col, radius), row, col, title=title, x_title=x_title,
                               y_title=y_title, value_label=value_label, height=height)


def neighbourhood(out, row: int, col: int, radius: int = 4,
                  zrange: tuple[float, float] | None = None) -> tuple[np.ndarray, int, int, float, float]:
    """What ``neighbourhood_picker`` shows of ``out``: the cells around (``row``, ``col``), the top-left cell's
    position, and the colour range of the whole map (``zrange``: ``value_range(out, "signed")`` when the caller
    kept it). Small: a cache keyed by it needn't hash the whole map."""
    out = np.asarray(out, dtype=float)
    h, w = out.shape
    r0, r1 = max(0, row - radius), min(h, row + radius + 1)
    c0, c1 = max(0, col - radius), min(w, col + radius + 1)
    zmin, zmax = value_range(out, "signed") if zrange is None else zrange
    return out[r0:r1, c0:c1].copy(), r0, c0, zmin, zmax


def neighbourhood_block(block: np.ndarray, r0: int, c0: int, zmin: float, zmax: float, row: int, col: int, *,
                        title: str, x_title: str, y_title: str, value_label: str, height: int = 340) -> go.Figure:
    """``neighbourhood_picker`` from ``neighbourhood``'s parts."""
    r1, c1 = r0 + block.shape[0], c0 + block.shape[1]
    rr, cc = np.mgrid[r0:r1, c0:c1]
    fmt = ".0f" if np.allclose(block, np.round(block)) else ".3g"
    text = [number(v, fmt) for v in block.ravel()]
    dark = np.abs(block.ravel()) > 0.6 * zmax
    size = int(max(18, min(40, 300 / max(r1 - r0, c1 - c0))))
    data = [dict(type="scatter", mode="markers+text", x=cc.ravel(), y=rr.ravel(), text=text,
                 textfont=dict(size=9, color=np.where(dark, "white", "#222").tolist()),
                 marker=dict(symbol="square", size=size, color=block.ravel(), cmin=zmin, cmax=zmax,
                             colorscale=DIVERGING, line=dict(color=MUTED, width=1), showscale=False),
                 hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{marker.color:.4g}}"
                               "<extra></extra>", showlegend=False)]
    shapes = [outline(col, row, color=PICK, width=4)]
    layout = dict(title=dict(text=title), height=height, margin=margins(title=True, left=40), plot_bgcolor="white",
                  clickmode="event+select", dragmode=False, shapes=shapes,
                  xaxis=dict(title=dict(text=x_title), range=[c0 - 0.6, c1 - 0.4], dtick=1, showgrid=False,
                             zeroline=False, constrain="domain"),  # a narrow map: no axis beyond it
                  yaxis=dict(title=dict(text=y_title), range=[r1 - 0.4, r0 - 0.6], dtick=1, showgrid=False,
                             zeroline=False, scaleanchor="x", constrain="domain"))
    return fast_figure(data, layout)


def distances_figure(groups: list[str], to_one: list[float], to_seven: list[float], *, one_label: str,
                     seven_label: str, title: str, y_title: str, height: int = 300) -> go.Figure:
    """Grouped bars: the shifted "1"'s distance to the unshifted "1" and to the "7", per representation."""
    data = [dict(type="bar", name=one_label, x=groups, y=to_one, marker=dict(color=PALETTE[0]),
                 text=[number(v, ".2f") for v in to_one], textposition="outside",
                 hovertemplate="%{x}<br>" + one_label + " = %{y:.3f}<extra></extra>"),
            dict(type="bar", name=seven_label, x=groups, y=to_seven,
                 marker=dict(color=PALETTE[1], pattern=dict(shape="/")),  # a second cue beside the colour
                 text=[number(v, ".2f") for v in to_seven], textposition="outside",
                 hovertemplate="%{x}<br>" + seven_label + " = %{y:.3f}<extra></extra>")]
    top = max(max(to_one), max(to_seven), 1e-9) * 1.2
    layout = dict(title=dict(text=title), height=height, barmode="group", margin=margins(title=True),
                  yaxis=dict(title=dict(text=y_title), range=[0, top]), legend=dict(orientation="h", y=-0.2))
    return fast_figure(data, layout)
