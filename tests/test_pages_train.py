"""Train page under AppTest: a tiny real run to the end on the Dask engine (a real LocalCluster, the
``dask_engine`` fixture), the inside views, checkpoints, bad files, an engine that can't start."""
from __future__ import annotations

import dataclasses
import io
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explainer.i18n import translate
from tests.conftest import app_test
from tests.conftest import wait_for_run as _wait_for_run
from tests.pagewalk import undeclared
from ui.tables.train import TABLE as TRAIN

pytestmark = pytest.mark.usefixtures("dask_engine")



@pytest.fixture(scope="module")
def trained_app():
    at = app_test("train", timeout=60).run()
    at.select_slider(key="tr_size").set_value(2000).run()
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert at.session_state["tr_job"].owner  # the job belongs to this session
    _wait_for_run(at)
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults_and_model_summary(lang):
    at = app_test("train", lang).run()
    assert not at.exception
    assert at.title[0].value == translate("train.title", lang)
    assert at.selectbox(key="tr_model").value == "fast"
    assert len(at.dataframe) == 1  # the layer table
    at.selectbox(key="tr_model").select("custom").run()
    assert not at.exception and at.slider(key="tr_blocks").value == 2
    at.button(key="tr_preset_reference").click().run()
    assert at.selectbox(key="tr_model").value == "reference" and at.number_input(key="tr_lr").value == 0.001


def test_tiny_run_fills_every_view(trained_app):
    at = trained_app
    assert not at.exception
    run = at.session_state["tr_runs"][0]
    assert run.test_accuracy > 0.8 and run.history
    assert at.session_state["trained_model"].model is run.model
    assert len(at.dataframe) == 2  # layers + runs
    # the runs table shows this run's test accuracy, scored here from the worker's predictions and MNIST's labels
    from explainer.data.mnist import load_mnist

    acc = float((run.evaluation["predictions"] == load_mnist(download=False)[3]).mean())
    table = next(d.value for d in at.dataframe if translate("train.col_acc", "en") in d.value.columns)
    assert table[translate("train.col_run", "en")].tolist() == [run.label]
    assert table[translate("train.col_acc", "en")].tolist() == [f"{100 * acc:.2f} %"]
    # the curves (accuracy, loss), the first tab's confusion matrix and mistakes
    assert {"tr_acc", "tr_loss", "tr_cm", "tr_mistakes"} <= {c.key for c in at.get("plotly_chart")}
    # the inspect tabs are lazy: only the open one runs; each in turn shows its charts
    seen = {}
    for name in ("confusion", "kernels", "features", "draw"):
        at.session_state["tr_tabs"] = translate(f"train.tab_{name}", "en")
        at.run()
        assert not at.exception
        keys = {c.key for c in at.get("plotly_chart")}
        seen[name] = keys
    assert {"tr_cm", "tr_mistakes"} <= seen["confusion"] and "tr_kernels" not in seen["confusion"]
    assert "tr_kernels" in seen["kernels"] and "tr_cm" not in seen["kernels"]
    assert any(k.startswith("tr_fm_") for k in seen["features"]) and "tr_kernels" not in seen["features"]
    assert not any(k.startswith("tr_fm_") for k in seen["draw"])
    at.session_state["tr_tabs"] = translate("train.tab_confusion", "en")
    at.run()


def test_every_widget_of_look_inside_is_declared(trained_app):
    """The run selector, the confusion cell's classes, the kernel and the digit pickers are declared settings
    (ui/tables/train.py) drawn within their declarations, in every tab (tests.pagewalk.undeclared reads what
    Streamlit drew, so a bare st.number_input would be found)."""
    at = trained_app
    seen = set()
    for name in ("confusion", "kernels", "features", "draw"):
        at.session_state["tr_tabs"] = translate(f"train.tab_{name}", "en")
        at.run()
        assert not at.exception
        assert undeclared(at) == [], name
        seen |= {w.key for w in at._tree if getattr(w, "key", None) in TRAIN}
    assert {"tr_pick", "tr_cell_true", "tr_cell_pred", "tr_ki", "tr_di", "tr_fi"} <= seen
    at.session_state["tr_tabs"] = translate("train.tab_confusion", "en")
    at.run()


def test_confusion_cell_shows_digits(trained_app):
    at = trained_app
    at.selectbox(key="tr_cell_true").select(4)
    at.selectbox(key="tr_cell_pred").select(4).run()
    assert not at.exception
    assert any(translate("train.cell_caption", "en", n="", true=4, pred=4).split(":")[0].split()[-1] in c.value
               for c in at.caption)


def test_uploaded_drawing_is_classified(trained_app):
    at = trained_app
    at.session_state["tr_tabs"] = translate("train.tab_draw", "en")  # the tab is lazy: open it
    at.run()
    im = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(im).line([(100, 20), (100, 180)], fill=255, width=18)  # a "1"
    buf = io.BytesIO()
    im.save(buf, "PNG")
    at.file_uploader(key="tr_draw_upload").upload("one.png", buf.getvalue(), "image/png")
    at.run()
    assert not at.exception
    assert any("**1**" in m.value for m in at.markdown)
    at.session_state["tr_tabs"] = translate("train.tab_confusion", "en")
    at.run()


def test_bad_checkpoint_upload(trained_app):
    at = trained_app
    at.file_uploader(key="tr_load").upload("weights.pt", b"definitely not a checkpoint")
    at.run()
    assert not at.exception
    assert at.error and translate("errors.checkpoint_bad", "en", detail="").split("(")[0] in at.error[0].value
    assert len(at.session_state["tr_runs"]) == 1  # nothing the user had is lost


def test_good_checkpoint_upload_round_trip(trained_app):
    from explainer.learning.train import save_checkpoint

    at = trained_app
    run = at.session_state["tr_runs"][0]
    blob = save_checkpoint(run.model, run.config)
    at.file_uploader(key="tr_load").set_value(("mine.pt", blob, "application/octet-stream"))
    at.run()
    assert not at.exception
    runs = at.session_state["tr_runs"]
    assert len(runs) == 2
    deadline = time.time() + 120  # scored on the engine's worker; the page polls until the score is back
    while runs[1].test_accuracy != runs[1].test_accuracy and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception
    assert abs(runs[1].test_accuracy - run.test_accuracy) < 1e-6
    assert np.array_equal(runs[1].evaluation["predictions"], run.evaluation["predictions"])
    assert at.success and translate("train.loaded", "en", acc=f"{100 * run.test_accuracy:.2f}") == at.success[0].value


def test_confusion_and_mistakes_come_from_the_worker(trained_app):
    """The page shows the worker's evaluation: the confusion matrix of its predictions, no scoring here."""
    from explainer.learning.evaluation import confusion_matrix
    from explainer.data.mnist import load_mnist

    run = trained_app.session_state["tr_runs"][0]
    y_test = load_mnist(download=False)[3]
    cm = confusion_matrix(y_test, run.evaluation["predictions"])
    assert np.trace(cm) / cm.sum() == pytest.approx(run.test_accuracy, abs=1e-6)
    wrong = int((y_test != run.evaluation["predictions"]).sum())
    md = " ".join(m.value for m in trained_app.markdown)
    assert translate("train.test_acc", "en", acc=f"{100 * run.test_accuracy:.2f}", wrong=wrong) in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_engine_unavailable_is_said_and_the_page_works(lang, monkeypatch):
    import socket

    from explainer.engine import core

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    previous = core.set_engine(core.Engine(f"tcp://127.0.0.1:{port}", start_timeout=3))
    try:
        at = app_test("train", lang, timeout=60).run()
        at.select_slider(key="tr_size").set_value(500).run()
        at.button(key="tr_start").click().run()
        assert not at.exception
        expected = translate("jobs.engine_unavailable", lang, detail="").split("(")[0].split("（")[0]
        assert at.error and expected in at.error[0].value
        assert "tr_job" not in at.session_state and at.session_state["tr_runs"] == []
        # the rest of the page still works
        at.selectbox(key="tr_model").select("custom").run()
        assert not at.exception and at.slider(key="tr_blocks").value == 2
    finally:
        core.set_engine(previous)


def test_run_survives_a_reload_and_a_link(trained_app):
    """The finished run is in the store and named in the URL: a new session with that URL gets it back;
    the Optimizers page's landscape of that CNN is reachable from the same link."""
    at = trained_app
    run = at.session_state["tr_runs"][0]
    assert run.id and run.id in at.query_params["run"]
    link = at.query_params["run"]
    fresh = app_test("train", timeout=60)
    fresh.query_params["run"] = link
    fresh.run()
    assert not fresh.exception
    back = fresh.session_state["tr_runs"]
    assert [r.id for r in back][: len(link.split(","))] == link.split(",")
    assert back[0].label == run.label and abs(back[0].test_accuracy - run.test_accuracy) < 1e-9
    assert any(f"?run={back[-1].id}" in c.value for c in fresh.caption)  # the run's link is shown
    other = app_test("train").run()  # another learner, no link: sees none of these runs
    assert not other.session_state["tr_runs"] and "run" not in other.query_params or not other.query_params["run"]
    opt = app_test("optimizers")
    opt.query_params["run"] = run.id
    opt.run()
    assert not opt.exception
    assert opt.session_state["trained_model"].id == run.id
    assert any(run.label in m.value for m in opt.markdown)
    bad = app_test("train")
    bad.query_params["run"] = "A" * 22
    bad.run()
    assert not bad.exception and not bad.session_state["tr_runs"]


def test_look_inside_follows_the_newest_run_unless_chosen(trained_app):
    at = trained_app
    runs = at.session_state["tr_runs"]
    n = len(runs)
    assert at.selectbox(key="tr_pick").value == n - 1
    # a second run arrives (as a finished job would add it): "Look inside" follows it
    runs.append(dataclasses.replace(runs[0], label="second", id=None, evaluation=None))
    at.run()
    assert not at.exception and at.selectbox(key="tr_pick").value == n
    at.selectbox(key="tr_pick").select(0).run()  # the learner picks the first run …
    runs.append(dataclasses.replace(runs[0], label="third", id=None))
    at.run()
    assert at.selectbox(key="tr_pick").value == 0  # … and keeps it
    at.selectbox(key="tr_pick").select(n + 1).run()  # back to the newest: following again
    runs.append(dataclasses.replace(runs[0], label="fourth", id=None))
    at.run()
    assert at.selectbox(key="tr_pick").value == n + 2
    del runs[n:]
    at.run()


def test_time_estimate_comes_from_the_measured_speed(trained_app):
    at = trained_app
    run = at.session_state["tr_runs"][0]
    assert not any("6 s per epoch" in c.value for c in at.caption)  # the old fixed promise is gone
    expected = translate("train.estimate", "en", ips=f"{run.ips:,.0f}", s=f"{2000 / run.ips:.0f}")
    assert expected in [c.value for c in at.caption]
    fresh = app_test("train").run()
    assert translate("train.estimate_none", "en") in [c.value for c in fresh.caption]
