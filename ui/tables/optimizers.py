"""The optimizers' race on a 2-D surface: surface, optimizers, start, steps, noise, each optimizer's settings."""
from explainer.learning import optim
from explainer.limits import OPTIM_START_ABS, SEED_PAGE
from ui.state import Param, Table
from ui.tables.shared import stepper_params
from ui.tables.shared import question_params

DEFAULT_SURFACE = "rosenbrock"
RACE_SPEEDS = (1.0, 2.0, 4.0, 8.0)
# The optimizers' other settings, as number inputs: URL key suffix, column, largest value, step, number format
HYPERPARAMETERS = {
    "momentum": ("mom", 1, 0.999, 0.05, None),
    "beta1": ("b1", 1, 0.999, 0.05, None),
    "beta2": ("b2", 2, 0.9999, 0.001, "%.4f"),
    "alpha": ("alpha", 1, 0.9999, 0.01, None),
    "rho": ("rho", 1, 0.9999, 0.01, None),
    "weight_decay": ("wd", 3, 1.0, 0.01, None),
}


# One-click presets: the settings each sets (tests/test_pages_optimizers.py checks each is computed in the page)
PRESETS = {
    # SGD's step grows with the gradient: on a steep bowl (κ = 50) lr 0.05 overshoots and explodes;
    # Adam's step is about lr whatever the gradient, so it gets there.
    "sgd_diverges": {"op_surface": "quadratic", "op_kappa": 50.0, "op_opts": ["sgd", "adam"],
                     "op_quadratic_sgd_lr": 0.05, "op_quadratic_adam_lr": 0.05, "op_steps": 100},
    # The other way: on a gentle round bowl a large lr is fine for SGD (it lands in a few steps) but
    # Adam keeps taking steps of about lr and circles the minimum for a long time.
    "adam_wanders": {"op_surface": "quadratic", "op_kappa": 1.0, "op_opts": ["sgd", "adam"],
                     "op_quadratic_sgd_lr": 0.9, "op_quadratic_adam_lr": 1.5, "op_steps": 60},
    "ravine": {"op_surface": "ravine", "op_opts": ["sgd", "momentum", "rmsprop", "adam"], "op_steps": 300},
    "adagrad_slows": {"op_surface": "rosenbrock", "op_opts": ["adagrad", "rmsprop", "adam"], "op_steps": 1000},
}


def lr_key(surface: str, name: str) -> str:
    return f"op_{surface}_{name}_lr"


def hp_key(name: str, hp_name: str) -> str:
    return f"op_{name}_{HYPERPARAMETERS[hp_name][0]}"


_START = optim.surface(DEFAULT_SURFACE).start
TABLE = Table("optimizers", [
    Param("op_surface", "choice", DEFAULT_SURFACE, options=tuple(optim.SURFACE_NAMES)),
    Param("op_kappa", "float", 10.0, lo=1.0, hi=100.0, step=1.0),
    Param("op_opts", "multi", ["sgd", "momentum", "adagrad", "rmsprop", "adam"], options=tuple(optim.OPTIMIZER_NAMES),
          max_selections=8),
    # the start point: the page gives the chosen surface's start as default
    Param("op_x", "float", float(_START[0]), lo=-OPTIM_START_ABS, hi=OPTIM_START_ABS, step=0.1),
    Param("op_y", "float", float(_START[1]), lo=-OPTIM_START_ABS, hi=OPTIM_START_ABS, step=0.1),
    Param("op_steps", "int", 200, lo=1, hi=2000, step=50),
    Param("op_noise", "float", 0.0, lo=0.0, hi=100.0, step=0.5),
    Param("op_seed", "int", 0, lo=0, hi=SEED_PAGE),
    # one learning rate per surface and optimizer (the SGD family's default depends on the surface: the page gives it)
    *(Param(lr_key(s, n), "float", float(optim.defaults(n)["lr"]), lo=1e-6, hi=100.0, family="op_lr")
      for s in optim.SURFACE_NAMES for n in optim.OPTIMIZER_NAMES),
    *(Param(hp_key(n, hp), "float", float(value), lo=0.0, hi=HYPERPARAMETERS[hp][2], step=HYPERPARAMETERS[hp][3],
            family="op_hp")
      for n in optim.OPTIMIZER_NAMES for hp, value in optim.defaults(n).items() if hp in HYPERPARAMETERS),
    *stepper_params("op", speeds=RACE_SPEEDS, default_speed=4.0).values(),
    *question_params("optimizers", "op").values(),  # predict first: the question cards' answers (session only)
])

# the preset buttons' values: declared settings, checked like a URL value when this table is imported
PRESETS = {name: TABLE.preset(**values) for name, values in PRESETS.items()}
