"""A data set's training recipe (issue 23): the registry holds it (Fashion-MNIST's: none yet), and the Train page, the
command line and bench/datasets.py start from it; MNIST's defaults stay TrainConfig's. No training here."""
from pathlib import Path

from explainer.data import datasets
from explainer.learning.train import DEFAULT_LR, TrainConfig, _parser, cli_recipe
from ui.tables.train import PRESETS, RECIPES, TABLE, dataset_recipe

RECIPE = {"epochs": 2, "lr": 0.003, "batch_size": 64}  # a recipe put in the registry by these tests


def _with_recipe(monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "fashion", datasets.replace(datasets.get("fashion"), train_defaults=RECIPE))


def test_registry_recipe(monkeypatch):
    assert datasets.train_defaults("fashion") == datasets.FASHION_TRAIN_DEFAULTS
    assert datasets.train_defaults("mnist") == {} and datasets.train_defaults(datasets.OWN) == {}
    _with_recipe(monkeypatch)
    got = datasets.train_defaults("fashion")
    assert got == RECIPE
    got["epochs"] = 99  # a copy: the registry is not changed by its callers
    assert datasets.train_defaults("fashion")["epochs"] == 2


def test_command_line_takes_the_recipe(monkeypatch):
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion"])) == datasets.FASHION_TRAIN_DEFAULTS
    _with_recipe(monkeypatch)
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion"])) == RECIPE
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion", "--epochs", "5"])) == {**RECIPE, "epochs": 5}
    assert cli_recipe(_parser().parse_args(["--dataset", "fashion", "--optimizer", "sgd"])) == {}
    assert cli_recipe(_parser().parse_args([])) == {}  # MNIST: TrainConfig's defaults
    cfg = TrainConfig(**cli_recipe(_parser().parse_args([])))
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate) == (1, 128, DEFAULT_LR["adam"])


def test_train_page_recipes(monkeypatch):
    mnist = RECIPES["mnist"]  # MNIST: the "fast" preset's and the table's defaults, unchanged
    assert mnist == {"tr_epochs": 1, "tr_lr": 0.004, "tr_bs": 128}
    assert all(PRESETS["fast"][k] == v == TABLE[k].default for k, v in mnist.items())
    assert RECIPES["fashion"] == {**mnist, **dataset_recipe("fashion")}
    _with_recipe(monkeypatch)
    assert dataset_recipe("fashion") == {"tr_epochs": 2, "tr_lr": 0.003, "tr_bs": 64}


def test_bench_uses_the_recipe():
    src = (Path(__file__).parents[1] / "bench" / "datasets.py").read_text()
    assert "datasets.train_defaults(dataset)" in src and "**recipe" in src
