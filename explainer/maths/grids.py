"""Grids of numbers typed by a learner: kernels, X/O pictures, the stride lesson's input.

    >>> from explainer.maths.grids import parse_kernel
    >>> parse_kernel("1 0 -1; 2 0 -2; 1 0 -1").shape
    (3, 3)

The lowest module of ``maths/``: it imports only ``errors`` and ``limits``, so every other module
(``kernels``, ``stepper``, ``xo``) can read typed grids without importing one another.
"""
from __future__ import annotations

import math
import re

import numpy as np

from explainer.errors import UserError
from explainer.limits import KERNEL_TEXT_CHARS

MAX_SIZE = 7  # the largest kernel side a learner may type
MAX_ABS = 1e6  # the largest magnitude of one typed value

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


def parse_grid(text: str, max_side: int = 7) -> np.ndarray:
    """A grid of numbers typed by the user (``parse_kernel`` of a text): one row per line or ``;``, values
    separated by spaces or commas; words, NaN/infinity, ragged rows or a grid larger than
    ``max_side``×``max_side`` raise ``UserError``."""
    return parse_kernel(str(text), max_size=max_side)
