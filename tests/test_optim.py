"""Optimizers on surfaces: torch.optim matches the textbook rules, gradients match finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainer.learning import optim
from explainer.errors import UserError

Q = optim.surface("quadratic", kappa=4.0)  # f = ½(x² + 4y²), ∇f = (x, 4y)


def _grad(p):
    return np.array([p[0], 4 * p[1]])


def test_sgd_first_steps_match_textbook():
    path = optim.trajectory(Q, "sgd", (2.0, 1.0), 3, lr=0.1)
    p = np.array([2.0, 1.0])
    for s in range(1, 4):
        p = p - 0.1 * _grad(p)
        assert np.allclose(path[s], p)


def test_momentum_first_steps_match_textbook():
    path = optim.trajectory(Q, "momentum", (2.0, 1.0), 4, lr=0.1, momentum=0.9)
    p, v = np.array([2.0, 1.0]), np.zeros(2)
    for s in range(1, 5):
        v = 0.9 * v + _grad(p)
        p = p - 0.1 * v
        assert np.allclose(path[s], p)


def test_adam_first_steps_match_textbook():
    path = optim.trajectory(Q, "adam", (2.0, 1.0), 4, lr=0.1, beta1=0.9, beta2=0.999)
    p, m, v = np.array([2.0, 1.0]), np.zeros(2), np.zeros(2)
    for s in range(1, 5):
        g = _grad(p)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.1 * (m / (1 - 0.9 ** s)) / (np.sqrt(v / (1 - 0.999 ** s)) + 1e-8)
        assert np.allclose(path[s], p)


def test_surfaces_mapping_names_every_surface():
    assert list(optim.SURFACES) == list(optim.SURFACE_NAMES) and len(optim.SURFACES) == 8
    assert optim.SURFACES["himmelblau"].minima[0] == (3.0, 2.0) and len(optim.SURFACES["himmelblau"].minima) == 4
    assert optim.SURFACES["rosenbrock"].bounds == ((-2, 2), (-1, 3))
    with pytest.raises(KeyError):
        optim.SURFACES["lion"]


@pytest.mark.parametrize("name", optim.SURFACE_NAMES)
def test_gradients_match_finite_differences(name):
    surf = optim.SURFACES[name]
    rng = np.random.default_rng(0)
    (x0, x1), (y0, y1) = surf.bounds
    for _ in range(3):
        p = torch.tensor([rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8], dtype=torch.float64,
                         requires_grad=True)
        surf.fn(p[0], p[1]).backward()
        h = 1e-6
        fd = []
        for i in range(2):
            e = torch.zeros(2, dtype=torch.float64)
            e[i] = h
            with torch.no_grad():
                fd.append(((surf.fn(*(p + e)) - surf.fn(*(p - e))) / (2 * h)).item())
        assert np.allclose(p.grad.numpy(), fd, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", [n for n in optim.SURFACE_NAMES if n != "saddle"])
def test_known_minima_have_zero_gradient(name):
    surf = optim.SURFACES[name]
    assert surf.minima
    for m in surf.minima:
        p = torch.tensor(m, dtype=torch.float64, requires_grad=True)
        surf.fn(p[0], p[1]).backward()
        assert np.abs(p.grad.numpy()).max() < 1e-4


def test_divergence_is_reported_not_raised():
    steep = optim.surface("quadratic", kappa=50.0)
    path = optim.trajectory(steep, "sgd", steep.start, 100, lr=0.05)
    s = optim.summarise(steep, path)
    assert s["diverged"] and 1 < s["diverged_at"] <= 100
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()
    ok = optim.summarise(steep, optim.trajectory(steep, "adam", steep.start, 100, lr=0.05))
    assert not ok["diverged"] and ok["final_loss"] < 0.01


def test_race_moves_all_together_and_noise_is_seeded():
    runs = [(n, {}) for n in ("sgd", "momentum", "adam", "adagrad", "rmsprop", "adadelta", "adamw", "nadam")]
    a = optim.race(optim.surface("himmelblau"), runs, (0.0, 0.0), 50, noise=1.0, seed=3)
    b = optim.race(optim.surface("himmelblau"), runs, (0.0, 0.0), 50, noise=1.0, seed=3)
    assert a.shape == (8, 51, 2) and np.array_equal(a, b, equal_nan=True)
    # racing together changes nothing: each path equals that optimizer alone with the same seed
    for i, run in enumerate(runs):
        alone = optim.race(optim.surface("himmelblau"), [run], (0.0, 0.0), 50, noise=1.0, seed=3)[0]
        assert np.allclose(alone, a[i], equal_nan=True)
    # every optimizer sees the same noise: two identical runs stay identical, another seed differs
    twins = optim.race(optim.surface("himmelblau"), [("sgd", {}), ("sgd", {})], (0.0, 0.0), 50, noise=1.0, seed=3)
    assert np.array_equal(twins[0], twins[1])
    other = optim.race(optim.surface("himmelblau"), [("sgd", {})], (0.0, 0.0), 50, noise=1.0, seed=4)[0]
    assert not np.allclose(other, twins[0])


def test_a_diverging_path_is_cut_without_touching_the_others():
    ros = optim.surface("rosenbrock")
    paths = optim.race(ros, [("sgd", {"lr": 0.01}), ("adam", {"lr": 0.05})], ros.start, 300)
    sgd, adam = (optim.summarise(ros, p) for p in paths)
    assert sgd["diverged"] and sgd["diverged_at"] < 50 and np.isnan(paths[0, sgd["diverged_at"]:]).all()
    assert np.isfinite(paths[0, :sgd["diverged_at"]]).all()
    assert not adam["diverged"] and np.isfinite(paths[1]).all()
    assert np.allclose(paths[1], optim.trajectory(ros, "adam", ros.start, 300, lr=0.05))


def test_grid_and_bad_input():
    xs, ys, Z = optim.loss_grid(optim.surface("rosenbrock"), 50)
    assert Z.shape == (50, 50) and Z.min() >= 0
    with pytest.raises(UserError):
        optim.trajectory("rosenbrock", "lion", (0, 0), 10)
    with pytest.raises(UserError):
        optim.trajectory("rosenbrock", "sgd", (float("nan"), 0), 10)
    with pytest.raises(UserError):
        optim.trajectory("rosenbrock", "sgd", (0, 0), 10, lr=-1)


def test_loss_landscape_of_a_small_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 26 * 26, 10))
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    before = [p.detach().clone() for p in model.parameters()]
    L = optim.loss_landscape(model, x, y, steps=5, span=0.5)
    assert L["loss"].shape == (5, 5)
    centre = torch.nn.functional.cross_entropy(model(x), y).item()
    assert L["loss"][2, 2] == pytest.approx(centre)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_race_cache_is_a_bounded_lru():
    cache = optim.RaceCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get("b") is None and cache.get("b", 0) == 0


def test_stack_paths_makes_one_race_from_cached_paths():
    surf = optim.surface("rosenbrock")
    values = []
    for name in ("sgd", "adam"):
        path = optim.trajectory(surf, name, surf.start, 5)
        values.append((path, optim.losses(surf, path), optim.summarise(surf, path)))
    paths, losses, summaries = optim.stack_paths(iter(values))
    assert paths.shape == (2, 6, 2) and losses.shape == (2, 6)
    np.testing.assert_array_equal(paths[1], values[1][0])
    np.testing.assert_array_equal(losses[0], values[0][1])
    assert summaries == [values[0][2], values[1][2]]


def test_summarise_takes_the_losses_it_is_given():
    surf = optim.surface("rosenbrock")
    path = optim.trajectory(surf, "adam", surf.start, 50)
    f = optim.losses(surf, path)
    assert optim.summarise(surf, path, path_losses=f) == optim.summarise(surf, path)
    assert optim.summarise(surf, path, path_losses=f * 0 + 7.0)["final_loss"] == 7.0  # they are used, not recomputed


def test_race_settings_name_each_runners_cache_key():
    """A race's settings hand each optimizer its own cache key: the same runner in another race (another partner,
    another order) has the same key, a retuned one another; the runner gives ``race`` its (name, settings)."""
    adam, sgd = optim.Runner("adam", (("lr", 0.1),)), optim.Runner("sgd", (("lr", 0.01),))
    one = optim.RaceSettings("rosenbrock", 4.0, (adam, sgd), (-1.0, 1.0), 20, 0.5, 3)
    other = one._replace(runners=(optim.Runner("momentum", (("lr", 0.01), ("momentum", 0.9))), adam))
    assert one.path_keys()[0] == other.path_keys()[1] and one.path_keys()[0].runner.name == "adam"
    assert one._replace(runners=(optim.Runner("adam", (("lr", 0.2),)),)).path_keys()[0] != one.path_keys()[0]
    assert one._replace(seed=4).path_keys()[0] != one.path_keys()[0]  # the noise's seed is in the key
    assert len({*one.path_keys(), *other.path_keys()}) == 3
    surf = optim.surface("rosenbrock")
    paths = optim.race(surf, [k.runner.as_run() for k in one.path_keys()], one.start, one.steps, one.noise, one.seed)
    for name, lr, path in zip(("adam", "sgd"), (0.1, 0.01), paths):
        alone = optim.race(surf, [(name, {"lr": lr})], (-1.0, 1.0), 20, 0.5, 3)[0]
        np.testing.assert_array_equal(path, alone)


def test_the_real_data_grid_row_by_row_is_the_whole_grid_at_once(mnist_dir):
    """``loss_grid`` computes a surface dear per point one row at a time: the same numbers as all at once."""
    import dataclasses

    surf = optim.surface("mnist_logistic")
    xs, ys, Z = optim.loss_grid(surf, 30)
    whole = optim.loss_grid(dataclasses.replace(surf, batch_grad=None), 30)  # computed all at once
    assert np.array_equal(xs, whole[0]) and np.array_equal(ys, whole[1]) and np.array_equal(Z, whole[2])
