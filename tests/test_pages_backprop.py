"""How kernels learn, under AppTest in both languages: the by-hand gradients, stepping the fit, the conv vs
dense experiment with real trained runs from the Train page, saliency and occlusion."""
from __future__ import annotations

import time

import numpy as np
import pytest

from explainer.learning import backprop as bp
from explainer.i18n import translate
from tests.conftest import app_test


def _text(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [s.value for s in at.success] + [w.value for w in at.warning] + [i.value for i in at.info])


@pytest.fixture(scope="module")
def runs():
    """Two real (tiny) trained runs as the Train page stores them: a CNN and the MLP baseline."""
    from explainer.data.mnist import load_mnist
    from explainer.learning.runs import KeptRun
    from explainer.learning.train import TrainConfig, train

    data = load_mnist()
    out = []
    for name, cfg in (("tiny CNN", TrainConfig(model="custom", model_options=dict(blocks=1, channels=4),
                                               train_size=1000, epochs=1, batch_size=64, seed=0)),
                      ("tiny MLP", TrainConfig(model="mlp", train_size=1000, epochs=1, batch_size=64, seed=0))):
        r = train(cfg, data)
        out.append(KeptRun.trained(name, r))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults_by_hand(lang):
    at = app_test("backprop", lang, timeout=120).run()
    assert not at.exception
    assert at.title[0].value == translate("backprop.title", lang)
    ex = bp.hand_example(bp.hand_input("small"), [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], [[1, 0, -1]] * 3)
    text = _text(at)
    # the written-out sum for W[0,0] and the pixel (1,1), and the autograd check
    assert translate("backprop.gw_summary", lang, i=0, j=0, value=f"{ex.grad_w[0, 0]:.0f}", n=9) in text
    assert translate("backprop.autograd_check", lang, diff="0.0e+00") in text
    assert [m.value for m in at.metric][:2] == [f"{ex.loss:g}", f"{ex.grad_b:.0f}"]
    # one part at a time: without trained runs, parts 3 and 4 offer to train
    assert translate("backprop.need_cnn", lang) not in text and not [b for b in at.button if b.key == "bp_train"]
    at.segmented_control(key="bp_view").set_value("networks").run()
    assert not at.exception and at.query_params["bp_view"] in ("networks", ["networks"])
    assert at.button(key="bp_train") is not None
    assert translate("backprop.need_cnn", lang) in _text(at)
    assert translate("backprop.gw_summary", lang, i=0, j=0, value=f"{ex.grad_w[0, 0]:.0f}", n=9) not in _text(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stride_padding_and_pixel_pick(lang):
    at = app_test("backprop", lang, timeout=120).run()
    at.selectbox(key="bp_input").select("step_edge")
    at.slider(key="bp_s").set_value(2)
    at.slider(key="bp_p").set_value(1).run()
    at.number_input(key="bp_xr").set_value(5)
    at.number_input(key="bp_xc").set_value(5).run()
    assert not at.exception
    ex = bp.hand_example(bp.hand_input("step_edge"), [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], [[1, 0, -1]] * 3,
                         stride=2, padding=1)
    value = ex.grad_x[5, 5]
    text = _text(at)
    assert translate("backprop.stride_note", lang, s=2, zeros=1) in text
    assert f"∂L/∂X[5, 5] = {value:.0f}" in text
    assert translate("backprop.autograd_check", lang, diff="0.0e+00") in text


def test_step_button_and_reachable_target():
    at = app_test("backprop", "en", timeout=120, bp_view="learn").run()
    assert at.session_state["bp_fit"].steps == 0
    for _ in range(3):
        at.button(key="bp_step_btn").click().run()
    assert not at.exception
    assert at.session_state["bp_fit"].steps == 3
    assert "Step **3**" in _text(at)
    # a new optimizer starts a new fit from the same start
    at.selectbox(key="bp_opt").select("momentum").run()
    assert not at.exception and at.session_state["bp_fit"].steps == 0
    assert at.number_input(key="bp_lr_momentum").value == bp.fit_lr("momentum")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_unreachable_target_says_so(lang):
    at = app_test("backprop", lang, timeout=120, bp_view="learn").run()
    at.selectbox(key="bp_fit_target").select("gaussian_5").run()
    assert not at.exception
    _, best = bp.best_fit("camera", "gaussian_5")
    assert translate("backprop.unreachable", lang, best=f"{best:.3g}") in _text(at)


def test_converged_fit_is_reported():
    at = app_test("backprop", "en", timeout=120, bp_view="learn").run()
    at.session_state["bp_fit"].step(1500)
    at.run()
    assert not at.exception
    assert any("within 0.001" in s.value for s in at.success)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shift_experiment_and_saliency_with_train_page_runs(lang, runs, dask_engine):
    at = app_test("backprop", lang, timeout=300, tr_runs=list(runs), bp_view="networks").run()
    assert not at.exception, at.exception
    # the shifted digits are scored on the engine (never in the page's run): the page shows the queue or progress,
    # then the table once both results are back. Both models' jobs start at once: the learner owns each (one owner
    # for the pair refused the second, "You already have one job of this kind running", until the first was done)
    assert not at.error, [e.value for e in at.error]
    deadline = time.monotonic() + 240
    while not at.dataframe and time.monotonic() < deadline:
        assert at.get("progress") or at.dataframe, "neither the shift results nor their progress"
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
    text = _text(at)
    frame = at.dataframe[0].value
    assert len(frame) == 7  # shifts 0…6
    from explainer.data.mnist import load_mnist
    from explainer.learning.shift import shifted_accuracy

    _, _, x, y = load_mnist()
    cnn = shifted_accuracy(runs[0].model, x[:2000], y[:2000])
    assert frame[runs[0].label].tolist()[0] == f"{100 * cnn[0]:.1f} %"
    assert frame[runs[0].label].tolist()[6] == f"{100 * cnn[6]:.1f} %"
    assert "2,000" in text
    # part 4: saliency and occlusion for test digit 0 with the CNN
    assert any(runs[0].label in m.value for m in at.markdown)
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert {k.rsplit("-", 1)[-1] for k in keys} == {"bp_shift", "bp_digit_fig", "bp_sal", "bp_occ"}  # parts 3 and 4
    at.number_input(key="bp_digit").set_value(7).run()
    assert not at.exception
