"""Fashion-MNIST's training recipe (issue 23): the registry holds it, and the Train page, the command line and
bench/datasets.py start from it; MNIST's defaults stay TrainConfig's. No training here."""
from pathlib import Path

from explainer.data import datasets
from explainer.learning.train import DEFAULT_LR, TrainConfig, _parser, cli_recipe
from ui.tables.train import PRESETS, RECIPES, TABLE


def test_registry_recipe():
    fashion = datasets.train_defaults("fashion")
    assert fashion == datasets.FASHION_TRAIN_DEFAULTS and set(fashion) <= {"epochs", "lr", "batch_size"}
    assert fashion["epochs"] >= 2  # one epoch of the fast CNN stays below 91 % on Fashion-MNIST
    TrainConfig(dataset="fashion", **fashion)  # a valid configuration
    assert datasets.train_defaults("mnist") == {} and datasets.train_defaults(datasets.OWN) == {}
    fashion["epochs"] = 99  # a copy: the registry is not changed by its callers
    assert datasets.train_defaults("fashion")["epochs"] == datasets.FASHION_TRAIN_DEFAULTS["epochs"]


def test_command_line_takes_the_recipe():
    rec = datasets.FASHION_TRAIN_DEFAULTS
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion"])) == rec
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion", "--epochs", "5"])) == {**rec, "epochs": 5}
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion", "--optimizer", "sgd"])) == {}
    assert cli_recipe(_parser().parse_args([])) == {}  # MNIST: TrainConfig's defaults
    cfg = TrainConfig(**cli_recipe(_parser().parse_args([])))
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate) == (1, 128, DEFAULT_LR["adam"])


def test_train_page_recipes():
    rec = datasets.FASHION_TRAIN_DEFAULTS
    fashion = RECIPES["fashion"]
    assert (fashion["tr_epochs"], fashion["tr_lr"], fashion["tr_bs"]) == (rec["epochs"], rec["lr"], rec["batch_size"])
    mnist = RECIPES["mnist"]  # MNIST: the "fast" preset's and the table's defaults, unchanged
    assert mnist == {"tr_epochs": 1, "tr_lr": 0.004, "tr_bs": 128}
    assert all(PRESETS["fast"][k] == v == TABLE[k].default for k, v in mnist.items())


def test_bench_uses_the_recipe():
    src = (Path(__file__).parents[1] / "bench" / "datasets.py").read_text()
    assert "datasets.train_defaults(dataset)" in src and "**recipe" in src
