"""Predict, then see: the questions each lesson asks before it shows the answer.

One registry, ``QUESTIONS`` (lesson → its questions). A ``Question`` knows its kind (``"number"``, ``"choice"``
or ``"cell"``: a cell to click on a grid), its catalogue keys (``questions.<id>`` for the prompt,
``questions.<id>_why`` for the explanation) and how to compute its answer **from what is on the page**: the
page hands over a small ``state`` dict of plain values (the sliders' values, the drawn grid as text, …) and
the question computes the answer with the library's own functions (``formulas.conv_size``, ``xo.run``,
``optim.race`` …), never with arithmetic of its own that could disagree with the figure it hides.

``Question.pose(state)`` gives a ``Posed`` question: everything a learner (or, later, a class poll) needs,
as plain values — the prompt's key and parameters, the choices, the answer, the explanation's key and
parameters with the numbers — serialisable to a small dict (``to_dict`` / ``Posed.from_dict``) and able to
``check`` an answer on its own.

    >>> q = question("stride.out_size")
    >>> p = q.pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1})
    >>> p.answer, p.check(3), p.check(4)
    (3, True, False)
    >>> Posed.from_dict(p.to_dict()) == p
    True
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import numpy as np

from explainer import limits
from explainer.figures import questions as fq

KINDS = ("number", "choice", "cell")


def _fmt(v: float) -> str:
    from explainer.figures.style import fmt

    return fmt(v)


# ---------------------------------------------------------------- a question with its answer
@dataclass(frozen=True)
class Posed:
    """One question for one state of a page, as plain values.

    ``params`` fill the prompt ``questions.<id>``, ``explain_params`` the explanation ``questions.<id>_why`` (a
    parameter that is a list of ``[catalogue key, text]`` pairs is shown as "label: text; label: text");
    ``words`` name catalogue keys to translate into a parameter of either (e.g. an optimizer's name).
    ``choices`` are the values offered (their labels: ``choice_labels`` + value, or the value itself);
    ``grid`` is the (rows, columns) of a cell question's grid. ``answer`` is a number, a choice value, or for
    a cell question the list of accepted cells ``[[r, c], …]`` (ties). ``figure``: the small state of the question's
    figure (``figure_state`` below: the input, window, stride … never the answer), or None."""

    id: str
    lesson: str
    kind: str
    prompt: str
    params: dict
    answer: Any
    explain: str
    explain_params: dict
    choices: tuple = ()
    choice_labels: str | None = None
    words: dict = field(default_factory=dict)
    tolerance: float = 0.0
    grid: tuple | None = None
    figure: dict | None = None  # what the learner sees when asked (``explainer.figures.questions``), or None

    def check(self, given) -> bool:
        return check(self.kind, given, self.answer, self.tolerance)

    def to_dict(self) -> dict:
        """A small dict of JSON values (lists for tuples) that ``from_dict`` turns back into this question. Shallow:
        it shares the figure's lists with this object (``asdict``'s deep copy of a picture's 784 pixels cost ~1 ms a
        question on every rerun of a page that asks); read it, don't change it."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["choices"] = list(self.choices)
        d["grid"] = None if self.grid is None else list(self.grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Posed":
        d = dict(d)
        if d.get("kind") not in KINDS:
            raise ValueError("unknown question kind")
        d["choices"] = tuple(d.get("choices") or ())
        d["grid"] = None if d.get("grid") is None else tuple(d["grid"])
        if d["kind"] == "cell":
            d["answer"] = [list(c) for c in d["answer"]]
        return cls(**d)


def check(kind: str, given, answer, tolerance: float = 0.0) -> bool:
    """Whether ``given`` is right: a number within ``tolerance`` of the answer, the very choice, or one of
    the accepted cells. Anything that isn't such a value (None, text, NaN) is wrong."""
    if given is None:
        return False
    if kind == "number":
        try:
            g = float(given)
        except (TypeError, ValueError):
            return False
        return math.isfinite(g) and abs(g - float(answer)) <= tolerance + 1e-9
    if kind == "choice":
        return given == answer
    if kind == "cell":
        try:
            cell = [int(given[0]), int(given[1])]
        except (TypeError, ValueError, IndexError):
            return False
        return cell in [list(a) for a in answer]
    raise ValueError("unknown question kind")


@dataclass(frozen=True)
class Question:
    """A lesson's question: ``compute(state)`` returns the answer and the texts' parameters (a dict with
    ``answer`` and optionally ``params``, ``explain_params``, ``words``, ``choices``, ``grid``, ``tolerance`` (this
    state's, over the question's), and ``explain``: another key of the explanation's family, e.g.
    ``questions.<id>_why_none``). ``words["choice_<value>"]`` names the label
    of one choice where the ``choice_labels`` family has none."""

    id: str
    lesson: str
    kind: str
    compute: Callable[[dict], dict]
    choices: tuple = ()  # fixed choices; a compute may give this state's own
    choice_labels: str | None = None
    tolerance: float = 0.0
    hides: str = ""  # what the page keeps hidden until the learner answers (for developers)
    offers: tuple | Callable[[], tuple] = ()  # every choice a compute may give (declared for the answer widget)

    def may_offer(self) -> tuple:
        """Every value a learner may choose on any state: the fixed choices, or all a compute may give."""
        return tuple(self.choices or (self.offers() if callable(self.offers) else self.offers))

    @property
    def prompt(self) -> str:
        return f"questions.{self.id}"

    @property
    def explain(self) -> str:
        return f"questions.{self.id}_why"

    def answer(self, state: dict):
        return self.compute(state)["answer"]

    def check(self, given, answer) -> bool:
        return check(self.kind, given, answer, self.tolerance)

    def pose(self, state: dict) -> Posed:

        r = self.compute(state)
        return Posed(self.id, self.lesson, self.kind, self.prompt, dict(r.get("params", {})), r["answer"],
                     r.get("explain", self.explain), dict(r.get("explain_params", {})), tuple(r.get("choices", self.choices)),
                     self.choice_labels, dict(r.get("words", {})), r.get("tolerance", self.tolerance),
                     None if r.get("grid") is None else tuple(r["grid"]), figure_state(self.id, state))


# ---------------------------------------------------------------- Images are numbers
def _normalised(state: dict) -> dict:
    """A grey level ``value`` (0–255) after /255, as the flattened vector holds it."""
    v = int(state["value"])
    a = round(v / 255.0, 3)
    return {"answer": a, "params": {"value": v}, "explain_params": {"value": v, "answer": f"{a:.3f}"}}


def _flat_index(state: dict) -> dict:
    """Where pixel (row, col) of a ``width``-wide image lands in the flattened vector (row by row)."""
    r, c, w = int(state["row"]), int(state["col"]), int(state.get("width", 28))
    flat = np.arange(w * w).reshape(w, w)  # numpy's own row-major flattening, as the page's reshape(-1)
    a = int(flat[r, c])
    return {"answer": a, "params": {"row": r, "col": c, "w": w},
            "explain_params": {"row": r, "col": c, "w": w, "answer": a}}


def _grey(state: dict) -> dict:
    """The grey level of an RGB pixel by the page's luma weights."""
    from explainer.data.images import LUMA

    rgb = tuple(int(v) for v in state["rgb"])
    a = int(round(float(np.dot(LUMA, rgb))))
    wr, wg, wb = (f"{w:g}" for w in LUMA)
    return {"answer": a, "params": {"r": rgb[0], "g": rgb[1], "b": rgb[2]},
            "explain_params": {"r": rgb[0], "g": rgb[1], "b": rgb[2], "wr": wr, "wg": wg, "wb": wb, "answer": a}}


# ---------------------------------------------------------------- Kernels
def _edge_value(state: dict) -> dict:
    """The tutorial's 60|0 step edge under a kernel: the output value at (row, col)."""
    from explainer.data.images import sample
    from explainer.maths.inspector import inspect_pixel
    from explainer.maths.kernels import kernel

    name = state.get("kernel", "vertical_edge")
    img = sample(state.get("image", "step_edge")).astype(np.float64)
    r, c = int(state["row"]), int(state["col"])
    info = inspect_pixel(img, kernel(name).weights, r, c)
    return {"answer": float(info.value), "params": {"row": r, "col": c},
            "explain_params": {"row": r, "col": c, "total": _fmt(info.total), "answer": _fmt(info.value)}}


def _kernel_out_width(state: dict) -> dict:
    """The output width of an image ``w`` pixels wide under a kernel ``kw`` wide (no padding, stride 1)."""
    from explainer.maths.formulas import conv_size

    w, kw = int(state["w"]), int(state["kw"])
    a = conv_size(w, kw, 1, 0, 1).value
    return {"answer": a, "params": {"w": w, "kw": kw}, "explain_params": {"w": w, "kw": kw, "answer": a}}


# ---------------------------------------------------------------- X/O
def _xo_grid(state: dict) -> np.ndarray:
    from explainer.maths import xo

    return xo.parse_grid_text(state["grid"])


def _xo_winner(state: dict) -> dict:
    from explainer.maths import xo

    res = xo.run(_xo_grid(state))
    x, o = (f"{v:+.3f}".replace("-", "−") for v in res.votes)
    return {"answer": res.winner, "explain_params": {"winner": res.winner, "x": x, "o": o}}


def _xo_map_value(state: dict) -> dict:
    """The value of filter ``filter``'s map at (row, col): the mean of the nine ±1 products."""
    from explainer.maths import xo

    k, r, c = int(state["filter"]), int(state["row"]), int(state["col"])
    v = float(xo.filter_maps(_xo_grid(state))[k, r, c])
    total = int(round(v * xo.FILTER_DIVISOR))
    return {"answer": round(v, 2), "params": {"row": r, "col": c}, "words": {"filter": f"xo.filter_{xo.FILTER_NAMES[k]}"},
            "explain_params": {"row": r, "col": c, "matches": xo.matching_cells(total), "total": total,
                               "answer": f"{v:.2f}"}}


def _xo_best_cell(state: dict) -> dict:
    """Where filter ``filter``'s map is highest (every tied cell counts)."""
    from explainer.maths import xo

    k = int(state["filter"])
    m = xo.filter_maps(_xo_grid(state))[k]
    top = float(m.max())
    cells = [[int(r), int(c)] for r, c in np.argwhere(np.isclose(m, top))]
    return {"answer": cells, "grid": m.shape, "words": {"filter": f"xo.filter_{xo.FILTER_NAMES[k]}"},
            "explain_params": {"value": f"{top:.2f}", "cells": ", ".join(f"({r}, {c})" for r, c in cells),
                               "n": len(cells)}}


# ---------------------------------------------------------------- Stride & padding
def _out_size(state: dict) -> dict:
    from explainer.maths.formulas import conv_size

    n, k, s, p, d = (int(state[x]) for x in ("n", "k", "s", "p", "d"))
    a = conv_size(n, k, s, p, d).value
    if a is None:
        a = 0
    return {"answer": a, "params": {"n": n, "k": k, "s": s, "p": p, "d": d},
            "explain_params": {"n": n, "k": k, "s": s, "p": p, "d": d, "span": n + 2 * p - d * (k - 1) - 1,
                               "answer": a}}


def _conv_params(state: dict) -> dict:
    from explainer.maths.receptive import Layer

    k, c, f = int(state["kernels"]), int(state["channels"]), int(state["f"])
    a = Layer("conv", f).params(c, k)
    return {"answer": a, "params": {"k": k, "c": c, "f": f}, "explain_params": {"k": k, "c": c, "f": f, "answer": a}}


def _transposed_size(state: dict) -> dict:
    from explainer.maths.formulas import transposed_size

    n, k, s, p, op = (int(state[x]) for x in ("n", "k", "s", "p", "op"))
    size = transposed_size(n, k, s, p, 1, op)
    a = size.value if size.value is not None else 0
    return {"answer": a, "params": {"n": n, "k": k, "s": s, "p": p, "op": op},
            "explain_params": {"n": n, "k": k, "s": s, "p": p, "op": op, "answer": a}}


# ---------------------------------------------------------------- Pooling
def _pool_grid(state: dict) -> np.ndarray:
    return np.asarray(state["x"], dtype=np.float64)


def _pool_out_size(state: dict) -> dict:
    from explainer.maths.formulas import pool_size

    n, f, s, p, ceil = int(state["n"]), int(state["f"]), int(state["s"]), int(state["p"]), bool(state["ceil"])
    a = pool_size(n, f, s, p, ceil).value
    return {"answer": a, "params": {"n": n, "f": f, "s": s, "p": p},
            "explain_params": {"n": n, "f": f, "s": s, "p": p, "answer": a}, "words": {
                "rounding": "questions.rounding_ceil" if ceil else "questions.rounding_floor"}}


def _pool_first_window(state: dict) -> dict:
    """The first window's pooled value, max and average side by side (the question asks for ``mode``'s)."""
    from explainer.maths.stepper import pool_walk

    x = _pool_grid(state)
    f, s, p = int(state["f"]), int(state["s"]), int(state["p"])
    values = {m: float(pool_walk(x, f, s, m, p, bool(state["ceil"]), bool(state["include"])).step(0).result)
              for m in ("max", "avg")}
    mode = state["mode"]
    a = round(values[mode], 2)
    return {"answer": a, "params": {"f": f}, "words": {"mode": f"pooling.mode_{mode}"},
            "explain_params": {"max": _fmt(values["max"]), "avg": _fmt(values["avg"]), "answer": _fmt(a)}}


def _pool_peak_kept(state: dict) -> dict:
    """After shifting the X/O picture by (dy, dx), does every map's strongest pooled value stay the same?"""
    from explainer.maths import xo
    from explainer.maths.pooling import pool2d, shift

    base = xo.X if state["which"] == "x" else xo.O
    dy, dx = int(state["dy"]), int(state["dx"])
    before = pool2d(xo.filter_maps(base), 2, 2, "max", ceil_mode=True).max(axis=(1, 2))
    after = pool2d(xo.filter_maps(shift(base, dy, dx, fill=-1.0)), 2, 2, "max", ceil_mode=True).max(axis=(1, 2))
    same = bool(np.allclose(before, after))
    return {"answer": "yes" if same else "no", "params": {"dy": dy, "dx": dx},
            "explain_params": {"before": ", ".join(f"{v:.2f}" for v in before),
                               "after": ", ".join(f"{v:.2f}" for v in after)}}


# ---------------------------------------------------------------- Optimizers
def _race(state: dict):
    """``[(name, summary), …]`` of the race on screen (``state``: the page's race arguments)."""
    from explainer.learning import optim

    name, kappa = state["surface"], float(state["kappa"])
    surf = optim.surface(name, kappa=kappa) if name == "quadratic" else optim.surface(name)
    runs = [(r[0], dict(r[1])) for r in state["runs"]]
    paths = optim.race(surf, runs, tuple(state["start"]), int(state["steps"]), float(state["noise"]),
                       int(state["seed"]))
    return [(r[0], optim.summarise(surf, path)) for r, path in zip(runs, paths)]


def _first_to_minimum(state: dict) -> dict:
    """Which optimizer comes within the tolerance of a minimum in the fewest steps ("none": none does)."""
    summaries = _race(state)
    names = [n for n, _ in summaries]
    reached = [(s["steps_to_tol"], i) for i, (_, s) in enumerate(summaries) if s["steps_to_tol"] is not None]
    if reached:
        steps, i = min(reached)
        answer, why = names[i], "questions.optimizers.first_why"
    else:
        steps, answer, why = 0, "none", "questions.optimizers.first_why_none"
    words = {"winner": f"optimizers.opt_{answer}" if answer != "none" else "questions.none",
             "choice_none": "questions.none"}
    table = [[f"optimizers.opt_{n}", str(s["steps_to_tol"]) if s["steps_to_tol"] is not None else "—"]
             for n, s in summaries]
    return {"answer": answer, "choices": (*names, "none"), "words": words, "explain": why,
            "explain_params": {"steps": steps, "table": table, "n": len(names)}}


def _lowest_final(state: dict) -> dict:
    """Which optimizer ends the race at the lowest loss (a diverged one never wins)."""
    summaries = _race(state)
    names = [n for n, _ in summaries]
    finals = [(s["final_loss"] if not s["diverged"] and math.isfinite(s["final_loss"]) else math.inf, i)
              for i, (_, s) in enumerate(summaries)]
    best, i = min(finals)
    table = [[f"optimizers.opt_{n}", f"{s['final_loss']:.3g}".replace("-", "−")] for n, s in summaries]
    return {"answer": names[i], "choices": tuple(names), "words": {"winner": f"optimizers.opt_{names[i]}"},
            "explain_params": {"loss": f"{best:.3g}", "table": table}}


# ---------------------------------------------------------------- How kernels learn (the by-hand example)
def _hand(state: dict):
    from explainer.learning import backprop as bp
    from explainer.maths.kernels import kernel

    return bp.hand_example(bp.hand_input(state["input"]), np.asarray(kernel(state["kernel"]).weights, float),
                           np.asarray(kernel(state["target"]).weights, float), float(state["bias"]),
                           int(state["stride"]), int(state["padding"]))


def _grad_b(state: dict) -> dict:
    """∂L/∂b: every output's error counts once, so it is the sum of ∂L/∂Y = Y − T."""
    ex = _hand(state)
    a = round(float(ex.grad_b), 2)
    return {"answer": a, "explain_params": {"n": int(ex.grad_y.size), "answer": _fmt(a)}}


def _hand_y_size(state: dict) -> dict:
    """The number of outputs Y of the by-hand convolution (rows × columns)."""
    from explainer.maths.formulas import conv_size

    ex = _hand(state)
    h, w = ex.x.shape
    kh, kw = ex.w.shape
    s, p = int(state["stride"]), int(state["padding"])
    oh, ow = conv_size(h, kh, s, p, 1).value, conv_size(w, kw, s, p, 1).value
    return {"answer": oh * ow, "params": {"h": h, "w": w, "k": kh, "s": s, "p": p},
            "explain_params": {"oh": oh, "ow": ow, "answer": oh * ow}}


# ---------------------------------------------------------------- Train
@functools.lru_cache(maxsize=64)
def _model_shape(name: str, options: tuple) -> tuple[tuple[dict, ...], int]:
    """A model's layer table (``models.summary``) and trainable parameter count, by its name and options: the same
    for every learner and setting (size, batch, rate), so built once, not on each of Train's clicks (a model built
    and run on a zero digit for each of its questions: ~15 ms of CPU a click). The rows are shared: read them only."""
    from explainer.learning import models as M

    model = M.build_model(name, **dict(options))
    return tuple(M.summary(model, "")), int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _model(state: dict) -> tuple[tuple[dict, ...], int]:
    options = tuple(sorted(dict(state.get("options") or {}).items()))
    try:
        hash(options)
    except TypeError:  # an option that is a list: built each time (the cache needs a hashable key)
        return _model_shape.__wrapped__(state["model"], options)
    return _model_shape(state["model"], options)


def _model_rows(state: dict):
    return _model(state)[0]


def _model_params(state: dict) -> dict:
    """The model's trainable parameters, by the layer table's own count."""
    a = _model(state)[1]
    return {"answer": a, "words": {"model": f"train.model_{state['model']}"}, "explain_params": {"answer": a}}


def _first_layer_values(state: dict) -> dict:
    """How many numbers the first layer that changes the shape (a convolution or a pooling) puts out for one 28×28
    digit: its output shape's product, from the layer table. A model that flattens first (the MLP) is not asked
    (``ValueError``): the answer would be the input's own 784."""
    rows = [r for r in _model_rows(state) if r.get("output_shape")]
    first = next(r for r in rows if tuple(int(v) for v in r["output_shape"]) != (1, 28, 28))
    shape = tuple(int(v) for v in first["output_shape"])
    if len(shape) == 1:  # a flatten first (the MLP): its 28 · 28 = 784 numbers are in the prompt ("28×28") and in the
        # model's name ("MLP 784-…"): nothing to predict, so the question is not asked (``ui.questions.ask``: no card)
        raise ValueError("the first layer that changes the shape only flattens the input")
    a = int(np.prod(shape))
    return {"answer": a, "words": {"model": f"train.model_{state['model']}"},
            "explain_params": {"shape": " × ".join(map(str, shape)), "layer": first["layer"], "answer": a}}


def _updates(state: dict) -> dict:
    """Weight updates in the whole training: whole batches per epoch (a last partial batch is dropped, as
    ``explainer.learning.train`` does: ``max(1, n // batch)``) times the epochs; ``n`` is capped by MNIST's 60,000."""
    from explainer import limits

    n = min(int(state["train_size"]), limits.TRAIN_SIZE_MAX)
    bs, epochs = min(int(state["batch_size"]), n), float(state["epochs"])
    epochs = int(epochs) if epochs.is_integer() else epochs  # 2.5 epochs: the last ends halfway (train._Run.total)
    per_epoch = max(1, n // bs)
    exact = per_epoch * epochs
    a = max(1, round(exact))
    params = {"n": n, "bs": bs, "epochs": epochs}
    if float(exact).is_integer():
        return {"answer": a, "params": params, "explain_params": {**params, "per_epoch": per_epoch, "answer": a}}
    # 2.5 epochs of 937 batches: 2342.5, the training takes the nearest whole step (round half to even: 2342), so
    # either whole number next to it is right (the answer is the product, 0.5 either side)
    return {"answer": exact, "tolerance": 0.5, "params": params, "explain": "questions.train.updates_why_part",
            "explain_params": {**params, "per_epoch": per_epoch, "exact": f"{exact:g}", "answer": a}}


# ---------------------------------------------------------------- Inside the network
def _probs(state: dict) -> np.ndarray:
    return np.asarray(state["probs"], dtype=np.float64)


def _predicted(state: dict) -> dict:
    p = _probs(state)
    a = int(np.argmax(p))
    # the why names the classes, not their probabilities: those are the other question's answer (and its why names
    # no class), so answering one of the two first gives nothing of the other away
    return {"answer": a, "choices": tuple(range(len(p))),
            "explain_params": {"answer": a, "second": int(np.argsort(p)[-2])}}


def _confidence(state: dict) -> dict:
    p = _probs(state)
    a = round(100 * float(p.max()), 1)
    return {"answer": a, "params": {"tol": 10},
            "explain_params": {"answer": f"{a:.1f}", "p2": f"{100 * np.sort(p)[-2]:.1f}"}}


# ---------------------------------------------------------------- the registry
def _optimizer_names() -> tuple:
    from explainer.learning.optim import OPTIMIZER_NAMES

    return tuple(OPTIMIZER_NAMES)


def _classes_max() -> int:
    """A network's classes: MNIST's and Fashion-MNIST's 10, up to a learner's own folders."""
    from explainer.limits import OWN_CLASSES_MAX

    return max(10, OWN_CLASSES_MAX)
_ALL = [
    Question("images.normalised", "images", "number", _normalised, tolerance=0.005,
             hides="the row's values /255 and the flattened vector"),
    Question("images.flat_index", "images", "number", _flat_index,
             hides="the highlighted row's index range and the flattened vector"),
    Question("images.grey", "images", "number", _grey, tolerance=1, hides="the pixel's grey level"),
    Question("kernels.edge_value", "kernels", "number", _edge_value, tolerance=0.5,
             hides="the output map and the worked sum"),
    Question("kernels.out_width", "kernels", "number", _kernel_out_width, hides="the output map and its size line"),
    Question("xo.winner", "xo", "choice", _xo_winner, choices=("X", "O"), hides="the verdict and the vote tab"),
    Question("xo.map_value", "xo", "number", _xo_map_value, tolerance=0.02,
             hides="the inspector's map, sum and value; the first tab's maps, their example, later stages"),
    Question("xo.best_cell", "xo", "cell", _xo_best_cell,
             hides="the first tab's maps and their example, the later stages"),
    Question("stride.out_size", "stride", "number", _out_size, hides="the size formulas, text and the stepper"),
    Question("stride.params", "stride", "number", _conv_params, hides="the parameter formula, text and the stepper"),
    Question("stride.transposed_size", "stride", "number", _transposed_size,
             hides="the transposed size formula, text and the stepper"),
    Question("pooling.out_size", "pooling", "number", _pool_out_size, hides="the size formulas, text and the stepper"),
    Question("pooling.first_window", "pooling", "number", _pool_first_window, tolerance=0.01,
             hides="the stepper (its first step shows it)"),
    Question("pooling.peak_kept", "pooling", "choice", _pool_peak_kept, choices=("yes", "no"),
             choice_labels="questions.yesno_", hides="the pooled maps and the shift's numbers"),
    Question("optimizers.first", "optimizers", "choice", _first_to_minimum, choice_labels="optimizers.opt_",
             hides="the race (map, 3-D, losses, table)", offers=lambda: (*_optimizer_names(), "none")),
    Question("optimizers.lowest", "optimizers", "choice", _lowest_final, choice_labels="optimizers.opt_",
             hides="the race (map, 3-D, losses, table)", offers=lambda: _optimizer_names()),
    Question("backprop.grad_b", "backprop", "number", _grad_b, tolerance=0.01,
             hides="the loss and ∂L/∂b, and the gradients below (asked once Y, T and ∂L/∂Y show)"),
    Question("backprop.y_size", "backprop", "number", _hand_y_size,
             hides="Y, T and ∂L/∂Y (their sizes) and all below"),
    Question("train.params", "train", "number", _model_params, hides="the layer table's parameter column and total"),
    Question("train.first_values", "train", "number", _first_layer_values, hides="the layer table's shape column"),
    Question("train.updates", "train", "number", _updates, hides="the progress line's total of steps"),
    Question("network.predicted", "network", "choice", _predicted, offers=lambda: tuple(range(_classes_max())),
             hides="the prediction, the overview, the unit's detail, softmax and what a channel looks for"),
    Question("network.confidence", "network", "number", _confidence, tolerance=10,
             hides="the prediction, the overview, the unit's detail, softmax and what a channel looks for"),
    # new questions go at the end: a tally's URL text (``tally_text``) is one letter per question in this order
]

QUESTIONS: dict[str, tuple[Question, ...]] = {}
for _q in _ALL:
    QUESTIONS.setdefault(_q.lesson, ())
    QUESTIONS[_q.lesson] += (_q,)
_BY_ID = {q.id: q for q in _ALL}
assert len(_BY_ID) == len(_ALL), "question ids are unique"


def question(qid: str) -> Question:
    """The registered question ``qid`` (``KeyError`` for an unknown one)."""
    return _BY_ID[qid]


# ---------------------------------------------------------------- a learner's tally, as URL text
OUTCOMES = ("right", "wrong", "skipped")
_LETTER = {"right": "r", "wrong": "w", "skipped": "s"}
_OUTCOME = {v: k for k, v in _LETTER.items()}
TALLY_CHARS = len(_ALL)  # the longest tally text: one letter per registered question


def tally_text(tally: dict) -> str:
    """A tally (lesson → {question id: outcome}) as short URL text: one letter per registered question in the
    registry's order (``r`` right, ``w`` wrong, ``s`` skipped, ``-`` not answered), trailing ``-`` left off.

    >>> tally_text({"images": {"images.flat_index": "right"}, "kernels": {"kernels.edge_value": "skipped"}})
    '-r-s'
    >>> parse_tally("-r-s") == {"images": {"images.flat_index": "right"}, "kernels": {"kernels.edge_value": "skipped"}}
    True
    """
    letters = [_LETTER.get(tally.get(q.lesson, {}).get(q.id), "-") for q in _ALL]
    return "".join(letters).rstrip("-")


def parse_tally(text: str) -> dict:
    """The tally of URL text ``text`` (``tally_text``'s); ``ValueError`` for text longer than the registry or with
    any other letter. Linear in the text's length, which is checked first."""
    if not isinstance(text, str) or len(text) > TALLY_CHARS:
        raise ValueError("tally too long")
    tally: dict = {}
    for q, ch in zip(_ALL, text):
        if ch == "-":
            continue
        if ch not in _OUTCOME:
            raise ValueError("tally letter")
        tally.setdefault(q.lesson, {})[q.id] = _OUTCOME[ch]
    return tally


# ---------------------------------------------------------------- each question's figure
# The small state of the figure a class poll draws for a question, taken from the page's state (what the learner
# saw when asked, never the answer); drawn and validated by explainer.figures.questions (build, checked). It lives
# here, beside the questions, because it reads the library's layers above the figures (learning's surfaces and
# by-hand example, this module's model rows).
def _fig_window(state: dict, k: str = "k", d: str | None = "d") -> dict:
    return {"kind": "window", "n": int(state["n"]), "k": int(state[k]), "s": int(state["s"]), "p": int(state["p"]),
            "d": int(state[d]) if d else 1}


def _fig_edge(state: dict) -> dict:
    from explainer.data.images import sample

    img = sample(state.get("image", "step_edge"))
    if img.ndim != 2:
        raise ValueError("figure: a grey image")
    return {"kind": "values", "x": img.astype(int).tolist(), "f": 3, "p": 0, "row": int(state["row"]),
            "col": int(state["col"])}


def _fig_pool_values(state: dict) -> dict:
    x = [[int(v) if float(v).is_integer() else round(float(v), 3) for v in r] for r in state["x"]]
    return {"kind": "values", "x": x, "f": int(state["f"]), "p": int(state["p"]), "row": 0, "col": 0}


def _fig_shifted_xo(state: dict) -> dict:
    """``pooling.peak_kept``: the X or the O moved (dy, dx), its vacated cells off: the picture the maps are taken of."""
    from explainer.maths import xo
    from explainer.maths.pooling import shift

    base = xo.X if state["which"] == "x" else xo.O
    return {"kind": "xo", "grid": xo.grid_text(shift(base, int(state["dy"]), int(state["dx"]), fill=-1.0)), "patch": None}


def _fig_surface(state: dict) -> dict:
    """The race's surface on a ``fq.SURFACE_SIDE`` grid as levels 0–100 (log(1 + f − min) where the page draws it so), and
    the start in the grid's cells."""
    from explainer.learning import optim

    name = state["surface"]
    surf = optim.surface(name, kappa=float(state["kappa"])) if name == "quadratic" else optim.surface(name)
    _, _, z = optim.loss_grid(surf, fq.SURFACE_SIDE)
    z = z - np.nanmin(z)
    if surf.log_scale:
        z = np.log1p(z)
    top = float(np.nanmax(z))
    levels = np.zeros_like(z) if not math.isfinite(top) or top <= 0 else np.nan_to_num(z / top, nan=1.0)
    (x0, x1), (y0, y1) = surf.bounds
    sx, sy = (float(v) for v in state["start"])
    col = (sx - x0) / (x1 - x0) * (fq.SURFACE_SIDE - 1)
    row = (sy - y0) / (y1 - y0) * (fq.SURFACE_SIDE - 1)
    return {"kind": "surface", "z": np.rint(100 * levels).astype(int).tolist(), "start": [round(col, 2), round(row, 2)]}


def _fig_hand(state: dict) -> tuple:
    from explainer.learning import backprop as bp
    from explainer.maths.kernels import kernel

    return bp.hand_input(state["input"]), np.asarray(kernel(state["kernel"]).weights, float)


def _fig_hand_values(x: np.ndarray) -> list:
    return [[int(v) if float(v).is_integer() else round(float(v), 3) for v in r] for r in np.asarray(x, float)]


def _fig_hand_input(state: dict) -> dict:
    """``backprop.y_size``: the by-hand input with its padding, the kernel's first window and the next a stride on."""
    x, w = _fig_hand(state)
    return {"kind": "values", "x": _fig_hand_values(x), "f": int(w.shape[0]), "p": int(state["padding"]), "row": 0, "col": 0,
            "s": int(state["stride"])}


def _fig_hand_grad_y(state: dict) -> dict:
    """``backprop.grad_b``: ∂L/∂Y = Y − T as the page shows it when it asks (their sum is the answer: not drawn)."""

    return {"kind": "values", "x": _fig_hand_values(_hand(state).grad_y), "f": 0, "p": 0, "row": 0, "col": 0}


def _fig_layers(state: dict) -> dict:
    """The model's layers as the layer table names them (the shapes and counts the questions ask about left out)."""
    return {"kind": "layers", "names": [r["layer"] for r in _model_rows(state) if r["layer"]]}


def _fig_image(state: dict) -> dict:
    """``network.*``: the picture the network reads (grey; its range stretched to 0–255), as the page shows it before
    the prediction; the page's ``probs`` (the answer) are not drawn."""
    x = np.asarray(state["image"], dtype=float)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError("figure: a grey image")
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return {"kind": "image", "x": np.rint(255 * x).astype(int).tolist()}


FIGURES: dict[str, Callable[[dict], dict]] = {
    "stride.out_size": _fig_window,
    "pooling.out_size": lambda s: _fig_window(s, "f", None),
    "kernels.out_width": lambda s: {"kind": "window", "n": int(s["w"]), "k": int(s["kw"]), "s": 1, "p": 0, "d": 1},
    "xo.winner": lambda s: {"kind": "xo", "grid": s["grid"], "patch": None},
    "xo.best_cell": lambda s: {"kind": "xo", "grid": s["grid"], "patch": None},
    "xo.map_value": lambda s: {"kind": "xo", "grid": s["grid"], "patch": [int(s["row"]), int(s["col"])]},
    "pooling.first_window": _fig_pool_values,
    "kernels.edge_value": _fig_edge,
    "images.flat_index": lambda s: {"kind": "pixel", "w": int(s.get("width", 28)), "row": int(s["row"]),
                                    "col": int(s["col"])},
    "images.normalised": lambda s: {"kind": "swatch", "rgb": [int(s["value"])] * 3},
    "images.grey": lambda s: {"kind": "swatch", "rgb": [int(v) for v in s["rgb"]]},
    "stride.params": lambda s: {"kind": "stack", "k": int(s["kernels"]), "c": int(s["channels"]), "f": int(s["f"])},
    "stride.transposed_size": lambda s: {"kind": "spread", **{x: int(s[x]) for x in ("n", "k", "s", "p", "op")}},
    "pooling.peak_kept": _fig_shifted_xo,
    "optimizers.first": _fig_surface,
    "optimizers.lowest": _fig_surface,
    "backprop.y_size": _fig_hand_input,
    "backprop.grad_b": _fig_hand_grad_y,
    "train.params": _fig_layers,
    "train.first_values": _fig_layers,
    "train.updates": lambda s: {"kind": "batches", "n": min(int(s["train_size"]), limits.TRAIN_SIZE_MAX),
                                "bs": min(int(s["batch_size"]), int(s["train_size"])),
                                "epochs": int(s["epochs"]) if float(s["epochs"]).is_integer() else float(s["epochs"])},
    "network.predicted": _fig_image,
    "network.confidence": _fig_image,
}


def figure_state(qid: str, state: dict) -> dict | None:
    """The figure's small state for question ``qid`` on the page's ``state``; None: no figure (none registered, or
    the state is too large to draw or not one a figure can take)."""
    take = FIGURES.get(qid)
    if take is None:
        return None
    try:
        return fq.checked(take(state))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
