"""Fashion-MNIST through training: the models adapt to the data set, the CLI's --dataset, a run keeps its data set
through the run store, and the Train page (AppTest, on the real Dask engine) trains on it and names its classes."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from explainer.data import datasets
from explainer.i18n import translate
from explainer.learning.models import MODEL_NAMES, build_model
from explainer.engine.runstore import RunStore
from explainer.learning.runs import KeptRun
from explainer.learning.train import TrainConfig, export_code, load_checkpoint, save_checkpoint
from tests.conftest import ROOT, app_test
from tests.conftest import wait_for_run as _wait_for_run


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_adapt_to_channels_and_classes(name):
    """First layer: the data set's channels; last: its classes; the normalisation: its mean and std."""
    for shape, classes in (((1, 28, 28), 10), ((3, 32, 32), 4)):
        model = build_model(name, shape=shape, classes=classes, mean=(0.5,) * shape[0], std=(0.25,) * shape[0])
        out = model.eval()(torch.full((2, *shape), 0.5))
        assert out.shape == (2, classes)
        first = next(m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
        assert (first.in_channels if isinstance(first, torch.nn.Conv2d) else first.in_features) in (
            shape[0], shape[0] * shape[1] * shape[2])
        assert torch.allclose(model[0](torch.full((1, *shape), 0.5)), torch.zeros(1, *shape))


def test_config_dataset_checked_and_kept_in_checkpoint():
    with pytest.raises(ValueError):
        TrainConfig(dataset="cifar")
    cfg = TrainConfig(dataset="fashion", train_size=100)
    model = cfg.build()
    assert model[0].mean_values == (datasets.FASHION_MEAN,)
    _, back = load_checkpoint(save_checkpoint(model, cfg))
    assert back.dataset == "fashion"
    code = export_code(cfg)
    assert "FASHION_MNIST_DIR" in code and "Fashion-MNIST" in code and str(datasets.FASHION_MEAN) in code
    assert "MNIST_DIR\"" not in code.replace("FASHION_MNIST_DIR", "")
    compile(code, "train_fashion.py", "exec")


def test_run_store_keeps_the_dataset(tmp_path):
    cfg = TrainConfig(dataset="fashion", train_size=100)
    model = cfg.build()
    store = RunStore(tmp_path)
    run_id = store.save(KeptRun(label="f", config=cfg, history=[], test_accuracy=0.5, seconds=1.0, ips=1.0,
                                stopped=False), save_checkpoint(model, cfg), owner="t")
    back = store.load(run_id)
    assert back.config.dataset == "fashion"
    assert store.meta(run_id)["config"]["dataset"] == "fashion"
    for a, b in zip(model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_dataset_fashion_json(tmp_path):
    """A tiny real training on Fashion-MNIST from the command line: its JSON names the data set and the accuracy."""
    out = subprocess.run([sys.executable, "-m", "explainer.learning.train", "--dataset", "fashion", "--limit", "600",
                          "--batch-size", "32", "--json", "--device", "cpu", "--save", str(tmp_path / "f.pt")],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["dataset"] == "fashion" and res["train_size"] == 600
    assert 0.4 < res["test_accuracy"] <= 1.0  # chance is 0.1
    _, cfg = load_checkpoint((tmp_path / "f.pt").read_bytes())
    assert cfg.dataset == "fashion"
    bad = subprocess.run([sys.executable, "-m", "explainer.learning.train", "--dataset", "cifar", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "fashion" in bad.stderr



@pytest.mark.usefixtures("dask_engine")
@pytest.mark.parametrize("lang", ["zh"])
def test_train_page_on_fashion_and_the_link_brings_it_back(lang):
    at = app_test("train", lang, timeout=60).run()
    assert not at.exception and at.selectbox(key="tr_dataset").value == "mnist"
    assert at.title[0].value == translate("train.title", lang)
    at.selectbox(key="tr_dataset").select("fashion").run()
    assert not at.exception and at.query_params["tr_dataset"] == "fashion"
    assert at.title[0].value == translate("train.title_fashion", lang)  # the title names the data set
    at.select_slider(key="tr_size").set_value(1000).run()
    at.select_slider(key="tr_bs").set_value(32).run()
    at.button(key="tr_start").click().run()
    _wait_for_run(at)
    assert not at.exception
    run = at.session_state["tr_runs"][0]
    assert run.config.dataset == "fashion" and run.test_accuracy > 0.5
    names = datasets.get("fashion").class_names(lang)
    md = " ".join(m.value for m in at.markdown)
    assert all(n in md for n in names)  # the data's description lists the classes
    assert at.selectbox(key="tr_cell_true").options == names  # the confusion cell's pickers list the classes
    at.session_state["tr_tabs"] = translate("train.tab_features", lang)  # the tabs are lazy: open the feature maps
    at.run()
    md = " ".join(m.value for m in at.markdown)
    assert not at.exception and any(f"**{n}**" in md for n in names)  # its test image, named by its class
    assert translate("datasets.fashion", lang) in run.label
    fresh = app_test("train", lang, timeout=60)
    fresh.query_params["run"] = at.query_params["run"]  # a link to the run, without the picker's value
    fresh.run()
    assert not fresh.exception and fresh.selectbox(key="tr_dataset").value == "fashion"
    assert fresh.session_state["tr_runs"][0].config.dataset == "fashion"


def test_train_page_without_fashion_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "FASHION_SYSTEM_DIR", tmp_path / "none")
    at = app_test("train").run()
    at.selectbox(key="tr_dataset").select("fashion").run()
    assert not at.exception and not at.error
    assert any("apt-get install dataset-fashion-mnist" in w.value for w in at.warning)
    assert at.button(key="tr_start").disabled
    assert len(at.dataframe) == 1  # the model's layers still shown


@pytest.mark.usefixtures("dask_engine")
def test_backprop_shift_experiment_on_fashion():
    """How kernels learn, with the Train page's choice (Fashion-MNIST): the CNN and the MLP trained on it are the
    pair (an MNIST run beside them is left out), their shift curves come from Fashion-MNIST's test images, and the
    CNN's prediction is named by its class."""
    from explainer.learning.shift import shifted_accuracy
    from explainer.learning.train import train

    fashion = datasets.get("fashion").load_all()
    runs = []
    for name, cfg in (("mnist CNN", TrainConfig(model="custom", model_options=dict(blocks=1, channels=4),
                                                 train_size=200, batch_size=64)),
                      ("fashion CNN", TrainConfig(model="custom", model_options=dict(blocks=1, channels=4),
                                                   train_size=1000, batch_size=64, dataset="fashion")),
                      ("fashion MLP", TrainConfig(model="mlp", train_size=1000, batch_size=64, dataset="fashion"))):
        r = train(cfg, fashion if cfg.dataset == "fashion" else datasets.get("mnist").load_all())
        runs.append(KeptRun.trained(name, r))
    at = app_test("backprop", "en", timeout=300, bp_view="networks", tr_runs=runs, tr_dataset="fashion").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="bp_dataset").value == "fashion"
    deadline = time.monotonic() + 240
    while not at.dataframe and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert "fashion CNN" in frame and "fashion MLP" in frame and "mnist CNN" not in frame
    cnn = shifted_accuracy(runs[1].model, fashion[2][:2000], fashion[3][:2000])
    assert frame["fashion CNN"].tolist()[0] == f"{100 * cnn[0]:.1f} %"
    assert frame["fashion CNN"].tolist()[6] == f"{100 * cnn[6]:.1f} %"
    names = datasets.get("fashion").class_names("en")
    assert any("fashion CNN" in m.value and any(f"**{n}**" in m.value for n in names) for m in at.markdown)
