"""The optimizers the app teaches: one table for the Optimizers page, training, the exported script and the CLI.

Each entry names a ``torch.optim`` class and its settings besides the learning rate, and two default
learning rates: one for the 2-D loss surfaces (``surface_lr``) and one for training on MNIST
(``train_lr``; None: not offered for training). "momentum" means heavy-ball momentum (0.9) in every
lesson; Nesterov's variant is its own entry.

    >>> code("momentum", 0.05)
    'torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)'
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch

from explainer.errors import UserError


@dataclass(frozen=True)
class OptimizerSpec:
    cls: type  # a torch.optim class
    surface_lr: float
    train_lr: float | None = None
    settings: dict = field(default_factory=dict)  # torch keyword arguments besides lr


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(torch.optim.SGD, 0.01, 0.1),
    "momentum": OptimizerSpec(torch.optim.SGD, 0.01, 0.05, {"momentum": 0.9}),
    "nesterov": OptimizerSpec(torch.optim.SGD, 0.01, 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": OptimizerSpec(torch.optim.Adagrad, 0.5, None, {"eps": 1e-10}),
    "rmsprop": OptimizerSpec(torch.optim.RMSprop, 0.01, 0.002, {"alpha": 0.99, "eps": 1e-8}),
    "adadelta": OptimizerSpec(torch.optim.Adadelta, 1.0, None, {"rho": 0.9, "eps": 1e-6}),
    "adam": OptimizerSpec(torch.optim.Adam, 0.05, 0.006, {"betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": OptimizerSpec(torch.optim.AdamW, 0.05, 0.004, {"betas": (0.9, 0.999), "weight_decay": 0.01}),
    "nadam": OptimizerSpec(torch.optim.NAdam, 0.05, None, {"betas": (0.9, 0.999)}),
}
NAMES = tuple(OPTIMIZERS)
TRAIN_NAMES = tuple(name for name, spec in OPTIMIZERS.items() if spec.train_lr is not None)


def spec(name: str, names=NAMES) -> OptimizerSpec:
    """The entry for ``name``; ``UserError`` for a name not in ``names``."""
    if name not in names:
        raise UserError("errors.unknown_optimizer", value=name, choices=" / ".join(names))
    return OPTIMIZERS[name]


def build(name: str, params, lr: float, **overrides) -> torch.optim.Optimizer:
    """``torch.optim.<class>(params, lr=lr, **settings, **overrides)`` for the optimizer ``name``."""
    entry = spec(name)
    return entry.cls(params, lr=lr, **{**entry.settings, **overrides})


def code(name: str, lr: float, params: str = "model.parameters()") -> str:
    """The Python expression that ``build`` evaluates, for the exported training script."""
    entry = spec(name)
    torch_defaults = inspect.signature(entry.cls).parameters
    # settings equal to torch's own defaults are left out, so the script reads as a textbook would
    args = "".join(f", {k}={v!r}" for k, v in entry.settings.items() if torch_defaults[k].default != v)
    return f"torch.optim.{entry.cls.__name__}({params}, lr={lr!r}{args})"
