"""Optimizers racing on loss surfaces: the update rules of the ``torch.optim`` classes written out
(``explainer.learning.optim_rules``), with the surfaces' gradients by hand; ``race_torch`` races the real classes with
autograd, the oracle the tests hold the rules to.

    >>> from explainer.learning.optim import trajectory
    >>> path = trajectory("rosenbrock", "adam", start=(-1.5, 2.0), steps=100, lr=0.05)
    >>> path.shape
    (101, 2)
    >>> from explainer.learning.optim import SURFACES
    >>> SURFACES["himmelblau"].minima[0]
    (3.0, 2.0)
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch

from explainer import limits
from explainer.learning import optim_rules, optimizers
from explainer.errors import UserError
from explainer.learning.models import evaluating, prefers_channels_last


@dataclass(frozen=True)
class Surface:
    name: str
    fn: Callable  # (x, y) torch tensors (any equal shapes) → loss tensor of that shape
    bounds: tuple[tuple[float, float], tuple[float, float]]
    minima: tuple[tuple[float, float], ...]
    start: tuple[float, float]
    latex: str
    log_scale: bool = False  # contour levels on log(1 + f)
    params: dict = field(default_factory=dict)
    sgd_lr: float = 0.01  # a learning rate at which plain SGD makes progress here without diverging
    grad: Callable | None = None  # (x, y) floats → (∂f/∂x, ∂f/∂y), written out (optim_rules); None: autograd
    batch_grad: Callable | None = None  # (k, 2) positions → (k, 2) gradients, for a surface dear per point


def _quadratic(kappa: float = 10.0):
    return lambda x, y: 0.5 * (x ** 2 + kappa * y ** 2)


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def _himmelblau(x, y):
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def _saddle(x, y):
    return x ** 2 - y ** 2


def _rastrigin(x, y):
    return 20 + x ** 2 - 10 * torch.cos(2 * math.pi * x) + y ** 2 - 10 * torch.cos(2 * math.pi * y)


def _ravine(x, y):
    return 0.05 * x ** 2 + 2.0 * (y - 0.3 * torch.sin(x)) ** 2


def surface(name: str, **params) -> Surface:
    """A surface by name (see ``SURFACE_NAMES``); ``kappa`` sets the quadratic bowl's condition number."""
    if name == "quadratic":
        kappa = float(params.get("kappa", 10.0))
        if not 1 <= kappa <= 1000:
            raise UserError("errors.out_of_range", param="condition_number", lo=1, hi=1000, value=kappa)
        return Surface("quadratic", _quadratic(kappa), ((-3, 3), (-3, 3)), ((0.0, 0.0),), (-2.5, 2.0),
                       rf"f(x,y)=\tfrac12\,(x^2+{kappa:g}\,y^2)", params={"kappa": kappa},
                       sgd_lr=round(1.0 / kappa, 4), grad=optim_rules.grad_quadratic(kappa))
    if name == "mnist_logistic":
        return mnist_logistic_surface()
    try:
        return _FIXED[name]
    except KeyError:
        raise UserError("errors.not_one_of", param="surface", choices=" / ".join(SURFACE_NAMES), value=name) from None


_FIXED = {
    "rosenbrock": Surface("rosenbrock", _rosenbrock, ((-2, 2), (-1, 3)), ((1.0, 1.0),), (-1.5, 2.0),
                          r"f(x,y)=(1-x)^2+100\,(y-x^2)^2", log_scale=True, sgd_lr=0.001),
    "beale": Surface("beale", _beale, ((-4.5, 4.5), (-4.5, 4.5)), ((3.0, 0.5),), (1.0, 1.5),
                     r"f=(1.5-x+xy)^2+(2.25-x+xy^2)^2+(2.625-x+xy^3)^2", log_scale=True,
                     sgd_lr=0.005),
    "himmelblau": Surface("himmelblau", _himmelblau, ((-5, 5), (-5, 5)),
                          ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
                          (0.0, 0.0), r"f(x,y)=(x^2+y-11)^2+(x+y^2-7)^2", log_scale=True, sgd_lr=0.005),
    "saddle": Surface("saddle", _saddle, ((-2, 2), (-2, 2)), (), (-1.8, 0.01), r"f(x,y)=x^2-y^2", sgd_lr=0.05),
    "rastrigin": Surface("rastrigin", _rastrigin, ((-5.12, 5.12), (-5.12, 5.12)), ((0.0, 0.0),), (3.2, -2.7),
                         r"f=20+\sum_{v\in\{x,y\}}\left(v^2-10\cos 2\pi v\right)", sgd_lr=0.002),
    "ravine": Surface("ravine", _ravine, ((-8, 8), (-3, 3)), ((0.0, 0.0),), (-7.0, 2.0),
                      r"f(x,y)=0.05\,x^2+2\,(y-0.3\sin x)^2", sgd_lr=0.2),
}
_FIXED = {name: dataclasses.replace(surf, grad=optim_rules.GRADIENTS[name]) for name, surf in _FIXED.items()}
SURFACE_NAMES = ("quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "rastrigin", "ravine", "mnist_logistic")


class _Surfaces(Mapping):
    """``SURFACES[name]``: each surface with its default parameters (function, bounds, minima, …).
    Built on first access, so the MNIST one reads MNIST only when asked for."""

    def __getitem__(self, name: str) -> Surface:
        if name not in SURFACE_NAMES:
            raise KeyError(name)
        return surface(name)

    def __iter__(self):
        return iter(SURFACE_NAMES)

    def __len__(self) -> int:
        return len(SURFACE_NAMES)


SURFACES: Mapping[str, Surface] = _Surfaces()


_MNIST_LOCK = threading.Lock()


def mnist_logistic_surface(n: int = 2000) -> Surface:
    """Real data: logistic regression telling MNIST 0s from 1s with two weights on two features
    (the digit's ink and its width, both standardised). The loss is the mean cross-entropy.
    Made once per process (a second thread asking meanwhile waits for the first one's)."""
    with _MNIST_LOCK:
        return _mnist_logistic_surface(n)


@functools.lru_cache(maxsize=2)
def _mnist_logistic_surface(n: int) -> Surface:
    from explainer.data.mnist import load_mnist

    x_train, y_train, _, _ = load_mnist(download=False)
    mask = np.isin(y_train, (0, 1))
    x, y = x_train[mask][:n].astype(np.float64) / 255.0, (y_train[mask][:n] == 1).astype(np.float64)
    ink = x.mean(axis=(1, 2))
    cols = (x > 0.5).any(axis=1)
    width = np.array([np.ptp(np.flatnonzero(c)) if c.any() else 0 for c in cols], dtype=np.float64)
    f1, f2 = ((v - v.mean()) / v.std() for v in (ink, width))
    F1, F2, Y = (torch.tensor(v) for v in (f1, f2, y))

    def fn(w1, w2):
        z = w1[..., None] * F1 + w2[..., None] * F2
        return torch.nn.functional.binary_cross_entropy_with_logits(z, Y.expand_as(z), reduction="none").mean(-1)

    # The loss is convex with one finite minimum (the classes overlap a little); L-BFGS finds it.
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    lbfgs = torch.optim.LBFGS([w], lr=1, max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14,
                              line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss = fn(w[0], w[1])
        loss.backward()
        return loss

    for _ in range(3):
        lbfgs.step(closure)
    minimum = tuple(round(float(v), 6) for v in w.detach())
    return Surface("mnist_logistic", fn, ((-6, 4), (-6, 4)), (minimum,), (3.0, 3.0),
                   r"L(w_1,w_2)=\frac1N\sum_i \mathrm{BCE}\left(\sigma(w_1\,\mathrm{ink}_i+w_2\,\mathrm{width}_i),\,y_i\right)",
                   sgd_lr=1.0, batch_grad=optim_rules.logistic_gradients(f1, f2, y))


# ---------------------------------------------------------------- optimizers
MAX_LR, MAX_STEPS = 1000, 5000  # limits of a race's settings
RUNAWAY = 1e6  # a path this many plot sizes away has diverged: it is cut there
OPTIMIZER_NAMES = optimizers.NAMES  # the table lives in explainer.learning.optimizers, shared with training


def defaults(name: str, surf: Surface | None = None) -> dict:
    """The default hyperparameters of an optimizer, betas split into beta1/beta2; the SGD family
    gets the surface's ``sgd_lr`` (gradients differ by orders of magnitude between surfaces)."""
    entry = optimizers.spec(name)
    d = {"lr": entry.surface_lr, **entry.settings}
    if "betas" in d:
        d["beta1"], d["beta2"] = d.pop("betas")
    d.pop("nesterov", None)
    if surf is not None and entry.cls is torch.optim.SGD:
        d["lr"] = surf.sgd_lr
    return d


# Each setting a rule takes: (catalogue word, lowest, highest, highest allowed?) — torch's own checks (none
# negative, betas below 1, …) with a ceiling so a learner's number stays a number a lesson can show.
SETTING_RANGES = {
    "momentum": ("momentum", 0.0, 1.0, False),
    "dampening": ("dampening", 0.0, 1.0, True),
    "weight_decay": ("weight_decay", 0.0, 1.0, True),
    "eps": ("epsilon", 0.0, 1.0, True),
    "lr_decay": ("lr_decay", 0.0, 1.0, True),
    "initial_accumulator_value": ("initial_accumulator", 0.0, 100.0, True),
    "alpha": ("alpha", 0.0, 1.0, True),
    "rho": ("rho", 0.0, 1.0, True),
    "beta1": ("beta", 0.0, 1.0, False),
    "beta2": ("beta", 0.0, 1.0, False),
    "momentum_decay": ("momentum_decay", 0.0, 1.0, True),
}


def settings(name: str, hparams: dict) -> dict:
    """An optimizer's full settings (``lr`` and those of ``optim_rules.RULES[name]``): the registry's, then
    ``hparams``; each checked against torch's rules and ``SETTING_RANGES`` before any work (``UserError``:
    a setting the optimizer lacks, a value out of range, Nesterov without momentum)."""
    entry = optimizers.spec(name)
    rule = optim_rules.RULES[name]
    kw = {"lr": entry.surface_lr, **{k: v for k, v in entry.settings.items() if k not in ("betas", "nesterov")}}
    if "betas" in entry.settings:
        kw["beta1"], kw["beta2"] = entry.settings["betas"]
    for k, v in hparams.items():
        if k != "lr" and k not in rule.settings:
            raise UserError("errors.unknown_setting", optimizer=name, value=str(k), choices=" / ".join(rule.settings))
        kw[k] = float(v)
    if not (0 < kw["lr"] < MAX_LR):
        raise UserError("errors.out_of_range", param="learning_rate", lo=0, hi=MAX_LR, value=kw["lr"])
    for k, v in kw.items():
        if k in SETTING_RANGES:
            word, lo, hi, closed = SETTING_RANGES[k]
            if not (lo <= v <= hi if closed else lo <= v < hi):
                raise UserError("errors.out_of_range", param=word, lo=lo, hi=hi, value=v)
    if entry.settings.get("nesterov") and (kw.get("momentum", 0) <= 0 or kw.get("dampening", 0) != 0):
        # torch.optim.SGD refuses it too ("Nesterov momentum requires a momentum and zero dampening")
        raise UserError("errors.nesterov_momentum", value=kw.get("momentum", 0))
    return kw


def torch_class(name: str) -> str:
    """The torch.optim class an optimizer's rule reproduces, e.g. "torch.optim.Adam"."""
    return optim_rules.RULES[name].torch_class


def _make(name: str, params, hparams: dict) -> torch.optim.Optimizer:
    """The ``torch.optim`` object for ``race_torch`` (the oracle), with the same checked settings."""
    entry = optimizers.spec(name)
    kw = settings(name, hparams)
    if "beta1" in kw:
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    if entry.settings.get("nesterov"):
        kw["nesterov"] = True
    # one 2-vector per optimizer: the single-tensor code path (naming it skips torch's per-step choice)
    kw.setdefault("foreach", False)
    return entry.cls(params, **kw)


def _check_race(surf: Surface, start, steps: int, limit: float) -> tuple[int, tuple[float, float], float]:
    steps = int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise UserError("errors.out_of_range", param="steps", lo=1, hi=MAX_STEPS, value=steps)
    start = (float(start[0]), float(start[1]))
    if not all(math.isfinite(v) for v in start):
        raise UserError("errors.not_finite_pair", param="start", value=start)
    span = max(surf.bounds[0][1] - surf.bounds[0][0], surf.bounds[1][1] - surf.bounds[1][0])
    if max(abs(start[0]), abs(start[1])) > min(limits.OPTIM_START_ABS, limit * span):
        raise UserError("errors.start_range", limit=f"{min(limits.OPTIM_START_ABS, limit * span):g}")
    return steps, start, limit * span


def _kicks(steps: int, noise: float, seed: int) -> torch.Tensor | None:
    """The gradient noise: one seeded draw of ``(steps, 2)``, the same for every optimizer of a race."""
    if not noise:
        return None
    return torch.randn(steps, 2, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64) * noise


def race(surf: Surface, runs: list[tuple[str, dict]], start, steps: int, noise: float = 0.0,
         seed: int = 0, limit: float = RUNAWAY) -> np.ndarray:
    """Positions ``(len(runs), steps + 1, 2)`` of each (optimizer, hparams) from the same ``start``.

    Each optimizer follows its rule from ``optim_rules`` (the update of its ``torch.optim`` class, written out)
    with the surface's hand-written gradient. With ``noise`` > 0, Gaussian noise of that standard deviation
    (seeded) is added to the gradients, the same draw for every optimizer at each step (as if they all saw the
    same minibatch), to mimic minibatch SGD. A path that turns NaN/inf or runs beyond ``limit`` × the plot's
    size is cut there: the rest is NaN. The paths equal ``race_torch``'s (torch.optim and autograd).
    """
    steps, start, bound = _check_race(surf, start, steps, limit)
    runs = [(name, settings(name, dict(hp))) for name, hp in runs]  # every run checked before any work
    if surf.grad is None and surf.batch_grad is None:  # a caller's own surface: autograd and torch.optim
        return race_torch(surf, [(n, {k: v for k, v in hp.items()}) for n, hp in runs], start, steps, noise, seed,
                          limit)
    kicks = _kicks(steps, noise, seed)
    return optim_rules.run(runs, start, steps, surf.grad, None if kicks is None else kicks.numpy(), bound,
                           batch_grad=surf.grad is None and surf.batch_grad or None)


def race_torch(surf: Surface, runs: list[tuple[str, dict]], start, steps: int, noise: float = 0.0,
               seed: int = 0, limit: float = RUNAWAY) -> np.ndarray:
    """``race`` with the real ``torch.optim`` classes and autograd: the oracle of ``race``'s rules (~0.1 ms per
    optimizer-step, against ~2 µs).

    One loop moves all optimizers together: one forward and one backward pass (autograd) give every
    optimizer its gradient, then each ``torch.optim`` optimizer takes its own step.
    """
    steps, start, bound = _check_race(surf, start, steps, limit)
    start = torch.tensor(start, dtype=torch.float64)
    k = len(runs)
    # All positions live in one (k, 2) tensor: row i is optimizer i's parameter (a leaf view, so
    # torch.optim updates it in place) and ``xy`` (the same storage) is what autograd differentiates.
    store = start.repeat(k, 1)
    params = [store[i].requires_grad_(True) for i in range(k)]
    xy = store.detach().requires_grad_(True)
    grads = torch.zeros(k, 2, dtype=torch.float64)
    for p, g in zip(params, grads):
        p.grad = g
    opts = [_make(name, [p], hp) for (name, hp), p in zip(runs, params)]
    # The classes' own ``step`` (their update rule), without the per-call profiler/hook wrapper
    steppers = [inspect.unwrap(type(o).step).__get__(o) for o in opts]
    kicks = _kicks(steps, noise, seed)
    hist = torch.empty(steps + 1, k, 2, dtype=torch.float64)
    hist[0] = store
    for s in range(1, steps + 1):
        with torch.enable_grad():
            (g,) = torch.autograd.grad(surf.fn(xy[:, 0], xy[:, 1]).sum(), xy)
        with torch.no_grad():
            grads.copy_(g)
            if kicks is not None:
                grads.add_(kicks[s - 1])
            for step in steppers:
                step()
            hist[s] = store
    # cut each path at its first non-finite or runaway position
    out = hist.permute(1, 0, 2).numpy().copy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(out).all(-1) | (np.abs(out).max(-1) > bound)
    for i in range(k):
        cut = np.flatnonzero(bad[i])
        if cut.size:
            out[i, cut[0]:] = np.nan
    return out


class Runner(NamedTuple):
    """One optimizer of a race: its name and its settings as sorted ``(setting, value)`` pairs (hashable)."""
    name: str
    hparams: tuple

    def as_run(self) -> tuple[str, dict]:
        """``race``'s ``(name, hparams)``."""
        return self.name, dict(self.hparams)


class RaceSettings(NamedTuple):
    """A race as the Optimizers page asks for it: the surface (and the quadratic bowl's κ), its runners, the start
    point, the number of steps, the gradient noise and its seed. Hashable; a plain tuple in JSON."""
    surface: str
    kappa: float
    runners: tuple  # of Runner
    start: tuple    # (x0, y0)
    steps: int
    noise: float
    seed: int

    def path_keys(self) -> list["PathKey"]:
        """The ``RaceCache`` key of each runner's path, in order."""
        return [PathKey(self.surface, self.kappa, r, self.start, self.steps, self.noise, self.seed)
                for r in self.runners]


class PathKey(NamedTuple):
    """The key of one optimizer's path in a ``RaceCache``: a race's settings with one runner."""
    surface: str
    kappa: float
    runner: Runner
    start: tuple
    steps: int
    noise: float
    seed: int


class RaceCache:
    """Computed race paths shared by every session of a server: a thread-safe LRU of at most ``max_entries``
    values (the Optimizers page keys them by surface, settings and one optimizer's hyperparameters)."""

    def __init__(self, max_entries: int = 512):
        import collections
        import threading

        self.max_entries = int(max_entries)
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def stack_paths(values) -> tuple[np.ndarray, np.ndarray, list]:
    """One race from its paths' ``(path, losses, summary)`` values (one per optimizer, in order):
    ``(paths, losses, summaries)`` with the arrays stacked along a first axis."""
    values = list(values)
    return np.stack([v[0] for v in values]), np.stack([v[1] for v in values]), [v[2] for v in values]


def trajectory(surface_or_name, optimizer: str, start, steps: int, noise: float = 0.0, seed: int = 0,
               **hparams) -> np.ndarray:
    """``(steps + 1, 2)`` positions of one ``torch.optim`` optimizer on a surface (NaN after divergence)."""
    surf = surface(surface_or_name) if isinstance(surface_or_name, str) else surface_or_name
    optimizers.spec(optimizer)  # an unknown name: UserError before any work
    return race(surf, [(optimizer, hparams)], start, steps, noise, seed)[0]


def loss_grid(surf: Surface, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, Z)``: the loss on an ``n``×``n`` grid over the surface's bounds (Z[i, j] at ys[i], xs[j]).

    A surface dear per point (``batch_grad``: a loss over data) is computed one row of the grid at a time: the
    same numbers (each point's loss is its own computation), but the real-data surface's whole grid at once
    held two ``n``×``n``×2,000 intermediates (260 MB at n = 90, their page faults most of its ~0.5 s of CPU);
    a row's are ~3 MB (~0.16 s in all)."""
    (x0, x1), (y0, y1) = surf.bounds
    xs = torch.linspace(x0, x1, n, dtype=torch.float64)
    ys = torch.linspace(y0, y1, n, dtype=torch.float64)
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    with torch.no_grad():
        Z = (torch.cat([surf.fn(X[i:i + 1], Y[i:i + 1]) for i in range(n)]) if n and surf.batch_grad is not None
             else surf.fn(X, Y))
    return xs.numpy(), ys.numpy(), Z.numpy()


def losses(surf: Surface, path: np.ndarray) -> np.ndarray:
    """The loss at every position of a path (NaN where the path was cut)."""
    p = torch.tensor(np.nan_to_num(path, nan=0.0))
    with torch.no_grad():
        f = surf.fn(p[..., 0], p[..., 1]).numpy()
    return np.where(np.isnan(path).any(-1), np.nan, f)


def summarise(surf: Surface, path: np.ndarray, tol: float = 1e-3, path_losses: np.ndarray | None = None) -> dict:
    """Final loss, distance to the nearest known minimum, steps to come within ``tol`` of it, divergence.
    ``path_losses``: ``losses(surf, path)`` when the caller has it (on the MNIST surface it costs more than the race)."""
    ok = ~np.isnan(path).any(axis=1)
    if not ok.any():  # not even the start is a position (a caller's own path): nothing to summarise
        return {"final_loss": float("nan"), "distance": None, "steps_to_tol": None, "diverged": True,
                "diverged_at": 0, "final_x": float("nan"), "final_y": float("nan")}
    last = int(np.flatnonzero(ok)[-1])
    diverged = last < len(path) - 1
    f = losses(surf, path) if path_losses is None else path_losses
    final = path[last]
    if surf.minima:
        mins = np.array(surf.minima)
        d = np.linalg.norm(path[:, None, :] - mins[None], axis=-1).min(axis=1)
        within = np.flatnonzero(np.nan_to_num(d, nan=np.inf) < math.sqrt(tol))
        dist = float(d[last])
        reached = int(within[0]) if within.size else None
    else:
        dist, reached = None, None
    return {"final_loss": float(f[last]), "distance": dist, "steps_to_tol": reached,
            "diverged": diverged, "diverged_at": last + 1 if diverged else None, "final_x": float(final[0]),
            "final_y": float(final[1])}


# ---------------------------------------------------------------- a trained model's loss landscape
def loss_landscape(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 21, span: float = 1.0,
                   seed: int = 0, progress: Callable[[float], None] | None = None) -> dict:
    """A 2-D slice of ``model``'s loss around its weights θ along two random directions δ, η,
    each filter-normalised (Li et al., 2018): every filter of δ is scaled to the norm of the same
    filter of θ. Returns ``{"alphas", "betas", "loss"}`` with loss[i, j] = L(θ + β_i η + α_j δ)."""
    gen = torch.Generator().manual_seed(int(seed))
    params = [p for p in model.parameters()]
    theta = [p.detach().clone() for p in params]

    def direction():
        ds = []
        for t in theta:
            d = torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device)
            if t.dim() <= 1:
                d.zero_()  # biases and BN parameters stay put, as in the paper
            else:
                dn = d.flatten(1).norm(dim=1).clamp_min(1e-12)
                tn = t.flatten(1).norm(dim=1)
                d = d * (tn / dn).view(-1, *([1] * (t.dim() - 1)))
            ds.append(d)
        return ds

    d1, d2 = direction(), direction()
    alphas = np.linspace(-span, span, steps)
    out = np.zeros((steps, steps))
    with evaluating(model):
        if prefers_channels_last(model):  # faster convolutions; the ordinary layout is restored below
            model.to(memory_format=torch.channels_last)
        try:
            with torch.no_grad():
                for i, b in enumerate(alphas):
                    for j, a in enumerate(alphas):
                        for p, t, u, v in zip(params, theta, d1, d2):
                            p.copy_(t + a * u + b * v)
                        out[i, j] = torch.nn.functional.cross_entropy(model(x), y).item()
                    if progress:
                        progress((i + 1) / steps)
        finally:
            with torch.no_grad():
                for p, t in zip(params, theta):
                    p.copy_(t)
            model.to(memory_format=torch.contiguous_format)
    return {"alphas": alphas, "betas": alphas.copy(), "loss": out}
