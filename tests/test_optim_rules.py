"""The written-out update rules (explainer.learning.optim_rules) against the oracle, torch.optim with autograd
(optim.race_torch): the same paths for every optimizer, every surface, a grid of settings, noise on and off."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from explainer.learning import optim, optim_rules
from explainer.errors import UserError

SURFACES = [n for n in optim.SURFACE_NAMES if n != "mnist_logistic"]
# Settings besides the learning rate, per optimizer: torch's defaults and values across the page's ranges
GRID = {
    "sgd": [{}, {"weight_decay": 0.1}],
    "momentum": [{"momentum": 0.9}, {"momentum": 0.5, "dampening": 0.3}, {"momentum": 0.0}],
    "nesterov": [{"momentum": 0.9}, {"momentum": 0.3, "weight_decay": 0.05}],
    "adagrad": [{}, {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}],
    "rmsprop": [{"alpha": 0.99}, {"alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01}],
    "adadelta": [{"rho": 0.9}, {"rho": 0.5, "eps": 1e-4, "weight_decay": 0.01}],
    "adam": [{"beta1": 0.9, "beta2": 0.999}, {"beta1": 0.0, "beta2": 0.5, "weight_decay": 0.1}, {"beta1": 0.6}],
    "adamw": [{"weight_decay": 0.01}, {"beta1": 0.5, "beta2": 0.9, "weight_decay": 0.5}],
    "nadam": [{}, {"beta1": 0.5, "beta2": 0.99, "momentum_decay": 0.01, "weight_decay": 0.01}],
}
LR_FACTORS = (0.3, 1.0)
# Whole paths are compared over 100 steps: torch's CPU kernels fuse a·b + c (FMA) and take √, sin and cos from
# SLEEF, Python rounds each operation, so the two differ in the last bit of some steps; where a path dithers
# around a minimum like sign descent (RMSprop, Adadelta, NAdam after convergence) or bounces chaotically (a
# learning rate past stability on Rastrigin), such a bit grows ~10× per 25 steps, as it does between torch on
# two kinds of CPU (test_torch_itself_is_that_sensitive). The rules themselves are held over the whole
# 2,000 steps by test_rules_take_torch_optims_steps_for_2000_steps (the same gradients in, the same steps out).
STEPS = 100


def _close(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference between two paths, relative to the position where it is beyond 1 (a path that runs
    away to 10⁶ differs in its last bits by more than 1e-10); NaN (cut) at the same steps."""
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    if not ok.any():
        return 0.0
    return float((np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))).max())


def _runs(surf, name):
    lr = optim.defaults(name, surf)["lr"]
    return [(name, {"lr": lr * f, **hp}) for f, hp in itertools.product(LR_FACTORS, GRID[name])]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("noise", [0.0, 1.5])
def test_rules_equal_torch_optim_on_every_surface(surface, noise):
    surf = optim.surface(surface, kappa=25.0) if surface == "quadratic" else optim.surface(surface)
    runs = [run for name in optim.OPTIMIZER_NAMES for run in _runs(surf, name)]
    ours = optim.race(surf, runs, surf.start, STEPS, noise, seed=7)
    oracle = optim.race_torch(surf, runs, surf.start, STEPS, noise, seed=7)
    worst = {str(run): _close(a, b) for run, a, b in zip(runs, ours, oracle)}
    assert max(worst.values()) <= 1e-10, sorted(worst.items(), key=lambda kv: -kv[1])[:3]


def test_rules_equal_torch_optim_on_mnist():
    surf = optim.surface("mnist_logistic")
    runs = [(name, {}) for name in optim.OPTIMIZER_NAMES]
    for noise in (0.0, 0.3):
        ours = optim.race(surf, runs, surf.start, 60, noise, seed=1)
        oracle = optim.race_torch(surf, runs, surf.start, 60, noise, seed=1)
        assert max(_close(a, b) for a, b in zip(ours, oracle)) <= 1e-10


@pytest.mark.parametrize("surface", SURFACES)
def test_hand_written_gradients_equal_autograd(surface):
    surf = optim.surface(surface)
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1) = surf.bounds
    pts = torch.tensor(np.c_[rng.uniform(x0, x1, 50), rng.uniform(y0, y1, 50)], requires_grad=True)
    (auto,) = torch.autograd.grad(surf.fn(pts[:, 0], pts[:, 1]).sum(), pts)
    ours = np.array([surf.grad(float(x), float(y)) for x, y in pts.detach().numpy()])
    np.testing.assert_allclose(ours, auto.numpy(), rtol=1e-13, atol=1e-12)


def test_a_diverging_rule_is_cut_where_torch_cuts_it():
    steep = optim.surface("quadratic", kappa=50.0)
    runs = [("sgd", {"lr": 0.05}), ("momentum", {"lr": 0.05}), ("adam", {"lr": 0.05})]
    ours, oracle = optim.race(steep, runs, steep.start, 400), optim.race_torch(steep, runs, steep.start, 400)
    for a, b in zip(ours, oracle):
        assert _close(a, b) <= 1e-10
    assert np.isnan(ours[0, -1]).all() and np.isfinite(ours[2]).all()


def test_every_registry_entry_has_a_rule_naming_its_torch_class():
    for name, spec in optim.optimizers.OPTIMIZERS.items():
        assert optim.torch_class(name) == f"torch.optim.{spec.cls.__name__}"
        assert set(optim.defaults(name)) - {"lr"} <= set(optim_rules.RULES[name].settings)


def test_settings_torch_refuses_are_refused_before_work():
    with pytest.raises(ValueError):  # what the page used to hit inside torch
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.01, momentum=0.0, nesterov=True)
    surf = optim.surface("rosenbrock")
    for bad in ({"momentum": 0.0}, {"momentum": 0.9, "dampening": 0.5}):
        with pytest.raises(UserError) as exc:
            optim.race(surf, [("nesterov", bad)], surf.start, 10)
        assert exc.value.key == "errors.nesterov_momentum"
    for name, hp in [("adam", {"beta1": 1.0}), ("rmsprop", {"alpha": -0.1}), ("adadelta", {"rho": 1.5}),
                     ("adagrad", {"lr_decay": -1.0}), ("sgd", {"weight_decay": float("nan")}),
                     ("nadam", {"momentum_decay": -0.1}), ("adam", {"eps": -1e-8})]:
        with pytest.raises(UserError) as exc:
            optim.race(surf, [("sgd", {}), (name, hp)], surf.start, 10)
        assert exc.value.key == "errors.out_of_range", (name, hp)
    with pytest.raises(UserError) as exc:
        optim.race(surf, [("adam", {"momentum": 0.9})], surf.start, 10)  # Adam has no such setting
    assert exc.value.key == "errors.unknown_setting"


def _torch_steps(name: str, hp: dict, surf, start, steps: int, kicks):
    """torch.optim's own path and the gradients (noise included) it was given at each step."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optim._make(name, [p], optim.settings(name, hp))
    path, grads = [start], []
    for s in range(steps):
        opt.zero_grad()
        surf.fn(p[0], p[1]).backward()
        with torch.no_grad():
            p.grad.add_(kicks[s])
        grads.append(tuple(p.grad.tolist()))
        opt.step()
        path.append(tuple(p.tolist()))
    return np.array(path), grads


@pytest.mark.parametrize("name", optim.OPTIMIZER_NAMES)
def test_rules_take_torch_optims_steps_for_2000_steps(name):
    """Given the gradients torch.optim was given, each rule takes torch's steps, over the page's longest race."""
    surf = optim.surface("rosenbrock")
    kicks = optim._kicks(2000, 0.5, 11)
    for hp in GRID[name]:
        hp = {"lr": optim.defaults(name, surf)["lr"], **hp}
        want, grads = _torch_steps(name, hp, surf, surf.start, 2000, kicks)
        step = optim_rules.RULES[name].make(**optim.settings(name, hp))
        got, (x, y) = [surf.start], surf.start
        for t, (gx, gy) in enumerate(grads, 1):
            x, y = step(x, y, gx, gy, t)
            got.append((x, y))
        ok = np.isfinite(want).all(1)
        assert _close(np.array(got)[ok], want[ok]) <= 1e-10, (name, hp)


def test_torch_itself_is_that_sensitive():
    """Where whole paths drift apart (NaDam dithering at Rosenbrock's minimum), torch.optim drifts as far from
    itself when the start moves by one bit: the drift is the surface's, not a rule's."""
    surf = optim.surface("rosenbrock")
    run = [("nadam", {"lr": optim.defaults("nadam", surf)["lr"]})]
    nudged = (np.nextafter(surf.start[0], 0.0), surf.start[1])
    a = optim.race_torch(surf, run, surf.start, 2000)[0]
    b = optim.race_torch(surf, run, nudged, 2000)[0]
    assert _close(a, b) > 1e-6
