"""The kernel bank, and a parser for kernels a learner types.

    >>> from explainer.kernels import kernel, parse_kernel
    >>> kernel("vertical_edge").weights
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    >>> parse_kernel("1 2 1; 0 0 0; -1 -2 -1").shape
    (3, 3)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from explainer import xo
from explainer.errors import UserError
from explainer.limits import KERNEL_TEXT_CHARS

MAX_SIZE = 7
MAX_ABS = 1e6


@dataclass(frozen=True)
class Kernel:
    name: str
    weights: np.ndarray  # (kh, kw) float64, as written (before dividing)
    divisor: float = 1.0  # the output is conv(image, weights) / divisor (e.g. 9 for a 3×3 mean, as in the X/O example)
    pair: str | None = None  # the other half of a gradient pair (Sobel x ↔ y): magnitude √(gx² + gy²)

    @property
    def effective(self) -> np.ndarray:
        """The weights actually applied: ``weights / divisor``."""
        return self.weights / self.divisor


def _k(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def _gauss(n: int) -> np.ndarray:
    row = np.array([math.comb(n - 1, i) for i in range(n)], dtype=np.float64)
    return np.outer(row, row)


_BANK: dict[str, Kernel] = {}


def _add(name, rows, divisor=1.0, pair=None):
    w = _k(rows)
    w.setflags(write=False)
    _BANK[name] = Kernel(name, w, float(divisor), pair)


_add("identity", [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
_add("box_blur_3", np.ones((3, 3)), 9)
_add("box_blur_5", np.ones((5, 5)), 25)
_add("gaussian_3", _gauss(3), 16)
_add("gaussian_5", _gauss(5), 256)
_add("sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
# The tutorials' edge kernels: columns 1, 0, -1 (left minus right) and the transpose.
_add("vertical_edge", [[1, 0, -1], [1, 0, -1], [1, 0, -1]], pair="horizontal_edge")
_add("horizontal_edge", [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], pair="vertical_edge")
_add("sobel_x", [[1, 0, -1], [2, 0, -2], [1, 0, -1]], pair="sobel_y")
_add("sobel_y", [[1, 2, 1], [0, 0, 0], [-1, -2, -1]], pair="sobel_x")
_add("prewitt_x", [[1, 0, -1], [1, 0, -1], [1, 0, -1]], pair="prewitt_y")
_add("prewitt_y", [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], pair="prewitt_x")
_add("scharr_x", [[3, 0, -3], [10, 0, -10], [3, 0, -3]], pair="scharr_y")
_add("scharr_y", [[3, 10, 3], [0, 0, 0], [-3, -10, -3]], pair="scharr_x")
_add("laplacian_4", [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
_add("laplacian_8", [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
_add("emboss", [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
_add("outline", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
# The X/O example's three filters (±1, from explainer.xo), applied as sum of products / 9.
for _name, _weights in zip(xo.FILTER_NAMES, xo.FILTERS):
    _add(f"xo_{_name}", _weights, xo.FILTER_DIVISOR)
del _name, _weights
# A curve detector as in the tutorial (a bright quarter-circle stroke on a dark ground).
_add("curve", [[0, 0, 0, 0, 0, 50, 0],
               [0, 0, 0, 0, 50, 0, 0],
               [0, 0, 0, 50, 0, 0, 0],
               [0, 0, 0, 50, 0, 0, 0],
               [0, 0, 0, 50, 0, 0, 0],
               [0, 0, 0, 50, 0, 0, 0],
               [0, 0, 0, 0, 0, 0, 0]])

NAMES: tuple[str, ...] = tuple(_BANK)


def kernel(name: str) -> Kernel:
    """A kernel from the bank by name (see ``NAMES``)."""
    try:
        return _BANK[name]
    except KeyError:
        raise UserError("errors.not_one_of", param="kernel", choices=", ".join(NAMES), value=name) from None


_SPLIT_ROWS = re.compile(r"[;\n]+")
# Full-width punctuation a Chinese input method types (，；－ …) read as their ASCII forms.
_FULL_WIDTH = str.maketrans({"，": ",", "、": ",", "；": ";", "－": "-", "／": "/", "．": ".", "\u3000": " ",
                             "［": "[", "］": "]", "（": "(", "）": ")", "＋": "+"})
# "[[1, 0], [0, 1]]" (Python / NumPy style): every "]" ends a row, "[" is a separator. A plain character
# translation, linear in the text's length (the old regex ``\]\s*,?\s*\[`` backtracked quadratically).
_BRACKETS = str.maketrans({"]": ";", "[": " "})
_SPLIT_VALUES = re.compile(r"[,\s]+")
_FRACTION = re.compile(r"^([+-]?\d+(?:\.\d*)?)/(\d+(?:\.\d*)?)$")


def _number(tok: str) -> float:
    tok = tok.strip().replace("−", "-").replace("–", "-")
    m = _FRACTION.match(tok)
    try:
        value = float(m.group(1)) / float(m.group(2)) if m else float(tok)
    except (ValueError, ZeroDivisionError):
        raise UserError("errors.not_a_number", text=tok[:20]) from None
    if math.isnan(value) or math.isinf(value):
        raise UserError("errors.not_finite", text=tok[:20])
    if abs(value) > MAX_ABS:
        raise UserError("errors.too_large", text=tok[:20], limit=f"{MAX_ABS:g}")
    return value


def _rows(text: str, max_size: int = MAX_SIZE) -> list[list[float]]:
    """Typed text → rows of numbers. Linear in ``len(text)``: character translations, splits on
    single-character classes and one anchored regex per token, no backtracking over the whole text.
    More than ``max_size`` rows or values in a row is refused before any number is read."""
    text = text.translate(_FULL_WIDTH).translate(_BRACKETS)
    rows = [r for r in _SPLIT_ROWS.split(text.strip()) if r.strip().strip("(),")]
    tokens = [[v for v in _SPLIT_VALUES.split(r.strip().strip("(),")) if v] for r in rows]
    widest = max((len(t) for t in tokens), default=0)
    if len(tokens) > max_size or widest > max_size:
        raise UserError("errors.grid_too_big", h=len(tokens), w=widest, max=max_size)
    return [[_number(v) for v in row] for row in tokens]


def check_text_length(text: str, limit: int = KERNEL_TEXT_CHARS) -> None:
    """Refuse typed text longer than ``limit`` characters, before anything parses it."""
    if len(text) > limit:
        raise UserError("errors.text_too_long", n=len(text), max=limit)


def parse_kernel(text_or_grid, max_size: int = MAX_SIZE) -> np.ndarray:
    """A user's kernel → (kh, kw) float64.

    Accepts text (rows separated by ``;`` or new lines, values by spaces or commas; fractions like
    ``1/9``, Python-style ``[[1, 0], [0, 1]]`` and full-width ``，；－`` allowed) or a nested list/array. Rejects, with a message a learner understands: words,
    NaN, ±inf, absurd magnitudes, ragged rows, empty input, grids larger than ``max_size`` and text longer
    than ``explainer.limits.KERNEL_TEXT_CHARS`` (refused before parsing; parsing is linear in the length).
    """
    if isinstance(text_or_grid, str):
        check_text_length(text_or_grid)
        grid = _rows(text_or_grid, max_size)
    else:
        arr = np.asarray(text_or_grid, dtype=object)
        if arr.size > 4 * max_size * max_size:
            raise UserError("errors.grid_too_big", h=arr.shape[0] if arr.ndim else 1,
                            w=arr.shape[1] if arr.ndim > 1 else arr.size, max=max_size)
        grid = [[_number(str(v)) if not isinstance(v, (int, float, np.number)) else _number(repr(float(v)))
                 for v in np.atleast_1d(row)] for row in np.atleast_2d(arr)]
    if not grid or not grid[0]:
        raise UserError("errors.empty_kernel")
    for i, row in enumerate(grid, 1):
        if len(row) != len(grid[0]):
            raise UserError("errors.ragged_rows", row=i, got=len(row), want=len(grid[0]))
    kh, kw = len(grid), len(grid[0])
    if kh > max_size or kw > max_size:
        raise UserError("errors.grid_too_big", h=kh, w=kw, max=max_size)
    return np.array(grid, dtype=np.float64)


def format_kernel(weights) -> str:
    """The inverse of ``parse_kernel`` for sharing: rows joined by ``;``, values by ``,``."""
    w = np.asarray(weights, dtype=np.float64)
    return ";".join(",".join(f"{v:g}" for v in row) for row in w)


def divisor_for(weights: np.ndarray, mode: str, number: float = 1.0) -> float:
    """The divisor for a custom kernel: ``"none"`` → 1, ``"sum"`` → the weights' sum (1 if it is 0),
    ``"count"`` → the number of weights (the tutorial's "/9"), ``"number"`` → ``number``."""
    if mode == "none":
        return 1.0
    if mode == "sum":
        s = float(np.sum(weights))
        return s if s != 0 else 1.0
    if mode == "count":
        return float(np.size(weights))
    if mode == "number":
        if not math.isfinite(number) or number == 0:
            raise UserError("errors.bad_divisor", value=number)
        if not 1 / MAX_ABS <= abs(number) <= MAX_ABS:  # 1e-306 would turn every output into ±inf
            raise UserError("errors.divisor_range", value=f"{number:g}", lo=f"{1 / MAX_ABS:g}", hi=f"{MAX_ABS:g}")
        return float(number)
    raise UserError("errors.not_one_of", param="divide_by", choices="none / sum / count / number", value=mode)


# ---------------------------------------------------------------- helpers for the Kernels page
# (applying a kernel and inspecting one output pixel live in ``explainer.inspector``)
DIVIDE_MODES = ("none", "sum", "count", "number")


def resize_kernel(weights, rows: int, cols: int) -> np.ndarray:
    """``weights`` cropped or zero-padded (top-left kept) to ``rows × cols``, for the custom grid."""
    w = np.asarray(weights, dtype=np.float64)
    out = np.zeros((rows, cols))
    h, v = min(rows, w.shape[0]), min(cols, w.shape[1])
    out[:h, :v] = w[:h, :v]
    return out


def apply_edits(weights, edited_rows: dict) -> np.ndarray:
    """``weights`` with a grid editor's edits applied: ``{row: {column: value}}`` (keys may be strings, as
    Streamlit's ``st.data_editor`` reports them). An emptied cell counts as 0; values are checked like typed ones."""
    w = np.array(weights, dtype=np.float64)
    for r, cols in (edited_rows or {}).items():
        for c, v in cols.items():
            i, j = int(r), int(c)
            if 0 <= i < w.shape[0] and 0 <= j < w.shape[1]:
                w[i, j] = 0.0 if v is None else _number(repr(float(v)) if isinstance(v, (int, float)) else str(v))
    return w


def clip_display(out) -> np.ndarray:
    """The output as the tutorials display it: rounded and clipped to 0–255 (negative → black)."""
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
