"""Figures for the sliding-window stepper: the grid with its padding ring and window, the products
of one step, and the output filling in. Shared by the Stride & padding and the Pooling pages.

Every user-visible word comes in through ``labels`` (a dict; the pages fill it from the catalogue).
"""
from __future__ import annotations

import numpy as np

from explainer.figures import fast_figure
from explainer.figures.style import BLUES, DIVERGING, HIGHLIGHT, MUTED, PALETTE, PICK, fmt, margins, outline
from explainer.i18n import translate
from explainer.maths.stepper import INPUT, INSERTED, OUTSIDE, PADDING, Step, Walk

WINDOW = HIGHLIGHT  # the window's taps; PICK (style): max pooling's chosen cell / the output cell being filled
WINDOW_FILL = "rgba(213, 94, 0, 0.10)"
UNCOVERED = "rgba(204, 121, 167, 0.25)"  # reddish purple, dotted outline: rows/columns no window covers
UNCOVERED_LINE = "rgba(204, 121, 167, 0.9)"
ROLE_COLOURS = {PADDING: "#fde9b6", INSERTED: "#d9f2d0", OUTSIDE: "#eeeeee"}
SCALES = {"Blues": BLUES, "RdBu": DIVERGING,
          "Oranges": [[0.0, "#fff5eb"], [1.0, "#fd8d3c"]]}


LEGEND = dict(x=1.02, xanchor="left", y=0, yanchor="bottom", bgcolor="rgba(255,255,255,0.8)")


def _scale(name):
    return SCALES.get(name, name) if isinstance(name, str) else name

# The words the builders put on a figure (axis and colour-bar titles, legend entries); the catalogue key of
# each is ``stepper.lab_<name>``. Pages pass ``labels_for(lang)`` (ui.stepper.figure_labels()).
LABEL_KEYS = ("row", "column", "value", "padding", "inserted", "outside", "window", "uncovered", "output", "product",
              "input", "weight", "channel", "map", "picked", "not_counted")


def labels_for(lang: str) -> dict:
    """Every figure word in ``lang``, from the text catalogue."""
    return {k: translate(f"stepper.lab_{k}", lang) for k in LABEL_KEYS}


def _labels(labels: dict) -> dict:
    missing = set(LABEL_KEYS) - set(labels)
    if missing:
        raise KeyError(f"figure labels missing: {sorted(missing)} (use labels_for(lang))")
    return labels


def _times(v: float, w: float) -> str:
    """``v×w`` with a negative factor in brackets: ``6×(−1)``."""
    a, b = fmt(v), fmt(w)
    return f"{a if v >= 0 else '(' + a + ')'}×{b if w >= 0 else '(' + b + ')'}"


def _short(v: float, short: bool) -> str:
    """``fmt(v)``; with ``short``, fractions lose their leading zero (``.33``, ``−.11``) as in the tutorials."""
    text = fmt(v)
    if short and "." in text:
        text = text.replace("−0.", "−.") if text.startswith("−0.") else text.replace("0.", ".", 1) if text.startswith("0.") else text
    return text


def _texts(z: np.ndarray) -> list[list[str]]:
    return [[fmt(v) for v in row] for row in z]


def _font(n: int) -> int:
    return 15 if n <= 6 else 13 if n <= 9 else 11 if n <= 13 else 9 if n <= 18 else 7


def _rect(x0, y0, x1, y1, colour, width=3, fill=None, dash=None, xref="x", yref="y") -> dict:
    return outline(x0, y0, x1, y1, color=colour, width=width, fill=fill, dash=dash, xref=xref, yref=yref)


def _legend_marker(name: str, colour: str, symbol: str = "square", line: str | None = None) -> dict:
    return dict(type="scatter", x=[None], y=[None], mode="markers", name=name, showlegend=True,
                marker=dict(color=colour, symbol=symbol, size=13, line=dict(color=line or colour, width=2)))


def _axes(n_rows: int, n_cols: int, x0: int, y0: int, lab: dict, axis: str = "", domain=None) -> dict:
    xa = dict(title=dict(text=lab["column"]), showgrid=False, zeroline=False, constrain="domain",
              tickmode="linear", tick0=x0, dtick=1 if n_cols <= 14 else 2)
    ya = dict(title=dict(text=lab["row"]), showgrid=False, zeroline=False, autorange="reversed",
              scaleanchor=f"x{axis}", constrain="domain", tickmode="linear", tick0=y0, dtick=1 if n_rows <= 14 else 2)
    if domain is not None:
        xa["domain"] = domain
        xa["anchor"] = f"y{axis}"
        ya["anchor"] = f"x{axis}"
    return {f"xaxis{axis}": xa, f"yaxis{axis}": ya}


def _cell_texts(walk: Walk, grid: np.ndarray, roles: np.ndarray, is_input: np.ndarray):
    """The numbers shown in the cells: ``(on the input's heatmap, on the other cells' heatmap)`` (max pooling's
    padding reads −∞; cells outside the walk are blank)."""
    hg, wg = roles.shape
    text = _texts(grid)
    if walk.kind == "pool" and walk.mode == "max":
        text = [[("−∞" if roles[i, j] != INPUT else text[i][j]) for j in range(wg)] for i in range(hg)]
    for i, j in zip(*np.nonzero(roles == OUTSIDE)):
        text[i][j] = ""
    text_in = [[text[i][j] if is_input[i, j] else "" for j in range(wg)] for i in range(hg)]
    text_other = [[text[i][j] if not is_input[i, j] else "" for j in range(wg)] for i in range(hg)]
    return text_in, text_other


def _other_cells(roles: np.ndarray, is_input: np.ndarray, xs, ys, text_other, hover_role, role_names: dict,
                 numbers: bool, lab: dict) -> list[dict]:
    """The padding ring, inserted zeros and cells outside the walk: one heatmap in their role colours, then a legend
    entry per role (nothing when every cell is input)."""
    other = ~is_input
    if not other.any():
        return []
    hg, wg = roles.shape
    codes = sorted({int(r) for r in np.unique(roles[other])})
    scale, z_other = [], np.where(other, roles.astype(float), np.nan)
    for idx, code in enumerate(codes):
        z_other[roles == code] = idx
        scale += [[idx / max(len(codes), 1), ROLE_COLOURS[code]], [(idx + 1) / max(len(codes), 1), ROLE_COLOURS[code]]]
    data = [dict(type="heatmap", x=xs, y=ys, z=z_other, colorscale=scale, zmin=0, zmax=len(codes),
                 showscale=False, xgap=1, ygap=1, text=text_other, customdata=hover_role,
                 texttemplate="%{text}" if numbers else None,
                 textfont=dict(size=_font(max(hg, wg)), color="#7a5c00") if numbers else None,
                 hovertemplate=f"{lab['row']} %{{y}}, {lab['column']} %{{x}}<br>%{{customdata}}: %{{text}}"
                               "<extra></extra>")]
    for code in codes:
        data.append(_legend_marker(role_names[code], ROLE_COLOURS[code], line="#b8b8b8"))
    return data


def _uncovered_marks(walk: Walk, xs, ys, oy: int, ox: int, lab: dict) -> tuple[list[dict], list[dict]]:
    """``(shapes, legend)``: the input rows and columns no window ever covers, shaded, and their legend entry."""
    shapes = []
    rows, cols = walk.uncovered()
    sy, sx = walk.spacing
    for r in rows:
        g = walk.origin[0] + r * sy - oy
        shapes.append(_rect(xs[0], g, xs[-1], g, UNCOVERED_LINE, 1, UNCOVERED, "dot"))
    for c in cols:
        g = walk.origin[1] + c * sx - ox
        shapes.append(_rect(g, ys[0], g, ys[-1], UNCOVERED_LINE, 1, UNCOVERED, "dot"))
    return shapes, ([_legend_marker(lab["uncovered"], UNCOVERED, line=UNCOVERED_LINE)] if rows or cols else [])


def _window_marks(walk: Walk, step: Step, oy: int, ox: int, lab: dict) -> tuple[list[dict], list[dict]]:
    """``(shapes, legend)``: the window (each tap outlined when dilated) and max pooling's pick, with their legend
    entries."""
    shapes = []
    r0, r1, c0, c1 = step.rows[0] - oy, step.rows[-1] - oy, step.cols[0] - ox, step.cols[-1] - ox
    if walk.dilation != (1, 1):
        shapes.append(_rect(c0, r0, c1, r1, WINDOW, 1, None, "dash"))
        for r in step.rows:
            for c in step.cols:
                shapes.append(_rect(c - ox, r - oy, c - ox, r - oy, WINDOW, 3))
    else:
        shapes.append(_rect(c0, r0, c1, r1, WINDOW, 4, WINDOW_FILL))
    legend = [_legend_marker(lab["window"], WINDOW_FILL, line=WINDOW)]
    if step.pick is not None:
        i, j = step.pick
        shapes.append(_rect(step.cols[j] - ox, step.rows[i] - oy, step.cols[j] - ox, step.rows[i] - oy, PICK, 4))
        legend.append(_legend_marker(lab["picked"], "white", line=PICK))
    return shapes, legend


def grid_figure(walk: Walk, step: Step, *, channel: int = 0, labels: dict, title: str | None = None,
                colorscale: str = "Blues", show_uncovered: bool = True, numbers: bool | None = None,
                height: int | None = None, compact: bool = False):
    """The grid the window slides over (one channel), with the padding ring / inserted zeros in
    their own colours, the window's taps outlined, max pooling's pick marked and the input rows and
    columns no window ever covers shaded. Axes count input pixels (padding at −1, −2, … and ≥ n).
    ``compact``: no colour bar, legend or axis titles (for several channels side by side)."""
    lab = _labels(labels)
    grid, roles = walk.grid[channel], walk.roles
    hg, wg = roles.shape
    stuffed = walk.spacing != (1, 1)
    oy, ox = (0, 0) if stuffed else walk.origin
    xs, ys = list(range(-ox, wg - ox)), list(range(-oy, hg - oy))
    numbers = max(hg, wg) <= 20 if numbers is None else numbers
    is_input = roles == INPUT
    z_in = np.where(is_input, grid, np.nan)
    text_in, text_other = _cell_texts(walk, grid, roles, is_input)
    finite = grid[is_input]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    role_names = {PADDING: lab["padding"], INSERTED: lab["inserted"], OUTSIDE: lab["outside"], INPUT: lab["input"]}
    hover_role = [[role_names[int(r)] for r in row] for row in roles]
    data = [dict(type="heatmap", x=xs, y=ys, z=z_in, colorscale=_scale(colorscale), zmin=lo, zmax=hi if hi > lo else lo + 1,
                 colorbar=dict(title=dict(text=lab["value"]), thickness=12, len=0.5, y=1, yanchor="top"), xgap=1, ygap=1,
                 text=text_in, customdata=hover_role, texttemplate="%{text}" if numbers else None,
                 textfont=dict(size=_font(max(hg, wg))) if numbers else None,
                 hovertemplate=f"{lab['row']} %{{y}}, {lab['column']} %{{x}}<br>{lab['value']} = %{{text}}"
                               "<extra>%{customdata}</extra>")]
    data += _other_cells(roles, is_input, xs, ys, text_other, hover_role, role_names, numbers, lab)
    shapes, legend = _uncovered_marks(walk, xs, ys, oy, ox, lab) if show_uncovered else ([], [])
    window_shapes, window_legend = _window_marks(walk, step, oy, ox, lab)
    shapes, data = shapes + window_shapes, data + legend + window_legend
    layout = dict(margin=margins(title=bool(title)), plot_bgcolor="white",
                  height=height or int(min(520, max(300, 34 * hg + 120))), shapes=shapes,
                  legend=LEGEND,
                  **_axes(hg, wg, xs[0], ys[0], lab))
    if compact:
        data[0]["showscale"] = False
        layout.update(showlegend=False, margin=dict(l=30, r=5, t=40 if title else 5, b=25))
        layout["xaxis"]["title"] = None
        layout["yaxis"]["title"] = None
    if title:
        layout["title"] = dict(text=title)
    return fast_figure(data, layout)


def window_figure(walk: Walk, step: Step, *, labels: dict, title: str | None = None,
                  height: int | None = None):
    """One step's arithmetic: for a convolution, each input channel's ``value × weight`` products
    side by side; for pooling, the window's values with the maximum (or the counted cells) marked."""
    lab = _labels(labels)
    if step.products is not None:
        grids, names = step.products, [lab["channel"].format(c=c) for c in range(step.products.shape[0])]
        texts = [[[f"{_times(v, w)}<br><b>{fmt(p)}</b>" for v, w, p in zip(vr, wr, pr)]
                  for vr, wr, pr in zip(vals, ws, prods)]
                 for vals, ws, prods in zip(step.values, step.weights, step.products)]
        hover = f"{lab['input']} × {lab['weight']} = %{{text}}<extra>%{{customdata}}</extra>"
    else:
        grids, names = step.values, [lab["window"]]
        texts = [_texts(step.values[0])]
        hover = f"{lab['value']} = %{{text}}<extra>%{{customdata}}</extra>"
    n = grids.shape[0]
    kh, kw = grids.shape[1:]
    lim = float(np.abs(grids[np.isfinite(grids)]).max()) if np.isfinite(grids).any() else 1.0
    lim = lim or 1.0
    data, layout, shapes = [], {}, []
    gap = 0.06
    width = (1 - gap * (n - 1)) / n
    for c in range(n):
        axis = "" if c == 0 else str(c + 1)
        dom = [c * (width + gap), c * (width + gap) + width]
        z = grids[c]
        data.append(dict(type="heatmap", z=np.where(np.isfinite(z), z, np.nan), x=list(range(kw)), y=list(range(kh)),
                         xaxis=f"x{axis}", yaxis=f"y{axis}", colorscale=_scale("RdBu" if step.products is not None else "Oranges"),
                         zmid=0 if step.products is not None else None, zmin=-lim if step.products is not None else None,
                         zmax=lim if step.products is not None else None, showscale=c == n - 1,
                         colorbar=dict(title=dict(text=lab["product"] if step.products is not None else lab["value"]),
                                       thickness=12, len=0.9, y=1, yanchor="top"),
                         text=texts[c], texttemplate="%{text}", customdata=[[names[c]] * kw] * kh,
                         textfont=dict(size=_font(max(kh, kw) * (2 if step.products is not None else 1))),
                         xgap=2, ygap=2, hovertemplate=hover))
        ax = _axes(kh, kw, 0, 0, lab, axis, dom)
        ax[f"xaxis{axis}"]["title"] = dict(text=names[c] if n > 1 else lab["column"])
        if c:
            ax[f"yaxis{axis}"]["title"] = None
        layout.update(ax)
    if step.pick is not None:
        i, j = step.pick
        shapes.append(_rect(j, i, j, i, PICK, 4))
        data.append(_legend_marker(lab["picked"], "white", line=PICK))
    if step.counted is not None and not step.counted.all():
        for i, j in zip(*np.nonzero(~step.counted)):
            shapes.append(_rect(j, i, j, i, MUTED, 1, "rgba(150,150,150,0.5)", "dot"))
        data.append(_legend_marker(lab["not_counted"], "rgba(150,150,150,0.5)", line=MUTED))
    layout.update(margin=margins(title=bool(title)), plot_bgcolor="white", shapes=shapes,
                  height=height or int(min(480, max(220, (70 if step.products is not None else 45) * kh + 110))),
                  legend=LEGEND)
    if title:
        layout["title"] = dict(text=title)
    return fast_figure(data, layout)


def output_figure(out: np.ndarray, filled: int, *, labels: dict, title: str | None = None,
                  colorscale: str = "RdBu", zmid: float | None = 0.0, numbers: bool | None = None,
                  height: int | None = None, map_titles: list[str] | None = None, outline_current: bool = True):
    """The output maps ``(K, Ho, Wo)`` side by side; only the first ``filled`` cells (in step order)
    are shown, the last of them outlined as the cell this step fills (``outline_current``).
    ``map_titles``: one axis title per map (default: "output map k" when there are several)."""
    lab = _labels(labels)
    out = np.asarray(out, dtype=float)
    if out.ndim == 2:
        out = out[None]
    k, ho, wo = out.shape
    flat = np.arange(out.size).reshape(out.shape)
    shown = np.where(flat < filled, out, np.nan)
    finite = out[np.isfinite(out)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if zmid is not None:
        lim = max(abs(lo - zmid), abs(hi - zmid)) or 1.0
        lo, hi = zmid - lim, zmid + lim
    numbers = max(ho, wo) <= 20 if numbers is None else numbers
    gap = 0.08
    width = (1 - gap * (k - 1)) / k
    cell_px = 640 * width / max(wo, 1)  # about how wide a cell is in the page's column
    font = int(min(15, max(8, cell_px * 0.4)))
    data, layout, shapes = [], {}, []
    for m in range(k):
        axis = "" if m == 0 else str(m + 1)
        texts = [[_short(v, k > 1) if np.isfinite(v) else "" for v in row] for row in shown[m]]
        data.append(dict(type="heatmap", z=shown[m], x=list(range(wo)), y=list(range(ho)), xaxis=f"x{axis}",
                         yaxis=f"y{axis}", colorscale=_scale(colorscale), zmin=lo, zmax=hi if hi > lo else lo + 1,
                         showscale=m == k - 1, colorbar=dict(title=dict(text=lab["output"]), thickness=12, len=0.8),
                         text=texts, texttemplate="%{text}" if numbers else None,
                         textfont=dict(size=font) if numbers else None, xgap=1, ygap=1,
                         hovertemplate=f"{lab['row']} %{{y}}, {lab['column']} %{{x}}<br>{lab['output']} = %{{text}}"
                                       "<extra></extra>"))
        # the unfilled cells: a light frame so the learner sees the whole output shape from the start
        frame = outline(0, 0, wo - 1, ho - 1, color=MUTED, width=1, xref=f"x{axis}", yref=f"y{axis}")
        shapes.append({**frame, "layer": "below"})
        ax = _axes(ho, wo, 0, 0, lab, axis, [m * (width + gap), m * (width + gap) + width])
        if map_titles is not None:
            ax[f"xaxis{axis}"]["title"] = dict(text=map_titles[m])
        elif k > 1:
            ax[f"xaxis{axis}"]["title"] = dict(text=lab["map"].format(k=m))
        if m:
            ax[f"yaxis{axis}"]["title"] = None
        layout.update(ax)
    if filled > 0 and outline_current:
        m, r, c = np.unravel_index(min(filled, out.size) - 1, out.shape)
        axis = "" if m == 0 else str(m + 1)
        shapes.append(_rect(int(c), int(r), int(c), int(r), PICK, 4, xref=f"x{axis}", yref=f"y{axis}"))
    layout.update(margin=margins(title=bool(title)), plot_bgcolor="white", shapes=shapes,
                  height=height or int(min(420, max(220, 40 * ho / max(1, k ** 0.5) + 120))))
    if title:
        layout["title"] = dict(text=title)
    return fast_figure(data, layout)


def equation(step: Step, max_terms: int = 12) -> str:
    """Step ``n``'s sum written out: ``1×0 + 2×1 + … + b = 7`` (long sums elided in the middle)."""
    if step.products is None:
        vals = [fmt(v) for v in step.values[0].ravel()]
        return ", ".join(vals) + f" → {fmt(step.result)}"
    terms = [_times(v, w) for v, w in zip(step.values.ravel(), step.weights.ravel())]
    if len(terms) > max_terms:
        terms = terms[: max_terms // 2] + ["…"] + terms[-max_terms // 2:]
    text = " + ".join(terms)
    if step.bias:
        text += f" + {fmt(step.bias)}"
    return f"{text} = {fmt(step.result)}"


def field_figure(mask: np.ndarray, row_start: int, col_start: int, size: int, *, labels: dict,
                 title: str | None = None, field_label: str, span_label: str,
                 height: int | None = None):
    """The input with one output cell's receptive field: exact pixels filled, the span outlined
    (the span may reach into the padding, beyond the image)."""
    lab = _labels(labels)
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    z = mask.astype(float)
    text = [[field_label if v else "" for v in row] for row in mask]
    data = [dict(type="heatmap", z=z, x=list(range(w)), y=list(range(h)), zmin=0, zmax=1, xgap=1, ygap=1,
                 colorscale=[[0, "#f2f2f2"], [1, PALETTE[0]]], showscale=False, text=text,
                 hovertemplate=f"{lab['row']} %{{y}}, {lab['column']} %{{x}}<br>%{{text}}<extra></extra>"),
            _legend_marker(field_label, PALETTE[0]), _legend_marker(span_label, "white", line=WINDOW)]
    shapes = [_rect(col_start, row_start, col_start + size - 1, row_start + size - 1, WINDOW, 3, None, "dash")]
    lo_x, hi_x = min(-0.5, col_start - 0.5), max(w - 0.5, col_start + size - 0.5)
    lo_y, hi_y = min(-0.5, row_start - 0.5), max(h - 0.5, row_start + size - 0.5)
    ax = _axes(h, w, 0, 0, lab)
    span = max(hi_x - lo_x, hi_y - lo_y)
    tick = 1 if span <= 12 else 2 if span <= 24 else 4 if span <= 48 else 8
    ax["xaxis"].update(range=[lo_x - 0.5, hi_x + 0.5], dtick=tick, tick0=0)
    ax["yaxis"].update(range=[hi_y + 0.5, lo_y - 0.5], autorange=None, dtick=tick, tick0=0)
    # the legend sits at the very bottom of the figure, below the x-axis title (not over it)
    layout = dict(margin={**margins(title=bool(title), left=45, right=5), "b": 85}, plot_bgcolor="white", shapes=shapes,
                  height=(height or 440) + 30,
                  legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0.01, yanchor="bottom"), **ax)
    if title:
        layout["title"] = dict(text=title)
    return fast_figure(data, layout)


def cell_picker(n_rows: int, n_cols: int, row: int, col: int, *, labels: dict,
                title: str | None = None, height: int = 300):
    """An output map as clickable squares (a scatter: Plotly heatmaps report no clicks); the picked cell in orange."""
    lab = _labels(labels)
    rr, cc = np.mgrid[:n_rows, :n_cols]
    picked = (rr == row) & (cc == col)
    size = int(max(6, min(40, 200 / max(n_rows, n_cols, 1))))
    data = [dict(type="scatter", mode="markers", x=cc.ravel().tolist(), y=rr.ravel().tolist(),
                 marker=dict(symbol="square", size=size, color=np.where(picked.ravel(), WINDOW, "#c6dbef").tolist(),
                             line=dict(color="#6b8fb3", width=1)),
                 hovertemplate=f"{lab['row']} %{{y}}, {lab['column']} %{{x}}<extra></extra>", showlegend=False)]
    ax = _axes(n_rows, n_cols, 0, 0, lab)
    ax["xaxis"].update(range=[-0.7, n_cols - 0.3], dtick=1 if n_cols <= 12 else 4)
    ax["yaxis"].update(range=[n_rows - 0.3, -0.7], autorange=None, dtick=1 if n_rows <= 12 else 4)
    layout = dict(margin=margins(title=bool(title), left=40), plot_bgcolor="white", height=height,
                  clickmode="event+select", dragmode=False, **ax)
    if title:
        layout["title"] = dict(text=title)
    return fast_figure(data, layout)
