"""Optimizers page under AppTest: defaults, presets, a hyperparameter change, the trained-model slice."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainer.i18n import translate
from tests.conftest import app_test


def _open(at, tab: str, lang: str = "en"):
    """Open one of the page's lazy tabs (only the open tab's content runs)."""
    at.session_state["op_tabs"] = translate(f"optimizers.tab_{tab}", lang)
    return at.run()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults(lang):
    at = app_test("optimizers", lang).run()
    assert not at.exception
    assert at.title[0].value == translate("optimizers.title", lang)
    assert at.multiselect(key="op_opts").value == ["sgd", "momentum", "adagrad", "rmsprop", "adam"]  # the tutorial's four + Adam
    assert not at.dataframe  # the map's tab is open: the table's tab does not run
    assert at.info
    _open(at, "table", lang)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 5  # no trained model yet: says where to get one
    assert not at.get("progress")  # computed here: no job on the engine, no progress bar


def test_presets_show_divergence_then_not():
    at = app_test("optimizers").run()
    at.button(key="op_preset_sgd_diverges").click().run()
    assert not at.exception
    # one warning, the catalogue's sentence for SGD (Adam gets there), at a step of the preset's 100
    head, tail = translate("optimizers.diverged", "en", name=translate("optimizers.opt_sgd", "en"), step=12345).split("12345")
    (warning,) = at.warning
    step = warning.value.removeprefix(head).removesuffix(tail)
    assert warning.value == head + step + tail and step.isdigit() and 1 <= int(step) <= 100, warning.value
    at.button(key="op_preset_adam_wanders").click().run()
    assert not at.exception and not at.warning
    df = _open(at, "table").dataframe[0].value
    assert df.iloc[0, 1] < df.iloc[1, 1]  # SGD ends lower than Adam here


def test_changing_a_hyperparameter_and_surface():
    at = app_test("optimizers").run()
    at.number_input(key="op_rosenbrock_adam_lr").set_value(0.2).run()
    assert not at.exception and at.query_params["op_rosenbrock_adam_lr"] == "0.2"
    for name in ("himmelblau", "saddle", "mnist_logistic"):
        at.selectbox(key="op_surface").select(name).run()
        assert not at.exception, name


def test_trained_model_slice(dask_engine):
    """The landscape is computed on the engine's worker: the page shows its queue/progress, then the chart."""
    import time

    from explainer.learning.runs import KeptRun
    from explainer.learning.train import TrainConfig

    torch.manual_seed(0)
    config = TrainConfig(model="mlp")
    trained = KeptRun(label="tiny", config=config, history=[], test_accuracy=0.5, model=config.build())
    at = app_test("optimizers", trained_model=trained).run()
    assert not at.exception
    charts = len(at.get("plotly_chart"))
    at.button(key="op_landscape_btn").click().run()
    assert not at.exception
    assert "_op_landscape_job" in at.session_state and at.get("progress")  # queued or running, not computed here
    deadline = time.time() + 120
    while "_op_landscape_job" in at.session_state and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception and "_op_landscape_job" not in at.session_state
    assert len(at.get("plotly_chart")) == charts + 1
    (L,) = at.session_state["_op_landscapes"].values()
    assert L["loss"].shape == (15, 15) and (L["loss"] > 0).all()


def _contours(at) -> int:
    import json

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return sum(t["type"] == "contour" for t in spec["data"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_race_steps_with_streamlit_controls_and_the_link_names_the_step(lang):
    at = app_test("optimizers", lang).run()
    assert not at.exception
    pos = at.slider(key="op_pos")
    assert pos.value == pos.max == 41  # first visit: the whole race
    assert at.query_params["op_pos"] == "41"
    at.button(key="op_first").click().run()
    assert at.slider(key="op_pos").value == 1
    assert _contours(at) == 1  # the loss surface stays at every step
    assert at.query_params["op_pos"] == "1"
    at.button(key="op_next").click().run()
    assert at.slider(key="op_pos").value == 2
    assert translate("optimizers.race_step", lang, step=5, total=200) in [m.value for m in at.markdown]
    # a shared link opens the race at its step
    at2 = app_test("optimizers", lang)
    at2.query_params["op_pos"] = "11"
    at2.run()
    assert at2.slider(key="op_pos").value == 11 and not at2.exception


def test_results_table_has_empty_cells_not_none():
    at = _open(app_test("optimizers", op_surface="saddle"), "table")  # the saddle has no minimum
    assert not at.exception
    df = at.dataframe[0].value
    values = df.astype(str).values.ravel().tolist()
    assert "None" not in values and "nan" not in values and "" in values


LONG_RACE = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_longest_race_is_computed_in_the_page_then_shared(lang):
    """8 optimizers × 2,000 steps with noise: computed in the page (no job, no progress), then in the shared cache."""
    state = dict(op_steps=2000, op_opts=LONG_RACE, op_noise=2.0, op_surface="beale",
                 op_seed={"en": 101, "zh": 102}[lang])  # not computed before
    at = app_test("optimizers", lang, **state).run()
    assert not at.exception and not at.get("progress")
    assert at.slider(key="op_pos").value == at.slider(key="op_pos").max
    assert translate("optimizers.race_step", lang, step=2000, total=2000) in [m.value for m in at.markdown]
    assert len(_open(at, "table", lang).dataframe[0].value) == 8
    again = _open(app_test("optimizers", lang, **state), "table", lang)
    assert not again.exception and len(again.dataframe[0].value) == 8
    assert again.dataframe[0].value.equals(at.dataframe[0].value)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nesterov_without_momentum_is_a_message_not_a_crash(lang):
    """/optimizers?op_opts=nesterov&op_nesterov_mom=0 raised ValueError inside torch.optim.SGD (generic English
    box, back on every reload); now the learner's language says what to change."""
    at = app_test("optimizers", lang, op_opts=["nesterov"], op_nesterov_mom=0.0).run()
    assert not at.exception
    assert [e.value for e in at.error] == [translate("errors.nesterov_momentum", lang, value=0.0)]
    at.number_input(key="op_nesterov_mom").set_value(0.5).run()  # fixed by the learner: the race is back
    _open(at, "table", lang)
    assert not at.exception and not at.error and len(at.dataframe[0].value) == 1


def test_the_link_from_the_issue_is_a_message(monkeypatch):
    """The very URL of the report, through the page's URL state."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "pages" / "optimizers.py"), default_timeout=30)
    at.session_state["lang"] = "zh"
    at.query_params["op_opts"] = "nesterov"
    at.query_params["op_nesterov_mom"] = "0"
    at.run()
    assert not at.exception
    assert translate("errors.nesterov_momentum", "zh", value=0.0) in [e.value for e in at.error]


def test_captions_say_position_and_loss_not_y_as_a_loss():
    """The map's caption: loss range (and the colours' log₁₀(1 + loss) range), then each optimizer's (x, y) and
    loss at the frame shown; the loss chart's: each final loss. The exact numbers of the race on screen."""
    from explainer.learning import optim
    from explainer.figures.style import fmt, number

    at = app_test("optimizers", op_opts=["sgd", "adam"], op_steps=100).run()
    assert not at.exception
    surf = optim.surface("rosenbrock")
    xs, ys, Z = optim.loss_grid(surf, 90)
    runs = [("sgd", {"lr": optim.defaults("sgd", surf)["lr"]}), ("adam", {"lr": optim.defaults("adam", surf)["lr"]})]
    paths = optim.race(surf, runs, surf.start, 100)
    caps = [c.value for c in at.caption]
    sgd_end = translate("optimizers.caption_at", "en", name="SGD", step=100, x=fmt(paths[0, -1, 0]),
                        y=fmt(paths[0, -1, 1]), loss=number(optim.losses(surf, paths[0])[-1], ".3g"))
    surface = translate("optimizers.caption_surface_log", "en", lo=number(Z.min(), ".3g"), hi=number(Z.max(), ",.0f"),
                        clo="0", chi=fmt(np.log10(1 + Z.max() - Z.min())), x=fmt(xs[np.argmin(Z) % 90]),
                        y=fmt(ys[np.argmin(Z) // 90]))
    ends = [c for c in caps if "ends at" in c]  # no more "SGD ends at 1.71 (x = −1.31)": y read as a loss
    assert not ends, f"a caption gives a position's y where a learner reads a loss: {ends}"
    map_caption = next((c for c in caps if c.startswith("Loss on the map")), None)
    assert map_caption, f"no caption names the loss on the map; the captions: {caps}"
    assert map_caption.startswith(surface + ". ") and sgd_end in map_caption, map_caption
    assert "to 2,509 (colours show log₁₀(1 + loss), 0 to 3.4)" in map_caption  # Rosenbrock on its map, in words
    final = translate("optimizers.caption_final", "en", name="Adam", step=100,
                      loss=number(optim.losses(surf, paths[1])[-1], ".3g"))
    assert not any(final in c for c in caps), caps  # the loss chart's tab is not open: it does not run
    assert any(final in c.value for c in _open(at, "loss").caption)
    _open(at, "map")
    # the first frame: every optimizer at the start, with the start's loss
    at.button(key="op_first").click().run()
    start = translate("optimizers.caption_at", "en", name="SGD", step=0, x="−1.5", y="2",
                      loss=number(float(surf.fn(torch.tensor(-1.5), torch.tensor(2.0))), ".3g"))
    assert any(start in c.value for c in at.caption)


def test_rules_tab_names_the_torch_class():
    at = _open(app_test("optimizers", op_opts=["nesterov", "adamw"]), "rules")
    caps = [c.value for c in at.caption]
    for cls in ("torch.optim.SGD", "torch.optim.AdamW"):
        assert translate("optimizers.rule_class", "en", cls=cls) in caps
