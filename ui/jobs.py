"""Streamlit side of the job engine (``explainer.engine``): who owns a job (the session), starting one, showing its state."""
from __future__ import annotations

import asyncio
import math
import os
import re
import time
import uuid

import streamlit as st

from explainer.engine import core, protocol
from explainer.engine.protocol import Job, JobView
from explainer.errors import UserError
from ui.shell import t, t_error


def owner() -> str:
    """This browser session's id: the owner of its jobs (one running job per kind and session). A random id kept
    in the session's state (no Streamlit internals), so it lives exactly as long as the session."""
    return st.session_state.setdefault("_job_owner", uuid.uuid4().hex)


COOKIE = "ce_visitor"
_COOKIE_VALUE = re.compile(r"[0-9a-f]{32}")


def visitor() -> str:
    """Who a job counts for in the engine's fair share (``limits.JOBS_PER_VISITOR``, round robin): the logged-in
    user when the app has Streamlit's OIDC login, else this browser's first-party cookie ``ce_visitor`` (set by
    ``visitor_cookie()`` on the first visit), else this session (a client that sends no cookies)."""
    try:
        if st.user.is_logged_in:
            ident = st.user.get("sub") or st.user.get("email")
            if ident:
                return f"user:{ident}"
    except Exception:  # noqa: BLE001 — no authentication configured
        pass
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 — no request context (tests)
        value = None
    if isinstance(value, str) and _COOKIE_VALUE.fullmatch(value):
        return f"cookie:{value}"
    made = st.session_state.get("_visitor_cookie")
    return f"cookie:{made}" if made else f"session:{owner()}"


def visitor_cookie() -> None:
    """Once per session, when the browser sent no ``ce_visitor`` cookie: set one (random, first-party, a year,
    SameSite=Lax; only if no other tab set one meanwhile). This session counts as that visitor from now on;
    the browser's next tabs send it."""
    try:
        has = _COOKIE_VALUE.fullmatch(st.context.cookies.get(COOKIE) or "")
    except Exception:  # noqa: BLE001
        return
    if has or st.session_state.get("_visitor_cookie"):
        return
    value = uuid.uuid4().hex
    st.session_state["_visitor_cookie"] = value
    st.html(f"""<script>if (!/(^|; ){COOKIE}=[0-9a-f]{{32}}/.test(document.cookie)) {{
      document.cookie = "{COOKIE}={value}; path=/; max-age=31536000; SameSite=Lax"
        + (location.protocol === "https:" ? "; Secure" : ""); }}</script>""", unsafe_allow_javascript=True)


def warm_up() -> None:
    """Start the engine in the background when a page that will likely use it opens
    (``EXPLAINER_ENGINE_WARM_UP=0`` turns that off, e.g. in tests)."""
    if os.environ.get("EXPLAINER_ENGINE_WARM_UP", "1") != "0":
        core.warm_up()


_LIVE = "_explainer_live_jobs"


def start(job: Job) -> Job | None:
    """``job.start()`` with a spinner while the engine starts; ``None`` and an error message if it can't.
    A started job is kept alive by ``keep_alive()`` while the session lasts, whichever page is open."""
    if job.visitor is None and (job.owner or "").startswith(owner()):  # this session's job (or one of its
        # named jobs, "<owner>/…"): it counts in its visitor's fair share
        job.visitor = visitor()
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
    visitor_cookie()
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


def status(view: JobView, running_text: str | None = None) -> None:
    """A progress bar: "queued — n ahead of you" with an estimate, or the job's progress; "the training engine is
    restarting" while it reconnects; "lost its computer, goes on from its checkpoint" instead of a frozen bar."""
    if view.engine_restarting:
        st.warning(t("jobs.engine_restarting"))
    if view.state in ("queued", "new"):
        if view.ahead and view.wait_seconds is not None and math.isfinite(view.wait_seconds) and view.wait_seconds > 0:
            text = t("jobs.queued", ahead=view.ahead, wait=f"{view.wait_seconds:.0f}")
        else:
            text = t("jobs.queued_soon")
        if view.rank > 0:
            text += " " + t("jobs.later_turn")
        st.progress(0.0, text=text)
    elif view.state == "recovering":
        st.progress(min(1.0, max(0.0, view.fraction)), text=t("jobs.recovering"))
    elif view.state == "lost":
        return
    else:
        st.progress(min(1.0, max(0.0, view.fraction)), text=running_text or t("jobs.running"))
        if view.resumed_from:
            st.caption(t("jobs.resumed", step=view.resumed_from))
        elif view.resumed_from == 0:
            st.caption(t("jobs.resumed_from_start"))


def failure_detail(view) -> str:
    """What went wrong with a finished job that has no result, for a message: "interrupted" in the learner's
    language for a job lost with the engine or a worker, else the worker's one-line error (show it with literal).
    ``view``: a ``JobView`` or the ``Job`` itself (both have ``state`` and ``error``)."""
    if view.state == "lost":
        return t("jobs.lost_plain")
    return view.error or view.state


def orphan_state(key: str) -> str:
    """What became of the training ``key`` that a page lost with its web server, read from the job's link on the
    scheduler (``explainer.engine.protocol``: its page's heartbeat in ``<key>-ctl``, its state in ``<key>-prog``):

    - ``"unknown"``: no engine connected in this process yet (or restarting), or the scheduler did not answer;
    - ``"followed"``: a page beat its heartbeat within ``HEARTBEAT_TIMEOUT`` + ``CLOCK_SKEW`` (another tab follows it,
      or the lost page's last beat is that recent: then it becomes ``"orphaned"`` within seconds);
    - ``"orphaned"``: nobody beats it: the worker has ended it (or ends it at once), without a result; its checkpoint
      is kept for a Retry;
    - ``"ended"``: no link left: the page that followed it saw it end and cleared it (finished, stopped), or there
      never was such a job."""
    eng = core.current()
    if eng is None:
        return "unknown"
    from distributed import Variable

    found = {}
    for name in ("ctl", "prog"):
        try:
            found[name] = Variable(f"{key}-{name}", eng.client).get(timeout=0.5)
        except (TimeoutError, asyncio.TimeoutError):  # never set, or deleted when the job ended under its page
            found[name] = None
        except Exception:  # noqa: BLE001 — a scheduler that went away: can't tell yet
            return "unknown"
        if found[name] is not None:
            break
    ctl = found.get("ctl")
    if ctl is None and found.get("prog") is None:
        return "ended"
    beat = (ctl or {}).get("beat")
    fresh = isinstance(beat, (int, float)) and time.time() - beat < protocol.HEARTBEAT_TIMEOUT + protocol.CLOCK_SKEW
    return "followed" if fresh else "orphaned"


def lost(view: JobView, key: str, *, server: bool = False, dismiss: str | None = None) -> str | None:
    """A lost job's message (how far it got, whether a checkpoint is kept) and its Retry button (``key``), with a
    Dismiss button (``dismiss``) if given; ``"retry"`` or ``"dismiss"`` when one is pressed. ``server``: it was lost
    with the web server its page ran on (a replica that died, a reload), not with the engine or a worker."""
    latest = view.latest or {}
    if server:
        saved = max([h.get("step", 0) for h in view.history] or [0])
        if view.resumable and saved and "total_steps" in latest:
            st.warning(t("jobs.lost_server_resumable", saved=saved, total=latest["total_steps"]))
        else:
            st.warning(t("jobs.lost_server"))
    elif "total_steps" in latest:
        saved = max([h.get("step", 0) for h in view.history] or [0])
        if view.resumable and saved:
            st.warning(t("jobs.lost_resumable", step=latest.get("step", 0), total=latest["total_steps"], saved=saved))
        else:
            st.warning(t("jobs.lost", step=latest.get("step", 0), total=latest["total_steps"]))
    else:
        st.warning(t("jobs.lost_short"))
    if dismiss is None:
        return "retry" if st.button(t("jobs.retry"), key=key, type="primary") else None
    with st.container(horizontal=True, wrap=True):
        retry = st.button(t("jobs.retry"), key=key, type="primary", width="content")
        dropped = st.button(t("jobs.dismiss"), key=dismiss, width="content")
    return "retry" if retry else "dismiss" if dropped else None
