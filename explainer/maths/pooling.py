"""Max, average and global average pooling, matching ``torch.nn.functional.max_pool2d`` / ``avg_pool2d``.

    >>> from explainer.maths.pooling import pool2d
    >>> pool2d([[1, 2, 0, 0], [3, 4, 0, 1], [0, 0, 5, 0], [0, 2, 0, 0]])
    array([[4., 1.],
           [2., 5.]])

Padding: max pooling ignores the padded cells (they act as −∞, so a padded border never wins).
Average pooling counts the padded zeros in its divisor by default (``count_include_pad=True``,
torch's default), so a corner window of size 2 with padding 1 divides one input value by 4; with
``count_include_pad=False`` it divides by the number of real input cells in the window.
"""
from __future__ import annotations

import numpy as np

from explainer.maths.conv import _as_float
from explainer.errors import UserError, shape_text
from explainer.maths.stepper import pool_output_size, pool_walk

__all__ = ["pool2d", "global_avg_pool", "shift", "pool_output_size"]


def pool2d(x, size=2, stride=None, mode: str = "max", padding=0, ceil_mode: bool = False,
           count_include_pad: bool = True) -> np.ndarray:
    """Pool ``x`` ``(H, W)`` or ``(C, H, W)`` (each channel on its own) → float64 of the same rank.

    ``size``, ``stride`` (default: ``size``, non-overlapping windows), ``padding``: int or
    (rows, cols); padding may be at most half the window, as in torch. ``mode``: ``"max"`` or
    ``"avg"``. ``ceil_mode``: keep a last, partial window (as in the X/O tutorial's 7×7 → 4×4).
    Raises ``UserError`` (a ``ValueError``) for settings that leave no output.
    """
    arr = _as_float(x, "image")
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise UserError("errors.shape_image", param="image", shape=shape_text(arr.shape))
    out = pool_walk(arr, size, stride, mode, padding, ceil_mode, count_include_pad).output()
    return out[0] if arr.ndim == 2 else out


def global_avg_pool(x) -> np.ndarray:
    """One number per channel: the mean of each map. ``(H, W)`` → a 0-d array, ``(C, H, W)`` → ``(C,)``."""
    arr = _as_float(x, "image")
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise UserError("errors.shape_image", param="image", shape=shape_text(arr.shape))
    return arr.mean(axis=(-2, -1))


def shift(x, dy: int = 0, dx: int = 0, fill: float = 0.0) -> np.ndarray:
    """``x`` moved ``dy`` rows down and ``dx`` columns right (negative: up/left); vacated cells get ``fill``."""
    arr = np.asarray(x, dtype=np.float64)
    out = np.full_like(arr, fill)
    h, w = arr.shape[-2:]
    dy, dx = int(dy), int(dx)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = arr[..., max(0, -dy): h - max(0, dy), max(0, -dx): w - max(0, dx)]
    out[..., max(0, dy): max(0, dy) + src.shape[-2], max(0, dx): max(0, dx) + src.shape[-1]] = src
    return out
