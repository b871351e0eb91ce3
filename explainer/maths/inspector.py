"""Apply a kernel to an image, and open up any single output pixel.

The map and the pixel inspector share one definition of "output value":

    value = (Σ window ⊙ kernel) / divisor + bias

``apply_kernel`` computes the whole map with :func:`explainer.maths.conv.conv2d` (cross-correlation) and
``inspect_pixel`` recomputes one position tap by tap, in the same order and with the same floating
point operations, so the two agree exactly (``tests/test_kernels.py`` checks every position).

    >>> import numpy as np
    >>> from explainer.maths.inspector import apply_kernel, inspect_pixel
    >>> img = np.array([[60, 60, 60, 0, 0, 0]] * 6)
    >>> edge = [[1, 0, -1]] * 3
    >>> apply_kernel(img, edge)[0]
    array([  0., 180., 180.,   0.])
    >>> inspect_pixel(img, edge, 0, 1).value
    180.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explainer.maths.conv import _as_float, conv2d, pad
from explainer.errors import UserError


def oriented(weights, flip: bool = False) -> np.ndarray:
    """The weights as they slide over the image: as written (cross-correlation, what CNN layers do),
    or rotated by 180° (``flip=True``: true convolution as defined in signal processing)."""
    w = _as_float(weights, "kernel")
    return w[::-1, ::-1].copy() if flip else w


def apply_kernel(image, weights, divisor: float = 1.0, bias: float = 0.0, flip: bool = False,
                 padding: int = 0) -> np.ndarray:
    """The output map ``conv2d(image, kernel) / divisor + bias`` of a grey ``(H, W)`` image.

    ``padding`` zero-pads the image first (``0``: only positions where the kernel fits, as in the
    tutorials' 6×6 → 4×4). Raises ``UserError`` when the kernel doesn't fit or the divisor is 0.
    """
    _check_divisor(divisor)
    raw = conv2d(image, oriented(weights, flip), padding=padding)
    return raw / float(divisor) + float(bias)


def apply_kernel_rgb(image, weights, divisor: float = 1.0, bias: float = 0.0,
                     flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A colour ``(H, W, 3)`` image through a depth-3 kernel whose three slices are all ``weights``, as a
    CNN's first layer would see it. Returns ``(per_channel, total)``: the red, green and blue maps
    ``(3, H', W')`` (each ``conv2d / divisor``, no bias) and the layer's one output map, their sum + bias.

    Convolution is linear, so the grey image's map is ``0.299·R + 0.587·G + 0.114·B`` of these maps
    (plus the bias): an edge between two colours of equal brightness shows in the channels but
    cancels in grey."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3:
        raise UserError("errors.not_colour", value=img.shape)
    per_channel = np.stack([apply_kernel(img[..., ch].astype(np.float64), weights, divisor, 0.0, flip)
                            for ch in range(3)])
    return per_channel, per_channel.sum(axis=0) + float(bias)


def gradient_magnitude(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """√(gx² + gy²): the edge strength in any direction from a pair such as Sobel x and Sobel y.

    (Written out rather than ``np.hypot``, which is ~4× slower on a megapixel map; the values here are far
    from overflowing a float64.)"""
    gx, gy = np.asarray(gx, dtype=np.float64), np.asarray(gy, dtype=np.float64)
    return np.sqrt(gx * gx + gy * gy)


@dataclass(frozen=True)
class Inspection:
    """Every number behind one output pixel."""

    row: int
    col: int
    window: np.ndarray    # (kh, kw) the input values under the kernel (padding shows as 0)
    kernel: np.ndarray    # (kh, kw) the weights as applied (flipped when flip=True)
    products: np.ndarray  # window ⊙ kernel
    total: float          # Σ products
    divisor: float
    bias: float
    value: float          # total / divisor + bias — equals the map at (row, col)
    top: int              # the window's top-left corner in the (unpadded) image's coordinates
    left: int


def inspect_pixel(image, weights, row: int, col: int, divisor: float = 1.0, bias: float = 0.0,
                  flip: bool = False, padding: int = 0) -> Inspection:
    """The window, kernel, products, their sum and the output value at output position ``(row, col)``."""
    _check_divisor(divisor)
    k = oriented(weights, flip)
    x = pad(_as_float(image, "image"), padding)
    kh, kw = k.shape
    ho, wo = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    if ho < 1 or wo < 1:
        raise UserError("errors.no_output", n=min(x.shape) - 2 * padding, k=max(kh, kw), d=1, p=padding, s=1)
    row, col = int(row), int(col)
    if not (0 <= row < ho and 0 <= col < wo):
        raise UserError("errors.position_outside", row=row, col=col, h=ho, w=wo)
    window = x[row: row + kh, col: col + kw].copy()
    products = window * k
    # Sum tap by tap in conv2d's order, skipping zero weights as it does, so the result is bit-identical.
    total = 0.0
    for i in range(kh):
        for j in range(kw):
            if k[i, j] != 0.0:
                total += k[i, j] * window[i, j]
    value = total / float(divisor) + float(bias)
    return Inspection(row, col, window, k, products, float(total), float(divisor), float(bias), float(value),
                      row - padding, col - padding)


def _check_divisor(divisor) -> None:
    try:
        d = float(divisor)
    except (TypeError, ValueError):
        raise UserError("errors.bad_divisor", value=divisor) from None
    if not np.isfinite(d) or d == 0:
        raise UserError("errors.bad_divisor", value=divisor)


def curve_example() -> dict[str, np.ndarray]:
    """The tutorial's curve detector at work: the kernel, a patch with the matching curve, and one without.

    Returns ``{"kernel", "match", "other"}``; ``apply`` each patch with :func:`inspect_pixel` at (0, 0).
    The matching patch scores 6 × 50 × 30 = 9000 (ink beside the stroke has weight 0 and adds nothing);
    the other patch (strokes where the kernel has no weight) scores 0.
    """
    from explainer.maths.kernels import kernel

    k = np.array(kernel("curve").weights)
    match = np.where(k > 0, 30.0, 0.0)
    match[5, 2] = 20.0  # a little ink beside the stroke changes nothing: its weight is 0
    other = np.zeros_like(k)
    other[0:3, 0:3] = np.eye(3)[::-1] * 30.0  # a stroke in the opposite corner
    other[5:7, 0] = 30.0
    return {"kernel": k, "match": match, "other": other}
