"""Train page (AppTest) when the engine's cluster dies mid-training: the page says the engine is restarting and
that the training was interrupted, in the learner's language, with a Retry button; once the engine is back
(a new local cluster, started by itself), Retry goes on from the training's checkpoint, not from step 1."""
from __future__ import annotations

import time

import psutil
import pytest

from explainer.engine import core, jobs
from explainer.i18n import translate
from tests.conftest import app_test, wait_resumed


def _texts(at) -> str:
    return " ".join(str(e.value) for e in list(at.warning) + list(at.error) + list(at.info))


@pytest.mark.parametrize("lang", ["zh"])
def test_lost_training_is_said_with_a_retry_that_resumes(lang, mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.ENV_CHECKPOINTS, str(tmp_path / "resume"))
    eng = core.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    previous = core.set_engine(eng)
    try:
        at = app_test("train", lang, timeout=60).run()
        at.select_slider(key="tr_size").set_value(5000).run()
        at.button(key="tr_start").click().run()
        assert not at.exception
        job = at.session_state["tr_job"]
        deadline = time.monotonic() + 300
        while len(job.poll().history) < 2:  # two checkpoints written
            assert time.monotonic() < deadline, "no two evaluation points in 300 s"
            time.sleep(0.5)
        for child in psutil.Process(eng.cluster.proc.pid).children(recursive=True):
            child.kill()
        eng.cluster.proc.kill()
        deadline = time.monotonic() + 30
        restarting = translate("jobs.engine_restarting", lang)
        while True:
            at.run()
            assert not at.exception
            if at.session_state["tr_lost"] if "tr_lost" in at.session_state else False:
                break
            assert time.monotonic() < deadline, "the page did not report the lost training in 30 s"
            time.sleep(0.5)
        text = _texts(at)
        saved = job.poll().history[-1]["step"]
        assert translate("jobs.lost_resumable", lang, step="", total="", saved="")[:6] in text
        assert restarting in text or not eng.restarting
        assert at.button(key="tr_retry").label == translate("jobs.retry", lang)
        deadline = time.monotonic() + 180
        while eng.restarting:
            assert time.monotonic() < deadline, "the engine did not come back in 180 s"
            time.sleep(0.5)
        at.button(key="tr_retry").click().run()
        assert not at.exception
        again = at.session_state["tr_job"]
        assert again is not job and again.resume_from == job.key
        view = wait_resumed(again)
        assert view.resumed_from >= saved > 0
        at.run()
        assert translate("jobs.resumed", lang, step=view.resumed_from) in " ".join(c.value for c in at.caption)
        again.stop()
        assert again.join(120)
    finally:
        core.set_engine(previous)
        eng.close()
