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
- ``pixel``: a w×w image's grid with one pixel marked (``images.flat_index``).

Questions without a figure: ``images.normalised`` and ``images.grey`` (one number or colour: the prompt says it),
``stride.params`` (counts, no picture), ``stride.transposed_size``, ``pooling.peak_kept`` (the shifted picture would
need the maps), ``optimizers.*`` (the surface needs ``learning/``), ``backprop.*``, ``train.*`` (the layer table
holds the answers) and ``network.*`` (the page's state is the softmax: the answer itself).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from explainer import limits
from explainer.figures import fast_figure, heatmap
from explainer.figures.style import HIGHLIGHT, PALETTE, outline

SIDE = limits.POLL_FIGURE_SIDE
VALUES_SIDE = 16  # a grid of numbers (each printed in its cell) is at most this many rows and columns
KINDS = ("window", "xo", "values", "pixel")
_XO_SIDE = 9


def _int(d: dict, key: str, lo: int, hi: int) -> int:
    v = d.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise ValueError(f"figure: {key} must be a whole number from {lo} to {hi}")
    return v


def _keys(d: dict, keys: set) -> None:
    if set(d) != keys | {"kind"}:
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
        _keys(d, {"x", "f", "p", "row", "col"})
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
        f = _int(d, "f", 1, min(h, w))
        row, col = _int(d, "row", 0, h - f), _int(d, "col", 0, w - f)
        return {"kind": kind, "x": [list(r) for r in x], "f": f, "p": p, "row": row, "col": col}
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
}


def figure_state(qid: str, state: dict) -> dict | None:
    """The figure's small state for question ``qid`` on the page's ``state``; None: no figure (none registered, or
    the state is too large to draw or not one a figure can take)."""
    take = BY_QUESTION.get(qid)
    if take is None:
        return None
    try:
        return checked(take(state))
    except (ValueError, TypeError, KeyError, IndexError):
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
        shapes.append(outline(d["col"], d["row"], d["col"] + f - 1, d["row"] + f - 1, color=HIGHLIGHT, width=4))
    else:
        w = d["w"]
        z = np.zeros((w, w))
        z[d["row"], d["col"]] = 1.0
        trace, layout = heatmap(z, title=title, colorscale=[[0.0, "#f4f4f4"], [1.0, HIGHLIGHT]], zmin=0, zmax=1,
                                x_title=x_title, y_title=y_title, value_label=value_label, numbers=False,
                                showscale=False, hover=False, height=height, parts=True)
        trace.update(xgap=1 if w <= 32 else 0, ygap=1 if w <= 32 else 0)
        shapes.append(outline(d["col"], d["row"], color=HIGHLIGHT, width=3))
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
        return "poll.figure_values", {"h": h, "w": w, "p": d["p"], "f": d["f"], "row": d["row"], "col": d["col"]}
    return "poll.figure_pixel", {"w": d["w"], "row": d["row"], "col": d["col"]}
