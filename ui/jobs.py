"""Streamlit side of ``explainer.jobs``: who owns a job (the session), starting one, showing its state."""
from __future__ import annotations

import math
import os
import uuid

import streamlit as st

from explainer import jobs
from explainer.errors import UserError
from ui.shell import t, t_error


def owner() -> str:
    """This browser session's id: the owner of its jobs (one running job per kind and session). A random id kept
    in the session's state (no Streamlit internals), so it lives exactly as long as the session."""
    return st.session_state.setdefault("_job_owner", uuid.uuid4().hex)


def warm_up() -> None:
    """Start the engine in the background when a page that will likely use it opens
    (``EXPLAINER_ENGINE_WARM_UP=0`` turns that off, e.g. in tests)."""
    if os.environ.get("EXPLAINER_ENGINE_WARM_UP", "1") != "0":
        jobs.warm_up()


_LIVE = "_explainer_live_jobs"


def start(job: jobs.Job) -> jobs.Job | None:
    """``job.start()`` with a spinner while the engine starts; ``None`` and an error message if it can't.
    A started job is kept alive by ``keep_alive()`` while the session lasts, whichever page is open."""
    try:
        with st.spinner(t("jobs.engine_starting")):
            job.start()
    except UserError as exc:
        st.error(t_error(exc))
        return None
    st.session_state.setdefault(_LIVE, []).append(job)
    return job


def keep_alive() -> None:
    """In the app's entry script: while this session has jobs that are not done, send their heartbeats every
    2 s from a fragment, so a training goes on while the learner reads another page, and stops within
    seconds once the tab is closed (the fragment no longer runs)."""
    live = [j for j in st.session_state.get(_LIVE, []) if not j.done]
    st.session_state[_LIVE] = live
    if live:
        _beat()


@st.fragment(run_every=2.0)
def _beat() -> None:
    for job in st.session_state.get(_LIVE, []):
        if not job.done:
            try:
                job.heartbeat()
            except Exception:  # noqa: BLE001 — an engine that went away: the job's page says so
                pass


def status(view: jobs.JobView, running_text: str | None = None) -> None:
    """A progress bar: "queued — n ahead of you" with an estimate, or the job's progress."""
    if view.state in ("queued", "new"):
        if view.ahead and view.wait_seconds is not None and math.isfinite(view.wait_seconds) and view.wait_seconds > 0:
            text = t("jobs.queued", ahead=view.ahead, wait=f"{view.wait_seconds:.0f}")
        else:
            text = t("jobs.queued_soon")
        st.progress(0.0, text=text)
    else:
        st.progress(min(1.0, max(0.0, view.fraction)), text=running_text or t("jobs.running"))
