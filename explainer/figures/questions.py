"""What the learner sees when a question is asked, as a small figure a class poll can draw on a phone or a projector.

One registry, ``BY_QUESTION`` (question id → its figure's kind and how to take the figure's small state from the
page's state). ``figure_state(qid, state)`` gives that small state (a dict of plain values with its ``kind``), or
None where the question has no figure or the state is too large to draw (``limits.POLL_FIGURE_SIDE``);
``explainer.questions.Question.pose`` keeps it in ``Posed.figure`` and a poll stores it with the question.

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
from typing import Callable

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


def checked(d) -> dict:
    """``d`` if it is a state ``build`` can draw (a copy with plain values), else ``ValueError``."""
    if not isinstance(d, dict) or d.get("kind") not in KINDS:
        raise ValueError("figure: unknown kind")
    kind = d["kind"]
    if kind == "window":
        _keys(d, {"n", "k", "s", "p", "d"})
        n, p = _int(d, "n", 1, SIDE), _int(d, "p", 0, SIDE)
        if n + 2 * p > SIDE:
            raise ValueError("figure: the padded input is too large")
        k, dil, s = _int(d, "k", 1, n + 2 * p), _int(d, "d", 1, SIDE), _int(d, "s", 1, SIDE)
        return {"kind": kind, "n": n, "k": k, "s": s, "p": p, "d": dil}
    if kind == "xo":
        _keys(d, {"grid", "patch"})
        grid = d["grid"]
        if not isinstance(grid, str) or len(grid) != _XO_SIDE ** 2 or set(grid) - {"0", "1"}:
            raise ValueError("figure: an X/O grid is 81 characters 0 or 1")
        patch = d["patch"]
        if patch is not None:
            if not isinstance(patch, list) or len(patch) != 2:
                raise ValueError("figure: a patch is [row, column]")
            patch = [_int({"r": patch[0]}, "r", 0, _XO_SIDE - 3), _int({"c": patch[1]}, "c", 0, _XO_SIDE - 3)]
        return {"kind": kind, "grid": grid, "patch": patch}
    if kind == "values":
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
        out = {"kind": kind, "x": [list(r) for r in x], "f": f, "p": p, "row": row, "col": col}
        if "s" in d:  # the next window, a stride on
            out["s"] = _int(d, "s", 1, VALUES_SIDE + 2 * 3)
        return out
    if kind == "swatch":
        _keys(d, {"rgb"})
        rgb = d["rgb"]
        if not isinstance(rgb, list) or len(rgb) != 3:
            raise ValueError("figure: a colour is [red, green, blue]")
        return {"kind": kind, "rgb": [_int({"v": v}, "v", 0, 255) for v in rgb]}
    if kind == "stack":
        _keys(d, {"k", "c", "f"})
        k, c, f = _int(d, "k", 1, SIDE), _int(d, "c", 1, SIDE), _int(d, "f", 1, SIDE)
        if max(k, c) * (f + 1) - 1 > SIDE:
            raise ValueError("figure: too many weights to draw")
        return {"kind": kind, "k": k, "c": c, "f": f}
    if kind == "spread":
        _keys(d, {"n", "k", "s", "p", "op"})
        n, k, s = _int(d, "n", 1, SIDE), _int(d, "k", 1, SIDE), _int(d, "s", 1, SIDE)
        p, op = _int(d, "p", 0, SIDE), _int(d, "op", 0, SIDE)
        if (n - 1) * s + 1 + 1 + k > SIDE:
            raise ValueError("figure: the spread input is too large")
        return {"kind": kind, "n": n, "k": k, "s": s, "p": p, "op": op}
    if kind == "surface":
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
        return {"kind": kind, "z": levels, "start": [float(v) for v in start]}
    if kind == "image":
        _keys(d, {"x"})
        x = d["x"]
        if not isinstance(x, list) or not 0 < len(x) <= SIDE or not all(isinstance(r, list) for r in x) \
                or not 0 < len(x[0]) <= SIDE or any(len(r) != len(x[0]) for r in x):
            raise ValueError(f"figure: an image is a rectangular grid of at most {SIDE}×{SIDE}")
        return {"kind": kind, "x": [[_int({"v": v}, "v", 0, 255) for v in r] for r in x]}
    if kind == "batches":
        _keys(d, {"n", "bs", "epochs"})
        n = _int(d, "n", 1, limits.TRAIN_SIZE_MAX)
        return {"kind": kind, "n": n, "bs": _int(d, "bs", 1, n), "epochs": _int(d, "epochs", 1, SIDE)}
    if kind == "layers":
        _keys(d, {"names"})
        names = d["names"]
        if not isinstance(names, list) or not 0 < len(names) <= LAYERS_MAX or not all(
                isinstance(v, str) and _LAYER_TEXT.fullmatch(v) for v in names):
            raise ValueError("figure: layers are 1 to LAYERS_MAX plain names")
        return {"kind": kind, "names": list(names)}
    _keys(d, {"w", "row", "col"})
    w = _int(d, "w", 1, SIDE)
    return {"kind": kind, "w": w, "row": _int(d, "row", 0, w - 1), "col": _int(d, "col", 0, w - 1)}


# ---------------------------------------------------------------- from a page's state
def _window(state: dict, k: str = "k", d: str | None = "d") -> dict:
    return {"kind": "window", "n": int(state["n"]), "k": int(state[k]), "s": int(state["s"]), "p": int(state["p"]),
            "d": int(state[d]) if d else 1}


def _edge(state: dict) -> dict:
    from explainer.data.images import sample

    img = sample(state.get("image", "step_edge"))
    if img.ndim != 2:
        raise ValueError("figure: a grey image")
    return {"kind": "values", "x": img.astype(int).tolist(), "f": 3, "p": 0, "row": int(state["row"]),
            "col": int(state["col"])}


def _pool_values(state: dict) -> dict:
    x = [[int(v) if float(v).is_integer() else round(float(v), 3) for v in r] for r in state["x"]]
    return {"kind": "values", "x": x, "f": int(state["f"]), "p": int(state["p"]), "row": 0, "col": 0}


def _shifted_xo(state: dict) -> dict:
    """``pooling.peak_kept``: the X or the O moved (dy, dx), its vacated cells off: the picture the maps are taken of."""
    from explainer.maths import xo
    from explainer.maths.pooling import shift

    base = xo.X if state["which"] == "x" else xo.O
    return {"kind": "xo", "grid": xo.grid_text(shift(base, int(state["dy"]), int(state["dx"]), fill=-1.0)), "patch": None}


def _surface(state: dict) -> dict:
    """The race's surface on a ``SURFACE_SIDE`` grid as levels 0–100 (log(1 + f − min) where the page draws it so), and
    the start in the grid's cells."""
    from explainer.learning import optim

    name = state["surface"]
    surf = optim.surface(name, kappa=float(state["kappa"])) if name == "quadratic" else optim.surface(name)
    _, _, z = optim.loss_grid(surf, SURFACE_SIDE)
    z = z - np.nanmin(z)
    if surf.log_scale:
        z = np.log1p(z)
    top = float(np.nanmax(z))
    levels = np.zeros_like(z) if not math.isfinite(top) or top <= 0 else np.nan_to_num(z / top, nan=1.0)
    (x0, x1), (y0, y1) = surf.bounds
    sx, sy = (float(v) for v in state["start"])
    col = (sx - x0) / (x1 - x0) * (SURFACE_SIDE - 1)
    row = (sy - y0) / (y1 - y0) * (SURFACE_SIDE - 1)
    return {"kind": "surface", "z": np.rint(100 * levels).astype(int).tolist(), "start": [round(col, 2), round(row, 2)]}


def _hand(state: dict) -> tuple:
    from explainer.learning import backprop as bp
    from explainer.maths.kernels import kernel

    return bp.hand_input(state["input"]), np.asarray(kernel(state["kernel"]).weights, float)


def _hand_values(x: np.ndarray) -> list:
    return [[int(v) if float(v).is_integer() else round(float(v), 3) for v in r] for r in np.asarray(x, float)]


def _hand_input(state: dict) -> dict:
    """``backprop.y_size``: the by-hand input with its padding, the kernel's first window and the next a stride on."""
    x, w = _hand(state)
    return {"kind": "values", "x": _hand_values(x), "f": int(w.shape[0]), "p": int(state["padding"]), "row": 0, "col": 0,
            "s": int(state["stride"])}


def _hand_grad_y(state: dict) -> dict:
    """``backprop.grad_b``: ∂L/∂Y = Y − T as the page shows it when it asks (their sum is the answer: not drawn)."""
    from explainer.questions import _hand as example

    return {"kind": "values", "x": _hand_values(example(state).grad_y), "f": 0, "p": 0, "row": 0, "col": 0}


def _layers(state: dict) -> dict:
    """The model's layers as the layer table names them (the shapes and counts the questions ask about left out)."""
    from explainer.questions import _model_rows

    return {"kind": "layers", "names": [r["layer"] for r in _model_rows(state) if r["layer"]]}


def _image(state: dict) -> dict:
    """``network.*``: the picture the network reads (grey; its range stretched to 0–255), as the page shows it before
    the prediction; the page's ``probs`` (the answer) are not drawn."""
    x = np.asarray(state["image"], dtype=float)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError("figure: a grey image")
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return {"kind": "image", "x": np.rint(255 * x).astype(int).tolist()}


BY_QUESTION: dict[str, Callable[[dict], dict]] = {
    "stride.out_size": _window,
    "pooling.out_size": lambda s: _window(s, "f", None),
    "kernels.out_width": lambda s: {"kind": "window", "n": int(s["w"]), "k": int(s["kw"]), "s": 1, "p": 0, "d": 1},
    "xo.winner": lambda s: {"kind": "xo", "grid": s["grid"], "patch": None},
    "xo.best_cell": lambda s: {"kind": "xo", "grid": s["grid"], "patch": None},
    "xo.map_value": lambda s: {"kind": "xo", "grid": s["grid"], "patch": [int(s["row"]), int(s["col"])]},
    "pooling.first_window": _pool_values,
    "kernels.edge_value": _edge,
    "images.flat_index": lambda s: {"kind": "pixel", "w": int(s.get("width", 28)), "row": int(s["row"]),
                                    "col": int(s["col"])},
    "images.normalised": lambda s: {"kind": "swatch", "rgb": [int(s["value"])] * 3},
    "images.grey": lambda s: {"kind": "swatch", "rgb": [int(v) for v in s["rgb"]]},
    "stride.params": lambda s: {"kind": "stack", "k": int(s["kernels"]), "c": int(s["channels"]), "f": int(s["f"])},
    "stride.transposed_size": lambda s: {"kind": "spread", **{x: int(s[x]) for x in ("n", "k", "s", "p", "op")}},
    "pooling.peak_kept": _shifted_xo,
    "optimizers.first": _surface,
    "optimizers.lowest": _surface,
    "backprop.y_size": _hand_input,
    "backprop.grad_b": _hand_grad_y,
    "train.params": _layers,
    "train.first_values": _layers,
    "train.updates": lambda s: {"kind": "batches", "n": min(int(s["train_size"]), limits.TRAIN_SIZE_MAX),
                                "bs": min(int(s["batch_size"]), int(s["train_size"])), "epochs": int(s["epochs"])},
    "network.predicted": _image,
    "network.confidence": _image,
}


def figure_state(qid: str, state: dict) -> dict | None:
    """The figure's small state for question ``qid`` on the page's ``state``; None: no figure (none registered, or
    the state is too large to draw or not one a figure can take)."""
    take = BY_QUESTION.get(qid)
    if take is None:
        return None
    try:
        return checked(take(state))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


# ---------------------------------------------------------------- drawing
def build(d: dict, *, title: str, x_title: str, y_title: str, value_label: str, height: int = 300):
    """The figure of a checked state ``d`` (``checked``)."""
    d = checked(d)
    kind = d["kind"]
    shapes: list[dict] = []
    if kind == "window":
        n, k, s, p, dil = d["n"], d["k"], d["s"], d["p"], d["d"]
        m = n + 2 * p
        z = np.zeros((m, m))
        z[p:p + n, p:p + n] = 1.0  # the input; the ring around it is padding
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#d0d0d0"], [1.0, "#ffffff"]], zmin=0, zmax=1,
                                x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=height, parts=True)
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
    elif kind == "xo":
        z = np.array([1.0 if c == "1" else -1.0 for c in d["grid"]]).reshape(_XO_SIDE, _XO_SIDE)
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#ffffff"], [1.0, "#202020"]], zmin=-1, zmax=1,
                                x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, height=height, number_format=".0f", parts=True)
        trace.update(xgap=1, ygap=1)
        if d["patch"] is not None:
            r, c = d["patch"]
            shapes.append(outline(c, r, c + 2, r + 2, color=HIGHLIGHT, width=4))
    elif kind == "values":
        p, f = d["p"], d["f"]
        x = np.asarray(d["x"], dtype=float)
        z = np.full((x.shape[0] + 2 * p, x.shape[1] + 2 * p), np.nan)
        z[p:p + x.shape[0], p:p + x.shape[1]] = x
        trace, layout = heatmap(z, title=title, colorscale="Blues", x_title=x_title, y_title=y_title,
                                value_label=value_label, showscale=False, height=height, parts=True)
        if f:
            shapes.append(outline(d["col"], d["row"], d["col"] + f - 1, d["row"] + f - 1, color=HIGHLIGHT, width=4))
            if "s" in d and d["col"] + d["s"] + f - 1 < z.shape[1]:  # the next window, a stride to the right
                c0 = d["col"] + d["s"]
                shapes.append(outline(c0, d["row"], c0 + f - 1, d["row"] + f - 1, color=PALETTE[0], width=3, dash="dash"))
    elif kind == "swatch":
        r, g, b = d["rgb"]
        colour = f"rgb({r},{g},{b})"
        trace, layout = heatmap(np.zeros((1, 1)), title=title, colorscale=[[0.0, colour], [1.0, colour]], zmin=0, zmax=1,
                                x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=height, parts=True)
        shapes.append(outline(0, 0, color="#7f7f7f", width=1))
    elif kind == "stack":
        k, c, f = d["k"], d["c"], d["f"]
        z = np.full((k * (f + 1) - 1, c * (f + 1) - 1), np.nan)  # a blank row and column between the slices
        for i in range(k):
            for j in range(c):
                z[i * (f + 1):i * (f + 1) + f, j * (f + 1):j * (f + 1) + f] = j  # one shade per input channel
        trace, layout = heatmap(z, title=title, colorscale="Blues", zmin=-1.5, zmax=max(c - 1, 1), x_title=x_title,
                                y_title=y_title, value_label=value_label, numbers=False, showscale=False, hover=False,
                                height=height, parts=True)
        trace.update(xgap=1, ygap=1)
        for i in range(k):  # each kernel: one outline round its c slices
            shapes.append(outline(0, i * (f + 1), z.shape[1] - 1, i * (f + 1) + f - 1, color=PALETTE[i % 2 * 2],
                                  width=2))
    elif kind == "spread":
        n, k, s = d["n"], d["k"], d["s"]
        m = (n - 1) * s + 1
        z = np.full((max(m, k), m + 1 + k), np.nan)
        z[:m, :m] = 0.0  # the zeros a stride of s inserts between the input's cells (grey)
        z[0:m:s, 0:m:s] = 1.0  # the input (white)
        z[:k, m + 1:] = 2.0  # the kernel, one blank column to the right (orange)
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#d0d0d0"], [0.5, "#ffffff"], [1.0, "#f0b08a"]],
                                zmin=0, zmax=2, x_title=x_title, y_title=y_title, value_label=value_label,
                                numbers=False, showscale=False, hover=False, height=height, parts=True)
        trace.update(xgap=1, ygap=1)
        shapes.append(outline(0, 0, m - 1, m - 1, color=PALETTE[0], width=2))
        shapes.append(outline(m + 1, 0, m + k, k - 1, color=HIGHLIGHT, width=3))
    elif kind == "surface":
        z = np.asarray(d["z"], dtype=float)
        trace, layout = heatmap(z, title=title, colorscale="Viridis", zmin=0, zmax=100, x_title=x_title,
                                y_title=y_title, value_label=value_label, numbers=False, showscale=False, hover=False,
                                height=height, parts=True)
        x, y = d["start"]
        shapes.append(dict(type="circle", x0=x - 0.6, x1=x + 0.6, y0=y - 0.6, y1=y + 0.6, xref="x", yref="y",
                           line=dict(color="#ffffff", width=3), fillcolor=HIGHLIGHT, layer="above"))
        layout["yaxis"]["autorange"] = True  # y up, as the page's map draws the surface
    elif kind == "image":
        trace, layout = heatmap(np.asarray(d["x"], float), title=title, colorscale="Greys", zmin=0,
                                zmax=255, x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=height, parts=True)
    elif kind == "batches":
        n, bs = d["n"], d["bs"]
        z = np.zeros((d["epochs"], STRIP))  # one row per epoch: a pass over the n images (blue)
        first = max(1, int(round(STRIP * bs / n)))
        z[:, :first] = 1.0  # the first batch (orange)
        left = int(round(STRIP * (n % bs) / n))
        if left:
            z[:, STRIP - left:] = 2.0  # the images after the last whole batch (grey): no update of their own
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#c7dff0"], [0.5, "#f0b08a"], [1.0, "#bdbdbd"]],
                                zmin=0, zmax=2, x_title="", y_title="", value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=min(height, 40 + 24 * d["epochs"]), parts=True)
        trace.update(ygap=3)
        layout["yaxis"].update(scaleanchor=None)
    elif kind == "layers":
        names = d["names"]
        kinds = {}
        z = np.array([[kinds.setdefault(v.split(": ", 1)[-1].split(" ", 1)[0], len(kinds)) % 6] for v in names], float)
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#e8f1f8"], [1.0, "#c7dff0"]], zmin=0, zmax=5,
                                x_title="", y_title="", value_label=value_label, numbers=False, showscale=False,
                                hover=False, height=max(height, 26 * len(names) + 20), parts=True)
        trace.update(text=[[v] for v in names], texttemplate="%{text}", textfont=dict(size=14), xgap=0, ygap=2)
        layout["yaxis"].update(scaleanchor=None)
        layout["margin"] = dict(l=5, r=5, t=5, b=5)
    else:
        w = d["w"]
        z = np.zeros((w, w))
        z[d["row"], d["col"]] = 1.0
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#f4f4f4"], [1.0, HIGHLIGHT]], zmin=0, zmax=1,
                                x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=height, parts=True)
        trace.update(xgap=1 if w <= 32 else 0, ygap=1 if w <= 32 else 0)
        shapes.append(outline(d["col"], d["row"], color=HIGHLIGHT, width=3))
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
