"""How a kernel learns: backpropagation through one convolution, by hand, and a 3×3 kernel fitted live.

The forward pass is the CNN convolution (cross-correlation) with stride ``s`` and zero padding ``p``:

    Y[r, c] = Σ_ij X̃[r·s + i, c·s + j] · W[i, j] + b        (X̃: X padded with p zeros all round)

With the loss ``L = ½ Σ (Y − T)²`` against a target map ``T``, the upstream gradient is ``G = ∂L/∂Y = Y − T``
and the chain rule gives, entry by entry,

    ∂L/∂W[i, j] = Σ_rc G[r, c] · X̃[r·s + i, c·s + j]      the input correlated with G
    ∂L/∂b       = Σ_rc G[r, c]
    ∂L/∂X       = (G with s − 1 zeros between its entries, padded with k − 1 zeros) correlated with W turned 180°,
                  then cropped by p on each side (the padded border is not part of X)

    >>> import numpy as np
    >>> from explainer.learning.backprop import conv2d_forward, conv2d_backward
    >>> x = np.arange(16.0).reshape(4, 4); w = np.ones((3, 3))
    >>> gx, gw, gb = conv2d_backward(x, w, np.ones((2, 2)))
    >>> gb, float(gw[0, 0]), float(gx[0, 0]), float(gx[1, 1])
    (4.0, 10.0, 1.0, 4.0)

``conv2d_backward`` is plain NumPy, written the way the formulas read; ``tests/test_backprop.py``
checks every number against ``torch.autograd`` in float64. :class:`KernelFit` learns a 3×3 kernel
from a target map with the real ``torch.optim`` optimizers of the Optimizers lesson
(:data:`explainer.learning.optimizers.OPTIMIZERS`).
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch

from explainer import limits
from explainer.maths.conv import _as_float
from explainer.learning import optimizers
from explainer.learning.models import evaluating
from explainer.errors import UserError, shape_text

MAX_HAND_SIDE = 12  # the by-hand example's input is at most 12×12 (every number is shown)
MAX_STRIDE, MAX_PADDING = 3, 2


# ---------------------------------------------------------------- forward and backward, in NumPy
def _grad(grad_out, ho: int, wo: int) -> np.ndarray:
    """``∂L/∂Y`` as float64; it must have the output's size ``(ho, wo)``."""
    g = _as_float(grad_out, "upstream_gradient")
    if g.shape != (ho, wo):
        raise UserError("errors.grad_shape", got=shape_text(g.shape), want=shape_text((ho, wo)))
    return g


def _check(x, w, stride: int, padding: int) -> tuple[np.ndarray, np.ndarray, int, int, int, int]:
    x = _as_float(x, "input")
    w = _as_float(w, "kernel")
    for param, a in (("input", x), ("kernel", w)):
        if a.ndim != 2 or a.size == 0:
            raise UserError("errors.shape_not_2d", param=param, shape=shape_text(a.shape))
    stride, padding = int(stride), int(padding)
    if not 1 <= stride <= MAX_STRIDE:
        raise UserError("errors.out_of_range", param="stride", lo=1, hi=MAX_STRIDE, value=stride)
    if not 0 <= padding <= MAX_PADDING:
        raise UserError("errors.out_of_range", param="padding", lo=0, hi=MAX_PADDING, value=padding)
    kh, kw = w.shape
    hp, wp = x.shape[0] + 2 * padding, x.shape[1] + 2 * padding
    if hp < kh or wp < kw:
        raise UserError("errors.no_output", n=min(x.shape), k=max(kh, kw), d=1, p=padding, s=stride)
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    return x, w, stride, padding, ho, wo


def conv2d_forward(x, w, b: float = 0.0, stride: int = 1, padding: int = 0) -> np.ndarray:
    """``Y[r, c] = Σ_ij X̃[r·s + i, c·s + j] · W[i, j] + b`` for a 2-D input ``x`` and kernel ``w``."""
    x, w, s, p, ho, wo = _check(x, w, stride, padding)
    xp = np.pad(x, p)
    kh, kw = w.shape
    y = np.full((ho, wo), float(b))
    for i in range(kh):
        for j in range(kw):
            y += w[i, j] * xp[i: i + s * (ho - 1) + 1: s, j: j + s * (wo - 1) + 1: s]
    return y


def dilate(g: np.ndarray, stride: int) -> np.ndarray:
    """``g`` with ``stride − 1`` zeros between neighbouring entries (the positions the window skipped)."""
    g = np.asarray(g, dtype=np.float64)
    out = np.zeros(((g.shape[0] - 1) * stride + 1, (g.shape[1] - 1) * stride + 1))
    out[::stride, ::stride] = g
    return out


def full_pad(g, x_shape, w_shape, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The upstream gradient prepared for ∂L/∂X: dilated by the stride, then padded with ``k − 1`` zeros
    on every side (plus, at the bottom and right, the rows and columns a stride never reached), so that
    sliding the 180°-turned kernel over it gives one number per pixel of the *padded* input."""
    d = dilate(g, stride)
    kh, kw = w_shape
    hp, wp = x_shape[0] + 2 * padding, x_shape[1] + 2 * padding
    extra_h = hp - kh + 1 - d.shape[0]  # rows after the last window position (stride did not reach)
    extra_w = wp - kw + 1 - d.shape[1]
    return np.pad(d, ((kh - 1, kh - 1 + extra_h), (kw - 1, kw - 1 + extra_w)))


def rot180(w) -> np.ndarray:
    """The kernel turned by 180° (flipped up-down and left-right)."""
    return np.asarray(w, dtype=np.float64)[::-1, ::-1].copy()


def _weight_grad(xp: np.ndarray, g: np.ndarray, shape: tuple[int, int], s: int) -> np.ndarray:
    """∂L/∂W[i, j] = Σ_rc G[r, c] · X̃[r·s + i, c·s + j] for the padded input ``xp``."""
    ho, wo = g.shape
    grad_w = np.empty(shape)
    for i in range(shape[0]):
        for j in range(shape[1]):
            grad_w[i, j] = np.sum(g * xp[i: i + s * (ho - 1) + 1: s, j: j + s * (wo - 1) + 1: s])
    return grad_w


def conv2d_backward(x, w, grad_out, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """``(∂L/∂X, ∂L/∂W, ∂L/∂b)`` of ``Y = conv2d_forward(x, w, b, stride, padding)`` given ``∂L/∂Y = grad_out``.

    Written as the lesson explains it: ∂L/∂W correlates the padded input with ∂L/∂Y (taking every
    ``stride``-th input pixel); ∂L/∂X slides the 180°-turned kernel over the dilated, fully padded
    ∂L/∂Y and drops the padding border; ∂L/∂b sums ∂L/∂Y.
    """
    x, w, s, p, ho, wo = _check(x, w, stride, padding)
    g = _grad(grad_out, ho, wo)
    kh, kw = w.shape
    xp = np.pad(x, p)
    grad_w = _weight_grad(xp, g, w.shape, s)
    # ∂L/∂X̃ = full-padded, dilated G correlated with rot180(W); then crop the padding border
    gp = full_pad(g, x.shape, w.shape, s, p)
    wr = rot180(w)
    hp, wp = xp.shape
    grad_xp = np.zeros((hp, wp))
    for i in range(kh):
        for j in range(kw):
            grad_xp += wr[i, j] * gp[i: i + hp, j: j + wp]
    grad_x = grad_xp[p: p + x.shape[0], p: p + x.shape[1]].copy()
    return grad_x, grad_w, float(g.sum())


# ---------------------------------------------------------------- per-entry breakdowns for the inspector
@dataclass(frozen=True)
class Terms:
    """One gradient entry written out as a sum of products ``Σ a_k · b_k``."""

    left: np.ndarray   # the first factors (e.g. ∂L/∂Y entries), as a grid
    right: np.ndarray  # the second factors (input pixels under the weight, or the turned kernel)
    total: float       # Σ left ⊙ right; equals the gradient map's entry


def weight_terms(x, w, grad_out, i: int, j: int, stride: int = 1, padding: int = 0) -> Terms:
    """∂L/∂W[i, j] written out: every ∂L/∂Y[r, c] times the input pixel weight (i, j) sat on at (r, c)."""
    x, w, s, p, ho, wo = _check(x, w, stride, padding)
    g = _grad(grad_out, ho, wo)
    i, j = int(i), int(j)
    if not (0 <= i < w.shape[0] and 0 <= j < w.shape[1]):
        raise UserError("errors.cell_outside", param="weight", h=w.shape[0], w=w.shape[1], value=(i, j))
    under = np.pad(x, p)[i: i + s * (ho - 1) + 1: s, j: j + s * (wo - 1) + 1: s].copy()
    return Terms(g.copy(), under, float(np.sum(g * under)))


def input_terms(x, w, grad_out, r: int, c: int, stride: int = 1, padding: int = 0) -> Terms:
    """∂L/∂X[r, c] written out: the window of the dilated, fully padded ∂L/∂Y at the pixel's place times
    the 180°-turned kernel (summed in the same order as :func:`conv2d_backward`)."""
    x, w, s, p, ho, wo = _check(x, w, stride, padding)
    g = _grad(grad_out, ho, wo)
    r, c = int(r), int(c)
    if not (0 <= r < x.shape[0] and 0 <= c < x.shape[1]):
        raise UserError("errors.cell_outside", param="pixel", h=x.shape[0], w=x.shape[1], value=(r, c))
    gp = full_pad(g, x.shape, w.shape, s, p)
    kh, kw = w.shape
    window = gp[r + p: r + p + kh, c + p: c + p + kw].copy()
    wr = rot180(w)
    total = 0.0
    for a in range(kh):
        for b in range(kw):
            total += wr[a, b] * window[a, b]
    return Terms(window, wr, float(total))


@dataclass(frozen=True)
class HandExample:
    """Everything the by-hand section shows: forward, loss, and the three gradients."""

    x: np.ndarray
    w: np.ndarray
    b: float
    target: np.ndarray
    y: np.ndarray
    loss: float
    grad_y: np.ndarray
    grad_x: np.ndarray
    grad_w: np.ndarray
    grad_b: float
    padded_grad: np.ndarray  # the dilated, fully padded ∂L/∂Y that the turned kernel slides over
    stride: int
    padding: int


HAND_INPUTS = ("small", "step_edge", "digit")


def hand_input(name: str) -> np.ndarray:
    """The by-hand lesson's inputs: a 5×5 grid of small integers, the tutorials' 6×6 60|0 step edge, or a
    7×7 "7" in ones and zeros."""
    if name == "small":
        return np.array([[1, 2, 0, 1, 3], [0, 1, 3, 2, 1], [2, 0, 1, 0, 2], [1, 3, 2, 1, 0], [0, 1, 0, 2, 1]],
                        dtype=np.float64)
    if name == "step_edge":
        return np.array([[60, 60, 60, 0, 0, 0]] * 6, dtype=np.float64)
    if name == "digit":
        return np.array([[0, 0, 0, 0, 0, 0, 0],
                         [0, 1, 1, 1, 1, 1, 0],
                         [0, 0, 0, 0, 1, 0, 0],
                         [0, 0, 0, 1, 0, 0, 0],
                         [0, 0, 0, 1, 0, 0, 0],
                         [0, 0, 1, 0, 0, 0, 0],
                         [0, 0, 1, 0, 0, 0, 0]], dtype=np.float64)
    raise UserError("errors.not_one_of", param="input", choices=" / ".join(HAND_INPUTS), value=name)


def hand_example(x, w, target_w, b: float = 0.0, stride: int = 1, padding: int = 0) -> HandExample:
    """The forward pass of ``x`` through ``w`` (+ ``b``), the target ``T`` = ``x`` through ``target_w``
    (same stride and padding), ``L = ½ Σ (Y − T)²`` and every gradient."""
    x = _as_float(x, "input")
    if x.ndim != 2 or x.size == 0:
        raise UserError("errors.shape_not_2d", param="input", shape=shape_text(x.shape))
    if max(x.shape) > MAX_HAND_SIDE:
        raise UserError("errors.grid_too_big", h=x.shape[0], w=x.shape[1], max=MAX_HAND_SIDE)
    y = conv2d_forward(x, w, b, stride, padding)
    t = conv2d_forward(x, target_w, 0.0, stride, padding)
    gy = y - t
    gx, gw, gb = conv2d_backward(x, w, gy, stride, padding)
    w = _as_float(w, "kernel")
    return HandExample(x, w, float(b), t, y, float(0.5 * np.sum(gy * gy)), gy, gx, gw, gb,
                       full_pad(gy, x.shape, w.shape, stride, padding), int(stride), int(padding))


def torch_gradients(x, w, b: float, grad_out, stride: int = 1, padding: int = 0):
    """The same three gradients from ``torch.autograd`` (float64), for checking: ``(grad_x, grad_w, grad_b)``."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64))[None, None].requires_grad_(True)
    wt = torch.tensor(np.asarray(w, dtype=np.float64))[None, None].requires_grad_(True)
    bt = torch.tensor([float(b)], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=int(stride), padding=int(padding))
    y.backward(torch.tensor(np.asarray(grad_out, dtype=np.float64))[None, None])
    return xt.grad[0, 0].numpy(), wt.grad[0, 0].numpy(), float(bt.grad[0])


_AUTOGRAD_CHECKS: dict = {}  # key (every number the check reads) → difference; bounded, shared by all sessions
_AUTOGRAD_CHECKS_MAX = 4096


def _grid_key(a) -> tuple:
    a = np.ascontiguousarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def autograd_difference(ex: HandExample) -> float:
    """The largest absolute difference between ``ex``'s by-hand gradients (∂L/∂X, ∂L/∂W, ∂L/∂b) and
    ``torch.autograd``'s: the by-hand section's check (≈ 0).

    The page shows it on every rerun of its by-hand part (~2 ms of autograd each time), so the result is kept
    per example (its arrays are ≤ 9×9): the same settings give the same check without running torch again."""
    key = (tuple(_grid_key(a) for a in (ex.x, ex.w, ex.grad_y, ex.grad_x, ex.grad_w)),
           repr(float(ex.b)), repr(float(ex.grad_b)), int(ex.stride), int(ex.padding))
    found = _AUTOGRAD_CHECKS.get(key)
    if found is not None:
        return found
    tx, tw, tb = torch_gradients(ex.x, ex.w, ex.b, ex.grad_y, ex.stride, ex.padding)
    diff = max(float(np.max(np.abs(tx - ex.grad_x))), float(np.max(np.abs(tw - ex.grad_w))), abs(tb - ex.grad_b))
    if len(_AUTOGRAD_CHECKS) >= _AUTOGRAD_CHECKS_MAX:
        _AUTOGRAD_CHECKS.clear()
    _AUTOGRAD_CHECKS[key] = diff
    return diff


# ---------------------------------------------------------------- learning a 3×3 kernel
FIT_IMAGES = ("camera", "shapes", "text", "checkerboard")
# Targets: a hand-set kernel's output (a 3×3 kernel can make it exactly) or one it cannot make.
REACHABLE = {"vertical_edge": "vertical_edge", "sobel_x": "sobel_x", "blur": "box_blur_3",
             "xo_diag": "xo_diag_down"}
UNREACHABLE = ("gaussian_5", "relu_edge")
TARGETS = tuple(REACHABLE) + UNREACHABLE
STARTS = ("random", "zero")
FIT_SIDE = 48  # the image is shrunk to 48×48 (a step costs well under a millisecond of arithmetic)
MAX_STEPS = 5000  # a fit keeps at most this many steps (its loss curve)
FRAME_SECONDS = 0.3  # the page draws a frame this often while playing
FIT_SPEED = 50  # the page's default steps per frame
# The lesson's starting learning rates (the Optimizers lesson's defaults, except the SGD family, whose
# step grows with the gradient: on this loss 0.05–0.1 is stable and makes progress, and Adam, whose 0.05
# needs 440–1,400 steps here: 0.1 needs 240–900 on every image and target, so at the default 50 steps per
# 0.3 s frame the default fit (camera, vertical edge) shows "converged" after 9 frames, under 3 s, the
# distance falling 0.3, 0.1, 0.08, 0.05, 0.03, … frame by frame. Adam at 0.15 or more jumps away again from
# an exact fit after about 1,300 steps.)
FIT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.1}


def fit_lr(optimizer: str) -> float:
    """The default learning rate for fitting a kernel with ``optimizer`` (a name in ``optimizers.NAMES``)."""
    from explainer.learning import optim

    return FIT_LR.get(optimizer, optim.defaults(optimizer)["lr"])


def target_kernel(target: str) -> np.ndarray | None:
    """The 3×3 kernel (÷ its divisor) whose output is the target, or None for a target no 3×3 kernel makes."""
    from explainer.maths.kernels import kernel

    if target in REACHABLE:
        k = kernel(REACHABLE[target])
        return np.asarray(k.weights, dtype=np.float64) / k.divisor
    if target in UNREACHABLE:
        return None
    raise UserError("errors.not_one_of", param="target", choices=" / ".join(TARGETS), value=target)


@functools.lru_cache(maxsize=8)
def fit_image(name: str, side: int = FIT_SIDE) -> np.ndarray:
    """A sample image as grey, shrunk by block averaging to ``side``×``side``, standardised to mean 0 and
    standard deviation 1 (as a CNN's input normalisation does: it makes the loss much better conditioned)."""
    from explainer.data.images import sample, to_grey

    if name not in FIT_IMAGES:
        raise UserError("errors.not_one_of", param="image", choices=" / ".join(FIT_IMAGES), value=name)
    g = to_grey(sample(name)).astype(np.float64) / 255.0
    h, w = g.shape
    f = max(1, min(h, w) // side)
    g = g[: h // f * f, : w // f * f].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    top, left = (g.shape[0] - min(side, g.shape[0])) // 2, (g.shape[1] - min(side, g.shape[1])) // 2
    g = g[top: top + side, left: left + side]
    g = (g - g.mean()) / (g.std() or 1.0)
    g.setflags(write=False)
    return g


@functools.lru_cache(maxsize=32)
def fit_problem(image: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, T)``: the standardised image and the target map (same size: "same" zero padding)."""
    x = fit_image(image)
    k = target_kernel(target)
    if k is not None:
        t = conv2d_forward(x, k, padding=1)
    elif target == "gaussian_5":
        from explainer.maths.kernels import kernel

        g5 = kernel("gaussian_5")
        t = conv2d_forward(x, np.asarray(g5.weights) / g5.divisor, padding=2)
    else:  # relu_edge: the vertical edge map with its negative half cut to 0 (a ReLU): not linear in x
        t = np.maximum(conv2d_forward(x, target_kernel("vertical_edge"), padding=1), 0.0)
    t.setflags(write=False)
    return x, t


def fit_loss(x, w, t) -> float:
    """``L = ½ · mean (conv(x, w, padding 1) − T)²``: the fitting loss (the mean, so the learning rate
    does not depend on the image size)."""
    d = conv2d_forward(x, w, padding=1) - t
    return float(0.5 * np.mean(d * d))


@functools.lru_cache(maxsize=32)
def best_fit(image: str, target: str) -> tuple[np.ndarray, float]:
    """The best 3×3 kernel for the target (least squares over all 3×3 windows) and its loss: where the
    learning should end, whatever the optimizer."""
    x, t = fit_problem(image, target)
    xp = np.pad(x, 1)
    h, w = x.shape
    cols = np.stack([xp[i: i + h, j: j + w].ravel() for i in range(3) for j in range(3)], axis=1)
    k, *_ = np.linalg.lstsq(cols, t.ravel(), rcond=None)
    k = k.reshape(3, 3)
    k.setflags(write=False)
    return k, fit_loss(x, k, t)


class KernelFit:
    """A 3×3 kernel learning to make a target map, one ``torch.optim`` step at a time.

    Each step is the lesson's own backward pass: the forward map and ∂L/∂W come from
    :func:`conv2d_forward` and the same weight-gradient sum as :func:`conv2d_backward` (NumPy, a few
    microseconds on 48×48), handed to the optimizer as ``.grad``; the update itself is the real
    ``torch.optim`` class's ``step()``. (Keeping the arithmetic out of torch also keeps a step free of
    torch's thread pool, which is slow on a busy shared CPU.)

    Small per learner: the 3×3 weights, the optimizer's state for them and the loss history (at most
    ``MAX_STEPS`` floats); the image and target are shared (cached by name).
    """

    def __init__(self, image: str, target: str, optimizer: str = "adam", lr: float | None = None,
                 start: str = "random", seed: int = 0):
        optimizers.spec(optimizer)  # an unknown name: UserError now
        if start not in STARTS:
            raise UserError("errors.not_one_of", param="start", choices=" / ".join(STARTS), value=start)
        lr = fit_lr(optimizer) if lr is None else float(lr)
        if not (np.isfinite(lr) and 0 < lr <= limits.TRAIN_LR_MAX):
            raise UserError("errors.out_of_range", param="learning_rate", lo=0, hi=f"{limits.TRAIN_LR_MAX:g}", value=lr)
        self.image, self.target, self.optimizer, self.lr, self.start = image, target, optimizer, lr, start
        self._x, self._t = fit_problem(image, target)  # shared, read-only
        self._xp = np.pad(self._x, 1)
        if start == "zero":
            w0 = torch.zeros(3, 3, dtype=torch.float64)
        else:
            w0 = torch.randn(3, 3, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64) * 0.5
        self._w = w0.requires_grad_(True)
        self._w.grad = torch.zeros(3, 3, dtype=torch.float64)
        self._opt = optimizers.build(optimizer, [self._w], lr, foreach=False)
        self.losses: list[float] = [self._loss_now()]
        self.last_update = np.zeros((3, 3))  # the change of the weights in the last step
        self.last_grad = np.zeros((3, 3))    # ∂L/∂W at the start of the last step
        self.diverged = False

    def _loss_now(self) -> float:
        return fit_loss(self._x, self.weights, self._t)

    @property
    def weights(self) -> np.ndarray:
        return self._w.detach().numpy().copy()

    @property
    def steps(self) -> int:
        return len(self.losses) - 1

    def output(self) -> np.ndarray:
        """The current kernel's output map."""
        return conv2d_forward(self._x, self.weights, padding=1)

    def step(self, n: int = 1) -> None:
        """Take ``n`` gradient steps (forward, ∂L/∂W by the by-hand formula in NumPy — no ``loss.backward()`` —,
        ``optimizer.step()``); stops at ``MAX_STEPS`` or when the weights stop being finite numbers (too large a
        learning rate)."""
        n = max(0, min(int(n), MAX_STEPS - self.steps))
        for _ in range(n):
            if self.diverged:
                return
            before = self.weights
            # forward, ∂L/∂Y = (Y − T) / N for L = ½ mean (Y − T)², then ∂L/∂W (the by-hand formula)
            d = conv2d_forward(self._x, before, padding=1) - self._t
            grad = _weight_grad(self._xp, d / d.size, (3, 3), 1)
            self.last_grad = grad
            with torch.no_grad():
                self._w.grad.copy_(torch.from_numpy(grad))
            self._opt.step()
            self.last_update = self.weights - before
            with np.errstate(all="ignore"):
                value = self._loss_now() if np.isfinite(self.weights).all() else float("inf")
            if not np.isfinite(value) or value > 1e12:
                self.diverged = True
            self.losses.append(value if np.isfinite(value) else float("inf"))

    def distance(self, kernel) -> float:
        """The largest absolute difference between the learned weights and ``kernel``."""
        return float(np.max(np.abs(self.weights - np.asarray(kernel, dtype=np.float64))))


# ---------------------------------------------------------------- conv vs dense: parameters
def parameter_counts(h: int, w: int, k: int = 3, channels_in: int = 1, channels_out: int = 1) -> dict:
    """Weights (with biases) of a ``k``×``k`` conv layer and of a dense layer mapping the same ``h``×``w``
    map (``channels_in`` deep) to an output of the same size (``channels_out`` deep)."""
    h, w, k = int(h), int(w), int(k)
    conv = channels_out * (channels_in * k * k + 1)
    n_in, n_out = channels_in * h * w, channels_out * h * w
    dense = n_out * (n_in + 1)
    return {"conv": conv, "dense": dense, "ratio": dense / conv}


# ---------------------------------------------------------------- what a trained network looks at
def _batch_of(x) -> torch.Tensor:
    """One picture as a batch of one: grey ``(H, W)`` (or ``(1, H, W)``) → ``(1, 1, H, W)``; colour ``(H, W, 3)`` →
    ``(1, 3, H, W)``; floats in [0, 1]."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.dim() == 3 and t.shape[2] == 3:
        return t.permute(2, 0, 1)[None].contiguous()
    return t.reshape(1, 1, *t.shape[-2:])


def saliency(model: torch.nn.Module, x28, label: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """``(|∂score/∂x|, class, probabilities)``: the gradient of the class's score (logit) with respect to each
    input pixel, in absolute value (a colour picture ``(H, W, 3)``: the largest of its three channels); ``label``
    None: the predicted class."""
    dev = next(model.parameters()).device
    x = _batch_of(x28).to(dev).requires_grad_(True)
    with evaluating(model), torch.enable_grad():
        logits = model(x)
        k = int(logits.argmax(1)) if label is None else int(label)
        # the input's gradient only: the (possibly shared) model's parameters get no .grad
        (grad,) = torch.autograd.grad(logits[0, k], x)
    probs = torch.softmax(logits.detach(), 1)[0].cpu().numpy()
    return grad[0].abs().amax(0).cpu().numpy().astype(np.float64), k, probs  # a colour picture: its strongest channel


def occlusion_centres(patch: int, stride: int, side: int = 28) -> list[float]:
    """The centre (a row or column, in pixels) of each patch position of ``occlusion(…, patch, stride)``:
    the occlusion map's coordinates on the ``side``×``side`` digit."""
    return [p + (patch - 1) / 2 for p in range(0, side - patch + 1, stride)]


def occlusion(model: torch.nn.Module, x28, label: int, patch: int = 6, stride: int = 2,
              fill: float = 0.5) -> np.ndarray:
    """The probability of ``label`` with a ``patch``×``patch`` square of grey (``fill``) over the digit at each
    position (top-left corners every ``stride`` pixels): a map ``(n, n)``, low where covering hurts."""
    patch, stride = int(patch), int(stride)
    if not 2 <= patch <= 14:
        raise UserError("errors.out_of_range", param="patch", lo=2, hi=14, value=patch)
    if not 1 <= stride <= 7:
        raise UserError("errors.out_of_range", param="stride", lo=1, hi=7, value=stride)
    x = _batch_of(x28)[0].numpy()  # (C, H, W)
    side = min(x.shape[1:])
    pos = list(range(0, side - patch + 1, stride))
    batch = np.repeat(x[None], len(pos) ** 2, axis=0)
    for a, r in enumerate(pos):
        for b, c in enumerate(pos):
            batch[a * len(pos) + b, :, r: r + patch, c: c + patch] = fill
    dev = next(model.parameters()).device
    run, xb = model, torch.from_numpy(batch).to(dev)
    if dev.type == "cpu" and any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        # a batch of ~121 pictures: oneDNN's channels-last kernels (pooling above all) take 9 ms where the default
        # layout takes 19 on one thread. They run on a private copy of the model (~2 ms): the shared one is used
        # by other sessions at the same time, so its tensors are never swapped or changed here
        with torch.no_grad():
            run = copy.deepcopy(model).to(memory_format=torch.channels_last).eval()
        xb = xb.contiguous(memory_format=torch.channels_last)
    with evaluating(run), torch.inference_mode():
        out = run(xb)
        p = torch.softmax(out, 1)[:, int(label)].cpu().numpy()
    return p.reshape(len(pos), len(pos)).astype(np.float64)
