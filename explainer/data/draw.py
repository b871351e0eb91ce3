"""Turn a drawing into an MNIST-style 28×28 digit, the way MNIST itself was made:
grey levels, crop to the ink, scale the longer side to 20 pixels keeping the aspect ratio,
and place it in a 28×28 frame so that its centre of mass sits in the middle.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def to_grey_ink(img) -> np.ndarray:
    """Any drawing → float (H, W) in [0, 1] where 1 is ink.

    RGBA: ink is opacity times brightness on a black canvas. A light background (mean > 0.5)
    is inverted, so black-on-white drawings work too.
    """
    a = np.asarray(img, dtype=np.float64)
    if a.max(initial=0) > 1.0:
        a = a / 255.0
    if a.ndim == 3:
        if a.shape[2] == 4:
            grey = a[..., :3].mean(axis=2) * a[..., 3]
        else:
            grey = a[..., :3].mean(axis=2)
    else:
        grey = a
    if grey.size and grey.mean() > 0.5:
        grey = 1.0 - grey
    return np.clip(grey, 0.0, 1.0)


def preprocess_drawing(img, threshold: float = 0.05) -> np.ndarray:
    """A drawing (grey or RGB(A), any size, uint8 or float) → (28, 28) float32 in [0, 1], MNIST-style.

    Returns all zeros for an empty drawing.
    """
    grey = to_grey_ink(img)
    ys, xs = np.nonzero(grey > threshold)
    out = np.zeros((28, 28), dtype=np.float32)
    if ys.size == 0:
        return out
    crop = grey[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.LANCZOS),
                       dtype=np.float64) / 255.0
    top, left = (28 - nh) // 2, (28 - nw) // 2
    out[top: top + nh, left: left + nw] = np.clip(small, 0, 1)
    cy, cx = ndimage.center_of_mass(out)
    if np.isfinite(cy) and np.isfinite(cx):
        out = ndimage.shift(out, (13.5 - cy, 13.5 - cx), order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
