"""The exported training script for a run on your own images: it reads the prepared pictures' file the Train page
gives (``train.own_npz``), checks they are the run's, and trains; the Train page offers both to the learner who holds
the pictures, and says why not to one who doesn't. A tiny set, one epoch (seconds)."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from explainer.data import datasets
from explainer.data.ownimages import read_zip
from explainer.i18n import translate
from explainer.learning.runs import KeptRun
from explainer.learning.train import OWN_EXPORT_FILE, TrainConfig, export_code, own_npz, train
from tests.conftest import app_test
from tests.ownzips import make_zip, picture_files


@pytest.fixture(scope="module")
def own():
    return read_zip(make_zip(picture_files(8)), "colour32")


def _config(own, **kw):
    return TrainConfig(model="fast", dataset=datasets.OWN, own=datasets.own_spec(own), epochs=1, batch_size=64,
                       **kw)


def test_prepared_pictures_file_holds_the_sets_arrays(own):
    got = np.load(io.BytesIO(own_npz(own)))
    for name, field in (("x_train", "train_x"), ("y_train", "train_y"), ("x_test", "test_x"), ("y_test", "test_y")):
        assert np.array_equal(got[name], getattr(own, field)) and got[name].dtype == getattr(own, field).dtype
    assert list(got["classes"]) == list(own.class_names) and str(got["sha256"]) == own.sha256
    assert str(got["mode"]) == "colour32"


def test_exported_script_trains_on_the_prepared_pictures(own, tmp_path, monkeypatch):
    code = export_code(_config(own))
    assert OWN_EXPORT_FILE in code and own.sha256 in code and "nn.Conv2d(3, " in code  # 3 input channels
    (tmp_path / "train_own.py").write_text(code)
    (tmp_path / OWN_EXPORT_FILE).write_bytes(own_npz(own))
    out = subprocess.run([sys.executable, "train_own.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    acc = float(out.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert out.stdout.startswith("epoch 1: test accuracy") and 0 <= acc <= 1
    # other pictures (another zip): the script's reading part refuses them instead of training on them silently
    other = read_zip(make_zip(picture_files(6, seed=1)), "colour32")
    (tmp_path / "other.npz").write_bytes(own_npz(other))
    monkeypatch.setenv("OWN_IMAGES", str(tmp_path / "other.npz"))
    reading = code[: code.index("class Normalize")]
    with pytest.raises(AssertionError, match="not the pictures this model was trained on"):
        exec(compile(reading, "train_own.py", "exec"), {})  # noqa: S102 — the generated script's own first part
    monkeypatch.setenv("OWN_IMAGES", str(tmp_path / OWN_EXPORT_FILE))
    scope: dict = {}
    exec(compile(reading, "train_own.py", "exec"), scope)  # noqa: S102
    assert tuple(scope["x_test"].shape) == (len(own.test_y), 3, 32, 32) and scope["CLASSES"] == list(own.class_names)


def test_class_names_are_a_python_literal_whatever_they_are(own):
    spec = dict(datasets.own_spec(own), names=['a"b', "c\\d", "猫 '''", "x\ny"][: len(own.class_names)])
    code = export_code(TrainConfig(model="mlp", dataset=datasets.OWN, own=spec))
    scope: dict = {}
    line = next(ln for ln in code.splitlines() if ln.startswith("CLASSES = "))
    exec(line, scope)  # noqa: S102 — the generated line alone: a literal
    assert scope["CLASSES"] == spec["names"]
    compile(code, "train_own.py", "exec")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_train_page_exports_script_and_pictures_only_with_the_pictures(own, lang):
    run = KeptRun.trained("mine", train(_config(own, train_size=100), tuple(np.array(a) for a in (
        own.train_x, own.train_y, own.test_x, own.test_y))))
    at = app_test("train", lang, timeout=60, _tr_own=own, tr_runs=[run])
    at.query_params["tr_dataset"] = "own"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(c.value.strip() == export_code(run.config).strip() for c in at.code)
    assert translate("datasets.own_ui.export_text", lang, file=OWN_EXPORT_FILE) in [c.value for c in at.caption]
    at.button(key="tr_own_npz").click().run()
    assert not at.exception
    packed = at.session_state["_tr_own_npz"][1]
    assert np.array_equal(np.load(io.BytesIO(packed))["x_test"], own.test_x)
    # without the pictures (another session, a link): no script, and why
    at = app_test("train", lang, timeout=60, tr_runs=[run])
    at.query_params["tr_dataset"] = "own"
    at.run()
    assert not at.exception
    assert translate("datasets.own_ui.no_export", lang) in [c.value for c in at.caption] and not at.code


def test_a_link_to_an_own_run_brings_back_its_data_set_on_train_and_network(own):
    """``?run=<id>`` of a run on your own images: Train comes back on "your own images" (the run named by its classes);
    Inside the network shows it on this session's pictures when they are the run's, and never on MNIST digits."""
    from explainer.engine.runstore import RunStore
    from explainer.learning.train import save_checkpoint

    cfg = _config(own, train_size=100)
    res = train(cfg, tuple(np.array(a) for a in (own.train_x, own.train_y, own.test_x, own.test_y)))
    run = KeptRun.trained("linked own", res)
    run_id = RunStore().save(run, save_checkpoint(res.model, cfg), owner="test-own-link")
    at = app_test("train", "en", timeout=60)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    assert at.selectbox(key="tr_dataset").value == datasets.OWN
    back = at.session_state["tr_runs"][0]
    assert back.config.dataset == datasets.OWN and back.config.own["names"] == list(own.class_names)
    assert translate("datasets.own_ui.no_export", "en") in [c.value for c in at.caption]  # no pictures here
    nw = app_test("network", "en", timeout=60, _tr_own=own)
    nw.query_params["nw_model"] = run_id
    nw.run()
    assert not nw.exception and not nw.error, [e.value for e in nw.error]
    assert nw.selectbox(key="nw_class").options == list(own.class_names)
    assert "linked own" in " ".join(m.value for m in nw.markdown)
    # the same link where the pictures are not held: said, and no MNIST digit fed to it
    gone = app_test("network", "en", timeout=60)
    gone.query_params["nw_model"] = run_id
    gone.run()
    assert not gone.exception
    assert translate("errors.zip.own_gone", "en") in [e.value for e in gone.error]
    assert not gone.get("plotly_chart")
