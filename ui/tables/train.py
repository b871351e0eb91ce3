"""Train a CNN on MNIST: the model, the optimizer and the run's settings."""
from explainer.data import datasets, ownimages
from explainer.learning import models as M
from explainer.learning.train import DEFAULT_LR, OPTIMIZERS
from explainer import limits
from explainer.limits import OWN_CLASSES_MAX
from ui.state import Param, Table
from ui.tables.shared import DIGIT_MAX
from ui.tables.shared import question_params

CHANNELS = (4, 8, 16, 32, 64)  # a custom model's first convolution's kernels (the built-in models have at most 32)
CLASSES_MAX = max(10, OWN_CLASSES_MAX)  # MNIST's digits, Fashion-MNIST's classes, a learner's own folders

TABLE = Table("train", [
    Param("tr_model", "choice", "fast", options=tuple(M.MODEL_NAMES)),
    Param("tr_blocks", "int", 2, lo=1, hi=3),
    Param("tr_channels", "choice", 16, options=CHANNELS),
    Param("tr_kernel", "choice", 3, options=(3, 5, 7)),
    Param("tr_pool", "choice", "max", options=("max", "avg")),
    Param("tr_dropout", "float", 0.0, lo=0.0, hi=0.5, step=0.05),
    Param("tr_bn", "bool", True),
    Param("tr_opt", "choice", "adam", options=tuple(OPTIMIZERS)),
    Param("tr_lr", "float", float(DEFAULT_LR["adam"]), lo=1e-5, hi=2.0, step=0.001),
    Param("tr_cycle", "bool", True),
    Param("tr_bs", "choice", 128, options=(16, 32, 64, 128, 256, 512)),
    Param("tr_epochs", "float", 1.0, lo=1.0, hi=float(limits.EPOCHS_PAGE), step=0.25),  # 2.5: the last epoch ends halfway
    Param("tr_size", "choice", 60000, options=(500, 1000, 2000, 5000, 10000, 30000, 60000)),
    Param("tr_seed", "int", 0, lo=0, hi=limits.SEED_PAGE),
    Param("tr_aug", "bool", False),
    Param("tr_dataset", "choice", datasets.DEFAULT, options=datasets.CHOICES),
    Param("tr_own_mode", "choice", "colour32", options=ownimages.MODES),  # your own images: grey 28×28 or colour 32×32
    # Look inside a run: session state, not the URL (the link names the runs, ``run=<id>,…``; these pick inside them).
    # Which kept run (an index into this session's runs; the page lists them and follows the newest unless chosen)
    Param("tr_pick", "int", 0, lo=0, url=False),
    # a confusion-matrix cell: a true and a predicted class, or nothing chosen ("any")
    Param("tr_cell_true", "int", None, lo=0, hi=CLASSES_MAX - 1, url=False, optional=True),
    Param("tr_cell_pred", "int", None, lo=0, hi=CLASSES_MAX - 1, url=False, optional=True),
    Param("tr_ki", "int", 0, lo=0, hi=max(CHANNELS) - 1, url=False),  # a first-layer kernel (this model's count)
    Param("tr_di", "int", 0, lo=0, hi=DIGIT_MAX, url=False),  # an MNIST test digit for the Kernels page's inspector
    Param("tr_fi", "int", 0, lo=0, hi=DIGIT_MAX, url=False),  # a test image of the run's data set (its size)
    *question_params("train", "tr").values(),  # predict first: the question cards' answers (session only)
])

# Preset buttons: declared values, checked like a URL value when this table is imported
PRESETS = {
    "fast": TABLE.preset(tr_model="fast", tr_opt="adam", tr_lr=0.006, tr_cycle=True, tr_bs=128, tr_epochs=1,
                         tr_size=60000, tr_aug=False),
    "reference": TABLE.preset(tr_model="reference", tr_opt="adam", tr_lr=0.001, tr_cycle=False, tr_bs=64, tr_epochs=1,
                              tr_size=60000, tr_aug=False),
    "mlp": TABLE.preset(tr_model="mlp", tr_opt="adam", tr_lr=0.001, tr_cycle=False, tr_bs=64, tr_epochs=1,
                        tr_size=60000, tr_aug=False),
    "sgd": TABLE.preset(tr_opt="sgd", tr_lr=0.1, tr_cycle=False),
    "overfit": TABLE.preset(tr_model="mlp", tr_opt="adam", tr_lr=0.001, tr_cycle=False, tr_bs=64, tr_epochs=30,
                            tr_size=1000, tr_aug=False),
}

# A data set's training recipe for the fast CNN (explainer.data.datasets.train_defaults) as this table's values: the
# Train page's defaults on that data set; choosing the data set swaps the values the learner has not changed, and the
# "fast" preset starts from it
RECIPE_KEYS = {"optimizer": "tr_opt", "epochs": "tr_epochs", "lr": "tr_lr", "batch_size": "tr_bs"}


def dataset_recipe(key: str) -> dict:
    """The values of tr_opt, tr_epochs, tr_lr and tr_bs for data set ``key``: the "fast" preset's, with the data set's
    recipe."""
    base = {v: PRESETS["fast"][v] for v in RECIPE_KEYS.values()}
    return TABLE.preset(**{**base, **{RECIPE_KEYS[k]: v for k, v in datasets.train_defaults(key).items()}})


RECIPES = {key: dataset_recipe(key) for key in datasets.CHOICES}  # checked when this table is imported
