"""The optimizers' update rules written out, one small function per ``torch.optim`` class, and the surfaces'
gradients written out by hand: what the Optimizers page races (``optim.race``), with no autograd and no
``torch.optim`` object per step.

Each rule is the textbook update, in the order of operations of the torch class's single-tensor code, so the
paths equal ``torch.optim``'s up to rounding (``tests/test_optim_rules.py`` races both on every surface,
optimizer, a grid of settings and noise on/off: max |difference| ≤ 1e-10 in float64). Not to the last bit:
torch's CPU kernels fuse a·b + c (FMA) and take sin, cos and √ from SLEEF, while Python rounds each operation
(both are within an ulp); on a chaotic path (a learning rate past stability on Rastrigin's bumps) such
differences grow, as they do between torch on two kinds of CPU. Micrograd style:

    >>> step = RULES["adam"].make(lr=0.1)      # Adam: its state (m, v) lives in the closure
    >>> [round(v, 6) for v in step(1.0, 1.0, 2.0, -5.0, 1)]   # at (1, 1), gradient (2, −5), step 1
    [0.9, 1.1]

Why plain Python floats and not NumPy arrays: a race moves ≤ 9 optimizers × 2 coordinates, 18 numbers. A NumPy
call on such a tiny array costs ~0.9 µs of call overhead whatever it computes, and one step of all the
rules together needs ~40 of them (≈ 70 ms for 2,000 steps); the same step in Python floats costs ~2 µs per
optimizer (≈ 30 ms for 8 optimizers × 2,000 steps). What is vectorised: the gradient noise (one draw for the
whole race), and the MNIST surface's gradient (2,000 digits × every optimizer at once, one matrix product).
"""
from __future__ import annotations

import functools
import math
from math import sqrt
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Rule:
    torch_class: str  # the torch.optim class whose update this is, e.g. "torch.optim.Adam"
    make: Callable[..., Callable]  # (lr, **settings) → step(x, y, gx, gy, t) → (x, y)
    settings: tuple[str, ...]  # the settings ``make`` takes besides lr


# ---------------------------------------------------------------- the rules
# Each ``make(lr, **settings)`` returns ``step(x, y, gx, gy, t) → (x, y)``: one step t = 1, 2, … of one
# optimizer at (x, y) with gradient (gx, gy), its state (momentum, averages) kept in the closure. Every
# optimizer here treats each coordinate on its own, so the two lines of each update are the same rule.
def _coupled_decay(step, weight_decay):
    """``step`` with torch's coupled (L2) weight decay: the gradient gets ``weight_decay``·p before the rule sees it
    (g += wd·p, the first line of each of these torch classes' updates); ``step`` itself when it is 0."""
    if weight_decay == 0:
        return step

    def decayed(x, y, gx, gy, t):
        return step(x, y, gx + weight_decay * x, gy + weight_decay * y, t)
    return decayed


def sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD: g += wd·p; b = μ·b + (1−τ)·g (b = g at step 1); p −= lr·(g + μ·b if Nesterov else b)."""
    bx = by = None

    def step(x, y, gx, gy, t):
        nonlocal bx, by
        if momentum != 0:
            if bx is None:
                bx, by = gx, gy
            else:
                bx, by = bx * momentum + (1 - dampening) * gx, by * momentum + (1 - dampening) * gy
            if nesterov:
                gx, gy = gx + momentum * bx, gy + momentum * by
            else:
                gx, gy = bx, by
        return x + (-lr) * gx, y + (-lr) * gy
    return _coupled_decay(step, weight_decay)


def adagrad(lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10, initial_accumulator_value=0.0):
    """torch.optim.Adagrad: s += g²; p −= lr/(1 + (t−1)·decay) · g / (√s + ε)."""
    sx = sy = float(initial_accumulator_value)

    def step(x, y, gx, gy, t):
        nonlocal sx, sy
        clr = lr / (1 + (t - 1) * lr_decay)
        sx, sy = sx + gx * gx, sy + gy * gy
        return x + (-clr) * gx / (sqrt(sx) + eps), y + (-clr) * gy / (sqrt(sy) + eps)
    return _coupled_decay(step, weight_decay)


def rmsprop(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0):
    """torch.optim.RMSprop (not centred): v = α·v + (1−α)·g²; p −= lr · g / (√v + ε) (through a momentum buffer)."""
    vx = vy = bx = by = 0.0

    def step(x, y, gx, gy, t):
        nonlocal vx, vy, bx, by
        vx, vy = vx * alpha + (1 - alpha) * gx * gx, vy * alpha + (1 - alpha) * gy * gy
        ax, ay = sqrt(vx) + eps, sqrt(vy) + eps
        if momentum > 0:
            bx, by = bx * momentum + 1 * gx / ax, by * momentum + 1 * gy / ay
            return x + (-lr) * bx, y + (-lr) * by
        return x + (-lr) * gx / ax, y + (-lr) * gy / ay
    return _coupled_decay(step, weight_decay)


def adadelta(lr, rho=0.9, eps=1e-6, weight_decay=0.0):
    """torch.optim.Adadelta: v = ρ·v + (1−ρ)·g²; Δ = √(u + ε)/√(v + ε) · g; u = ρ·u + (1−ρ)·Δ²; p −= lr·Δ."""
    vx = vy = ux = uy = 0.0

    def step(x, y, gx, gy, t):
        nonlocal vx, vy, ux, uy
        vx, vy = vx * rho + (1 - rho) * gx * gx, vy * rho + (1 - rho) * gy * gy
        dx = sqrt(ux + eps) / sqrt(vx + eps) * gx
        dy = sqrt(uy + eps) / sqrt(vy + eps) * gy
        ux, uy = ux * rho + (1 - rho) * dx * dx, uy * rho + (1 - rho) * dy * dy
        return x + (-lr) * dx, y + (-lr) * dy
    return _coupled_decay(step, weight_decay)


def _lerp(a, b, w):
    """torch.lerp(a, b, w), as torch computes it (from the nearer end)."""
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)


# Numbers that depend on the step t alone, not on the path (bias corrections, NAdam's μₜ), are computed once
# for all steps up to SCHEDULE_STEPS (vectorised over the steps where it keeps torch's rounding) and shared.
SCHEDULE_STEPS = 5001


@functools.lru_cache(maxsize=64)
def adam_schedule(beta1: float, beta2: float) -> tuple[list, list]:
    """``(1 − β₁ᵗ, √(1 − β₂ᵗ))`` for t = 0 … ``SCHEDULE_STEPS`` − 1, as torch computes them (Python floats)."""
    return ([1 - beta1 ** float(t) for t in range(SCHEDULE_STEPS)],
            [(1 - beta2 ** float(t)) ** 0.5 for t in range(SCHEDULE_STEPS)])


@functools.lru_cache(maxsize=64)
def nadam_schedule(beta1: float, beta2: float, momentum_decay: float) -> tuple[list, list, list, list]:
    """NAdam's ``(μₜ, μₜ₊₁, Πμ up to t, 1 − β₂ᵗ)`` for t = 0 … ``SCHEDULE_STEPS`` − 1. torch keeps the product
    Πμ in float32: a float32 running product (``np.cumprod`` multiplies in order, rounding each time)."""
    mu = [beta1 * (1.0 - 0.5 * (0.96 ** (float(t) * momentum_decay))) for t in range(SCHEDULE_STEPS + 1)]
    product = np.cumprod(np.array([1.0] + mu[1:SCHEDULE_STEPS], dtype=np.float32), dtype=np.float32)
    return (mu[:SCHEDULE_STEPS], mu[1:], product.astype(np.float64).tolist(),
            [1 - beta2 ** float(t) for t in range(SCHEDULE_STEPS)])


def adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    """torch.optim.Adam (AdamW: ``decoupled``): m = β₁·m + (1−β₁)·g; v = β₂·v + (1−β₂)·g²;
    p −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε). Weight decay: g += wd·p (Adam) or p ·= 1 − lr·wd first (AdamW)."""
    mx = my = vx = vy = 0.0
    bc1, bc2 = adam_schedule(float(beta1), float(beta2))

    def step(x, y, gx, gy, t):
        nonlocal mx, my, vx, vy
        if weight_decay != 0 and decoupled:
            x, y = x * (1 - lr * weight_decay), y * (1 - lr * weight_decay)
        mx, my = _lerp(mx, gx, 1 - beta1), _lerp(my, gy, 1 - beta1)
        vx, vy = vx * beta2 + (1 - beta2) * gx * gx, vy * beta2 + (1 - beta2) * gy * gy
        step_size = lr / bc1[t]  # lr / (1 − β₁ᵗ)
        b = bc2[t]  # √(1 − β₂ᵗ)
        return (x + (-step_size) * mx / (sqrt(vx) / b + eps),
                y + (-step_size) * my / (sqrt(vy) / b + eps))
    return step if decoupled else _coupled_decay(step, weight_decay)


def adamw(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """torch.optim.AdamW: Adam with decoupled weight decay."""
    return adam(lr, beta1, beta2, eps, weight_decay, decoupled=True)


def nadam(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=0.004):
    """torch.optim.NAdam: Adam with Nesterov momentum whose μₜ = β₁(1 − ½·0.96^(t·ψ)) warms up;
    p −= lr(1−μₜ)/(1−Πμ)·g/d + lr·μₜ₊₁/(1−Πμ·μₜ₊₁)·m/d with d = √(v/(1−β₂ᵗ)) + ε.
    torch keeps the product Πμ in float32, so it is kept so here."""
    mx = my = vx = vy = 0.0
    mus, mu_nexts, products, bcs2 = nadam_schedule(float(beta1), float(beta2), float(momentum_decay))

    def step(x, y, gx, gy, t):
        nonlocal mx, my, vx, vy
        bias_correction2 = bcs2[t]  # 1 − β₂ᵗ
        mu, mu_next, mp = mus[t], mu_nexts[t], products[t]  # μₜ, μₜ₊₁, Πμ (float32, as torch keeps it)
        mx, my = _lerp(mx, gx, 1 - beta1), _lerp(my, gy, 1 - beta1)
        vx, vy = vx * beta2 + (1 - beta2) * gx * gx, vy * beta2 + (1 - beta2) * gy * gy
        dx, dy = sqrt(vx / bias_correction2) + eps, sqrt(vy / bias_correction2) + eps
        c_grad = -lr * (1.0 - mu) / (1.0 - mp)
        c_avg = (-lr * mu_next) / (1.0 - mp * mu_next)
        x, y = x + c_grad * gx / dx, y + c_grad * gy / dy
        return x + c_avg * mx / dx, y + c_avg * my / dy
    return _coupled_decay(step, weight_decay)


def _nesterov(lr, momentum=0.9, dampening=0.0, weight_decay=0.0):
    return sgd(lr, momentum, dampening, weight_decay, nesterov=True)


RULES: dict[str, Rule] = {
    "sgd": Rule("torch.optim.SGD", sgd, ("momentum", "dampening", "weight_decay")),
    "momentum": Rule("torch.optim.SGD", sgd, ("momentum", "dampening", "weight_decay")),
    "nesterov": Rule("torch.optim.SGD", _nesterov, ("momentum", "dampening", "weight_decay")),
    "adagrad": Rule("torch.optim.Adagrad", adagrad, ("lr_decay", "weight_decay", "eps", "initial_accumulator_value")),
    "rmsprop": Rule("torch.optim.RMSprop", rmsprop, ("alpha", "eps", "weight_decay", "momentum")),
    "adadelta": Rule("torch.optim.Adadelta", adadelta, ("rho", "eps", "weight_decay")),
    "adam": Rule("torch.optim.Adam", adam, ("beta1", "beta2", "eps", "weight_decay")),
    "adamw": Rule("torch.optim.AdamW", adamw, ("beta1", "beta2", "eps", "weight_decay")),
    "nadam": Rule("torch.optim.NAdam", nadam, ("beta1", "beta2", "eps", "weight_decay", "momentum_decay")),
}


# ---------------------------------------------------------------- the surfaces' gradients, by hand
# Each is written as autograd computes it (the same products, in the same order), so the gradient is the one
# torch would give to the last bit; tests compare them with autograd at random points.
def grad_quadratic(kappa: float):
    def grad(x, y):  # f = ½(x² + κy²)
        return 0.5 * (2 * x), (0.5 * kappa) * (2 * y)
    return grad


def grad_rosenbrock(x, y):  # f = (1 − x)² + 100 (y − x²)²
    c = 100 * (2 * (y - x * x))
    return -(2 * (1 - x)) - c * (2 * x), c


def grad_beale(x, y):  # f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²
    y2 = y * y
    y3 = y2 * y
    g1 = 2 * (1.5 - x + x * y)
    g2 = 2 * (2.25 - x + x * y2)
    g3 = 2 * (2.625 - x + x * y3)
    gx = -g1 + g1 * y - g2 + g2 * y2 - g3 + g3 * y3
    gy = g1 * x + (g2 * x) * (2 * y) + (g3 * x) * (3 * y2)
    return gx, gy


def grad_himmelblau(x, y):  # f = (x² + y − 11)² + (x + y² − 7)²
    a = 2 * (x * x + y - 11)
    b = 2 * (x + y * y - 7)
    return a * (2 * x) + b, a + b * (2 * y)


def grad_saddle(x, y):  # f = x² − y²
    return 2 * x, -(2 * y)


_TWO_PI = 2 * math.pi


def grad_rastrigin(x, y):  # f = 20 + x² − 10 cos 2πx + y² − 10 cos 2πy
    return (2 * x + 10 * math.sin(_TWO_PI * x) * _TWO_PI,
            2 * y + 10 * math.sin(_TWO_PI * y) * _TWO_PI)


def grad_ravine(x, y):  # f = 0.05 x² + 2 (y − 0.3 sin x)²
    c = 2.0 * (2 * (y - 0.3 * math.sin(x)))
    return 0.05 * (2 * x) + (-c * 0.3) * math.cos(x), c


GRADIENTS = {"rosenbrock": grad_rosenbrock, "beale": grad_beale, "himmelblau": grad_himmelblau,
             "saddle": grad_saddle, "rastrigin": grad_rastrigin, "ravine": grad_ravine}


def gradient(name: str, params: dict | None = None):
    """The hand-written gradient ``(x, y) → (∂f/∂x, ∂f/∂y)`` of a built-in surface; None for one without
    (MNIST's: ``logistic_gradients``)."""
    if name == "quadratic":
        return grad_quadratic(float((params or {}).get("kappa", 10.0)))
    return GRADIENTS.get(name)


def logistic_gradients(F1: np.ndarray, F2: np.ndarray, Y: np.ndarray):
    """The MNIST surface's gradient for a batch of positions: W (k, 2) → (k, 2), the mean over the digits of
    (σ(z) − y)·(ink, width) with z = w₁·ink + w₂·width, for all k optimizers in one product."""
    X = np.stack([F1, F2])  # (2, n)
    Xt = X.T.copy()
    n = X.shape[1]

    def grad(W: np.ndarray) -> np.ndarray:
        z = W @ X
        s = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
        return (s - Y) @ Xt / n
    return grad


# ---------------------------------------------------------------- a race
def run(runs: list[tuple[str, dict]], start: tuple[float, float], steps: int, grad, kicks, bound: float,
        batch_grad=None) -> np.ndarray:
    """Positions ``(len(runs), steps + 1, 2)``: each (optimizer, settings) from ``start`` with ``grad`` (or, for a
    surface whose gradient is computed for all optimizers at once, ``batch_grad``), plus ``kicks`` ((steps, 2)
    noise, or None) on every gradient. A path is NaN from its first position that is not finite or beyond
    ``bound`` in a coordinate (``optim.race`` cuts it there); it is not computed further."""
    k = len(runs)
    out = np.full((k, steps + 1, 2), np.nan)
    out[:, 0] = start
    kx = kicks[:, 0].tolist() if kicks is not None else None
    ky = kicks[:, 1].tolist() if kicks is not None else None
    if batch_grad is not None:
        _run_batch(runs, start, steps, batch_grad, kx, ky, bound, out)
        return out
    for i, (name, hp) in enumerate(runs):
        step = RULES[name].make(**hp)
        x, y = float(start[0]), float(start[1])
        xs, ys = [x], [y]
        try:
            for t in range(1, steps + 1):
                gx, gy = grad(x, y)
                if kx is not None:
                    gx = gx + kx[t - 1]
                    gy = gy + ky[t - 1]
                x, y = step(x, y, gx, gy, t)
                if not (abs(x) <= bound and abs(y) <= bound):  # NaN, ±inf or a runaway: the path ends here
                    break
                xs.append(x)
                ys.append(y)
        except (ArithmeticError, ValueError):  # an overflow on the way to a runaway: the same end
            pass
        n = len(xs)
        out[i, :n, 0] = xs
        out[i, :n, 1] = ys
    return out


def _run_batch(runs, start, steps, batch_grad, kx, ky, bound, out) -> None:
    """All optimizers in lockstep: one batched gradient per step for those still running."""
    k = len(runs)
    steppers = [RULES[n].make(**hp) for n, hp in runs]
    P = np.array([[float(start[0]), float(start[1])]] * k)
    alive = list(range(k))
    for t in range(1, steps + 1):
        G = batch_grad(P[alive]).tolist()
        still = []
        for j, i in enumerate(alive):
            gx, gy = G[j]
            if kx is not None:
                gx = gx + kx[t - 1]
                gy = gy + ky[t - 1]
            try:
                x, y = steppers[i](float(P[i, 0]), float(P[i, 1]), gx, gy, t)
            except (ArithmeticError, ValueError):
                continue
            if abs(x) <= bound and abs(y) <= bound:
                P[i] = x, y
                out[i, t] = x, y
                still.append(i)
        alive = still
        if not alive:
            break
