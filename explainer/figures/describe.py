"""Text alternatives of figures: a short summary of a chart's key numbers, in the learner's language,
and the numbers of a grid as a table. A screen reader user reads these instead of the picture.

``summary(fig, lang)`` reads the figure's own data (heatmap grids, bars, lines, surfaces), so it always
says what the chart shows: "5×5 grid, values −4 to 4; strongest: −4 at row 2, column 3". A builder that
draws a large map as a picture leaves the numbers in ``layout.meta["grid"]`` (see ``grid_meta``).
"""
from __future__ import annotations

import re

import numpy as np

from explainer.figures.style import fmt
from explainer.i18n import translate, translate_n

MAX_LISTED = 10  # bars and lines listed one by one up to this many


class _Plain(dict):
    """A trace as a plain dict with attribute access (``tr.marker.color``; None when absent): reading Plotly's
    validated properties one by one costs ~50 µs each, which adds up over a page's charts."""

    def __getattr__(self, name):
        value = self.get(name)
        return _Plain(value) if isinstance(value, dict) else value


def _traces(fig) -> list[_Plain]:
    # Plotly keeps each trace's properties as a plain dict (``Figure._data``); read it without the deep copy
    # of ``to_plotly_json`` (only read here, never changed)
    raw = getattr(fig, "_data", None)
    if not isinstance(raw, list) or len(raw) != len(fig.data):
        raw = [tr.to_plotly_json() for tr in fig.data]
    return [_Plain(tr) for tr in raw]


def grid_meta(z: np.ndarray, *, x0: float = 0, y0: float = 0) -> dict:
    """The key numbers of a grid for ``layout.meta`` (for a figure that shows the grid as a picture)."""
    return {"grid": _grid_numbers(np.asarray(z, dtype=float), x0, y0)}


def _grid_numbers(z: np.ndarray, x0: float = 0, y0: float = 0, xs=None, ys=None) -> dict | None:
    finite = np.isfinite(z)
    filled = int(np.count_nonzero(finite))
    if z.ndim != 2 or not filled:
        return None
    if filled == z.size:  # every value finite (the usual case): no masked copies (a 512² map: 3.5 → 1.5 ms)
        a, vals = np.abs(z), z
    else:
        a, vals = np.where(finite, np.abs(z), -1.0), z[finite]
    r, c = np.unravel_index(int(np.argmax(a)), z.shape)
    col = xs[c] if xs is not None and len(xs) == z.shape[1] else x0 + c
    row = ys[r] if ys is not None and len(ys) == z.shape[0] else y0 + r
    return dict(rows=int(z.shape[0]), cols=int(z.shape[1]), lo=float(vals.min()), hi=float(vals.max()),
                peak=float(z[r, c]), row=_num(row), col=_num(col), filled=filled)


def _num(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return v
    return int(v) if v == int(v) else v


def _grid_text(g: dict, lang: str) -> str:
    text = translate("chart.grid", lang, rows=g["rows"], cols=g["cols"], lo=fmt(g["lo"]), hi=fmt(g["hi"]))
    if g["lo"] != g["hi"]:
        text += translate("chart.strongest", lang, value=fmt(g["peak"]), row=fmt(g["row"]) if isinstance(g["row"], (int, float)) else g["row"],
                          col=fmt(g["col"]) if isinstance(g["col"], (int, float)) else g["col"])
    total = g["rows"] * g["cols"]
    if g["filled"] < total:
        text += translate_n("chart.filled", g["filled"], lang, total=total)
    return text


def _histogram_text(h: dict, lang: str) -> str:
    """A histogram as its values: "16 values: 8 × 0, 8 × 180", or, for many distinct values, their range, the
    non-empty bars and the most common one (see ``explainer.figures.kernels.histogram_numbers``)."""
    if h.get("values"):
        listed = translate("chart.list_joiner", lang).join(f"{c} × {fmt(v)}" for v, c in h["values"])
        return translate_n("chart.histogram_values", h["n"], lang, listed=listed)
    return translate_n("chart.histogram_bins", h["n"], lang, lo=fmt(h["lo"]), hi=fmt(h["hi"]), bins=h["bins"],
                       filled=h["filled"], at=fmt(h["peak_at"]), count=h["peak_count"])


def _array(v) -> np.ndarray | None:
    if v is None:
        return None
    try:
        return np.array(v, dtype=float)
    except (TypeError, ValueError):
        return None


def _heatmap(tr) -> dict | None:
    z = _array(tr.z)
    if z is None:
        return None
    xs = list(tr.x) if tr.x is not None else None
    ys = list(tr.y) if tr.y is not None else None
    return _grid_numbers(z, tr.x0 or 0, tr.y0 or 0, xs, ys)


def _marker_grid(tr) -> dict | None:
    """A grid drawn as clickable squares (a scatter whose marker colours are numbers)."""
    colours, x, y = _array((tr.marker or {}).get("color")), _array(tr.x), _array(tr.y)
    if colours is None or x is None or y is None or colours.shape != x.shape or x.size < 4:
        return None
    cols, rows = np.unique(x), np.unique(y)
    z = np.full((rows.size, cols.size), np.nan)
    z[np.searchsorted(rows, y), np.searchsorted(cols, x)] = colours
    return _grid_numbers(z, xs=cols.tolist(), ys=rows.tolist())


def _last(values) -> float | None:
    v = _array(values)
    if v is None or v.ndim != 1:
        return None
    ok = v[np.isfinite(v)]
    return float(ok[-1]) if ok.size else None


def _surface_text(tr, lang: str) -> str | None:
    """A contour or surface: its range and where its lowest point lies (None: no finite values)."""
    z = _array(tr.z)
    if z is None or not np.isfinite(z).any():
        return None
    r, c = np.unravel_index(int(np.nanargmin(z)), z.shape)
    xs, ys = _array(tr.x), _array(tr.y)
    x = xs[c] if xs is not None and xs.size == z.shape[1] else c
    y = ys[r] if ys is not None and ys.size == z.shape[0] else r
    return translate("chart.surface", lang, lo=fmt(np.nanmin(z)), hi=fmt(np.nanmax(z)), x=fmt(x), y=fmt(y))


def _bar_text(tr, lang: str) -> str | None:
    """A bar trace: every bar's value when there are few, else the highest (None: no values)."""
    xs, ys = list(tr.x if tr.x is not None else []), _array(tr.y)
    if ys is None:
        return None
    label = (tr.name + ": ") if tr.name else ""
    if len(ys) <= MAX_LISTED:
        return label + ", ".join(f"{x} = {fmt(y)}" for x, y in zip(xs, ys))
    k = int(np.nanargmax(ys))
    return label + translate_n("chart.bars", len(ys), lang, value=fmt(ys[k]), at=fmt(_num(xs[k]))
                               if isinstance(xs[k], (int, float, np.number)) else xs[k])


def _line_end_text(tr, lang: str) -> str | None:
    """A named line in the legend: where it ends (None: not such a line, or no finite value)."""
    if not tr.name or tr.showlegend is False or "lines" not in (tr.mode or ""):
        return None
    x, y = _last(tr.x), _last(tr.y)
    if y is None:
        return None
    return translate("chart.line_end", lang, name=tr.name, x=fmt(x) if x is not None else "", y=fmt(y))


def summary(fig, lang: str) -> str:
    """A short text of what ``fig`` shows, with its key numbers, in ``lang``."""
    parts: list[str] = []
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    if meta.get("grid"):
        parts.append(_grid_text(meta["grid"], lang))
    lines, bars, grids = [], [], {}
    if meta.get("histogram"):
        parts.append(_histogram_text(meta["histogram"], lang))
    for tr in _traces(fig):
        if tr.visible is False:
            continue
        kind = tr.type
        if kind == "heatmap" and meta.get("grid"):
            continue  # the builder gave the grid's numbers itself
        if kind == "heatmap":
            axes = (tr.xaxis or "x", tr.yaxis or "y")
            if axes in grids:  # an overlay on the same plot (the padding ring's colours): its cells aren't empty
                if grids[axes]:
                    grids[axes]["filled"] = grids[axes]["rows"] * grids[axes]["cols"]
                continue
            grids[axes] = _heatmap(tr)
            parts.append(axes)  # the text comes when every overlay has been seen
        elif kind in ("contour", "surface"):
            text = _surface_text(tr, lang)
            if text is not None:
                parts.append(text)
        elif kind == "image":
            if not meta.get("grid"):
                parts.append(translate("chart.picture", lang))
        elif kind == "bar":
            if meta.get("histogram"):
                continue  # the builder gave the counted values themselves
            text = _bar_text(tr, lang)
            if text is not None:
                bars.append(text)
        elif kind in ("scatter", "scatter3d"):
            mode = tr.mode or ""
            if kind == "scatter" and ("text" in mode or ((tr.marker or {}).get("symbol") == "square"
                                                         and "lines" not in mode)):
                g = None if meta.get("grid") else _marker_grid(tr)  # the builder gave the grid's numbers itself
                if g:
                    parts.append(_grid_text(g, lang))
                continue
            text = _line_end_text(tr, lang)
            if text is not None:
                lines.append(text)
    parts = [(_grid_text(grids[p], lang) if grids[p] else None) if isinstance(p, tuple) else p for p in parts]
    parts = [p for p in parts if p]
    if bars:
        parts.append("; ".join(bars))
    if lines:
        shown = lines[:MAX_LISTED]
        parts.append(translate_n("chart.lines", len(lines), lang) + "; ".join(shown))
    if not parts:
        return translate("chart.empty", lang)
    return translate("chart.joiner", lang).join(p.rstrip(".") for p in parts[:6]) + translate("chart.full_stop", lang)


def _clean(text) -> str:
    if text is None:
        return ""
    text = str(text)
    if "<" in text:
        text = re.sub(r"<[^>]+>", "", text.replace("<br>", " → "))
    return text.replace("-", "−")


def tables(fig) -> list[dict]:
    """The numbers a figure prints in its cells, as tables: one per plot area (a figure with several maps side
    by side gives several), each ``dict(title, rows, cols, cells)`` with the axes' row and column numbers and
    the cell texts exactly as the figure writes them. Empty when the figure prints no numbers in cells."""
    groups: dict[tuple, dict] = {}
    for tr in _traces(fig):
        if tr.visible is False:
            continue
        if tr.type == "heatmap" and tr.texttemplate:
            z = _array(tr.z)
            if z is None or z.ndim != 2 or z.size > 400:
                continue
            h, w = z.shape
            xs = list(tr.x) if tr.x is not None else [(tr.x0 or 0) + (tr.dx or 1) * j for j in range(w)]
            ys = list(tr.y) if tr.y is not None else [(tr.y0 or 0) + (tr.dy or 1) * i for i in range(h)]
            text = tr.text if tr.text is not None else [[fmt(v) for v in row] for row in z]
            cells = {(ys[i], xs[j]): _clean(text[i][j]) for i in range(h) for j in range(w)}
        elif tr.type == "scatter" and "text" in (tr.mode or "") and tr.text is not None and tr.x is not None:
            if len(tr.x) > 400:
                continue
            cells = {(y, x): _clean(v) for x, y, v in zip(tr.x, tr.y, tr.text)}
        else:
            continue
        key = (tr.xaxis or "x", tr.yaxis or "y")
        g = groups.setdefault(key, {"cells": {}})
        for rc, v in cells.items():
            if v or rc not in g["cells"]:
                g["cells"][rc] = v
    out = []
    for (xa, _), g in groups.items():
        rows = sorted({r for r, _ in g["cells"]}, key=_sort_key)
        cols = sorted({c for _, c in g["cells"]}, key=_sort_key)
        axis = fig.layout["xaxis" + xa[1:]] if len(xa) > 1 else fig.layout.xaxis
        title = axis.title.text if axis is not None and axis.title is not None else None
        out.append(dict(title=title or "", rows=[fmt(r) if isinstance(r, (int, float)) else str(r) for r in rows],
                        cols=[fmt(c) if isinstance(c, (int, float)) else str(c) for c in cols],
                        cells=[[g["cells"].get((r, c), "") for c in cols] for r in rows]))
    return out


def _sort_key(v):
    return (0, float(v)) if isinstance(v, (int, float, np.number)) else (1, str(v))
