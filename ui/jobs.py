"""Streamlit side of ``explainer.jobs``: who owns a job (the session), starting one, showing its state."""
from __future__ import annotations

import math
import os

import streamlit as st

from explainer import jobs
from explainer.errors import UserError
from ui.shell import t, t_error


def owner() -> str | None:
    """This browser session's id: the owner of its jobs (one running job per kind and session)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "session_id", None)


def warm_up() -> None:
    """Start the engine in the background when a page that will likely use it opens
    (``EXPLAINER_ENGINE_WARM_UP=0`` turns that off, e.g. in tests)."""
    if os.environ.get("EXPLAINER_ENGINE_WARM_UP", "1") != "0":
        jobs.warm_up()


def start(job: jobs.Job) -> jobs.Job | None:
    """``job.start()`` with a spinner while the engine starts; ``None`` and an error message if it can't."""
    try:
        with st.spinner(t("jobs.engine_starting")):
            return job.start()
    except UserError as exc:
        st.error(t_error(exc))
        return None


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
