"""The kernel bank (hand-set kernels, the X/O filters among them); typed kernels are read by ``grids``.

    >>> from explainer.maths.kernels import kernel, parse_kernel
    >>> kernel("vertical_edge").weights
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    >>> parse_kernel("1 2 1; 0 0 0; -1 -2 -1").shape
    (3, 3)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explainer.errors import UserError
from explainer.maths import xo
from explainer.maths.grids import (MAX_ABS, MAX_SIZE, _number, check_text_length,  # noqa: F401 (kernels' API)
                                   parse_kernel)


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
# The X/O example's three filters (±1, from explainer.maths.xo), applied as sum of products / 9.
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
# (applying a kernel and inspecting one output pixel live in ``explainer.maths.inspector``)
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
