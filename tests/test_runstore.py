"""The run store: save and load a run, unguessable ids, size cap with the oldest evicted."""
from __future__ import annotations

import math

import torch

from explainer.runstore import RunStore, parse_ids, valid_id
from explainer.train import TrainConfig, save_checkpoint


def _run(label="run 1"):
    from explainer.models import build_model

    torch.manual_seed(0)
    config = TrainConfig(model="mlp")
    model = build_model("mlp")
    run = {"label": label, "config": config, "history": [{"epochs_done": 0.5, "train_acc": 0.9, "test_acc": float("nan")}],
           "test_accuracy": 0.91, "seconds": 1.5, "ips": 1000.0, "stopped": True, "device": "cpu"}
    return run, model, save_checkpoint(model, config)


def test_save_and_load_round_trip(tmp_path):
    store = RunStore(tmp_path)
    run, model, blob = _run()
    run_id = store.save(run, blob)
    assert valid_id(run_id) and (tmp_path / "weights" / f"{run_id}.pt").exists() and (tmp_path / "runs.sqlite").exists()
    back = RunStore(tmp_path).load(run_id)  # a new process: same folder
    assert back["label"] == "run 1" and back["config"].model == "mlp" and back["stopped"] is True
    assert back["history"][0]["test_acc"] is None and math.isclose(back["test_accuracy"], 0.91)
    for a, b in zip(model.state_dict().values(), back["model"].state_dict().values()):
        assert torch.equal(a, b)


def test_ids_are_unguessable_and_bad_ids_are_refused(tmp_path):
    store = RunStore(tmp_path)
    run, _, blob = _run()
    ids = {store.save(run, blob) for _ in range(5)}
    assert len(ids) == 5 and all(len(i) == 22 for i in ids)  # 128 random bits each
    for bad in ("", "x", "../../etc/passwd", "a" * 23, "' OR 1=1 --aaaaaaaaaaaa", None, 5):
        assert store.load(bad) is None and store.meta(bad) is None
    assert store.load("A" * 22) is None  # well-formed but unknown
    assert parse_ids("A" * 22 + ",../x," + "B" * 22 + "," + "A" * 22) == ["A" * 22, "B" * 22]


def test_cap_evicts_the_oldest(tmp_path):
    run, _, blob = _run()
    store = RunStore(tmp_path, max_bytes=3 * len(blob))
    ids = [store.save(dict(run, label=f"run {k}"), blob) for k in range(5)]
    assert store.ids() == ids[::-1][:3]  # the three newest stay
    assert store.total_bytes() <= 3 * len(blob)
    assert store.load(ids[0]) is None and not (tmp_path / "weights" / f"{ids[0]}.pt").exists()
    assert store.load(ids[-1])["label"] == "run 4"
    small = RunStore(tmp_path, max_runs=2)
    small.evict()
    assert small.ids() == ids[::-1][:2]


def test_ids_match_in_full():
    """A trailing newline (``$`` matches before it) or any other extra character is not an id (issue 21 item 8)."""
    good = "A" * 22
    assert valid_id(good)
    for bad in (good + "\n", good + "\r\n", "\n" + good, good + " ", good + "\x00"):
        assert not valid_id(bad), repr(bad)
    assert parse_ids(good + "\n") == [good]  # the link's value is stripped first: the same run
