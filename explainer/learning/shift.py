"""A trained model on shifted pictures: its accuracy when every test picture is moved 0…6 pixels (the "How kernels
learn" lesson's convolution-versus-dense experiment, run as a ``ShiftJob`` on the engine). The shifts themselves and
the moving of a picture are maths (``explainer.maths.shift``, ``explainer.maths.pooling.shift``).
"""
from __future__ import annotations

import numpy as np

from explainer.learning.models import evaluating
from explainer.maths.pooling import shift as shift_image
from explainer.maths.shift import DIRECTIONS, SHIFTS


def shifted_accuracy(model, images, labels, shifts=SHIFTS, directions=DIRECTIONS) -> list[float]:
    """A trained model's accuracy on ``images`` (uint8 ``(N, H, W)`` grey or ``(N, H, W, C)`` colour: MNIST's digits,
    Fashion-MNIST, a learner's own pictures) moved by each of ``shifts`` pixels, averaged over the four
    ``directions`` (zero fill, as MNIST's background). Index ``i`` is the accuracy at ``shifts[i]`` pixels."""
    import torch

    x = np.asarray(images, dtype=np.float32) / 255.0
    y = torch.as_tensor(np.array(labels, dtype=np.int64))  # a copy: read-only arrays (an upload) warn
    if x.ndim not in (3, 4) or len(x) != len(y) or len(x) == 0 or min(x.shape[1:3]) < 2:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C) with N labels, got {x.shape} and {tuple(y.shape)}")
    x = x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # (N, C, H, W)
    device = next(model.parameters()).device
    out = []
    with evaluating(model), torch.inference_mode():
        for s in shifts:
            correct = 0
            for dy, dx in (directions if s else directions[:1]):
                moved = shift_image(x, dy * int(s), dx * int(s)).astype(np.float32)
                logits = model(torch.from_numpy(moved).to(device))
                correct += int((logits.argmax(1).cpu() == y).sum())
            out.append(correct / (len(y) * (len(directions) if s else 1)))
    return out
