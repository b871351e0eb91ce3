"""Train page (AppTest) when the web server a training's page ran on dies (a replica of a course deployment, or a
reload): the browser reconnects elsewhere with the same URL and gets a new session. The URL names the training
(``?job=<key>``) while it waits or runs, so the new session says the training was interrupted, in the learner's
language, with a Retry that goes on from its checkpoint (``resume_from`` = the lost key) — never silently dropped,
never restarted without the learner's click."""
from __future__ import annotations

import time

import pytest

from explainer.engine import jobs
from explainer.i18n import translate
from tests.conftest import app_test, wait_resumed

pytestmark = pytest.mark.usefixtures("dask_engine")
COOKIE = "0123456789abcdef" * 2


def _query(at) -> dict[str, str]:
    return {k: v if isinstance(v, str) else ",".join(v) for k, v in dict(at.query_params).items()}


def _texts(at) -> str:
    return " ".join(str(e.value) for e in list(at.warning) + list(at.error) + list(at.info))


@pytest.mark.parametrize("lang", ["zh"])
def test_reconnected_page_offers_the_lost_training_and_retry_resumes_it(lang):
    # checkpoints: in the test run's fresh run-store folder (conftest), which the engine's worker was started with
    # the browser's visitor cookie (set by the first page's script): the same in the session after the reconnection
    first = app_test("train", lang, timeout=60, _visitor_cookie=COOKIE).run()
    first.select_slider(key="tr_size").set_value(5000).run()
    first.button(key="tr_start").click().run()
    assert not first.exception
    job = first.session_state["tr_job"]
    assert _query(first).get("job") == job.key  # the URL names the running training
    deadline = time.monotonic() + 300
    while len(job.poll().history) < 2:  # two checkpoints written
        assert time.monotonic() < deadline, "no two evaluation points in 300 s"
        time.sleep(0.5)
    total = job.poll().history[-1]["total_steps"]
    first.run()
    query = _query(first)
    assert query.get("job") == job.key and query.get("tr_size") == "5000"
    del first  # the session is gone with its server: nobody polls the job or beats its heartbeat any more

    fresh = app_test("train", lang, timeout=60, _visitor_cookie=COOKIE)
    for k, v in query.items():
        fresh.query_params[k] = v
    fresh.run()
    assert not fresh.exception
    assert "tr_job" not in fresh.session_state  # nothing started by itself
    waited = translate("train.rejoin_waiting", lang) in _texts(fresh)  # still ending on the engine
    deadline = time.monotonic() + 90
    while not any(b.key == "tr_retry" for b in fresh.button):
        assert time.monotonic() < deadline, "no Retry 90 s after reconnecting"
        assert translate("train.rejoin_waiting", lang) in _texts(fresh), _texts(fresh)
        time.sleep(1.0)
        fresh.run()
        assert not fresh.exception
    assert waited  # the page said it waits for the lost training to end before it offers the Retry
    assert "tr_job" not in fresh.session_state
    text = _texts(fresh)
    saved = jobs.load_resume(job.key, job.config)["step"]  # its last checkpoint (it trained on while it ended)
    assert translate("jobs.lost_server_resumable", lang, saved=saved, total=total) in text
    assert fresh.button(key="tr_retry").label == translate("jobs.retry", lang)
    assert fresh.button(key="tr_lost_dismiss").label == translate("jobs.dismiss", lang)
    assert _query(fresh).get("job") == job.key  # still named: another reconnection would offer it too
    fresh.button(key="tr_retry").click().run()
    assert not fresh.exception
    again = fresh.session_state["tr_job"]
    assert again is not job and again.resume_from == job.key
    assert again.config.train_size == 5000  # the settings came back with the URL
    assert _query(fresh).get("job") == again.key  # the URL names the new training
    view = wait_resumed(again)
    assert view.resumed_from >= saved > 0  # went on from the checkpoint, not from step 1
    again.stop()
    assert again.join(120)
    for _ in range(3):
        fresh.run()
    assert not fresh.exception
    assert "job" not in _query(fresh)  # ended: no longer in the URL


@pytest.mark.parametrize("lang", ["en"])
def test_a_job_link_of_this_browser_that_ended_or_never_was_is_said_and_starts_nothing(lang):
    """A training key of this visitor with no link left on the scheduler (the page that followed it saw it end and
    cleared it, or a made-up key): said as ended, not as interrupted; no Retry, nothing started, taken off the URL."""
    from explainer.engine import core

    tag = core.visitor_tag("cookie:" + COOKIE)
    key = f"explainer-train-1733300000000000000-12-0123456789ab-0-{tag}"
    assert jobs.training_key(key) == key
    at = app_test("train", lang, timeout=60, _visitor_cookie=COOKIE)
    at.query_params["job"] = key
    at.run()
    deadline = time.monotonic() + 60
    while translate("train.rejoin_waiting", lang) in _texts(at):  # this process's engine connecting
        assert time.monotonic() < deadline, "still waiting after 60 s"
        time.sleep(1.0)
        at.run()
    assert not at.exception
    assert translate("train.rejoin_ended", lang) in _texts(at)
    assert translate("jobs.lost_server", lang) not in _texts(at)
    for name in ("tr_job", "tr_lost", "tr_rejoin"):
        assert name not in at.session_state, name
    assert not any(b.key in ("tr_retry", "tr_lost_dismiss") for b in at.button)
    assert "job" not in at.query_params
