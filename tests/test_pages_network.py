"""Inside the network under AppTest: en/zh, the reference model and a learner's run, a link that restores layer,
channel and position, the unit's numbers against explainer.learning.network, softmax's table, drawing-free inputs."""
from __future__ import annotations

import dataclasses
import numpy as np
import pytest
import torch

from explainer.learning import network as N
from explainer.figures.style import number
from explainer.i18n import translate
from explainer.learning.models import build_model
from explainer.learning.runs import KeptRun
from explainer.learning.train import TrainConfig
from tests.conftest import app_test


def _md(at) -> str:
    return " ".join(m.value for m in at.markdown)


def _learner_run() -> KeptRun:
    torch.manual_seed(11)
    model = build_model("lenet5").eval()
    return KeptRun(label="Run 1 · LeNet-5", config=TrainConfig(model="lenet5"), history=[], test_accuracy=0.5,
                   model=model, seconds=1.0, ips=1.0, stopped=False, device="cpu", id=None)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_reference_model_by_default(lang, mnist_dir):
    at = app_test("network", lang, timeout=90).run()
    assert not at.exception
    assert at.title[0].value == translate("network.title", lang)
    assert at.selectbox(key="nw_model").value == "newest"  # no run yet: the reference model
    assert at.selectbox(key="nw_layer").value == 1 and at.number_input(key="nw_channel").value == 0
    headers = [h.value for h in at.header]
    for key in ("overview_header", "detail_header", "softmax_header", "looks_header"):
        assert translate(f"network.{key}", lang) in headers
    # the first test digit is a 7 and the reference model reads it
    from explainer.data.mnist import load_mnist

    x = load_mnist()[2][0] / 255.0
    layers = N.trace(N.reference_model(), x)
    pred = int(np.argmax(layers[-1].output))
    assert pred == 7
    assert translate("network.prediction", lang, model=translate("network.model_reference", lang), pred=7,
                     p=f"{100 * layers[-1].output[7]:.1f}").split("**")[3] in _md(at)
    # softmax table: ten rows, probabilities as the library computes them
    df = at.dataframe[0].value
    assert len(df) == 10
    s = N.softmax_steps(N.logits_of(layers), 1.0)
    col = translate("network.col_prob", lang)
    assert list(df[col]) == [f"{100 * p:.3f} %" for p in s.probs]
    logits = list(df[translate("network.col_logit", lang)])  # true minus signs, as everywhere else
    assert logits == [number(z, ".4f") for z in s.logits] and any(v.startswith("−") for v in logits)


def test_link_restores_layer_channel_and_position_and_the_numbers_match(mnist_dir):
    from explainer.data.mnist import load_mnist

    at = app_test("network", timeout=90)
    at.query_params.update(nw_digit="3", nw_layer="4", nw_channel="5", nw_row="6", nw_col="2", nw_in="9")
    at.run()
    assert not at.exception
    assert at.number_input(key="nw_digit").value == 3
    assert at.selectbox(key="nw_layer").value == 4 and at.number_input(key="nw_channel").value == 5
    assert (at.number_input(key="nw_row").value, at.number_input(key="nw_col").value) == (6, 2)
    assert at.number_input(key="nw_in").value == 9
    x = load_mnist()[2][3] / 255.0
    model = N.reference_model()
    layers = N.trace(model, x)
    u = N.explain_unit(model, x, 4, 5, 6, 2, traced=layers)
    md = _md(at)
    from explainer.figures.style import fmt

    assert translate("network.sum_partial", "en", n=16, total=fmt(u.partial_sums.sum()), b=fmt(u.bias),
                     pre=fmt(u.pre_activation)) in md
    assert translate("network.partial_line", "en", k=9, n=9, v=fmt(u.partial_sums[9])) in md
    captions = " ".join(c.value for c in at.caption)
    assert number(u.value, ".6g") in captions
    # the partial sums' chart is summed up in words (its numbers, not "0 = 0.31." for one bar); the Kernels link
    # names the row and column it opens at (stride 1: the unit's own), not "r·1"
    p = u.partial_sums
    assert translate("network.partials_summary", "en", n=16, hi=fmt(p.max()), khi=int(np.argmax(p)), lo=fmt(p.min()),
                     klo=int(np.argmin(p)), total=fmt(p.sum())) in captions
    assert translate("network.open_note", "en", r=6, c=2, s=1) in captions + md
    # a pooled layer's position leads to the unit that wins its window
    at.selectbox(key="nw_layer").set_value(6).run()
    assert not at.exception
    layer, c, r, col = N.unit_for(layers, 6, 5, 6 if 6 < 7 else 0, 2)
    assert translate("network.unit_behind", "en", layer="conv 2", c=c, r=r, col=col) in _md(at)
    # the temperature changes the probabilities, never the winner
    at.slider(key="nw_temp").set_value(3.0).run()
    assert not at.exception
    s = N.softmax_steps(N.logits_of(layers), 3.0)
    assert list(at.dataframe[0].value["probability"]) == [f"{100 * p:.3f} %" for p in s.probs]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_with_a_learners_run(lang, mnist_dir):
    run = _learner_run()
    at = app_test("network", lang, timeout=90, tr_runs=[run]).run()
    assert not at.exception
    assert at.selectbox(key="nw_model").value == "newest"
    assert translate("network.run_caption", lang, name="Run 1 · LeNet\\-5", acc="50.00 %") in \
        " ".join(c.value for c in at.caption)
    # LeNet-5's second convolution has no padding: 16×10×10, reading 6 channels of 5×5
    at.selectbox(key="nw_layer").set_value(4).run()
    at.number_input(key="nw_channel").set_value(15).run()
    at.number_input(key="nw_row").set_value(9).run()
    assert not at.exception
    assert at.number_input(key="nw_row").value == 9
    from explainer.data.mnist import load_mnist

    x = load_mnist()[2][0] / 255.0
    u = N.explain_unit(run.model, x, 4, 15, 9, 0)
    assert u.windows.shape == (6, 5, 5)
    assert number(u.value, ".6g") in " ".join(c.value for c in at.caption)
    # the reference model can still be picked
    at.selectbox(key="nw_model").set_value("reference").run()
    assert not at.exception and translate("network.model_reference", lang) in _md(at)


def test_a_click_on_the_overview_selects_a_channel(mnist_dir):
    at = app_test("network", timeout=90).run()
    points = at.session_state["_nw_points"]
    idx = points.index((7, 3))
    n = at.session_state["_nw_ov_n"] if "_nw_ov_n" in at.session_state else 0
    at.session_state[f"nw_ov_{n}"] = {"selection": {"points": [{"point_index": idx, "x": 0, "y": 0}]}}
    at.run()
    assert not at.exception
    assert at.selectbox(key="nw_layer").value == 7 and at.number_input(key="nw_channel").value == 3


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_grad_cam_saliency_and_occlusion_on_demand(lang, mnist_dir):
    at = app_test("network", lang, timeout=90)
    at.query_params.update(nw_cam="1")
    at.run()
    assert not at.exception
    from explainer.data.mnist import load_mnist

    cam, k, conv = N.grad_cam(N.reference_model(), load_mnist()[2][0] / 255.0)
    import json

    specs = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert translate("network.cam_title", lang, k=k) in specs
    assert translate("backprop.saliency_title", lang, k=k) in specs
    assert translate("backprop.occlusion_title", lang, k=k) in specs


def _stored_run(seed: int = 12) -> tuple[KeptRun, str]:
    """A learner's run kept in the run store (the tests' temporary one), and its id."""
    from explainer.engine.runstore import RunStore
    from explainer.learning.train import save_checkpoint

    torch.manual_seed(seed)
    model = build_model("lenet5").eval()
    run = KeptRun(label=f"Run {seed} · LeNet-5", config=TrainConfig(model="lenet5"), history=[], test_accuracy=0.25,
                  model=model, seconds=1.0, ips=1.0, stopped=False, device="cpu")
    return run, RunStore().save(run, save_checkpoint(model, run.config), owner="test-network")


def test_a_link_names_a_run_by_its_id_not_its_place(mnist_dir):
    from explainer.data.mnist import load_mnist

    run, run_id = _stored_run()
    # this session already holds two other runs: "the second run" would be another model here
    at = app_test("network", timeout=90, tr_runs=[_learner_run(), dataclasses.replace(_learner_run(), label="Run 2 · LeNet-5")])
    at.query_params.update(nw_model=run_id, nw_layer="4", nw_channel="3", nw_row="2", nw_col="7")
    at.run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="nw_model").value == run_id
    assert at.query_params["nw_model"] == run_id
    assert translate("network.run_caption", "en", name="Run 12 · LeNet\\-5", acc="25.00 %") in \
        " ".join(c.value for c in at.caption)
    # the numbers are the stored run's own
    x = load_mnist()[2][0] / 255.0
    u = N.explain_unit(run.model, x, 4, 3, 2, 7)
    assert number(u.value, ".6g") in " ".join(c.value for c in at.caption)
    # picking another run of the session writes that run's key, and back
    at.selectbox(key="nw_model").set_value("reference").run()
    assert not at.exception and at.query_params["nw_model"] == "reference"


@pytest.mark.parametrize("old", ["run3", "run0", "AAAAAAAAAAAAAAAAAAAAAA"])
def test_an_old_or_unknown_model_link_falls_back_to_the_reference_model(old, mnist_dir):
    at = app_test("network", "zh", timeout=90, tr_runs=[_learner_run()])
    at.query_params.update(nw_model=old)
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [translate("network.model_missing", "zh", value=old)]
    assert at.selectbox(key="nw_model").value == "reference"
    assert translate("network.model_reference", "zh") in _md(at)
    at.run()  # the message was about the link; it doesn't come back
    assert not at.exception and not at.warning


def _chart_z(at, title: str) -> np.ndarray:
    """The z grid of the heatmap titled ``title`` on the AppTest page (decoded from the spec the browser gets)."""
    import base64
    import json

    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if spec["layout"].get("title", {}).get("text") != title:
            continue
        z = spec["data"][0]["z"]
        if isinstance(z, dict):  # a typed array: base64 bytes, dtype, shape
            a = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
            return a.reshape([int(n) for n in str(z["shape"]).split(",")])
        return np.asarray(z, dtype=float)
    raise AssertionError(f"no chart titled {title!r}")


@pytest.mark.parametrize("layer, channel, row, col, k", [(1, 3, 6, 9, 0), (4, 5, 6, 2, 9), (7, 2, 3, 4, 17)])
def test_the_kernels_link_opens_the_same_numbers_on_kernels(layer, channel, row, col, k, mnist_dir):
    """Every convolution: the link's parameters open Kernels on that input channel's map with that kernel, at the
    unit's window, and Kernels' window, kernel, products and sum are this unit's numbers for that channel."""
    from explainer.data.mnist import load_mnist

    at = app_test("network", timeout=90)
    at.query_params.update(nw_digit="3", nw_layer=str(layer), nw_channel=str(channel), nw_row=str(row),
                           nw_col=str(col), nw_in=str(k))
    at.run()
    assert not at.exception
    assert at.button(key="nw_open_kernel").label == translate("network.open_kernels", "en")
    params = at.session_state["_nw_kernels_link"]
    model = N.reference_model()
    layers = N.trace(model, load_mnist()[2][3].astype(np.float32) / 255.0)
    u = N.explain_unit(model, None, layer, channel, row, col, traced=layers)
    s = layers[layer].stride
    kt = app_test("kernels", timeout=90)
    kt.query_params.update(params)
    kt.run()
    assert not kt.exception and not kt.warning
    assert (kt.number_input(key="kn_row").value, kt.number_input(key="kn_col").value) == (row * s, col * s)
    assert np.allclose(_chart_z(kt, translate("kernels.window_title", "en")), u.windows[k], atol=1e-6)
    assert np.allclose(_chart_z(kt, translate("kernels.kernel_title", "en")), u.kernels[k], atol=1e-7)
    assert np.allclose(_chart_z(kt, translate("kernels.products_title", "en")), u.products[k], atol=1e-6)
    md = " ".join(m.value for m in kt.markdown)
    import re

    head = translate("kernels.sum_line", "en", n=u.products[k].size, total="@", d=1, b=0, value="@").split("@")[0]
    shown = re.search(re.escape(head) + r"(\S+?)\*\*", md)
    assert shown, md[-300:]
    assert abs(float(shown.group(1).replace("−", "-")) - u.partial_sums[k]) <= 5e-4 * max(1.0, abs(u.partial_sums[k]))
    # the map stays when Kernels reruns; "Choose a picture instead" goes back to the picker
    kt.run()
    assert not kt.exception and kt.query_params["kn_map"] == params["kn_map"]
    kt.button(key="kn_map_back").click().run()
    assert not kt.exception and kt.selectbox(key="kn_src").value == "camera"


def test_a_drawn_input_or_an_unkept_run_has_no_kernels_link(mnist_dir):
    at = app_test("network", timeout=90, tr_runs=[_learner_run()]).run()  # a run the store didn't keep (no id)
    assert not at.exception
    assert translate("network.open_needs_store", "en") in " ".join(c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "nw_open_kernel"]
