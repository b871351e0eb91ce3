"""Your own images beyond the Train page: How kernels learn (CNN vs MLP under shifts, saliency and occlusion) on the
set the learner prepared on Train, and Inside the network on a run trained on it — class names, test pictures, no
MNIST digit fed to a model of another data set. Tiny trainings on a small zip of real photographs (seconds)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from explainer.data import datasets
from explainer.data.ownimages import read_zip
from explainer.i18n import translate
from explainer.learning.runs import KeptRun
from explainer.learning.train import TrainConfig, train
from tests.conftest import app_test
from tests.ownzips import make_zip, picture_files


def _arrays(ds):
    return tuple(np.array(a) for a in (ds.train_x, ds.train_y, ds.test_x, ds.test_y))


@pytest.fixture(scope="module", params=["colour32", "grey28"])
def own(request):
    return read_zip(make_zip(picture_files(10)), request.param)


@pytest.fixture(scope="module")
def own_runs(own):
    """A tiny CNN and the MLP trained on the own set, as the Train page keeps them."""
    spec = datasets.own_spec(own)
    out = []
    for name, model in (("my CNN", "fast"), ("my MLP", "mlp")):
        cfg = TrainConfig(model=model, dataset=datasets.OWN, own=spec, train_size=1000, epochs=1, batch_size=16, seed=0)
        out.append(KeptRun.trained(name, train(cfg, _arrays(own))))
    return out


def _text(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def test_shift_and_attributions_take_colour_and_grey_pictures(own, own_runs):
    from explainer.learning import backprop as bp
    from explainer.learning.shift import SHIFTS, shifted_accuracy

    cnn = own_runs[0].model
    acc = shifted_accuracy(cnn, own.test_x, own.test_y)
    assert len(acc) == len(SHIFTS) and all(0 <= a <= 1 for a in acc)
    # at 0 pixels: the plain test accuracy
    from explainer.learning.train import evaluate

    assert acc[0] == pytest.approx(evaluate(cnn, own.test_x, own.test_y)["accuracy"])
    x = own.test_x[0] / 255.0
    sal, cls, p = bp.saliency(cnn, x)
    side = own.shape[1]
    assert sal.shape == (side, side) and p.shape == (own.n_classes,) and 0 <= cls < own.n_classes
    occ = bp.occlusion(cnn, x, cls, patch=8, stride=2)
    assert occ.shape == (len(bp.occlusion_centres(8, 2, side)),) * 2 and ((0 <= occ) & (occ <= 1)).all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_backprop_without_an_upload_points_to_train(lang):
    at = app_test("backprop", lang, timeout=120, bp_view="networks", tr_dataset="own").run()
    assert not at.exception and at.selectbox(key="bp_dataset").value == datasets.OWN
    assert translate("backprop.own_none", lang) in _text(at)
    assert not [b for b in at.button if b.key == "bp_train"]  # nothing to train on


@pytest.mark.usefixtures("dask_engine")
def test_backprop_runs_the_shift_experiment_on_the_sessions_own_images(own, own_runs):
    at = app_test("backprop", "zh", timeout=120, bp_view="networks", tr_dataset="own", _tr_own=own, tr_runs=list(own_runs)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deadline = time.monotonic() + 90
    while not at.dataframe and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    from explainer.learning.shift import shifted_accuracy

    frame = at.dataframe[0].value
    n = len(own.test_y)
    cnn = shifted_accuracy(own_runs[0].model, own.test_x, own.test_y)
    mlp = shifted_accuracy(own_runs[1].model, own.test_x, own.test_y)
    assert frame["my CNN"].tolist() == [f"{100 * a:.1f} %" for a in cnn]
    assert frame["my MLP"].tolist() == [f"{100 * a:.1f} %" for a in mlp]
    assert f"{n:,}" in _text(at) and "2,000" not in _text(at)
    # the two shift jobs (they hold the test pictures) are this session's, not the server's shared registry
    assert len(at.session_state["_bp_own_shift"]) == 2
    # part 4: a test picture of the own set, its class named by its folder, the CNN's answer named too
    label = own.class_names[int(own.test_y[0])]
    assert translate("backprop.own_picture", "zh", i=0, label=label) in _text(at)
    pred = int(np.argmax(own_runs[0].evaluation["probabilities"][0]))
    assert any(f"**{own.class_names[pred]}**" in m.value for m in at.markdown)
    assert not [r for r in at.radio if r.key == "bp_dsrc"]  # no drawing: a drawn digit is not one of these pictures
    # parts 3 and 4 speak of pictures: the shift summary and note, the occlusion caption (tests/test_dataset_wording.py)
    from tests.test_dataset_wording import _hits, _seen

    seen = _seen(at, after=translate("backprop.dense_header", "zh"))
    for key in ("shift_title_other", "shift_note_other", "digit_title_other"):
        assert translate(f"backprop.{key}", "zh") in seen, key
    assert "前 " + f"{n:,}" + " 张测试图片" in seen and "遮挡图：把一个" in seen and "在图片上滑动" in seen
    assert not _hits(seen, "zh"), _hits(seen, "zh")


def test_backprop_ignores_runs_on_another_upload(own, own_runs):
    """A run on other pictures (another hash) is not this set's model: the lesson offers its own small trainings."""
    other = dict(own_runs[0].config.own, sha256="f" * 64)
    run = KeptRun.trained("other CNN", train(TrainConfig(model="fast", dataset=datasets.OWN, own=other, train_size=100,
                                                         epochs=1, batch_size=16), _arrays(own)))
    at = app_test("backprop", "en", timeout=120, bp_view="networks", tr_dataset="own", _tr_own=own, tr_runs=[run]).run()
    assert not at.exception
    assert translate("backprop.need_models_own", "en") in _text(at) and at.button(key="bp_train") is not None


# ---------------------------------------------------------------- Inside the network
def _md(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_network_shows_a_run_on_own_images_with_its_test_pictures_and_classes(own, own_runs):
    at = app_test("network", "zh", timeout=120, _tr_own=own, tr_runs=[own_runs[0]])
    at.query_params["nw_digit"] = "3"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="nw_model").value == "newest"
    # the model reads test picture 3 of the own set (not MNIST's digit 3): the same answer as the model itself
    from explainer.learning.train import predict_proba

    x = own.test_x[3] / 255.0
    p = predict_proba(own_runs[0].model, x)
    pred = int(np.argmax(p))
    assert translate("network.prediction", "zh", pred=own.class_names[pred], p=f"{100 * p[pred]:.1f}",
                     model="my CNN") in _md(at)
    # only its own test pictures: no drawing, no upload (they would be prepared as digits)
    assert at.get("button_group")[0].proto.options[0].content == translate("network.src_test_other", "zh")
    assert len(at.get("button_group")[0].proto.options) == 1
    assert translate("network.test_only", "zh", name=translate("datasets.own", "zh")) in _md(at)
    # the class picker, the softmax table and the true label name the folders
    assert at.selectbox(key="nw_class").options == list(own.class_names)
    frame = at.dataframe[0].value
    assert list(frame.iloc[:, 0]) == list(own.class_names)
    assert [float(v.rstrip(" %")) for v in frame.iloc[:, -1]] == pytest.approx(100 * p, abs=2e-3)
    assert translate("network.true_label_other", "zh", y=own.class_names[int(own.test_y[3])]) in _md(at)
    # the layers' maps have the pictures' side: 32 (colour) or 28 (grey)
    side = own.shape[1]
    assert f"16×{side}×{side}" in at.selectbox(key="nw_layer").options[0]  # conv 1 (5×5, padding 2) of the picture
    # top patches and the optimised input are offered on own images too (tests/test_network_jobs.py runs them)
    assert at.button(key="nw_find_patches") and at.button(key="nw_optimise")
    # Grad-CAM and occlusion on the own picture
    at.toggle(key="nw_cam").set_value(True).run()
    assert not at.exception and not at.error
    # pictures and classes, never digits, all down the page (tests/test_dataset_wording.py)
    from tests.test_dataset_wording import _hits, _seen

    assert not _hits(_seen(at), "zh"), _hits(_seen(at), "zh")


def test_network_leaves_out_a_run_on_pictures_this_session_no_longer_holds(own, own_runs):
    at = app_test("network", "en", timeout=60, tr_runs=[own_runs[0]])  # no _tr_own: the pictures are gone
    at.run()
    assert not at.exception
    assert not any("my CNN" in str(o) for o in at.selectbox(key="nw_model").options)


@pytest.fixture(scope="module")
def fashion_run():
    data = datasets.get("fashion").load_all()
    cfg = TrainConfig(model="custom", model_options=dict(blocks=1, channels=4), dataset="fashion", train_size=500,
                      epochs=1, batch_size=64, seed=0)
    return KeptRun.trained("fashion CNN", train(cfg, data)), data


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_network_names_fashion_classes_and_feeds_fashion_pictures(lang, fashion_run):
    run, data = fashion_run
    at = app_test("network", lang, timeout=120, tr_runs=[run])
    at.query_params["nw_digit"] = "5"
    at.run()
    assert not at.exception and not at.error
    names = datasets.get("fashion").class_names(lang)
    from explainer.learning.train import predict_proba

    p = predict_proba(run.model, data[2][5] / 255.0)
    pred = int(np.argmax(p))
    assert translate("network.prediction", lang, pred=names[pred], p=f"{100 * p[pred]:.1f}",
                     model="fashion CNN") in _md(at)
    assert at.selectbox(key="nw_class").options == names
    assert list(at.dataframe[0].value.iloc[:, 0]) == names
    assert translate("network.true_label_other", lang, y=names[int(data[3][5])]) in _md(at)
    # the detail of a logit names its class: the last dense layer's unit 3
    n_layers = len(at.selectbox(key="nw_layer").options) + 1  # the options: every layer after the input
    at.selectbox(key="nw_layer").set_value(n_layers - 2)  # the logits, before the softmax
    at.session_state["nw_channel"] = 3
    at.run()
    assert not at.exception
    assert translate("network.unit_class", lang, k=3, name=names[3]) in _md(at)
    # the reference model stays MNIST's: digits, drawing and upload offered
    at.selectbox(key="nw_model").set_value("reference").run()
    assert not at.exception
    assert at.selectbox(key="nw_class").options == [str(i) for i in range(10)] or \
        at.selectbox(key="nw_class").options == list("0123456789")
    assert len(at.get("button_group")[0].proto.options) == 3
