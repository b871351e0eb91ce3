"""Training: a short real run on MNIST (in-process, as the CLI and a worker run it), checkpoints, export,
the command line. Jobs on the engine: tests/test_jobs.py."""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from explainer.errors import UserError
from explainer.data.mnist import load_mnist
from explainer.learning.train import (TrainConfig, evaluate, export_code, load_checkpoint, predict_proba, save_checkpoint,
                             train)


@pytest.fixture(scope="module")
def data(mnist_dir):
    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="module")
def trained(data):
    calls = []
    res = train(TrainConfig(train_size=6000, epochs=1, seed=1), data, on_progress=calls.append)
    res.progress_calls = calls
    return res


def test_progress_is_throttled_and_complete(trained):
    calls = trained.progress_calls
    evals = [c for c in calls if "test_acc" in c]
    # every evaluation is reported; between them at most one report per 0.25 s of training
    assert len(evals) == len(trained.history)
    assert len(calls) <= len(evals) + trained.train_seconds / 0.25 + 1
    keys = {"epoch", "step", "total_steps", "seen", "elapsed", "images_per_second", "eta_seconds",
            "train_loss", "train_acc"}
    assert all(keys <= set(c) for c in calls)
    assert [c["step"] for c in calls] == sorted(c["step"] for c in calls)
    assert calls[-1]["step"] == calls[-1]["total_steps"] and calls[-1]["eta_seconds"] == 0


def test_short_real_run_passes_90_percent(trained, data):
    assert trained.test_accuracy > 0.90
    assert not trained.stopped and trained.epochs_done == pytest.approx(1.0)
    hist = trained.history
    assert len(hist) >= 4 and all("test_acc" in h for h in hist)
    assert hist[-1]["test_acc"] == pytest.approx(trained.test_accuracy)
    assert trained.images_per_second > 0 and trained.train_seconds > 0
    assert all(0 < h["train_loss"] < 3 and 0 <= h["train_acc"] <= 1 for h in hist)
    # trained in channels-last, handed back in the ordinary layout (checkpoints, feature maps, numpy views)
    assert all(p.is_contiguous() for p in trained.model.parameters())
    # evaluate() agrees with the loop's own evaluation
    ev = evaluate(trained.model, data[2], data[3])
    assert ev["accuracy"] == pytest.approx(trained.test_accuracy)
    assert ev["probabilities"].shape == (10000, 10)
    # the final evaluation's predictions and probabilities come with the result (a worker sends them to the page)
    assert np.array_equal(trained.predictions, ev["predictions"])
    assert np.allclose(trained.probabilities, ev["probabilities"], atol=1e-5)
    p = predict_proba(trained.model, data[2][0] / 255.0)
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0, abs=1e-5) and int(p.argmax()) == int(data[3][0])


def test_stop_keeps_what_was_learned(data):
    calls = []
    res = train(TrainConfig(train_size=6000, epochs=3), data, on_progress=calls.append,
                should_stop=lambda: len(calls) >= 2)
    assert res.stopped and res.epochs_done < 3
    assert 0 < res.test_accuracy <= 1


def test_training_leaves_process_settings_alone(data):
    """A worker sets its threads once; train() itself changes neither the global RNG nor the thread count,
    and the seed still makes a run reproducible."""
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    a = train(TrainConfig(train_size=300, batch_size=32, epochs=1, seed=7, model="custom",
                          model_options={"channels": 4, "dropout": 0.2}), data)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    b = train(TrainConfig(train_size=300, batch_size=32, epochs=1, seed=7, model="custom",
                          model_options={"channels": 4, "dropout": 0.2}), data)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert np.array_equal(a.predictions, b.predictions)


def test_tiny_run_with_one_cycle_and_few_steps(data):
    """One-cycle needs a few steps per phase: a 2-step run trains at a constant rate instead of failing."""
    res = train(TrainConfig(train_size=500, batch_size=256, epochs=1, one_cycle=True), data)
    assert res.epochs_done == 1 and 0 < res.test_accuracy <= 1


def test_checkpoint_round_trip(trained, data):
    blob = save_checkpoint(trained.model, trained.config)
    model, config = load_checkpoint(blob)
    assert config == trained.config
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(model(x), trained.model(x))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/pwned-by-checkpoint",))


@pytest.mark.parametrize("blob,key", [
    (b"", "errors.checkpoint_foreign"),
    (b"this is not a checkpoint", "errors.checkpoint_bad"),
    (pickle.dumps(_Evil()), "errors.checkpoint_bad"),
])
def test_bad_checkpoints_rejected(blob, key):
    with pytest.raises(UserError) as exc:
        load_checkpoint(blob)
    assert exc.value.key == key
    assert not os.path.exists("/tmp/pwned-by-checkpoint")


def test_malicious_torch_save_rejected():
    buf = io.BytesIO()
    torch.save({"format": "convolution-explainer/1", "payload": _Evil()}, buf)
    with pytest.raises(UserError):
        load_checkpoint(buf.getvalue())
    assert not os.path.exists("/tmp/pwned-by-checkpoint")


def test_mismatched_checkpoint(trained):
    buf = io.BytesIO()
    state = {k: v for k, v in trained.model.state_dict().items()}
    cfg = trained.config.to_dict() | {"model": "mlp"}
    torch.save({"format": "convolution-explainer/1", "config": json.dumps(cfg), "state_dict": state}, buf)
    with pytest.raises(UserError) as exc:
        load_checkpoint(buf.getvalue())
    assert exc.value.key == "errors.checkpoint_mismatch"


def test_config_validation():
    for bad in ({"model": "vgg"}, {"optimizer": "lion"}, {"lr": -1}, {"lr": float("nan")}, {"lr": "fast"},
                {"batch_size": 0}, {"batch_size": "many"}, {"epochs": None}, {"train_size": 5},
                {"model": "custom", "model_options": {"blocks": 9}},
                {"model": "custom", "model_options": {"channels": "wide"}},
                {"model": "fast", "model_options": {"blocks": 2}}, {"model_options": "blocks=2"}):
        with pytest.raises(UserError):
            TrainConfig(**bad)


@pytest.mark.parametrize("bad, key, param", [
    ({"model": "vgg"}, "errors.not_one_of", "model"),
    ({"optimizer": "lion"}, "errors.not_one_of", "optimizer"),
    ({"lr": 20}, "errors.out_of_range", "learning_rate"),
    ({"lr": "fast"}, "errors.not_number", "learning_rate"),
    ({"batch_size": 5000}, "errors.out_of_range", "batch_size"),
    ({"epochs": 101}, "errors.out_of_range", "epochs"),
    ({"train_size": 5}, "errors.out_of_range", "train_size"),
    ({"seed": "x"}, "errors.not_whole", "seed"),
    ({"evals_per_epoch": None}, "errors.not_whole", "evals_per_epoch"),
    ({"eval_size": "all"}, "errors.not_whole", "eval_size"),
    ({"model_options": "blocks=2"}, "errors.not_mapping", "model_options"),
])
def test_config_errors_are_whole_sentences_in_both_languages(bad, key, param):
    """Each refused setting is named by its catalogue word: no English fragment inside the Chinese text."""
    from explainer import limits
    from explainer.errors import message
    from explainer.i18n import catalogue

    with pytest.raises(UserError) as exc:
        TrainConfig(**bad)
    assert (exc.value.key, exc.value.params["param"]) == (key, param)
    assert f"errors.param.{param}" in catalogue("zh")
    zh = message(exc.value.key, exc.value.params, "zh")
    value = str(exc.value.params["value"])
    assert re.findall(r"[A-Za-z]{2,}", zh.replace(value, "").replace(exc.value.params.get("choices", ""), "")) == [], zh
    if key == "errors.out_of_range" and param == "learning_rate":
        assert exc.value.params["hi"] == f"{limits.TRAIN_LR_MAX:g}"
    if param == "batch_size":
        assert str(exc.value) == f"The batch size must be between 1 and {limits.BATCH_SIZE_MAX}, not 5000."
        assert zh == f"批大小必须在 1 到 {limits.BATCH_SIZE_MAX} 之间，而不是 5000。"


def test_export_code_runs(tmp_path, mnist_dir):
    code = export_code(TrainConfig(model="lenet5", train_size=512, epochs=1, batch_size=64))
    script = tmp_path / "train_export.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MNIST_DIR=mnist_dir))
    assert out.returncode == 0, out.stderr
    assert "epoch 1: test accuracy" in out.stdout


def test_cli_json(tmp_path, mnist_dir):
    save = tmp_path / "m.pt"
    out = subprocess.run([sys.executable, "-m", "explainer.learning.train", "--model", "fast", "--epochs", "1",
                          "--limit", "2000", "--json", "--save", str(save)],
                         capture_output=True, text=True, timeout=180, env=dict(os.environ, MNIST_DIR=mnist_dir))
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("test_accuracy", "train_seconds", "images_per_second", "epochs", "model", "device"):
        assert key in res
    assert res["model"] == "fast" and res["epochs"] == 1 and 0.5 < res["test_accuracy"] <= 1
    model, config = load_checkpoint(save.read_bytes())
    assert config.train_size == 2000


def test_channels_last_only_where_it_is_faster():
    from explainer.learning.models import build_model, prefers_channels_last

    assert prefers_channels_last(build_model("fast")) and prefers_channels_last(build_model("lenet5"))
    assert not prefers_channels_last(build_model("mlp"))
    assert not prefers_channels_last(build_model("custom", channels=4))


def test_bfloat16_only_for_channels_last_models_on_a_cpu_that_has_it(monkeypatch):
    from explainer.learning import models as M
    from explainer.learning.train import TrainConfig, export_code

    monkeypatch.setattr(M, "cpu_has_bfloat16", lambda: True)
    assert M.prefers_bfloat16(M.build_model("fast")) and M.prefers_bfloat16(M.build_model("lenet5"))
    assert not M.prefers_bfloat16(M.build_model("mlp")) and not M.prefers_bfloat16(M.build_model("fast"), "cuda")
    monkeypatch.setattr(M, "cpu_has_bfloat16", lambda: False)
    assert not M.prefers_bfloat16(M.build_model("fast"))
    # the exported script asks its own CPU, as the app asks the server's
    assert "torch.autocast(\"cpu\", dtype=torch.bfloat16, enabled=BF16)" in export_code(TrainConfig())
    assert "autocast" not in export_code(TrainConfig(model="mlp"))
    monkeypatch.setenv("EXPLAINER_BFLOAT16", "0")
    monkeypatch.setattr(M, "cpu_has_bfloat16", lambda: True)
    assert not M.prefers_bfloat16(M.build_model("fast")) and "autocast" not in export_code(TrainConfig())


def test_estimate_seconds_from_measured_speed():
    from explainer.learning.train import estimate_seconds

    assert estimate_seconds(2, 1000, 500.0) == 4.0
    assert estimate_seconds(1, 60_000, 3000.0) == 20.0
    assert estimate_seconds(1, 100_000, 3000.0) == 20.0  # never more digits than MNIST's training set
