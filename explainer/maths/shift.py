"""Shift invariance, the tutorial's argument in numbers.

Pixel by pixel, a "1" moved a few pixels sideways can be closer to a "7" than to the unmoved "1".
After convolution (edge kernels) → ReLU → max-pooling over large windows, the features of the two
"1"s are the closer pair again: pooling only asks *whether* a stroke is somewhere in a region,
not exactly where.

    >>> import numpy as np
    >>> from explainer.maths.shift import compare
    >>> one = np.zeros((28, 28)); one[4:24, 13:15] = 1
    >>> seven = np.zeros((28, 28)); seven[4:6, 8:20] = 1; seven[6:24, 17:19] = 1
    >>> c = compare(one, seven, 4)
    >>> c.pixel_to_seven < c.pixel_to_one, c.feature_to_one < c.feature_to_seven
    (True, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explainer.maths.conv import conv2d
from explainer.maths.kernels import kernel
from explainer.maths.pooling import pool2d
from explainer.maths.pooling import shift as shift_image

# MNIST test-set images used by default: a "1" and a "7" for which the argument holds for shifts 2–7.
ONE_INDEX, SEVEN_INDEX = 276, 175
FEATURE_KERNELS = ("vertical_edge", "horizontal_edge", "xo_diag_down", "xo_diag_up")
POOL = 13  # 26×26 maps → 2×2: each feature says which quarter of the image holds that stroke


@dataclass(frozen=True)
class ShiftComparison:
    one: np.ndarray  # the "1", scaled to 0–1
    shifted: np.ndarray  # the "1" moved ``shift`` pixels to the right
    seven: np.ndarray
    shift: int
    features_one: np.ndarray  # (kernels, 2, 2) after conv → ReLU → max-pool
    features_shifted: np.ndarray
    features_seven: np.ndarray
    pixel_to_one: float  # ‖shifted − one‖ on pixels
    pixel_to_seven: float  # ‖shifted − seven‖ on pixels
    feature_to_one: float  # the same distances on the pooled features
    feature_to_seven: float


def features(image, pool: int = POOL) -> np.ndarray:
    """Conv with ``FEATURE_KERNELS`` → ReLU → max-pool ``pool``×``pool`` (stride ``pool``, last partial window kept)."""
    bank = np.stack([kernel(n).weights for n in FEATURE_KERNELS])[:, None]
    maps = np.maximum(conv2d(np.asarray(image, dtype=np.float64)[None], bank), 0.0)
    return pool2d(maps, size=pool, stride=pool, mode="max", ceil_mode=True)


def compare(one, seven, shift: int, pool: int = POOL) -> ShiftComparison:
    """Distances between a "1" moved ``shift`` pixels sideways, the unmoved "1" and a "7", on
    pixels and on pooled features. Images are (H, W); uint8 images are scaled to 0–1."""
    def unit(a):
        a = np.asarray(a, dtype=np.float64)
        return a / 255.0 if a.max(initial=0) > 1 else a

    one, seven = unit(one), unit(seven)
    moved = shift_image(one, 0, int(shift))
    f1, fs, f7 = features(one, pool), features(moved, pool), features(seven, pool)
    d = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    return ShiftComparison(one, moved, seven, int(shift), f1, fs, f7, d(moved, one), d(moved, seven),
                           d(fs, f1), d(fs, f7))


# ---------------------------------------------------------------- the shifts a trained model is tested on
# (``explainer.learning.shift.shifted_accuracy``; the Backprop page's axis)
SHIFTS = tuple(range(7))  # 0…6 pixels
DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # right, left, down, up
