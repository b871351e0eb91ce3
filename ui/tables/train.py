"""Train a CNN on MNIST: the model, the optimizer and the run's settings."""
from explainer.data import datasets, ownimages
from explainer.learning import models as M
from explainer.learning.train import DEFAULT_LR, OPTIMIZERS
from explainer import limits
from ui.state import Param, Table

TABLE = Table("train", [
    Param("tr_model", "choice", "fast", options=tuple(M.MODEL_NAMES)),
    Param("tr_blocks", "int", 2, lo=1, hi=3),
    Param("tr_channels", "choice", 16, options=(4, 8, 16, 32, 64)),
    Param("tr_kernel", "choice", 3, options=(3, 5, 7)),
    Param("tr_pool", "choice", "max", options=("max", "avg")),
    Param("tr_dropout", "float", 0.0, lo=0.0, hi=0.5, step=0.05),
    Param("tr_bn", "bool", True),
    Param("tr_opt", "choice", "adam", options=tuple(OPTIMIZERS)),
    Param("tr_lr", "float", float(DEFAULT_LR["adam"]), lo=1e-5, hi=2.0, step=0.001),
    Param("tr_cycle", "bool", True),
    Param("tr_bs", "choice", 128, options=(16, 32, 64, 128, 256, 512)),
    Param("tr_epochs", "int", 1, lo=1, hi=limits.EPOCHS_PAGE),
    Param("tr_size", "choice", 60000, options=(500, 1000, 2000, 5000, 10000, 30000, 60000)),
    Param("tr_seed", "int", 0, lo=0, hi=limits.SEED_PAGE),
    Param("tr_aug", "bool", False),
    Param("tr_dataset", "choice", datasets.DEFAULT, options=datasets.CHOICES),
    Param("tr_own_mode", "choice", "colour32", options=ownimages.MODES),  # your own images: grey 28×28 or colour 32×32
])
