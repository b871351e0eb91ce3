"""Your own images through training: the registry entry and its spec, a configuration and a checkpoint that name the
pictures only by their class names and hash, the run store that keeps no picture, the arrays shipped (bounded) with
the engine job, and the Train page (AppTest, on the real Dask engine) with a zip of real photographs."""
from __future__ import annotations


import numpy as np
import pytest

from explainer import limits
from explainer.data import datasets
from explainer.engine import jobs
from explainer.errors import UserError
from explainer.i18n import translate
from explainer.data.ownimages import read_zip
from explainer.engine.runstore import RunStore
from explainer.learning.runs import KeptRun
from explainer.learning.train import TrainConfig, load_checkpoint, save_checkpoint, train
from tests.conftest import app_test
from tests.conftest import wait_for_run as _wait_for_run
from tests.ownzips import make_zip, picture_files
from tests.pagewalk import undeclared


@pytest.fixture(scope="module")
def own():
    return read_zip(make_zip(picture_files(12)), "colour32")


def _arrays(ds):
    """The arrays as the engine job ships them (writable copies: torch warns on read-only ones)."""
    return tuple(np.array(a) for a in (ds.train_x, ds.train_y, ds.test_x, ds.test_y))


def test_registry_entry_and_spec(own):
    entry = datasets.own(own)
    assert entry.key == datasets.OWN and entry.shape == (3, 32, 32) and entry.num_classes == 4
    assert entry.class_names("zh") == list(own.class_names)  # the folders' names, in every language
    x = own.train_x.reshape(-1, 3) / 255
    assert np.allclose(entry.mean, x.mean(0)) and np.allclose(entry.std, x.std(0))
    spec = datasets.own_spec(own)
    assert spec["sha256"] == own.sha256 and spec["names"] == list(own.class_names) and spec["mode"] == "colour32"
    back = datasets.from_spec(spec)
    assert back.shape == entry.shape and back.class_names("en") == list(own.class_names)
    with pytest.raises(UserError) as exc:
        back.load_all()  # the pictures are not in a spec
    assert exc.value.key == "errors.zip.own_gone"
    for bad in (None, {}, {**spec, "names": ["one"]}, {**spec, "sha256": "x" * 64}, {**spec, "mean": [0.5]},
                {**spec, "std": [0, 0, 0]}, {**spec, "mode": "rgb64"}, {**spec, "extra": 1},
                {**spec, "names": ["a", "b" * (limits.OWN_CLASS_CHARS + 1)]}):
        with pytest.raises(UserError) as exc:
            datasets.check_spec(bad)
        assert exc.value.key == "errors.zip.own_spec"


def test_config_checkpoint_and_run_store_keep_names_and_hash_never_pictures(own, tmp_path):
    spec = datasets.own_spec(own)
    with pytest.raises(UserError):
        TrainConfig(dataset=datasets.OWN)  # no spec
    with pytest.raises(UserError):
        TrainConfig(dataset="mnist", own=spec)  # a spec for a built-in set
    cfg = TrainConfig(model="fast", dataset=datasets.OWN, own=spec, epochs=1, batch_size=16)
    res = train(cfg, _arrays(own))
    assert res.predictions.shape == (len(own.test_y),) and res.probabilities.shape == (len(own.test_y), 4)
    blob = save_checkpoint(res.model, cfg)
    model, back = load_checkpoint(blob)
    assert back.own == spec and back.data_set().class_names("en") == list(own.class_names)
    store = RunStore(tmp_path)
    run_id = store.save(KeptRun(label="mine", config=cfg, history=res.history, test_accuracy=res.test_accuracy,
                                seconds=1.0, ips=1.0, stopped=False), blob, owner="t")
    assert store.load(run_id).config.own == spec
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert own.sha256.encode() in stored and own.class_names[0].encode() in stored
    for x in (own.train_x[0], own.test_x[-1]):  # no prepared picture anywhere in the store's files
        assert x.tobytes()[:256] not in stored


def test_shipped_arrays_are_checked_and_bounded(own, monkeypatch):
    cfg = TrainConfig(dataset=datasets.OWN, own=datasets.own_spec(own), batch_size=16)
    sent = jobs.shipped(cfg, _arrays(own))
    assert all(np.array_equal(a, b) for a, b in zip(sent, _arrays(own))) and all(a.flags.writeable for a in sent)
    assert jobs.shipped(TrainConfig(), _arrays(own)) is None  # a built-in set is the worker's own
    with pytest.raises(UserError) as exc:
        jobs.shipped(cfg, None)
    assert exc.value.key == "errors.zip.own_gone"
    monkeypatch.setattr(limits, "OWN_SHIPPED_BYTES", own.nbytes - 1)
    with pytest.raises(UserError) as exc:
        jobs.shipped(cfg, _arrays(own))
    assert exc.value.key == "errors.zip.shipped_too_big"
    assert 5_000 * 32 * 32 * 3 + 5_000 * 8 <= 16 * 1024 * 1024  # the largest own set fits the real bound


def test_train_page_own_images_before_an_upload():
    at = app_test("train")
    at.query_params["tr_dataset"] = "own"
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Train a CNN on your own images"
    assert at.button(key="tr_start").disabled and len(at.dataframe) == 1  # the model's layers, for 2 classes



@pytest.mark.usefixtures("dask_engine")
def test_train_page_trains_on_own_images_on_the_engine(own):
    at = app_test("train", "zh", timeout=60, _tr_own=own)
    at.query_params["tr_dataset"] = "own"
    at.query_params["tr_own_mode"] = "colour32"
    at.run()
    assert not at.exception and not at.error
    counts = at.dataframe[0].value  # the classes and their counts, before training
    assert list(counts.iloc[:, 0]) == list(own.class_names) and list(counts.iloc[:, 1]) == list(own.counts)
    assert len(at.get("image")) == own.n_classes  # a sample row per class
    at.select_slider(key="tr_bs").set_value(16).run()
    at.button(key="tr_start").click().run()
    _wait_for_run(at)
    assert not at.exception
    run = at.session_state["tr_runs"][0]
    assert run.config.dataset == datasets.OWN and run.config.own["sha256"] == own.sha256
    assert at.selectbox(key="tr_cell_true").options == list(own.class_names)
    assert 0.0 <= run.test_accuracy <= 1.0 and len(run.evaluation["predictions"]) == len(own.test_y)
    # the run's label and the accuracy sentence count this upload's pictures, not MNIST's 60,000 / 10,000
    assert run.config.train_size > len(own.train_y) and f" {len(own.train_y)} " in f" {run.label} "
    wrong = int((run.evaluation["predictions"] != own.test_y).sum())
    assert translate("train.test_acc_other", "zh", acc=f"{100 * run.evaluation['accuracy']:.2f}", wrong=wrong,
                     n=f"{len(own.test_y):,}") in [m.value for m in at.markdown]
    # the feature maps' picture index is bounded by this test set's size (declared tr_fi, not MNIST's 9,999)
    at.session_state["tr_tabs"] = translate("train.tab_features", "zh")
    at.run()
    assert not at.exception and at.number_input(key="tr_fi").proto.max == len(own.test_y) - 1
    at.number_input(key="tr_fi").set_value(len(own.test_y) - 1).run()
    assert not at.exception and undeclared(at) == []


def test_other_lessons_stay_on_built_in_sets_when_train_uses_own_images(own):
    """How kernels learn follows Train's data set only to a built-in one; Inside the network lists no run on own
    images (their pictures stay on Train)."""
    from torch import nn

    at = app_test("backprop", bp_view="networks", tr_dataset="own")
    at.run()  # How kernels learn follows Train to your own images (tests/test_own_lessons.py)
    assert not at.exception and at.selectbox(key="bp_dataset").value == datasets.OWN
    cfg = TrainConfig(model="fast", dataset=datasets.OWN, own=datasets.own_spec(own))
    run = KeptRun(label="mine", config=cfg, history=[], test_accuracy=0.5, model=cfg.build(), seconds=1.0, ips=1.0,
                  stopped=False)
    assert isinstance(run.model, nn.Module)
    at = app_test("network", tr_runs=[run])
    at.run()
    assert not at.exception
    assert not any("mine" in str(o) for o in at.selectbox(key="nw_model").options)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_train_intro_and_mlp_name_follow_the_data_set(own, lang):
    """The intro counts the chosen set's training pictures (not "60,000 MNIST digits" for every set), and the MLP's
    name and caption count its inputs and classes: 784-…-10 for a digit, 3072-…-k for k classes of colour 32×32."""
    def shown(at):
        return " ".join(m.value for m in at.markdown), at.selectbox(key="tr_model")

    def intro(key, n, k):
        name = translate(f"datasets.{key}", lang)
        what = "train.intro_what_own" if key == "own" else "train.intro_what"
        return translate("train.intro_other", lang, what=translate(what, lang, n=n, name=name, k=k))

    at = app_test("train", lang).run()
    md, model = shown(at)
    assert not at.exception and translate("train.intro", lang) in md and "60,000" in md
    assert "MLP 784-256-256-256-10" in model.options
    at.selectbox(key="tr_dataset").select("fashion").run()
    md, model = shown(at)
    assert translate("train.intro", lang) not in md and intro("fashion", 60_000, 10) in md and "60,000" in md
    assert "MLP 784-256-256-256-10" in model.options
    at = app_test("train", lang, _tr_own=own)
    at.query_params.update(tr_dataset="own", tr_own_mode="colour32", tr_model="mlp")
    at.run()
    md, model = shown(at)
    assert not at.exception and intro("own", len(own.train_y), own.n_classes) in md and "60,000" not in md
    assert model.value == "mlp" and f"MLP 3072-256-256-256-{own.n_classes}" in model.options
    assert "784" not in " ".join(c.value for c in at.caption) and "3,072" in " ".join(c.value for c in at.caption)
