"""Figures for "Inside the network": the whole network on one input (every layer a column, each channel a small
map on its layer's one colour scale), a channel's map to pick a position on, partial sums, softmax and patches.

The overview is one figure: each layer a column; its channels small maps stacked (in several sub-columns when all
are shown), one mosaic picture (PNG) per layer with its own colour range (diverging when the layer holds negative
values, else from 0); flat layers (flatten, dense, softmax) a strip of heatmap cells with hover values. Clickable: an invisible
marker on every channel (Plotly heatmaps report no clicks); ``overview`` returns the figure and the marker list,
``(layer, channel)`` for each point index. Values are rounded to 3 significant digits to keep it small.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import html

import numpy as np
import plotly.graph_objects as go

from explainer.figures import fast_figure
from explainer.figures.describe import grid_meta
from explainer.figures.style import BLUES, DIVERGING, HIGHLIGHT, PALETTE, margins, number, outline

TILE_GAP = 0.12   # between two channel maps of a column, in map widths
COL_GAP = 0.45    # between two layers' columns
PER_SUBCOLUMN = 16
STRIP_HEIGHT = 12.0  # a flat layer's strip, in map widths
HEADER_STEP = 2.4  # the second row of column titles sits this much higher (in map widths)


def _round(z: np.ndarray) -> np.ndarray:
    """3 significant digits (relative to the array's largest value): a third of the JSON, invisible in colour."""
    top = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.0
    if top == 0:
        return z
    digits = max(0, 2 - int(np.floor(np.log10(top))))
    return np.round(z, digits)


def picture(z: np.ndarray, scale: list, zmin: float, zmax: float) -> str:
    """A map (NaN: white gaps) coloured on ``scale`` from ``zmin`` to ``zmax``, as a PNG ``data:`` URI: a layer's
    channels cost a few kB instead of their numbers (their exact values are in the detail below)."""
    import base64
    import io

    from PIL import Image

    from explainer.figures.kernels import _lut

    lut = _lut(scale)
    gaps = ~np.isfinite(z)
    idx = np.clip((np.where(gaps, zmin, z) - zmin) / ((zmax - zmin) or 1.0) * 255.0, 0, 255).astype(np.uint8)
    rgb = lut[idx]
    rgb[gaps] = 255
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def layer_range(out: np.ndarray) -> tuple[float, float, bool]:
    """``(zmin, zmax, signed)``: symmetric around 0 when the layer holds negative values, else 0…max."""
    lo, hi = float(np.min(out)), float(np.max(out))
    if lo < 0:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m, True
    return 0.0, hi if hi > 0 else 1.0, False


@dataclass
class _Columns:
    """What ``overview`` draws, column by column: the traces, shapes and annotations, the clickable markers
    (``px``, ``py``, ``ptext``; ``points``: their (layer, channel)) and each clickable tile's box."""

    data: list = field(default_factory=list)
    shapes: list = field(default_factory=list)
    annotations: list = field(default_factory=list)
    points: list = field(default_factory=list)
    px: list = field(default_factory=list)
    py: list = field(default_factory=list)
    ptext: list = field(default_factory=list)
    tile_boxes: dict = field(default_factory=dict)


def _spatial_column(cols: _Columns, li: int, out: np.ndarray, x: float, scale, zmin: float, zmax: float, *,
                    shown: int, name: str, channel_word: str) -> float:
    """A spatial layer's channels as one mosaic picture (in sub-columns of ``PER_SUBCOLUMN``), a clickable marker
    on each; returns the column's width."""
    C, H, W = out.shape
    n = C if shown <= 0 else min(C, shown)
    sub = -(-n // PER_SUBCOLUMN)
    per = -(-n // sub)
    g = max(1, int(round(TILE_GAP * H)))
    mosaic = np.full((per * (H + g) - g, sub * (W + g) - g), np.nan)
    for c in range(n):
        q, r = divmod(c, per)
        mosaic[r * (H + g): r * (H + g) + H, q * (W + g): q * (W + g) + W] = out[c]
        x0, y0 = x + q * (1 + g / W), r * (1 + g / H)
        cols.tile_boxes[(li, c)] = (x0, y0, x0 + 1, y0 + 1)
        cols.px.append(x0 + 0.5)
        cols.py.append(y0 + 0.5)
        cols.ptext.append(f"{name} · {channel_word} {c}")
        cols.points.append((li, c))
    cols.data.append(dict(type="image", source=picture(mosaic, scale, zmin, zmax), x0=x + 0.5 / W, dx=1 / W,
                          y0=0.5 / H, dy=1 / H, hoverinfo="skip"))
    return sub * (1 + g / W) - g / W


def _class_labels(classes: list[str] | None, n: int) -> list[str]:
    """The labels of a flat layer's ``n`` cells: the class names (escaped: Plotly reads a few HTML tags, a folder's
    name is shown as written) when there are as many, else the numbers."""
    if classes is not None and len(classes) == n:
        return [html.escape(str(c)) for c in classes]
    return [str(k) for k in range(n)]


def _strip_column(cols: _Columns, li: int, layers: list, out: np.ndarray, x: float, scale, zmin: float,
                  zmax: float, *, name: str, hover: str, predicted: int, classes: list[str] | None = None) -> float:
    """A flat layer (flatten, dense, softmax) as a strip of heatmap cells: up to 10 with their numbers, the softmax's
    predicted class outlined, a dense layer's units clickable; returns the column's width."""
    L = layers[li]
    n = out.size
    dy = min(1.1, STRIP_HEIGHT / n) if n > 10 else 1.1
    # more than 10 cells (an own set of up to 20 classes): no room for the names beside the narrow cells (12/n map
    # widths each, the column one map wide), so each cell's hover names its class
    named = n > 10 and classes is not None and len(classes) == n
    cols.data.append(dict(type="heatmap", z=_round(out.reshape(-1, 1)), x0=x + 0.25, dx=0.5, y0=dy / 2, dy=dy,
                          colorscale=scale, zmin=zmin, zmax=zmax, showscale=False,
                          **(dict(customdata=[[c] for c in classes]) if named else {}),
                          hovertemplate=f"%{{customdata[0]}}: {hover} = %{{z:.4g}}<extra>{name}</extra>" if named
                          else f"%{{y:.0f}}: {hover} = %{{z:.4g}}<extra>{name}</extra>"
                          if n > 10 else f"{hover} = %{{z:.4g}}<extra>{name}</extra>"))
    if n <= 10:
        # the logits' row labels are the softmax's beside them (kept short: a phone's columns are narrow)
        labelled = not (li + 1 < len(layers) and layers[li + 1].kind == "softmax")
        for k in range(n):
            cols.annotations.append(dict(x=x + 0.5, y=dy * (k + 0.5),
                                         text=(f"{(classes or range(n))[k]}: " if labelled else "")
                                         + number(out[k], '.2f'),
                                         showarrow=False, xanchor="left", xshift=3, font=dict(size=11)))
    if L.kind == "softmax":
        y0 = dy * predicted
        cols.shapes.append(dict(type="rect", x0=x, x1=x + 0.5, y0=y0, y1=y0 + dy, line=dict(color=HIGHLIGHT, width=4),
                                fillcolor="rgba(0,0,0,0)", layer="above"))
    if L.kind == "dense" and n <= 128:
        for k in range(n):
            cols.px.append(x + 0.5)
            cols.py.append(dy * (k + 0.5))
            cols.ptext.append(f"{name} · {k}")
            cols.points.append((li, k))
            cols.tile_boxes[(li, k)] = (x + 0.25, dy * k, x + 0.75, dy * (k + 1))
    return 1.0 if n > 10 else 1.9


def _selection_shapes(tile_boxes: dict, selected: tuple[int, int] | None, feed: np.ndarray | None) -> list[dict]:
    """The selected tile outlined, and the tiles of the layer before it that feed it (dotted, width by strength)."""
    if selected is None or selected not in tile_boxes:
        return []
    x0, y0, x1, y1 = tile_boxes[selected]
    shapes = [dict(type="rect", x0=x0 - 0.06, y0=y0 - 0.06, x1=x1 + 0.06, y1=y1 + 0.06,
                   line=dict(color=HIGHLIGHT, width=4), fillcolor="rgba(0,0,0,0)", layer="above")]
    if feed is not None and selected[0] > 0 and feed.size and float(np.max(feed)) > 0:
        strength = np.asarray(feed, dtype=float) / float(np.max(feed))
        for c, s in enumerate(strength):
            box = tile_boxes.get((selected[0] - 1, c))
            if box is None or s < 0.05:
                continue
            shapes.append(dict(type="rect", x0=box[0] - 0.04, y0=box[1] - 0.04, x1=box[2] + 0.04, y1=box[3] + 0.04,
                               line=dict(color=PALETTE[0], width=float(1 + 3 * s), dash="dot"),
                               fillcolor="rgba(0,0,0,0)", layer="above"))
    return shapes


def overview(layers: list, *, shown: int, selected: tuple[int, int] | None, feed: np.ndarray | None,
             predicted: int, names: list[str], range_fmt: str, hover: str, channel_word: str,
             title: str, height: int = 620, classes: list[str] | None = None,
             boxes: dict | None = None) -> tuple[go.Figure, list[tuple[int, int]]]:
    """The whole network as columns. ``layers``: ``network.trace``'s entries; ``shown``: channels per spatial
    layer (the rest are left out); ``selected``: (layer, channel) outlined; ``feed``: how strongly each channel of
    the layer before the selected one feeds it (outlined, width by strength); ``predicted``: the class marked in
    the softmax strip; ``names``: each column's title; ``range_fmt``: "{lo} … {hi}" under it; ``hover``: the
    hover's word for a value; ``channel_word``: "channel" in the learner's language; ``classes``: the data set's
    class names (shown literally on the softmax's cells; None: their numbers); ``boxes``: a dict to fill with each
    clickable tile's box, for ``with_selection``."""
    cols = _Columns()
    x = 0.0
    col_h = PER_SUBCOLUMN * (1 + TILE_GAP)
    for li, L in enumerate(layers):
        out = np.asarray(L.output, dtype=float)
        zmin, zmax, signed = layer_range(out)
        scale = DIVERGING if signed else BLUES
        if out.ndim == 3:
            width = _spatial_column(cols, li, out, x, scale, zmin, zmax, shown=shown, name=names[li],
                                    channel_word=channel_word)
        else:
            width = _strip_column(cols, li, layers, out, x, scale, zmin, zmax, name=names[li], hover=hover,
                                  predicted=predicted,
                                  classes=_class_labels(classes if li >= len(layers) - 2 else None, out.size))
        # the titles of neighbouring columns alternate between two heights, so wide ones never overlap
        cols.annotations.append(dict(x=x + width / 2, y=-0.3 - HEADER_STEP * (li % 2), yanchor="bottom",
                                     showarrow=False, font=dict(size=11),
                                     text=f"<b>{names[li]}</b><br>"
                                          f"{range_fmt.format(lo=number(zmin, '.2g'), hi=number(zmax, '.2g'))}"))
        x += width + COL_GAP
    cols.shapes += _selection_shapes(cols.tile_boxes, selected, feed)
    if boxes is not None:
        boxes.update(cols.tile_boxes)
    cols.data.append(dict(type="scatter", mode="markers", x=cols.px, y=cols.py, text=cols.ptext, showlegend=False,
                          marker=dict(symbol="square", size=18, color="rgba(0,0,0,0)"),
                          hovertemplate="%{text}<extra></extra>"))
    layout = dict(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                  clickmode="event+select", dragmode=False, shapes=cols.shapes, annotations=cols.annotations,
                  # room on the right for the last strip's numbers (a phone's narrow plot clipped them)
                  xaxis=dict(visible=False, range=[-0.2, x + (0.6 if out.ndim == 1 and out.size <= 10 else 0)],
                             fixedrange=True),
                  yaxis=dict(visible=False, range=[col_h + 0.2, -0.6 - 2 * HEADER_STEP], fixedrange=True))
    fig = fast_figure(cols.data, layout)
    return fig, cols.points


def with_selection(fig: go.Figure, boxes: dict, selected: tuple[int, int] | None,
                   feed: np.ndarray | None) -> go.Figure:
    """An overview drawn with ``selected=None`` (``overview`` or ``overview_rows``; ``boxes``: the tile boxes it
    filled) with ``selected`` outlined and the tiles feeding it: the figure drawn with ``selected`` and ``feed``,
    sharing the maps (their pictures) with ``fig``, which is left as it is."""
    layout = dict(fig._layout)
    layout["shapes"] = list(layout.get("shapes") or []) + _selection_shapes(boxes, selected, feed)
    return fast_figure(list(fig._data), layout)


def map_picker(z, row: int, col: int, *, title: str, x_title: str, y_title: str, value_label: str,
               window: tuple[int, int, int] | None = None, height: int = 380) -> go.Figure:
    """One channel's map as clickable squares (diverging, centred at 0), the picked cell outlined; ``window``
    (top, left, size) outlines the part of the map a unit of the next layer reads."""
    z = np.asarray(z, dtype=float)
    h, w = z.shape
    rr, cc = np.mgrid[0:h, 0:w]
    zmin, zmax, signed = layer_range(z)
    size = int(max(8, min(36, 300 / max(h, w))))
    data = [dict(type="scatter", mode="markers", x=cc.ravel(), y=rr.ravel(), showlegend=False,
                 marker=dict(symbol="square", size=size, color=_round(z.ravel()), cmin=zmin, cmax=zmax,
                             colorscale=DIVERGING if signed else BLUES, opacity=0,
                             showscale=True, colorbar=dict(title=dict(text=value_label), thickness=12)),
                 hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{marker.color:.4g}}"
                               "<extra></extra>"),
            # the colours are the cells under the (invisible) markers: a marker's size is in px, so where the plot
            # grows (presenter mode, 1.6× taller) cells stay filled instead of becoming small squares with gaps;
            # the markers keep the colour bar, the hover and the clicks
            dict(type="heatmap", z=_round(z), zmin=zmin, zmax=zmax, colorscale=DIVERGING if signed else BLUES,
                 showscale=False, hoverinfo="skip", xgap=1, ygap=1)]
    shapes = [outline(col, row, color=HIGHLIGHT, width=4)]
    if window is not None:
        top, left, k = window
        shapes.append(outline(left, top, left + k - 1, top + k - 1, color=PALETTE[0], width=2, dash="dot"))
    layout = dict(title=dict(text=title), height=height, margin=margins(title=True, left=40), plot_bgcolor="white",
                  clickmode="event+select", dragmode=False, shapes=shapes,
                  # constrain="domain": square cells shrink the plot, never widen the axis beyond the map
                  xaxis=dict(title=dict(text=x_title), range=[-0.6, w - 0.4], showgrid=False, zeroline=False,
                             constrain="domain"),
                  yaxis=dict(title=dict(text=y_title), range=[h - 0.4, -0.6], showgrid=False, zeroline=False,
                             scaleanchor="x", constrain="domain"))
    fig = fast_figure(data, layout)
    fig.layout.meta = grid_meta(z)
    return fig


def cell_format(z) -> str:
    """The cells' number format of a unit's grid: whole numbers bare, else three significant digits of the grid's
    largest value for every cell ("−0.424", "0.018", "0.000"), so that no cell's text is longer than six
    characters and the numbers stay apart in a 5×5 grid, even at presenter size."""
    z = np.asarray(z, dtype=float)
    finite = np.abs(z[np.isfinite(z)])
    if not finite.size or np.allclose(z[np.isfinite(z)], np.round(z[np.isfinite(z)])):
        return ".0f"
    top = float(finite.max())
    return f".{max(0, min(4, 2 - int(np.floor(np.log10(top)))))}f"


def unit_grid(z, *, title: str, colorbar_title: str, x_title: str, y_title: str, value_label: str,
              height: int = 340) -> go.Figure:
    """One unit's window, kernel or products on one input channel: a signed grid with its numbers in the cells
    (``cell_format``), as the Kernels inspector shows them."""
    from explainer.figures import heatmap
    from explainer.figures.kernels import SCALES, value_range

    z = np.asarray(z, dtype=float)
    zmin, zmax = value_range(z, "signed")
    trace, layout = heatmap(z, title=title, colorscale=SCALES["signed"], zmin=zmin, zmax=zmax,
                            colorbar_title=colorbar_title, x_title=x_title, y_title=y_title, value_label=value_label,
                            numbers=True, number_format=cell_format(z), height=height, parts=True)
    longest = max((len(c) for row in trace["text"] for c in row), default=1)
    trace["textfont"] = dict(size=cell_font(z.shape[-1], longest, trace["textfont"]["size"]))
    return fast_figure([trace], layout)


GRID_PLOT_PX = 200  # a unit grid's plot width in one of two columns at 1280 px (a phone's is about the same)
EM_PER_CHAR = 0.52  # a cell number's width per character, in em (digits ~0.5, the minus sign ~0.6)


def cell_font(columns: int, longest: int, largest: int) -> int:
    """The cells' font size (px, at most ``largest``) at which ``longest`` characters leave a few px of air in a
    cell of a ``columns``-wide grid ``GRID_PLOT_PX`` wide: 14 px "−0.358"s ran together in a 5×5 grid at 1280 px.
    Presenter mode enlarges it (≥ 16 px) and makes the grid taller to fit (``style.presenter_wire``)."""
    cell = GRID_PLOT_PX / max(1, columns)
    return int(max(8, min(largest, cell // (EM_PER_CHAR * max(1, longest)))))


def bars(values, *, labels: list[str], title: str, x_title: str, y_title: str, mark: int | None = None,
         fmt: str = ".3g", height: int = 300) -> go.Figure:
    """Signed bars with their numbers (partial sums per input channel, logits, probabilities); ``mark`` a bar
    drawn in another colour with a hatch (the winner), so colour is never the only cue."""
    v = np.asarray(values, dtype=float)
    colours = [PALETTE[1] if i == mark else PALETTE[0] for i in range(v.size)]
    data = [dict(type="bar", x=list(labels), y=v, marker=dict(color=colours, pattern=dict(
        shape=["/" if i == mark else "" for i in range(v.size)])),
                 text=[number(a, fmt) for a in v], textposition="outside", cliponaxis=False,
                 # up to 10 bars (the probabilities): their numbers at the chart's size, not shrunk to the bar's
                 # width (a 1280 px page printed the winner's "100.0" at ~6 px); more bars: shrunk, never overlapping
                 constraintext="none" if v.size <= 10 else "both",
                 hovertemplate="%{x}: %{y:.4g}<extra></extra>")]
    lo, hi = float(min(0.0, v.min())), float(max(0.0, v.max()))
    pad = 0.15 * (hi - lo or 1.0)
    layout = dict(title=dict(text=title), height=height, margin=margins(title=True), showlegend=False,
                  xaxis=dict(title=dict(text=x_title), type="category"),
                  yaxis=dict(title=dict(text=y_title), range=[lo - (pad if lo < 0 else 0), hi + pad]))
    return fast_figure(data, layout)


def patches(images: np.ndarray, captions: list[str], *, title: str, cols: int = 9, height: int = 170) -> go.Figure:
    """Small grey pictures (N, s, s) in [0, 1] side by side (ink dark), ``cols`` a row, each captioned below (rows
    of pictures leave room for their captions: a phone shows 3 a row, 9 in a row there ran their captions together);
    colour ones (N, s, s, 3) in their colours (``image_trace``) on white."""
    imgs = np.asarray(images, dtype=float)
    n, s = imgs.shape[:2]
    rows = -(-n // cols)
    pitch = s + (1 if rows == 1 else max(2, int(round(0.45 * s))))  # a row's height with its caption's band
    canvas = np.full(((rows - 1) * pitch + s, min(n, cols) * (s + 1) - 1, *imgs.shape[3:]), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * pitch: r * pitch + s, c * (s + 1): c * (s + 1) + s] = imgs[i]
    data = [image_trace(canvas) if imgs.ndim == 4 else
            dict(type="heatmap", z=np.round(canvas, 3), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                 hoverinfo="skip")]
    annotations = [dict(x=(i % cols) * (s + 1) + (s - 1) / 2, y=(i // cols) * pitch + s - 0.5, yanchor="top",
                        text=captions[i], showarrow=False, font=dict(size=11)) for i in range(n)]
    layout = dict(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=30),
                  annotations=annotations, plot_bgcolor="white",
                  xaxis=dict(visible=False), yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"))
    return fast_figure(data, layout)


def image_trace(rgb: np.ndarray) -> dict:
    """A colour picture (H, W, 3) in [0, 1] as a Plotly image trace (blank cells, NaN, white), no hover; one pixel per
    unit from (0, 0), the grid a heatmap of the same picture uses (annotations fit both)."""
    z = np.nan_to_num(np.asarray(rgb, dtype=float), nan=1.0)
    return dict(type="image", z=np.rint(np.clip(z, 0, 1) * 255).astype(np.uint8), hoverinfo="skip")


ROW_TILES = 8         # a phone's overview: channel maps per row
ROW_HEADER = 0.85     # the title line above each layer, in map widths
ROW_GAP = 0.35        # between one layer's maps and the next layer's title
ROW_STRIP = 0.6       # a long flat layer's strip (flatten), in map widths
ROW_CELL = 1.0        # a short flat layer's cells (logits, softmax), in map widths, and its numbers' line below
PHONE_PX = 40.0       # about a map's width in px on a 412 px phone (a 380 px plot, 8 maps and their gaps)


def overview_rows(layers: list, *, shown: int, selected: tuple[int, int] | None, feed: np.ndarray | None,
                  predicted: int, names: list[str], range_fmt: str, hover: str, channel_word: str,
                  title: str, per_row: int = ROW_TILES,
                  classes: list[str] | None = None, boxes: dict | None = None) -> tuple[go.Figure, list[tuple[int, int]]]:
    """``overview`` for a phone: each layer a row from top to bottom (its title line, then its channels' maps,
    ``per_row`` a row; a flat layer a strip, the logits and softmax ten numbered cells with their values below), so
    maps are ~40 px wide on a 412 px screen and the page scrolls down through the network. The same arguments,
    clickable markers and point list as ``overview``; its height follows from the content (no empty band)."""
    width = per_row * (1 + TILE_GAP) - TILE_GAP
    data, shapes, annotations, points = [], [], [], []
    px, py, ptext = [], [], []
    tiles: dict[tuple[int, int], tuple[float, float, float, float]] = {}
    y = 0.0
    for li, L in enumerate(layers):
        out = np.asarray(L.output, dtype=float)
        zmin, zmax, signed = layer_range(out)
        scale = DIVERGING if signed else BLUES
        rng = range_fmt.format(lo=number(zmin, '.2g'), hi=number(zmax, '.2g'))
        annotations.append(dict(x=0, y=y + ROW_HEADER - 0.1, xanchor="left", yanchor="bottom", showarrow=False,
                                font=dict(size=12), text=f"<b>{names[li].replace('<br>', ' · ')}</b> · {rng}"))
        y += ROW_HEADER
        if out.ndim == 3:
            y = _row_maps(out, li, y, shown, per_row, scale, zmin, zmax, names, channel_word, data, tiles, points,
                          (px, py, ptext))
        elif out.size > 10:
            y = _row_strip(out, L, li, y, width, scale, zmin, zmax, names, hover, data, tiles, points,
                           (px, py, ptext), _class_labels(classes, out.size) if li >= len(layers) - 2 and classes is not None
                           and len(classes) == out.size else None)
        else:
            y = _row_cells(out, L, li, y, width, scale, zmin, zmax, names, hover, predicted, data, shapes,
                           annotations, tiles, points, (px, py, ptext),
                           _class_labels(classes if li >= len(layers) - 2 else None, out.size))
        y += ROW_GAP
    shapes += _selection_shapes(tiles, selected, feed)
    if boxes is not None:
        boxes.update(tiles)
    data.append(dict(type="scatter", mode="markers", x=px, y=py, text=ptext, showlegend=False,
                     marker=dict(symbol="square", size=28, color="rgba(0,0,0,0)"),
                     hovertemplate="%{text}<extra></extra>"))
    top = 40
    layout = dict(title=dict(text=title), height=int(round(y * PHONE_PX)) + top + 10,
                  margin=dict(l=10, r=10, t=top, b=10), plot_bgcolor="white", clickmode="event+select",
                  dragmode=False, shapes=shapes, annotations=annotations,
                  # maps may stretch a little on a wider or narrower phone rather than leave an empty band
                  xaxis=dict(visible=False, range=[-0.1, width + 0.1], fixedrange=True),
                  yaxis=dict(visible=False, range=[y, -0.05], fixedrange=True, scaleanchor=False))
    return fast_figure(data, layout), points


def _row_maps(out, li, y, shown, per_row, scale, zmin, zmax, names, channel_word, data, boxes, points, marks):
    """A spatial layer's first ``shown`` channels (all when ``shown`` ≤ 0) as one mosaic, ``per_row`` a row."""
    C, H, W = out.shape
    n = C if shown <= 0 else min(C, shown)
    cols, rows = min(n, per_row), -(-n // per_row)
    g = max(1, int(round(TILE_GAP * H)))
    mosaic = np.full((rows * (H + g) - g, cols * (W + g) - g), np.nan)
    for c in range(n):
        r, q = divmod(c, per_row)
        mosaic[r * (H + g): r * (H + g) + H, q * (W + g): q * (W + g) + W] = out[c]
        x0, y0 = q * (1 + g / W), y + r * (1 + g / H)
        boxes[(li, c)] = (x0, y0, x0 + 1, y0 + 1)
        marks[0].append(x0 + 0.5)
        marks[1].append(y0 + 0.5)
        marks[2].append(f"{names[li]} · {channel_word} {c}")
        points.append((li, c))
    data.append(dict(type="image", source=picture(mosaic, scale, zmin, zmax), x0=0.5 / W, dx=1 / W,
                     y0=y + 0.5 / H, dy=1 / H, hoverinfo="skip"))
    return y + rows * (1 + g / H) - g / H


def _row_strip(out, L, li, y, width, scale, zmin, zmax, names, hover, data, boxes, points, marks, classes=None):
    """A long flat layer (flatten; a wide dense layer; the logits and softmax of more than 10 classes) as one strip
    across, a hover value per feature (named by ``classes`` when given); a dense layer of at most 128 features
    clickable per feature."""
    n = out.size
    dx = width / n
    data.append(dict(type="heatmap", z=_round(out.reshape(1, -1)), x0=dx / 2, dx=dx, y0=y + ROW_STRIP / 2,
                     dy=ROW_STRIP, colorscale=scale, zmin=zmin, zmax=zmax, showscale=False,
                     customdata=[list(classes) if classes is not None and len(classes) == n else list(range(n))],
                     hovertemplate=f"%{{customdata}}: {hover} = %{{z:.4g}}<extra>{names[li]}</extra>"))
    if L.kind == "dense" and n <= 128:
        for k in range(n):
            boxes[(li, k)] = (k * dx, y, (k + 1) * dx, y + ROW_STRIP)
            marks[0].append((k + 0.5) * dx)
            marks[1].append(y + ROW_STRIP / 2)
            marks[2].append(f"{names[li]} · {k}")
            points.append((li, k))
    return y + ROW_STRIP


def _row_cells(out, L, li, y, width, scale, zmin, zmax, names, hover, predicted, data, shapes, annotations, boxes,
               points, marks, classes=None):
    """A short flat layer (the logits, the softmax): its cells across, each numbered inside, its value below; the
    predicted class outlined on the softmax; a dense layer's cells clickable."""
    n = out.size
    dx = width / n
    data.append(dict(type="heatmap", z=_round(out.reshape(1, -1)), x0=dx / 2, dx=dx, y0=y + ROW_CELL / 2,
                     dy=ROW_CELL, colorscale=scale, zmin=zmin, zmax=zmax, showscale=False, xgap=2,
                     text=[list(classes or map(str, range(n)))], texttemplate="%{text}", textfont=dict(size=12),
                     hovertemplate=f"%{{text}}: {hover} = %{{z:.4g}}<extra>{names[li]}</extra>"))
    for k in range(n):
        annotations.append(dict(x=(k + 0.5) * dx, y=y + ROW_CELL, yanchor="top", showarrow=False,
                                text=number(out[k], '.2f'), font=dict(size=10)))
        if L.kind == "dense":
            boxes[(li, k)] = (k * dx, y, (k + 1) * dx, y + ROW_CELL)
            marks[0].append((k + 0.5) * dx)
            marks[1].append(y + ROW_CELL / 2)
            marks[2].append(f"{names[li]} · {k}")
            points.append((li, k))
    if L.kind == "softmax":
        shapes.append(dict(type="rect", x0=predicted * dx, x1=(predicted + 1) * dx, y0=y, y1=y + ROW_CELL,
                           line=dict(color=HIGHLIGHT, width=4), fillcolor="rgba(0,0,0,0)", layer="above"))
    return y + 2 * ROW_CELL
