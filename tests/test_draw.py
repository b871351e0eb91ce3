"""Canvas preprocessing: synthetic strokes become MNIST-style 28×28 digits."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from explainer.data.draw import preprocess_drawing


def _stroke(size=280, box=(200, 30, 230, 120), width=20, bg=0, ink=255, mode="L"):
    im = Image.new(mode, (size, size), bg)
    ImageDraw.Draw(im).line([box[:2], box[2:]], fill=ink, width=width)
    return np.asarray(im)


def test_off_centre_stroke_is_centred_and_scaled():
    x = preprocess_drawing(_stroke())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    cy, cx = ndimage.center_of_mass(x)
    assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6
    ys, xs = np.nonzero(x > 0.1)
    assert 17 <= ys.max() - ys.min() + 1 <= 22  # the longer side fills a 20-pixel box
    assert xs.min() >= 2 and xs.max() <= 25


def test_black_on_white_and_rgba_inputs():
    white = preprocess_drawing(_stroke(bg=255, ink=0))
    black = preprocess_drawing(_stroke())
    assert np.abs(white - black).max() < 0.05
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = _stroke()  # ink only where opaque
    assert np.abs(preprocess_drawing(rgba) - black).max() < 0.05


def test_small_canvas_and_empty_drawing():
    small = preprocess_drawing(_stroke(size=56, box=(20, 5, 30, 45), width=5))
    assert small.max() > 0.5
    assert preprocess_drawing(np.zeros((56, 56), np.uint8)).max() == 0
