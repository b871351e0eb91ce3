"""The one plot style of the app: colours, the diverging scale, how numbers are written, cell outlines,
margins and presenter-mode sizing. Every figure builder takes its style from here.

- ``PALETTE``: Okabe & Ito's colour-blind-safe colours (Color Universal Design, 2008), ordered so that
  neighbours differ most under deuteranopia; lines and classes get a second cue from ``series(k)``
  (a dash pattern and a marker symbol), so colour never tells things apart alone.
- ``DIVERGING``: the one signed scale (negative blue, 0 white, positive red), ColorBrewer RdBu.
- ``fmt``: the one number format — integers without decimals, others with up to two, a true minus "−".
- ``outline``: the one cell outline shape (a window, a picked cell).
- ``margins``: the one set of plot margins.
- ``for_presenter``: a figure enlarged for a projector (fonts, cell numbers ≥ 16 px, taller plots).
"""
from __future__ import annotations

import re

import numpy as np

# Okabe–Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue, black, yellow; then grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#7F7F7F")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash", "dot")
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down", "pentagon")

# The one diverging scale: negative blue, 0 white, positive red (ColorBrewer RdBu, 5 classes, reversed).
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
BLUES = [[0.0, "#f7fbff"], [0.5, "#9ecae1"], [1.0, "#2171b5"]]
GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]  # 0 black, 255 white, as an image itself
GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]  # 0 white, high values dark (Plotly's "Greys")
SEQUENTIAL = "Viridis"  # loss surfaces and activations
SCALES = {"diverging": DIVERGING, "RdBu": DIVERGING, "Blues": BLUES, "grey": GREY, "Greys": GREYS}

HIGHLIGHT = "#D55E00"  # the window, the inspected cell (vermillion: ≥ 3:1 against white)
PICK = "#000000"  # max pooling's pick, the output cell being filled
MUTED = "#888888"
# A light line drawn under a coloured path on a dark surface (e.g. Viridis valleys), so the path stays visible.
HALO = dict(color="rgba(255, 255, 255, 0.75)", width=6)
FONT_PX = 13  # Plotly's base font in the normal layout
PRESENTER_FONT_PX = 20
PRESENTER_MIN_CELL_FONT_PX = 16
PRESENTER_HEIGHT = 1.6  # presenter figures are this much taller (square-cell grids grow with the height)


def series(k: int) -> dict:
    """Colour, dash pattern and marker symbol of the ``k``-th line or class (the second cue beside colour)."""
    return dict(color=PALETTE[k % len(PALETTE)], dash=DASHES[k % len(DASHES)], symbol=MARKERS[k % len(MARKERS)])


def scale(name):
    """A colour scale by name: ``"diverging"`` (also ``"RdBu"``: in this app always negative blue, positive
    red, unlike Plotly's own "RdBu"), ``"Blues"``, ``"grey"``, ``"Greys"``; a list or other Plotly name as is."""
    return SCALES.get(name, name) if isinstance(name, str) else name


def fmt(v: float) -> str:
    """A number as a learner reads it: integers without decimals, others with up to 2, a true minus sign."""
    v = float(v)
    if np.isnan(v):
        return ""
    if not np.isfinite(v):
        return "−∞" if v < 0 else "∞"
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v))).replace("-", "−")
    return _signed(f"{v:.2f}".rstrip("0").rstrip("."))


def _signed(text: str) -> str:
    """A formatted number with a true minus sign, and none on a zero ("−0" is what −0.0 × 60 or −0.001 rounded
    would print)."""
    if text.startswith("-"):  # a zero's mantissa ("-0.0e+00") is a zero too
        return text[1:] if not text.partition("e")[0].strip("-0.%") else "−" + text[1:]
    return text


def number(v: float, spec: str) -> str:
    """``format(v, spec)`` with a true minus sign ("−3.50", not "-3.50"), none on a zero ("0", not "−0"); NaN as
    an empty cell."""
    v = float(v)
    if np.isnan(v):
        return ""
    return _signed(format(v, spec)).replace("e-", "e−")


_SPEC = re.compile(r"\.\d{1,2}[fge]")  # the specs ``%`` formats exactly as ``format`` does


def _signed_many(s: np.ndarray) -> np.ndarray:
    """``_signed`` on an array of formatted numbers."""
    neg = np.strings.startswith(s, "-")
    if not neg.any():
        return s
    body = np.strings.slice(s, 1, None)
    zero = np.strings.strip(np.strings.partition(s, "e")[0], "-0.%") == ""
    return np.where(neg & zero, body, np.where(neg, np.strings.add("−", body), s))


def _texts_many(v: np.ndarray, spec: str | None) -> np.ndarray | None:
    """``fmt`` (``spec`` None) or ``number(·, spec)`` of every value of the 1-D float array ``v``, computed
    column-wise by NumPy's string functions (≈ 4× faster than one Python call per cell; the same texts, tested
    against the scalar functions); None where ``spec`` is not one they format exactly."""
    if spec is not None and not _SPEC.fullmatch(spec):
        return None
    out = np.empty(v.shape, dtype=object)
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore"):
        r = np.round(v)
        isint = finite & (np.abs(v - r) < 1e-9) & (np.abs(r) < 2.0**62) if spec is None else np.zeros_like(finite)
    if isint.any():
        out[isint] = np.strings.replace(r[isint].astype(np.int64).astype(str), "-", "−")
    rest = finite & ~isint
    if rest.any():
        form = "%.2f" if spec is None else "%" + spec
        s = np.array([form % x for x in v[rest].tolist()])  # (np.strings.mod is slower than Python's % here)
        s = np.strings.rstrip(np.strings.rstrip(s, "0"), ".") if spec is None else s
        s = _signed_many(s)
        out[rest] = s if spec is None else np.strings.replace(s, "e-", "e−")
    f = fmt if spec is None else (lambda x: number(x, spec))
    for i in np.flatnonzero(~finite):
        out[i] = f(v[i])
    return out


def texts(z, spec: str | None = None) -> list[list[str]]:
    """A grid's numbers as cell texts (``fmt``, or ``number(v, spec)``), row by row."""
    f = fmt if spec is None else (lambda v: number(v, spec))
    a = np.asarray(z, dtype=float)
    if a.ndim != 2 or a.size < 100:
        return [[f(v) for v in row] for row in a]
    values, where = a.ravel(), None
    if a.size >= 256:  # pictures repeat their values (≤ 256 greys): format each value once
        u, inverse = np.unique(a, return_inverse=True)
        if len(u) * 4 <= a.size:
            values, where = u, inverse.reshape(a.shape)
    out = _texts_many(values, spec)
    if out is None:
        out = np.array([f(v) for v in values], dtype=object)
    return (out[where] if where is not None else out.reshape(a.shape)).tolist()


def outline(x0: float, y0: float, x1: float | None = None, y1: float | None = None, *, color: str = HIGHLIGHT,
            width: float = 3, fill: str | None = None, dash: str | None = None, xref: str = "x",
            yref: str = "y") -> dict:
    """The outline of cells (x0..x1, y0..y1) inclusive, in cell coordinates (a single cell when x1/y1 are None)."""
    x1 = x0 if x1 is None else x1
    y1 = y0 if y1 is None else y1
    return dict(type="rect", x0=x0 - 0.5, y0=y0 - 0.5, x1=x1 + 0.5, y1=y1 + 0.5, xref=xref, yref=yref,
                line=dict(color=color, width=width, dash=dash), fillcolor=fill or "rgba(0,0,0,0)", layer="above")


def margins(*, title: bool = False, left: int = 50, right: int = 10, bottom: int = 40) -> dict:
    """The plot margins: room for axis titles on the left and bottom, for a title on top when there is one."""
    return dict(l=left, r=right, t=40 if title else 10, b=bottom)


def _scaled(size, factor: float, least: int) -> int | list:
    if isinstance(size, (list, tuple, np.ndarray)):
        return [max(least, int(round(s * factor))) for s in size]
    return max(least, int(round((size or FONT_PX) * factor)))


_TRACE_PROPS: dict[str, frozenset] = {}


def _trace_props(kind: str) -> frozenset:
    """The property names a trace type has (``textfont``, ``colorbar`` …), looked up once per type."""
    if kind not in _TRACE_PROPS:
        import plotly.graph_objects as go

        trace = go.Figure(data=[{"type": kind}], layout={"template": {}}, _validate=False).data[0]
        _TRACE_PROPS[kind] = frozenset(trace._valid_props)
    return _TRACE_PROPS[kind]


def _sub(d: dict, key: str) -> dict:
    """``d[key]`` as a fresh dict placed in ``d`` (a title given as text becomes ``{"text": …}``)."""
    v = d.get(key)
    v = dict(v) if isinstance(v, dict) else ({"text": v} if isinstance(v, str) else {})
    d[key] = v
    return v


def _presenter_trace(raw: dict, wired: dict, factor: float) -> tuple[dict, int]:
    """One trace of ``presenter_wire``: ``(its wire dict with larger cell numbers and text markers, the plot height in
    px its numbered cells need — 0 for a trace without them)``."""
    need = 0
    trace = dict(wired)
    kind = raw.get("type", "scatter")
    props = _trace_props(kind)
    if "textfont" in props and (raw.get("texttemplate") or raw.get("text") is not None):
        tf = _sub(trace, "textfont")
        tf["size"] = _scaled(tf.get("size"), factor, PRESENTER_MIN_CELL_FONT_PX)
        if kind == "heatmap" and raw.get("texttemplate") and raw.get("z") is not None:
            rows = len(raw["z"])
            text = raw.get("text")
            longest = max((len(str(c)) for row in (text if text is not None else ()) for c in row), default=4)
            font = max(np.atleast_1d(tf["size"])) if tf["size"] is not None else PRESENTER_MIN_CELL_FONT_PX
            cell = max(40, 0.6 * font * min(longest, 8) + 12)
            need = int(rows * cell)
    marker = raw.get("marker")
    if kind == "scatter" and isinstance(marker, dict) and marker.get("size") is not None \
            and "text" in (raw.get("mode") or ""):
        _sub(trace, "marker")["size"] = _scaled(marker["size"], PRESENTER_HEIGHT, 1)
    return trace, need


def presenter_wire(fig, spec: dict) -> dict:
    """``wire_dict(for_presenter(fig))`` from ``spec = wire_dict(fig)``, without Plotly's validated setters (they
    cost ~10 ms per figure) and without changing ``fig`` or ``spec``: only the dicts on the way to a changed
    value are copied. ``fig`` is read for the cells' numbers (``spec`` holds them as typed arrays)."""
    factor = PRESENTER_FONT_PX / FONT_PX
    layout = dict(spec["layout"])
    _sub(layout, "font")["size"] = PRESENTER_FONT_PX
    title = layout.get("title")
    if (title.get("text") if isinstance(title, dict) else title):
        _sub(_sub(layout, "title"), "font")["size"] = int(PRESENTER_FONT_PX * 1.2)
    if layout.get("height"):
        layout["height"] = int(layout["height"] * PRESENTER_HEIGHT)
    layout.pop("width", None)  # unset (Plotly's setter sends it as null, which Plotly.js reads as unset too)
    m = layout.get("margin") or {}
    margin = dict(l=int((m.get("l") if m.get("l") is not None else 50) * 1.4), r=m.get("r"),
                  b=int((m.get("b") if m.get("b") is not None else 40) * 1.4),
                  t=int((m.get("t") if m.get("t") is not None else 40) * 1.4), autoexpand=m.get("autoexpand"))
    layout["margin"] = {k: v for k, v in margin.items() if v is not None}
    need = 0
    data = []
    for raw, wired in zip(fig._data, spec["data"]):
        trace, trace_need = _presenter_trace(raw, wired, factor)
        need = max(need, trace_need)
        data.append(trace)
    tick = int(PRESENTER_FONT_PX * 0.9)
    for name in [k for k in layout if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]:
        axis = _sub(layout, name)
        _sub(axis, "tickfont")["size"] = tick
        _sub(_sub(axis, "title"), "font")["size"] = PRESENTER_FONT_PX
    _sub(_sub(layout, "legend"), "font")["size"] = tick
    for raw, trace in zip(fig._data, data):
        if raw.get("type", "scatter") in ("heatmap", "contour", "surface"):
            colorbar = _sub(trace, "colorbar")
            _sub(colorbar, "tickfont")["size"] = tick
            _sub(_sub(colorbar, "title"), "font")["size"] = tick
    if layout.get("annotations"):
        notes = []
        for a in layout["annotations"]:
            a = dict(a)
            font = _sub(a, "font")
            font["size"] = _scaled(font.get("size"), factor, PRESENTER_MIN_CELL_FONT_PX)
            notes.append(a)
        layout["annotations"] = notes
    if need and layout.get("height"):
        layout["height"] = max(layout["height"], need + layout["margin"]["t"] + layout["margin"]["b"])
    return {**spec, "data": data, "layout": layout}


def for_presenter(fig):
    """``fig`` (changed in place, and returned) for a projector: fonts ×1.5 (cell numbers ≥ 16 px), taller
    plots, no fixed width.

    Square-cell grids (``scaleanchor``) are as wide as they are tall, so the taller plot is what
    lets a grid use the column's width.
    """
    layout = fig.layout
    factor = PRESENTER_FONT_PX / FONT_PX
    layout.font.size = PRESENTER_FONT_PX
    if layout.title.text:
        layout.title.font.size = int(PRESENTER_FONT_PX * 1.2)
    if layout.height:
        layout.height = int(layout.height * PRESENTER_HEIGHT)
    layout.width = None
    m = layout.margin
    layout.margin = dict(l=int((m.l if m.l is not None else 50) * 1.4), r=m.r, b=int((m.b if m.b is not None else 40) * 1.4),
                         t=int((m.t if m.t is not None else 40) * 1.4), autoexpand=m.autoexpand)
    need = 0  # the plot height at which a numbered square-cell grid's numbers fit their cells
    for trace in fig.data:
        tf = getattr(trace, "textfont", None)
        if tf is not None and (getattr(trace, "texttemplate", None) or getattr(trace, "text", None) is not None):
            tf.size = _scaled(tf.size, factor, PRESENTER_MIN_CELL_FONT_PX)
            if trace.type == "heatmap" and trace.texttemplate and trace.z is not None:
                rows = len(trace.z)
                longest = max((len(str(c)) for row in (trace.text or ()) for c in row), default=4)
                font = max(np.atleast_1d(tf.size)) if tf.size is not None else PRESENTER_MIN_CELL_FONT_PX
                cell = max(40, 0.6 * font * min(longest, 8) + 12)  # ~0.6 em per digit, and some air
                need = max(need, int(rows * cell))
        marker = getattr(trace, "marker", None)
        if trace.type == "scatter" and marker is not None and marker.size is not None and "text" in (trace.mode or ""):
            marker.size = _scaled(marker.size, PRESENTER_HEIGHT, 1)  # clickable squares grow with the grid
    # axes, colour bars and legends: Streamlit's chart theme sets 12 px ticks, so every axis is set here
    tick = int(PRESENTER_FONT_PX * 0.9)
    for name in [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]:
        axis = layout[name]
        axis.tickfont.size = tick
        axis.title.font.size = PRESENTER_FONT_PX
    layout.legend.font.size = tick
    for trace in fig.data:
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None and trace.type in ("heatmap", "contour", "surface"):
            colorbar.tickfont.size = tick
            colorbar.title.font.size = tick
    for a in layout.annotations or ():
        a.font.size = _scaled(a.font.size, factor, PRESENTER_MIN_CELL_FONT_PX)
    if need and layout.height:
        layout.height = max(layout.height, need + layout.margin.t + layout.margin.b)
    return fig
