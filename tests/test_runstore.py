"""The run store: save and load a run, unguessable ids, size cap with the oldest evicted."""
from __future__ import annotations

import dataclasses
import math
import sqlite3
import time

import numpy as np
import pytest
import torch

from explainer.errors import UserError
from explainer.engine.runstore import RunStore, parse_ids, valid_id
from explainer.learning.runs import STORED_FIELDS, KeptRun
from explainer.learning.train import TrainConfig, save_checkpoint


def _run(label="run 1"):
    from explainer.learning.models import build_model

    torch.manual_seed(0)
    config = TrainConfig(model="mlp")
    model = build_model("mlp")
    run = KeptRun(label=label, config=config, history=[{"epochs_done": 0.5, "train_acc": 0.9, "test_acc": float("nan")}],
                  test_accuracy=0.91, seconds=1.5, ips=1000.0, stopped=True, device="cpu")
    return run, model, save_checkpoint(model, config)


def test_save_and_load_round_trip(tmp_path):
    store = RunStore(tmp_path)
    run, model, blob = _run()
    run_id = store.save(run, blob)
    assert valid_id(run_id) and (tmp_path / "weights" / f"{run_id}.pt").exists() and (tmp_path / "runs.sqlite").exists()
    back = RunStore(tmp_path).load(run_id)  # a new process: same folder
    assert back.label == "run 1" and back.config.model == "mlp" and back.stopped is True
    assert back.history[0]["test_acc"] is None and math.isclose(back.test_accuracy, 0.91)
    for a, b in zip(model.state_dict().values(), back.model.state_dict().values()):
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
    ids = [store.save(dataclasses.replace(run, label=f"run {k}"), blob) for k in range(5)]
    assert store.ids() == ids[::-1][:3]  # the three newest stay
    assert store.total_bytes() <= 3 * len(blob)
    assert store.load(ids[0]) is None and not (tmp_path / "weights" / f"{ids[0]}.pt").exists()
    assert store.load(ids[-1]).label == "run 4"
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


# ---------------------------------------------------------------- the kept run as one record (issue 20 step 3)
def _result(model, config):
    from explainer.learning.train import TrainResult

    return TrainResult(model=model, history=[{"epochs_done": 1.0, "train_acc": 0.5, "test_acc": float("nan")}],
                       test_accuracy=0.75, train_seconds=3.25, images_per_second=1500.0, epochs_done=1.0,
                       device="cpu", config=config, stopped=True, predictions=np.arange(4) % 10,
                       probabilities=np.full((4, 10), 0.1, np.float32))


def test_a_trained_run_round_trips_through_the_store(tmp_path):
    """Every field the store keeps comes back as it went in (NaN as None in the curves); the session's working
    state (the evaluation, a scoring job) is not stored."""
    torch.manual_seed(3)
    config = TrainConfig(model="mlp", lr=0.01, seed=7)
    model = config.build()
    run = KeptRun.trained("Run 1 · MLP", _result(model, config))
    assert run.evaluation["accuracy"] == 0.75 and np.array_equal(run.evaluation["predictions"], np.arange(4) % 10)
    blob = save_checkpoint(model, config)
    before = time.time()
    run_id = RunStore(tmp_path).save(run, blob, owner="o")
    back = RunStore(tmp_path).load(run_id)
    assert isinstance(back, KeptRun) and back.id == run_id and back.checkpoint == blob and back.size == len(blob)
    assert before <= back.created <= time.time()
    assert (back.label, back.test_accuracy, back.seconds, back.ips, back.stopped, back.device) == \
        ("Run 1 · MLP", 0.75, 3.25, 1500.0, True, "cpu")
    assert back.history == [{"epochs_done": 1.0, "train_acc": 0.5, "test_acc": None}]
    assert back.config == config and back.config.learning_rate == 0.01
    assert back.evaluation is None and back.scoring is None and not back.score_asked  # scored again on the page
    for a, b in zip(model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)
    assert back.stored() == dict(run.stored(), history=back.history)


def test_an_uploaded_run_is_unscored_and_its_nan_accuracy_survives(tmp_path):
    config = TrainConfig(model="mlp")
    run = KeptRun.uploaded("mine.pt", config.build(), config)
    assert run.score_asked and run.test_accuracy != run.test_accuracy and run.history == []
    assert run.stored()["test_accuracy"] is None  # JSON has no NaN
    store = RunStore(tmp_path)
    back = store.load(store.save(run, save_checkpoint(run.model, config)))
    assert back.test_accuracy != back.test_accuracy  # NaN again, not None ("…" on the page, not a crash)


def test_the_store_takes_only_a_kept_run(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(TypeError, match="KeptRun"):
        store.save({"label": "r", "config": {"model": "mlp"}, "history": [], "test_accuracy": 0.9}, b"x")
    assert store.ids() == [] and not list((tmp_path / "weights").iterdir())


def _row(tmp_path):
    store = RunStore(tmp_path)
    run, model, blob = _run()
    run_id = store.save(run, blob)
    row = store.meta(run_id)
    assert set(row) == set(STORED_FIELDS)
    return store, run_id, row, model, run.config


BAD_ROWS = [
    *[(f"missing {name}", {name: None}, name) for name in STORED_FIELDS],
    ("extra field", {"owner": "x"}, "owner"),
    ("label a number", {"label": 5}, "label"),
    ("config a list", {"config": ["mlp"]}, "config"),
    ("history a dict", {"history": {"epochs_done": 1}}, "history"),
    ("history of numbers", {"history": [1, 2]}, "history"),
    ("accuracy a string", {"test_accuracy": "0.9"}, "test_accuracy"),
    ("stopped 2", {"stopped": 2}, "stopped"),
    ("stopped a string", {"stopped": "yes"}, "stopped"),
    ("seconds a bool", {"seconds": True}, "seconds"),
    ("size a float", {"size": 1.5}, "size"),
    ("id missing its value", {"id": None}, "id"),
]


@pytest.mark.parametrize("what, change, field", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_stored_row_with_a_missing_extra_or_mistyped_field_is_refused(tmp_path, what, change, field):
    _, _, row, model, config = _row(tmp_path)
    assert KeptRun.from_stored(dict(row), model, config).label == "run 1"  # the good row reads
    if what.startswith("missing"):
        del row[field]
    else:
        row.update(change)
    with pytest.raises(UserError) as exc:
        KeptRun.from_stored(row, model, config)
    assert exc.value.key == "errors.run_record_bad" and exc.value.params["field"] == field


@pytest.mark.parametrize("column, value", [("label", b"\x00"), ("history", '{"epochs_done": 1}'),
                                           ("config", "not json"), ("stopped", "yes"), ("test_accuracy", "high"),
                                           ("seconds", None)])
def test_a_malformed_row_in_the_database_is_refused_with_a_user_error(tmp_path, column, value):
    """A row another version (or a hand) wrote: load says which field, never a traceback from deep inside."""
    store, run_id, _, _, _ = _row(tmp_path)
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        db.execute("UPDATE runs SET " + column + " = ? WHERE id = ?", (value, run_id))
    with pytest.raises(UserError) as exc:
        store.load(run_id)
    assert exc.value.key == "errors.run_record_bad" and column in exc.value.params["field"]


def test_a_link_to_a_malformed_run_is_said_and_the_page_goes_on(mnist_dir):
    """The Train page given a link to a run whose row is malformed: the refusal as a notice, no run, no traceback."""
    from explainer.i18n import translate
    from tests.conftest import app_test

    store = RunStore()  # the tests' store (CONVOLUTION_EXPLAINER_RUNS), which the page reads
    run, _, blob = _run()
    run_id = store.save(run, blob)
    with sqlite3.connect(store.root / "runs.sqlite") as db:
        db.execute("UPDATE runs SET history = '[1, 2]' WHERE id = ?", (run_id,))
    at = app_test("train", timeout=60)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception and at.session_state["tr_runs"] == []
    assert translate("errors.run_record_bad", "en", field="history") in [x.value for x in at.toast]
