"""A data set's training recipe for the fast CNN (issue 23): the registry holds it, and the Train page (its defaults,
choosing the data set, the "fast" preset), the command line and bench/datasets.py start from it; MNIST's defaults stay
TrainConfig's and the page's. No training here: the recipe put in the registry by these tests is made up."""
from pathlib import Path

from explainer.data import datasets
from explainer.learning.train import DEFAULT_LR, TrainConfig, _parser, cli_recipe
from tests.conftest import app_test
from ui.tables import train as table

RECIPE = {"optimizer": "momentum", "epochs": 2, "lr": 0.03, "batch_size": 64}


def _with_recipe(monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "fashion", datasets.replace(datasets.get("fashion"), train_defaults=RECIPE))
    monkeypatch.setattr(table, "RECIPES", {k: table.dataset_recipe(k) for k in datasets.CHOICES})


def test_registry_recipe(monkeypatch):
    assert datasets.train_defaults("fashion") == datasets.FASHION_TRAIN_DEFAULTS
    assert datasets.train_defaults("mnist") == {} and datasets.train_defaults(datasets.OWN) == {}
    _with_recipe(monkeypatch)
    got = datasets.train_defaults("fashion")
    assert got == RECIPE
    got["epochs"] = 99  # a copy: the registry is not changed by its callers
    assert datasets.train_defaults("fashion")["epochs"] == 2


def _cli(*argv):
    return cli_recipe(_parser().parse_args(list(argv)))


def test_command_line_takes_the_recipe(monkeypatch):
    adam = {"optimizer": "adam"}
    assert _cli() == adam  # MNIST: TrainConfig's defaults
    cfg = TrainConfig(**_cli())
    assert (cfg.optimizer, cfg.epochs, cfg.batch_size, cfg.learning_rate) == ("adam", 1, 128, DEFAULT_LR["adam"])
    assert _cli("--dataset", "fashion") == {**adam, **datasets.FASHION_TRAIN_DEFAULTS}
    _with_recipe(monkeypatch)
    assert _cli("--dataset", "fashion") == RECIPE
    assert _cli("--dataset", "fashion", "--epochs", "5") == {**RECIPE, "epochs": 5}
    assert _cli("--dataset", "fashion", "--optimizer", "momentum", "--lr", "0.01") == {**RECIPE, "lr": 0.01}
    assert _cli("--dataset", "fashion", "--optimizer", "sgd") == {"optimizer": "sgd"}  # another optimizer: no recipe
    assert _cli("--dataset", "fashion", "--model", "mlp") == adam  # the recipe is the fast CNN's
    assert _cli("--dataset", "mnist", "--optimizer", "momentum") == {"optimizer": "momentum"}


def test_train_page_recipes(monkeypatch):
    mnist = table.RECIPES["mnist"]  # MNIST: the "fast" preset's and the table's defaults, unchanged
    assert mnist == {"tr_opt": "adam", "tr_epochs": 1, "tr_lr": 0.004, "tr_bs": 128}
    assert all(table.PRESETS["fast"][k] == v == table.TABLE[k].default for k, v in mnist.items())
    assert table.RECIPES[datasets.OWN] == mnist
    _with_recipe(monkeypatch)
    assert table.dataset_recipe("fashion") == {"tr_opt": "momentum", "tr_epochs": 2, "tr_lr": 0.03, "tr_bs": 64}


def test_the_train_page_starts_from_the_recipe_and_keeps_what_the_learner_changed(monkeypatch, mnist_dir):
    _with_recipe(monkeypatch)  # the page script imports ui.tables.train's RECIPES on every run
    at = app_test("train", timeout=120)
    at.query_params["tr_dataset"] = "fashion"  # a link to Fashion-MNIST: its recipe is the page's default
    at.run()
    assert not at.exception
    assert (at.selectbox(key="tr_opt").value, at.number_input(key="tr_lr").value, at.number_input(key="tr_epochs").value,
            at.select_slider(key="tr_bs").value) == ("momentum", 0.03, 2, 64)
    at.number_input(key="tr_lr").set_value(0.02).run()  # the learner's own learning rate …
    at.selectbox(key="tr_dataset").select("mnist").run()  # … stays; the rest becomes MNIST's
    assert (at.selectbox(key="tr_opt").value, at.number_input(key="tr_lr").value, at.number_input(key="tr_epochs").value,
            at.select_slider(key="tr_bs").value) == ("adam", 0.02, 1, 128)
    at.selectbox(key="tr_dataset").select("fashion").run()
    assert (at.selectbox(key="tr_opt").value, at.number_input(key="tr_lr").value, at.number_input(key="tr_epochs").value,
            at.select_slider(key="tr_bs").value) == ("momentum", 0.02, 2, 64)
    assert not at.exception


def test_bench_uses_the_recipe():
    src = (Path(__file__).parents[1] / "bench" / "datasets.py").read_text()
    assert "datasets.train_defaults(dataset)" in src and "**recipe" in src
