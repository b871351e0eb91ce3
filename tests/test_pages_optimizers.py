"""Optimizers page under AppTest: defaults, presets, a hyperparameter change, the trained-model slice."""
from __future__ import annotations

import pytest
import torch

from explainer.i18n import translate
from tests.conftest import app_test


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults(lang):
    at = app_test("optimizers", lang).run()
    assert not at.exception
    assert at.title[0].value == translate("optimizers.title", lang)
    assert at.multiselect(key="op_opts").value == ["sgd", "momentum", "adagrad", "rmsprop", "adam"]  # the tutorial's four + Adam
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 5
    assert at.info  # no trained model yet: says where to get one
    # the default race is small enough to compute here: no job on the engine, no progress bar
    assert "_op_race_job" not in at.session_state and not at.get("progress")


def test_presets_show_divergence_then_not():
    at = app_test("optimizers").run()
    at.button(key="op_preset_sgd_diverges").click().run()
    assert not at.exception
    assert any("SGD" in w.value for w in at.warning)
    at.button(key="op_preset_adam_wanders").click().run()
    assert not at.exception and not at.warning
    df = at.dataframe[0].value
    assert df.iloc[0, 1] < df.iloc[1, 1]  # SGD ends lower than Adam here


def test_changing_a_hyperparameter_and_surface(dask_engine):  # some surfaces' default races are jobs
    at = app_test("optimizers").run()
    at.number_input(key="op_rosenbrock_adam_lr").set_value(0.2).run()
    assert not at.exception and at.query_params["op_rosenbrock_adam_lr"] == "0.2"
    for name in ("himmelblau", "saddle", "mnist_logistic"):
        at.selectbox(key="op_surface").select(name).run()
        assert not at.exception, name


def test_trained_model_slice(dask_engine):
    """The landscape is computed on the engine's worker: the page shows its queue/progress, then the chart."""
    import time

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    at = app_test("optimizers", trained_model={"model": model, "name": "tiny", "test_accuracy": 0.5}).run()
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
    at = app_test("optimizers", op_surface="saddle").run()  # the saddle has no minimum
    assert not at.exception
    df = at.dataframe[0].value
    values = df.astype(str).values.ravel().tolist()
    assert "None" not in values and "nan" not in values and "" in values


def _wait_for_race(at, timeout=120):
    import time

    deadline = time.time() + timeout
    while "_op_race_job" in at.session_state and time.time() < deadline:
        time.sleep(0.3)
        at.run()
    assert "_op_race_job" not in at.session_state, "the race job did not finish"


LONG_RACE = ["sgd", "momentum", "adagrad", "rmsprop", "adam", "nadam"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_long_race_is_a_job_then_shared_with_the_next_learner(lang, dask_engine):
    """6 optimizers × 2,000 steps: computed on the engine (queue/progress shown), then in the shared cache."""
    state = dict(op_steps=2000, op_opts=LONG_RACE, op_seed={"en": 101, "zh": 102}[lang])  # not computed before
    at = app_test("optimizers", lang, **state).run()
    assert not at.exception
    assert "_op_race_job" in at.session_state
    (bar,) = at.get("progress")
    queued = translate("jobs.queued_soon", lang).split("—")[0]  # "Queued — …" / "排队中——…"
    assert (bar.proto.text == translate("optimizers.race_progress", lang, n=6, steps=2000)
            or bar.proto.text.startswith(queued)), bar.proto.text
    assert not at.dataframe  # this session showed no race before: only the progress
    _wait_for_race(at)
    assert not at.exception and not at.get("progress")
    assert len(at.dataframe[0].value) == 6 and at.slider(key="op_pos").value == at.slider(key="op_pos").max
    # the next learner with the same settings gets it from the shared cache, at once
    again = app_test("optimizers", lang, **state).run()
    assert not again.exception and "_op_race_job" not in again.session_state and not again.get("progress")
    assert len(again.dataframe[0].value) == 6


def test_previous_race_is_shown_while_the_long_one_is_computed(dask_engine):
    at = app_test("optimizers").run()
    assert "_op_race_job" not in at.session_state and len(at.dataframe[0].value) == 5
    at.number_input(key="op_steps").set_value(1999).run()
    assert not at.exception and "_op_race_job" in at.session_state and at.get("progress")
    assert len(at.dataframe[0].value) == 5  # the previous race, said so
    assert translate("optimizers.race_previous", "en") in [c.value for c in at.caption]
    _wait_for_race(at)
    assert not at.exception and translate("optimizers.race_previous", "en") not in [c.value for c in at.caption]
    assert translate("optimizers.race_step", "en", step=1999, total=1999) in [m.value for m in at.markdown]


def test_changing_settings_during_a_long_race_stops_it_and_starts_the_new_one(dask_engine):
    at = app_test("optimizers").run()
    at.number_input(key="op_steps").set_value(1997).run()
    first = at.session_state["_op_race_job"][1]
    at.number_input(key="op_steps").set_value(1996).run()
    assert not at.exception and first._stop  # the race no longer wanted is told to stop (one job per session)
    _wait_for_race(at)
    assert not at.exception and first.state in ("stopped", "cancelled", "done")
    assert translate("optimizers.race_step", "en", step=1996, total=1996) in [m.value for m in at.markdown]


def test_every_default_view_and_preset_is_computed_in_the_page():
    """The engine's queue is shared with a class's trainings: no view the page offers may wait in it, so every
    surface's default race and every preset must fit the inline budget (else a learner waits minutes in a storm)."""
    from explainer import optim
    from explainer.limits import RACE_INLINE_STEPS
    from ui.tables.optimizers import PRESETS, TABLE

    steps, opts = TABLE["op_steps"].default, TABLE["op_opts"].default
    for surface in optim.SURFACE_NAMES:
        assert optim.race_cost(surface, steps, len(opts)) <= RACE_INLINE_STEPS, surface
    for name, preset in PRESETS.items():
        cost = optim.race_cost(preset.get("op_surface", TABLE["op_surface"].default), preset.get("op_steps", steps),
                               len(preset.get("op_opts", opts)))
        assert cost <= RACE_INLINE_STEPS, (name, cost)
    assert optim.race_cost("beale", TABLE["op_steps"].hi, 8) > RACE_INLINE_STEPS  # the longest races do go to a job


def test_a_race_that_fails_on_the_engine_is_not_resubmitted_until_retry(monkeypatch):
    """A worker error is shown (literally) with a Retry button; the same race is not sent to the shared engine
    again on every rerun (it was: one open tab resubmitted a failing race about once a second)."""
    from explainer import jobs

    submitted = []

    class FailingRace:  # stands in for jobs.RaceJob: done at once, with a worker error
        def __init__(self, *args, **kwargs):
            submitted.append(args)

        def start(self):
            return self

        done = True
        result = None

        def poll(self):
            return jobs.JobView(state="error", error="*worker* exploded")

        def stop(self):
            pass

    monkeypatch.setattr(jobs, "RaceJob", FailingRace)
    at = app_test("optimizers", op_steps=2000, op_opts=LONG_RACE, op_seed=103).run()
    assert not at.exception and len(submitted) == 1
    for _ in range(3):  # reruns (the progress fragment, any click) collect the error but don't resubmit
        at.run()
        assert not at.exception
    assert len(submitted) == 1
    assert any(r"\*worker\* exploded" in e.value for e in at.error), [e.value for e in at.error]  # escaped: literal
    at.button(key="op_race_retry").click().run()
    assert not at.exception and len(submitted) == 2  # Retry sends it once more
