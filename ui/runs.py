"""Trained runs that survive a reload: the Streamlit side of ``explainer.engine.runstore``.

A finished run is saved in the run store and its id is added to the URL parameter ``run``
(comma-separated ids, newest last). A reload or a shared link with ``?run=…`` loads those runs back
into the session. A session only ever sees the runs it made or was given in a link: ids are
unguessable and the store is never listed.
"""
from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from explainer.errors import UserError
from explainer.engine.runstore import MAX_LINKED, RunStore, parse_ids
from explainer.learning.runs import KeptRun
from ui.shell import literal, publish, restore, t, t_error, tn

KEY = "run"


@st.cache_resource(show_spinner=False)
def store() -> RunStore:
    return RunStore()


def owner() -> str:
    """Who saves a run, for the store's quotas: the visitor (``ui.jobs.visitor``: the logged-in user, else the
    browser's first-party cookie, else this session), so a visitor's many tabs share one quota, as they share one
    fair share of the engine. The store keeps only a hash of it and never shows it."""
    from ui import jobs as ui_jobs

    return ui_jobs.visitor()


def linked_ids() -> list[str]:
    """The run ids this session knows: from a link (wins) or kept from earlier on this visit."""
    return parse_ids(restore(KEY, ""))


def publish_ids(ids: list[str]) -> None:
    publish(KEY, ",".join(ids[-MAX_LINKED:]))


def remember(run: KeptRun) -> None:
    """Save a finished (or uploaded) run in the store, give it an id and name it in the URL."""
    from explainer.learning.train import save_checkpoint

    try:
        blob = run.checkpoint or save_checkpoint(run.model, run.config)
        run.checkpoint = blob
        run.id = store().save(run, blob, owner=owner())
    except UserError as exc:  # the learner's quota or a store full of other learners' runs from today
        st.toast(t_error(exc), icon="⚠️")
        return
    except (OSError, sa.exc.SQLAlchemyError, ValueError) as exc:  # the database locked or unreachable
        st.toast(t("train.store_failed", detail=literal(type(exc).__name__)), icon="⚠️")
        return
    ids = [i for i in linked_ids() if i != run.id] + [run.id]
    publish_ids(ids)


def load(run_id: str) -> KeptRun | None:
    try:
        return store().load(run_id)
    except UserError as exc:  # a row another version wrote: said, then treated as gone
        st.toast(t_error(exc), icon="⚠️")
        return None
    except (OSError, sa.exc.SQLAlchemyError):
        return None


def restore_runs(runs: list[KeptRun]) -> None:
    """Append the runs the URL names (and this session doesn't hold yet) to ``runs``, in order."""
    ids = linked_ids()
    have = {r.id for r in runs}
    missing = []
    for run_id in ids:
        if run_id in have:
            continue
        run = load(run_id)
        if run is None:
            missing.append(run_id)
            continue
        runs.append(run)
        have.add(run_id)
    if missing:
        st.toast(tn("train.run_missing", len(missing)), icon="⚠️", duration="long")
    publish_ids([r.id for r in runs if r.id])


def forget_all() -> None:
    """The learner cleared the list: the URL names no run any more (the store keeps them for links)."""
    publish_ids([])
