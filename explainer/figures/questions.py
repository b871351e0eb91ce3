"""What the learner sees when a question is asked, as a small figure a class poll can draw on a phone or a projector.

The figure's small state (a dict of plain values with its ``kind``) is taken from a page's state by
``explainer.questions.figure_state(qid, state)`` (its registry ``FIGURES``, beside the questions: it reads layers
above this one), None where the question has no figure or the state is too large to draw
(``limits.POLL_FIGURE_SIDE``); ``Question.pose`` keeps it in ``Posed.figure`` and a poll stores it with the question.

``checked(d)`` validates a stored state (a database row could hold anything): the exact keys of its kind, each of
its type and range; anything else is a ``ValueError``. ``build(d, words)`` draws a checked state (``words``: the
axis titles and the title in the learner's language; the library holds no UI words); ``summary(d)`` gives the
catalogue key (``poll.figure_<kind>``) and the parameters of its text alternative.

The figure shows what the page shows **before** the answer: the input, the window, the stride — never the output,
the map or the verdict the question asks for.

Kinds:

- ``window``: an n×n input with its padding ring, the kernel's (dilated) cells at the first position and the next
  position one stride on (``stride.out_size``, ``pooling.out_size``, ``kernels.out_width``);
- ``xo``: the 9×9 X/O picture, with the 3×3 patch a map value is asked at (``xo.*``);
- ``values``: a small grid of numbers with a window outlined (``pooling.first_window``, ``kernels.edge_value``);
- ``pixel``: a w×w image's grid with one pixel marked (``images.flat_index``);
- ``swatch``: one pixel's colour (``images.grey``, ``images.normalised``: its grey);
- ``stack``: a layer's kernels, k rows of c channel slices of f×f weights (``stride.params``);
- ``spread``: a transposed convolution's n×n input spread s cells apart (its inserted zeros grey) and the k×k kernel
  beside it (``stride.transposed_size``);
- ``surface``: the loss surface the optimizers race on (its levels 0–100 on a coarse grid, on the page's log scale
  where the page uses one) with the start marked (``optimizers.*``);
- ``layers``: the model's layers as the layer table names them, without their shapes and counts (``train.params``,
  ``train.first_values``).
The X/O picture also shows ``pooling.peak_kept``'s shifted picture (the input, not its maps), and ``values`` the by-hand
example's input with its kernel's first window and the next one a stride on (``backprop.y_size``) or its ∂L/∂Y with
no window (``backprop.grad_b``: the sum asked for is not drawn).

- ``image``: the picture a network reads, grey (``network.*``: the page hands it over with the softmax, which is the
  answer and is not drawn).
- ``batches``: a training's epochs, one strip each of its n images: the first batch of bs marked, the images after
  the last whole batch grey (``train.updates``; the number of batches is not drawn).
"""
from __future__ import annotations

import math
import re

import numpy as np

from explainer import limits
from explainer.figures import fast_figure, heatmap
from explainer.figures.style import HIGHLIGHT, PALETTE, outline

SIDE = limits.POLL_FIGURE_SIDE
VALUES_SIDE = 16  # a grid of numbers (each printed in its cell) is at most this many rows and columns
KINDS = ("window", "xo", "values", "pixel", "swatch", "stack", "spread", "surface", "layers", "image", "batches")
STRIP = 100  # a ``batches`` figure's strip: the training images in this many cells
SURFACE_SIDE = 24  # a loss surface's grid (levels 0–100): small enough to keep with a poll's question
LAYERS_MAX = 32  # layers named in a ``layers`` figure
LAYER_CHARS = 60  # one layer's name
_LAYER_TEXT = re.compile(r"[0-9A-Za-z :×→,.()_-]{1,%d}" % LAYER_CHARS)  # the layer table's names: no markup
_XO_SIDE = 9


def _int(d: dict, key: str, lo: int, hi: int) -> int:
    v = d.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise ValueError(f"figure: {key} must be a whole number from {lo} to {hi}")
    return v


def _keys(d: dict, keys: set, optional: set = frozenset()) -> None:
    if not keys | {"kind"} <= set(d) <= keys | optional | {"kind"}:
        raise ValueError("figure: unexpected or missing fields")


def _check_window(d: dict) -> dict:
    _keys(d, {"n", "k", "s", "p", "d"})
    n, p = _int(d, "n", 1, SIDE), _int(d, "p", 0, SIDE)
    if n + 2 * p > SIDE:
        raise ValueError("figure: the padded input is too large")
    k, dil, s = _int(d, "k", 1, n + 2 * p), _int(d, "d", 1, SIDE), _int(d, "s", 1, SIDE)
    return {"kind": "window", "n": n, "k": k, "s": s, "p": p, "d": dil}


def _check_xo(d: dict) -> dict:
    _keys(d, {"grid", "patch"})
    grid = d["grid"]
    if not isinstance(grid, str) or len(grid) != _XO_SIDE ** 2 or set(grid) - {"0", "1"}:
        raise ValueError("figure: an X/O grid is 81 characters 0 or 1")
    patch = d["patch"]
    if patch is not None:
        if not isinstance(patch, list) or len(patch) != 2:
            raise ValueError("figure: a patch is [row, column]")
        patch = [_int({"r": patch[0]}, "r", 0, _XO_SIDE - 3), _int({"c": patch[1]}, "c", 0, _XO_SIDE - 3)]
    return {"kind": "xo", "grid": grid, "patch": patch}


def _check_values(d: dict) -> dict:
    _keys(d, {"x", "f", "p", "row", "col"}, {"s"})
    x = d["x"]
    if not isinstance(x, list) or not 0 < len(x) <= VALUES_SIDE or not all(isinstance(r, list) for r in x) \
            or not 0 < len(x[0]) <= VALUES_SIDE or any(len(r) != len(x[0]) for r in x):
        raise ValueError(f"figure: the values are a rectangular grid of at most {VALUES_SIDE}×{VALUES_SIDE}")
    if not all(type(v) in (int, float) and math.isfinite(v) and abs(v) <= 1e6 for r in x for v in r):
        raise ValueError("figure: the values are finite numbers")
    p = _int(d, "p", 0, 3)
    h, w = len(x) + 2 * p, len(x[0]) + 2 * p
    if max(h, w) > VALUES_SIDE + 2 * 3:
        raise ValueError("figure: the padded grid is too large")
    f = _int(d, "f", 0, min(h, w))  # 0: no window
    row, col = _int(d, "row", 0, h - max(f, 1)), _int(d, "col", 0, w - max(f, 1))
    out = {"kind": "values", "x": [list(r) for r in x], "f": f, "p": p, "row": row, "col": col}
    if "s" in d:  # the next window, a stride on
        out["s"] = _int(d, "s", 1, VALUES_SIDE + 2 * 3)
    return out


def _check_swatch(d: dict) -> dict:
    _keys(d, {"rgb"})
    rgb = d["rgb"]
    if not isinstance(rgb, list) or len(rgb) != 3:
        raise ValueError("figure: a colour is [red, green, blue]")
    return {"kind": "swatch", "rgb": [_int({"v": v}, "v", 0, 255) for v in rgb]}


def _check_stack(d: dict) -> dict:
    _keys(d, {"k", "c", "f"})
    k, c, f = _int(d, "k", 1, SIDE), _int(d, "c", 1, SIDE), _int(d, "f", 1, SIDE)
    if max(k, c) * (f + 1) - 1 > SIDE:
        raise ValueError("figure: too many weights to draw")
    return {"kind": "stack", "k": k, "c": c, "f": f}


def _check_spread(d: dict) -> dict:
    _keys(d, {"n", "k", "s", "p", "op"})
    n, k, s = _int(d, "n", 1, SIDE), _int(d, "k", 1, SIDE), _int(d, "s", 1, SIDE)
    p, op = _int(d, "p", 0, SIDE), _int(d, "op", 0, SIDE)
    if (n - 1) * s + 1 + 1 + k > SIDE:
        raise ValueError("figure: the spread input is too large")
    return {"kind": "spread", "n": n, "k": k, "s": s, "p": p, "op": op}


def _check_surface(d: dict) -> dict:
    _keys(d, {"z", "start"})
    z = d["z"]
    if not isinstance(z, list) or len(z) != SURFACE_SIDE or not all(isinstance(r, list) and len(r) == SURFACE_SIDE
                                                                    for r in z):
        raise ValueError(f"figure: a surface is {SURFACE_SIDE}×{SURFACE_SIDE} levels")
    levels = [[_int({"v": v}, "v", 0, 100) for v in r] for r in z]
    start = d["start"]
    if not isinstance(start, list) or len(start) != 2 or not all(
            type(v) in (int, float) and math.isfinite(v) and -0.5 <= v <= SURFACE_SIDE - 0.5 for v in start):
        raise ValueError("figure: the start is [column, row] on the grid")
    return {"kind": "surface", "z": levels, "start": [float(v) for v in start]}


def _check_image(d: dict) -> dict:
    _keys(d, {"x"})
    x = d["x"]
    if not isinstance(x, list) or not 0 < len(x) <= SIDE or not all(isinstance(r, list) for r in x) \
            or not 0 < len(x[0]) <= SIDE or any(len(r) != len(x[0]) for r in x):
        raise ValueError(f"figure: an image is a rectangular grid of at most {SIDE}×{SIDE}")
    return {"kind": "image", "x": [[_int({"v": v}, "v", 0, 255) for v in r] for r in x]}


def _check_batches(d: dict) -> dict:
    _keys(d, {"n", "bs", "epochs"})
    n = _int(d, "n", 1, limits.TRAIN_SIZE_MAX)
    e = d.get("epochs")  # whole, or in quarters (2.5: the last epoch ends halfway, as the Train page allows)
    if type(e) not in (int, float) or not (math.isfinite(e) and 1 <= e <= SIDE and float(4 * e).is_integer()):
        raise ValueError(f"figure: epochs must be a number of quarters from 1 to {SIDE}")
    return {"kind": "batches", "n": n, "bs": _int(d, "bs", 1, n), "epochs": int(e) if float(e).is_integer() else e}


def _check_layers(d: dict) -> dict:
    _keys(d, {"names"})
    names = d["names"]
    if not isinstance(names, list) or not 0 < len(names) <= LAYERS_MAX or not all(
            isinstance(v, str) and _LAYER_TEXT.fullmatch(v) for v in names):
        raise ValueError("figure: layers are 1 to LAYERS_MAX plain names")
    return {"kind": "layers", "names": list(names)}


def _check_pixel(d: dict) -> dict:
    _keys(d, {"w", "row", "col"})
    w = _int(d, "w", 1, SIDE)
    return {"kind": "pixel", "w": w, "row": _int(d, "row", 0, w - 1), "col": _int(d, "col", 0, w - 1)}


_CHECK = {"window": _check_window, "xo": _check_xo, "values": _check_values, "swatch": _check_swatch,
          "stack": _check_stack, "spread": _check_spread, "surface": _check_surface, "image": _check_image,
          "batches": _check_batches, "layers": _check_layers, "pixel": _check_pixel}


def checked(d) -> dict:
    """``d`` if it is a state ``build`` can draw (a copy with plain values), else ``ValueError``."""
    if not isinstance(d, dict) or d.get("kind") not in KINDS:
        raise ValueError("figure: unknown kind")
    return _CHECK[d["kind"]](d)


# ---------------------------------------------------------------- drawing
def _heatmap(words: dict, z, **options):
    """``heatmap`` with the poll figure's words and height (an option given here wins), as parts."""
    return heatmap(z, **{**words, **options}, parts=True)


_BARE = {"x_title": "", "y_title": ""}


def _draw_window(d: dict, words: dict, shapes: list) -> tuple:
    n, k, s, p, dil = d["n"], d["k"], d["s"], d["p"], d["d"]
    m = n + 2 * p
    z = np.zeros((m, m))
    z[p:p + n, p:p + n] = 1.0  # the input; the ring around it is padding
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#d0d0d0"], [1.0, "#ffffff"]], zmin=0, zmax=1, numbers=False,
                             showscale=False, hover=False)
    trace.update(xgap=1, ygap=1)
    span = dil * (k - 1)
    if k <= 8:  # each of the kernel's (dilated) cells
        for i in range(k):
            for j in range(k):
                if i * dil < m and j * dil < m:
                    shapes.append(outline(j * dil, i * dil, color=HIGHLIGHT, width=2, fill="rgba(213,94,0,0.45)"))
    elif span < m:  # a large kernel: its whole span, one shape (not k² of them)
        shapes.append(outline(0, 0, span, span, color=HIGHLIGHT, width=2, fill="rgba(213,94,0,0.3)"))
    if s + span < m:  # the next position, one stride to the right
        shapes.append(outline(s, 0, s + span, span, color=PALETTE[0], width=3, dash="dash"))
    if span < m:
        shapes.append(outline(0, 0, span, span, color=HIGHLIGHT, width=3))
    return trace, layout


def _draw_xo(d: dict, words: dict, shapes: list) -> tuple:
    z = np.array([1.0 if c == "1" else -1.0 for c in d["grid"]]).reshape(_XO_SIDE, _XO_SIDE)
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#ffffff"], [1.0, "#202020"]], zmin=-1, zmax=1,
                             numbers=False, showscale=False, number_format=".0f")
    trace.update(xgap=1, ygap=1)
    if d["patch"] is not None:
        r, c = d["patch"]
        shapes.append(outline(c, r, c + 2, r + 2, color=HIGHLIGHT, width=4))
    return trace, layout


def _draw_values(d: dict, words: dict, shapes: list) -> tuple:
    p, f = d["p"], d["f"]
    x = np.asarray(d["x"], dtype=float)
    z = np.full((x.shape[0] + 2 * p, x.shape[1] + 2 * p), np.nan)
    z[p:p + x.shape[0], p:p + x.shape[1]] = x
    trace, layout = _heatmap(words, z, colorscale="Blues", showscale=False)
    if f:
        shapes.append(outline(d["col"], d["row"], d["col"] + f - 1, d["row"] + f - 1, color=HIGHLIGHT, width=4))
        if "s" in d and d["col"] + d["s"] + f - 1 < z.shape[1]:  # the next window, a stride to the right
            c0 = d["col"] + d["s"]
            shapes.append(outline(c0, d["row"], c0 + f - 1, d["row"] + f - 1, color=PALETTE[0], width=3, dash="dash"))
    return trace, layout


def _draw_swatch(d: dict, words: dict, shapes: list) -> tuple:
    r, g, b = d["rgb"]
    colour = f"rgb({r},{g},{b})"
    trace, layout = _heatmap(words, np.zeros((1, 1)), colorscale=[[0.0, colour], [1.0, colour]], zmin=0, zmax=1,
                             numbers=False, showscale=False, hover=False)
    shapes.append(outline(0, 0, color="#7f7f7f", width=1))
    return trace, layout


def _draw_stack(d: dict, words: dict, shapes: list) -> tuple:
    k, c, f = d["k"], d["c"], d["f"]
    z = np.full((k * (f + 1) - 1, c * (f + 1) - 1), np.nan)  # a blank row and column between the slices
    for i in range(k):
        for j in range(c):
            z[i * (f + 1):i * (f + 1) + f, j * (f + 1):j * (f + 1) + f] = j  # one shade per input channel
    trace, layout = _heatmap(words, z, colorscale="Blues", zmin=-1.5, zmax=max(c - 1, 1), numbers=False,
                             showscale=False, hover=False)
    trace.update(xgap=1, ygap=1)
    for i in range(k):  # each kernel: one outline round its c slices
        shapes.append(outline(0, i * (f + 1), z.shape[1] - 1, i * (f + 1) + f - 1, color=PALETTE[i % 2 * 2],
                              width=2))
    return trace, layout


def _draw_spread(d: dict, words: dict, shapes: list) -> tuple:
    n, k, s = d["n"], d["k"], d["s"]
    m = (n - 1) * s + 1
    z = np.full((max(m, k), m + 1 + k), np.nan)
    z[:m, :m] = 0.0  # the zeros a stride of s inserts between the input's cells (grey)
    z[0:m:s, 0:m:s] = 1.0  # the input (white)
    z[:k, m + 1:] = 2.0  # the kernel, one blank column to the right (orange)
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#d0d0d0"], [0.5, "#ffffff"], [1.0, "#f0b08a"]], zmin=0,
                             zmax=2, numbers=False, showscale=False, hover=False)
    trace.update(xgap=1, ygap=1)
    shapes.append(outline(0, 0, m - 1, m - 1, color=PALETTE[0], width=2))
    shapes.append(outline(m + 1, 0, m + k, k - 1, color=HIGHLIGHT, width=3))
    return trace, layout


def _draw_surface(d: dict, words: dict, shapes: list) -> tuple:
    z = np.asarray(d["z"], dtype=float)
    trace, layout = _heatmap(words, z, colorscale="Viridis", zmin=0, zmax=100, numbers=False, showscale=False,
                             hover=False)
    x, y = d["start"]
    shapes.append(dict(type="circle", x0=x - 0.6, x1=x + 0.6, y0=y - 0.6, y1=y + 0.6, xref="x", yref="y",
                       line=dict(color="#ffffff", width=3), fillcolor=HIGHLIGHT, layer="above"))
    layout["yaxis"]["autorange"] = True  # y up, as the page's map draws the surface
    return trace, layout


def _draw_image(d: dict, words: dict, shapes: list) -> tuple:
    trace, layout = _heatmap(words, np.asarray(d["x"], float), colorscale="Greys", zmin=0, zmax=255, numbers=False,
                             showscale=False, hover=False)
    return trace, layout


def _draw_batches(d: dict, words: dict, shapes: list) -> tuple:
    n, bs, rows = d["n"], d["bs"], math.ceil(d["epochs"])
    z = np.zeros((rows, STRIP))  # one row per epoch: a pass over the n images (blue)
    first = max(1, int(round(STRIP * bs / n)))
    z[:, :first] = 1.0  # the first batch (orange)
    left = int(round(STRIP * (n % bs) / n))
    if left:
        z[:, STRIP - left:] = 2.0  # the images after the last whole batch (grey): no update of their own
    part = d["epochs"] - (rows - 1)
    if part < 1:
        z[-1, int(round(STRIP * part)):] = np.nan  # 2.5 epochs: the last strip ends halfway (blank)
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#c7dff0"], [0.5, "#f0b08a"], [1.0, "#bdbdbd"]], zmin=0,
                             zmax=2, **_BARE, numbers=False, showscale=False, hover=False,
                             height=min(words["height"], 40 + 24 * rows))
    trace.update(ygap=3)
    layout["yaxis"].update(scaleanchor=None)
    return trace, layout


def _draw_layers(d: dict, words: dict, shapes: list) -> tuple:
    names = d["names"]
    kinds = {}
    z = np.array([[kinds.setdefault(v.split(": ", 1)[-1].split(" ", 1)[0], len(kinds)) % 6] for v in names], float)
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#e8f1f8"], [1.0, "#c7dff0"]], zmin=0, zmax=5, **_BARE,
                             numbers=False, showscale=False, hover=False,
                             height=max(words["height"], 26 * len(names) + 20))
    trace.update(text=[[v] for v in names], texttemplate="%{text}", textfont=dict(size=14), xgap=0, ygap=2)
    layout["yaxis"].update(scaleanchor=None)
    layout["margin"] = dict(l=5, r=5, t=5, b=5)
    return trace, layout


def _draw_pixel(d: dict, words: dict, shapes: list) -> tuple:
    w = d["w"]
    z = np.zeros((w, w))
    z[d["row"], d["col"]] = 1.0
    trace, layout = _heatmap(words, z, colorscale=[[0.0, "#f4f4f4"], [1.0, HIGHLIGHT]], zmin=0, zmax=1, numbers=False,
                             showscale=False, hover=False)
    trace.update(xgap=1 if w <= 32 else 0, ygap=1 if w <= 32 else 0)
    shapes.append(outline(d["col"], d["row"], color=HIGHLIGHT, width=3))
    return trace, layout


_DRAW = {"window": _draw_window, "xo": _draw_xo, "values": _draw_values, "swatch": _draw_swatch, "stack": _draw_stack,
         "spread": _draw_spread, "surface": _draw_surface, "image": _draw_image, "batches": _draw_batches,
         "layers": _draw_layers, "pixel": _draw_pixel}


def build(d: dict, *, title: str, x_title: str, y_title: str, value_label: str, height: int = 300):
    """The figure of a checked state ``d`` (``checked``)."""
    d = checked(d)
    kind = d["kind"]
    shapes: list[dict] = []
    words = dict(title=title, x_title=x_title, y_title=y_title, value_label=value_label, height=height)
    trace, layout = _DRAW[kind](d, words, shapes)
    if kind in ("stack", "surface", "layers", "batches"):  # no rows and columns to read off: no ticks, no axis titles
        for axis in ("xaxis", "yaxis"):
            layout[axis].update(showticklabels=False, ticks="", dtick=None, title=dict(text=""))
    layout["shapes"] = shapes
    layout["dragmode"] = False
    return fast_figure([trace], layout)


def summary(d: dict) -> tuple[str, dict]:
    """The catalogue key (``poll.figure_<kind>``) and parameters of the figure's text alternative."""
    d = checked(d)
    kind = d["kind"]
    if kind == "window":
        return "poll.figure_window", {"n": d["n"], "p": d["p"], "k": d["k"], "d": d["d"], "s": d["s"]}
    if kind == "xo":
        on = d["grid"].count("1")
        if d["patch"] is None:
            return "poll.figure_xo", {"on": on}
        return "poll.figure_xo_patch", {"on": on, "row": d["patch"][0], "col": d["patch"][1]}
    if kind == "values":
        h, w = len(d["x"]), len(d["x"][0])
        if not d["f"]:
            return "poll.figure_values_plain", {"h": h, "w": w}
        if "s" in d:
            return "poll.figure_values_stride", {"h": h, "w": w, "p": d["p"], "f": d["f"], "s": d["s"]}
        return "poll.figure_values", {"h": h, "w": w, "p": d["p"], "f": d["f"], "row": d["row"], "col": d["col"]}
    if kind == "swatch":
        r, g, b = d["rgb"]
        return "poll.figure_swatch", {"r": r, "g": g, "b": b}
    if kind == "stack":
        return "poll.figure_stack", {"k": d["k"], "c": d["c"], "f": d["f"]}
    if kind == "spread":
        return "poll.figure_spread", {x: d[x] for x in ("n", "k", "s", "p", "op")}
    if kind == "surface":
        return "poll.figure_surface", {}
    if kind == "image":
        return "poll.figure_image", {"h": len(d["x"]), "w": len(d["x"][0])}
    if kind == "batches":
        return "poll.figure_batches", {"n": d["n"], "bs": d["bs"], "epochs": d["epochs"]}
    if kind == "layers":
        return "poll.figure_layers", {"names": "; ".join(d["names"])}
    return "poll.figure_pixel", {"w": d["w"], "row": d["row"], "col": d["col"]}
