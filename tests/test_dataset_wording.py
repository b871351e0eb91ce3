"""How kernels learn and Inside the network speak of the chosen data set: MNIST's "digit" / "数字", and pictures
(never digits) for Fashion-MNIST and a learner's own images — every text the learner sees in the main column (labels,
options, captions, notes, chart titles, help), scanned from the page's element protos."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from google.protobuf.json_format import MessageToDict

from explainer.data import datasets
from explainer.learning.runs import KeptRun
from explainer.learning.train import TrainConfig, train
from tests.conftest import app_test

WORD = {"en": re.compile(r"digit", re.I), "zh": re.compile("数字")}
# not seen: widget ids (they carry their keys: bp_digit, nw_digit), a component's name and code (digit_canvas)
INTERNAL = {"id", "formId", "key", "fragmentId", "elementId", "componentName", "jsContent", "cssContent",
            "jsSourcePath", "cssSourcePath"}


def _strings(value, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in INTERNAL:
                _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    elif isinstance(value, str):
        if value[:1] in "{[":  # a chart's JSON spec: its titles, hovers and annotations
            try:
                _strings(json.loads(value), out)
                return
            except ValueError:
                pass
        out.append(value)


def _seen(at, after: str | None = None) -> str:
    """Every string of the main column's elements, in order; only those after the element holding ``after``."""
    out: list[str] = []

    def walk(node):
        children = getattr(node, "children", None)
        if children is not None and not hasattr(node, "proto") or isinstance(children, dict):
            for c in (children.values() if isinstance(children, dict) else children):
                walk(c)
            return
        _strings(MessageToDict(node.proto), out)

    walk(at.main)
    if after is not None:
        start = next(i for i, s in enumerate(out) if after in s)
        out = out[start:]
    return "\n".join(out)


def _hits(text: str, lang: str) -> list[str]:
    from explainer.i18n import translate

    text = text.replace(translate("datasets.mnist", lang), "")  # the data set picker's option "MNIST digits"
    return [text[max(0, m.start() - 60): m.end() + 60] for m in WORD[lang].finditer(text)]


@pytest.fixture(scope="module")
def fashion_runs():
    """A tiny CNN trained on Fashion-MNIST, as the Train page keeps it (seconds)."""
    data = datasets.get("fashion").load_all()
    cfg = TrainConfig(model="custom", model_options=dict(blocks=1, channels=4), dataset="fashion", train_size=500,
                      epochs=1, batch_size=64, seed=0)
    return [KeptRun.trained("fashion CNN", train(cfg, data))]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_backprop_on_fashion_speaks_of_pictures(lang, fashion_runs):
    """A CNN and no MLP: part 3 offers its small trainings (the shift texts on pictures are checked on your own
    images, tests/test_own_lessons.py, whose shift experiment runs anyway), part 4 explains a test picture."""
    from explainer.i18n import translate

    at = app_test("backprop", lang, timeout=60, bp_view="networks", tr_dataset="fashion", tr_runs=list(fashion_runs)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="bp_dataset").value == "fashion"
    seen = _seen(at, after=translate("backprop.dense_header", lang))  # part 1's toy example is a 7×7 "7"
    # the intro, the small trainings' offer, the picker, the picture's title: all there, none of them digits
    for key in ("dense_intro_other", "need_models_other", "digit_source_other", "dsrc_test_other", "digit_title_other"):
        assert translate(f"backprop.{key}", lang) in seen, key
    assert not _hits(seen, lang), _hits(seen, lang)
    # drawing on a Fashion-MNIST model: a picture, not a digit
    at.radio(key="bp_dsrc").set_value("draw").run()
    assert not at.exception
    seen = _seen(at, after=translate("backprop.dense_header", lang))
    assert translate("backprop.draw_hint_other", lang) in seen and not _hits(seen, lang), _hits(seen, lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_backprop_on_mnist_keeps_its_digits(lang, mnist_dir):
    from explainer.i18n import translate

    at = app_test("backprop", lang, timeout=60, bp_view="networks", tr_runs=[]).run()
    assert not at.exception
    seen = _seen(at, after=translate("backprop.dense_header", lang))
    assert translate("backprop.dense_intro", lang) in seen and translate("backprop.need_models", lang) in seen
    assert _hits(seen, lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_network_on_fashion_speaks_of_pictures(lang, fashion_runs, mnist_dir):
    from explainer.i18n import translate

    # predict first on: the questions' prompts are about the picture
    at = app_test("network", lang, timeout=120, tr_runs=[fashion_runs[0]], predict=True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    seen = _seen(at)
    assert translate("questions.network.predicted", lang) in seen
    assert not _hits(seen, lang), _hits(seen, lang)
    at = app_test("network", lang, timeout=120, tr_runs=[fashion_runs[0]]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    seen = _seen(at)
    for key in ("intro_other", "overview_intro_other", "softmax_intro_other", "looks_intro_other", "test_only"):
        assert translate(f"network.{key}", lang, name=translate("datasets.fashion", lang)) in seen, key
    assert not _hits(seen, lang), _hits(seen, lang)
    # the same page on the reference model (MNIST) keeps its digits
    at.selectbox(key="nw_model").set_value("reference").run()
    assert not at.exception
    seen = _seen(at)
    assert translate("network.intro", lang) in seen and _hits(seen, lang)


@pytest.mark.parametrize("phone", [False, True])
def test_the_overviews_softmax_of_more_than_ten_classes_names_them_in_its_hover(phone):
    """An own set of 11–20 classes: the logits' and softmax's cells are too narrow for names beside them, so each
    cell's hover names its class (escaped: a folder's name is shown as written), not its number."""
    import torch

    from explainer.figures import network as F
    from explainer.learning import network as N
    from explainer.learning.models import build_model

    torch.manual_seed(0)
    model = build_model("fast", shape=(1, 28, 28), classes=15, mean=(0.5,), std=(0.3,)).eval()
    layers = N.trace(model, np.random.default_rng(0).random((28, 28), dtype=np.float32))
    classes = [f"<b>c{k}</b>" for k in range(15)]
    fig, _ = (F.overview_rows if phone else F.overview)(
        layers, shown=4, selected=(0, 0), feed=None, predicted=int(np.argmax(layers[-1].output)),
        names=[f"L{i}" for i in range(len(layers))], range_fmt="{lo} {hi}", hover="v", channel_word="ch", title="t",
        classes=classes)
    cells = [d for d in fig.to_plotly_json()["data"] if d.get("type") == "heatmap"][-2:]  # the logits, the softmax
    for d in cells:
        assert "customdata" in d["hovertemplate"]
        shown = np.ravel(np.asarray(d["customdata"], dtype=object)).tolist()
        assert shown == [f"&lt;b&gt;c{k}&lt;/b&gt;" for k in range(15)]
