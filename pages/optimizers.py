"""Optimizers on loss surfaces: race the real torch.optim optimizers from one start point."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import threading
from typing import NamedTuple

import numpy as np
import streamlit as st

from explainer.engine import jobs
from explainer.learning import optim
from explainer.learning.runs import KeptRun
from explainer.errors import UserError
from explainer.figures import optim as figs
from explainer.limits import OPTIM_START_ABS
from ui import jobs as ui_jobs
from ui.charts import chart, figure
from ui.questions import ask_all
from ui.shell import labels, lang, lesson_link, literal, note, t, t_error, widget
from ui import runs as kept_runs
from ui.stepper import stepper
from ui.tables.optimizers import HYPERPARAMETERS, PRESETS, RACE_SPEEDS, TABLE as OPTIMIZERS, hp_key, lr_key


class Shown(NamedTuple):
    """The race on screen, with this run's settings."""
    surface: str
    kappa: float
    surf: optim.Surface
    chosen: list
    steps: int
    paths: np.ndarray
    losses: np.ndarray
    summaries: list


def _apply_preset(name: str) -> None:
    for k, v in PRESETS[name].items():
        st.session_state[k] = v


def _make_surface(name: str, kappa: float) -> optim.Surface:
    return optim.surface(name, kappa=kappa) if name == "quadratic" else optim.surface(name)


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(name: str, kappa: float, n: int = 90):
    return optim.loss_grid(_make_surface(name, kappa), n)


@st.cache_resource(show_spinner=False)
def _warm_real_surface() -> threading.Thread:
    """Once per server, when this page first opens: the real-data surface (MNIST read, its minimum found by
    L-BFGS) and its loss grid, made in the background (~0.4 s of CPU) and kept for every session, so that a
    learner's first pick of it finds both ready instead of computing them on the click (a pick meanwhile waits
    for them: the surface is made under a lock, the grid under its cache key's)."""
    def go() -> None:
        try:
            _grid("mnist_logistic", float(OPTIMIZERS["op_kappa"].default))
        except Exception:  # noqa: BLE001 — MNIST missing: the page says so when the surface is picked
            pass

    thread = threading.Thread(target=go, name="optimizers-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _shared_paths() -> optim.RaceCache:
    """Every path computed on this server, shared by all sessions: the next learner with the same settings gets
    it without computing. Keyed by (surface, κ, one optimizer's settings, start, steps, noise, seed);
    ≈ 50 kB per 2,000-step path."""
    return optim.RaceCache(max_entries=512)


def _race(race: optim.RaceSettings):
    """``(paths, losses, summaries)``, computed here: the written-out rules (``optim_rules``) race the longest
    race the page allows (8 optimizers × 2,000 steps, with noise) in a few tens of milliseconds.

    Every optimizer sees the same gradient noise (the same seed), as if they shared each minibatch; each path is
    cached on its own (``_shared_paths``), so adding or retuning one optimizer recomputes no other path: the
    missing ones are raced together (the same numbers as each alone)."""
    cache = _shared_paths()
    keys = race.path_keys()
    found = {k: cache.get(k) for k in keys}
    missing = [k for k in keys if found[k] is None]
    if missing:
        surf = _make_surface(race.surface, race.kappa)
        paths = optim.race(surf, [k.runner.as_run() for k in missing], race.start, race.steps, race.noise, race.seed)
        for k, path in zip(missing, paths):
            f = optim.losses(surf, path)
            found[k] = value = (path, f, optim.summarise(surf, path, path_losses=f))
            _keep(cache, k, value)
    return optim.stack_paths(found[k] for k in keys)


def _keep(cache: optim.RaceCache, key: optim.PathKey, value: tuple) -> None:
    """Put a path into the shared cache, its arrays read-only (every session gets the same objects)."""
    for a in value[:2]:
        a.flags.writeable = False
    cache.put(key, value)


# ================================================================ settings
def _take_click() -> None:
    """A click on the contour map (the previous run's chart) sets the start point."""
    event = st.session_state.get("op_contour")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        sig = (round(points[0]["x"], 4), round(points[0]["y"], 4))
        if st.session_state.get("_op_last_click") != sig:
            st.session_state["_op_last_click"] = sig
            st.session_state["op_x"], st.session_state["op_y"] = float(sig[0]), float(sig[1])


def _presets() -> None:
    with st.container(horizontal=True, wrap=True):  # buttons as wide as their labels, wrapping: never truncated
        for name in PRESETS:
            st.button(t(f"optimizers.preset_{name}"), key=f"op_preset_{name}", on_click=_apply_preset, args=(name,),
                      width="content")


def _surface() -> tuple[str, float, optim.Surface]:
    """The surface (and the quadratic bowl's condition number), its formula shown; stops on a bad setting."""
    c1, c2 = st.columns([2, 1])
    with c1:
        sname = widget(st.selectbox, t("optimizers.surface"), OPTIMIZERS["op_surface"],
                       format_func=labels("optimizers.surface_"))
    with c2:
        kappa = widget(st.slider, t("optimizers.kappa"), OPTIMIZERS["op_kappa"], disabled=sname != "quadratic",
                       help=t("optimizers.kappa_help"))
    try:
        surf = _make_surface(sname, kappa)
    except UserError as exc:
        st.error(t_error(exc))
        st.stop()
    st.latex(surf.latex)
    return sname, kappa, surf


def _start_and_length(surf: optim.Surface) -> tuple[float, float, int, float, int]:
    """``(x0, y0, steps, noise, seed)`` from one row of inputs."""
    s1, s2, s3, s4, s5 = st.columns(5)
    with s1:
        x0 = widget(st.number_input, "x₀", OPTIMIZERS["op_x"], default=float(surf.start[0]), format="%.2f",
                    help=t("optimizers.start_help", limit=f"{OPTIM_START_ABS:g}"))
    with s2:
        y0 = widget(st.number_input, "y₀", OPTIMIZERS["op_y"], default=float(surf.start[1]), format="%.2f",
                    help=t("optimizers.start_help", limit=f"{OPTIM_START_ABS:g}"))
    with s3:
        steps = widget(st.number_input, t("optimizers.steps"), OPTIMIZERS["op_steps"])
    with s4:
        noise = widget(st.number_input, t("optimizers.noise"), OPTIMIZERS["op_noise"], help=t("optimizers.noise_help"))
    with s5:
        seed = widget(st.number_input, t("optimizers.seed"), OPTIMIZERS["op_seed"])
    return x0, y0, steps, noise, seed


def _hyperparameters(chosen: list, sname: str, surf: optim.Surface) -> list[optim.Runner]:
    """One row of inputs per chosen optimizer: ``[Runner(name, ((setting, value), …)), …]``."""
    runs = []
    with st.expander(t("optimizers.hparams"), expanded=False):
        for name in chosen:
            d = optim.defaults(name, surf)
            hc = st.columns(4)
            hp = {"lr": widget(hc[0].number_input, f"{t(f'optimizers.opt_{name}')} · lr",
                               OPTIMIZERS[lr_key(sname, name)],
                               default=d["lr"], format="%.4g")}  # the SGD family's default depends on the surface
            for hp_name, (_suffix, column, _hi, _step, fmt) in HYPERPARAMETERS.items():
                if hp_name in d:
                    hp[hp_name] = widget(hc[column].number_input, t(f"optimizers.hp_{hp_name}"),
                                         OPTIMIZERS[hp_key(name, hp_name)], format=fmt)
            runs.append(optim.Runner(name, tuple(sorted(hp.items()))))
    return runs


def settings() -> tuple[optim.RaceSettings, list, optim.Surface]:
    """The race the learner chose: ``(its settings, chosen optimizers, surface)``; stops when none is chosen."""
    _take_click()
    _presets()
    sname, kappa, surf = _surface()
    chosen = widget(st.multiselect, t("optimizers.optimizers"), OPTIMIZERS["op_opts"],
                    format_func=labels("optimizers.opt_"))
    if not chosen:
        st.info(t("optimizers.pick_one"))
        st.stop()
    x0, y0, steps, noise, seed = _start_and_length(surf)
    runs = _hyperparameters(chosen, sname, surf)
    kappa = kappa if sname == "quadratic" else OPTIMIZERS["op_kappa"].default  # κ shapes only the quadratic bowl (one cache key)
    race_args = optim.RaceSettings(sname, float(kappa), tuple(runs), (float(x0), float(y0)), int(steps), float(noise),
                                   int(seed))
    return race_args, chosen, surf


# ================================================================ the race
def race(race_args: optim.RaceSettings, chosen: list, surf: optim.Surface) -> Shown:
    """This race (cached paths, or computed here); stops with the message on a bad setting."""
    try:
        raced = _race(race_args)
    except UserError as exc:
        st.error(t_error(exc))
        st.stop()
    return Shown(race_args.surface, race_args.kappa, surf, chosen, race_args.steps, *raced)


def runner_names(shown: Shown) -> list[str]:
    """The chosen optimizers' names, after a warning for each one that diverged."""
    names = [t(f"optimizers.opt_{n}") for n in shown.chosen]
    for s, n in zip(shown.summaries, names):
        if s["diverged"]:
            st.warning(t("optimizers.diverged", name=n, step=s["diverged_at"]))
    return names


# ================================================================ one function per tab
def map_tab(shown: Shown, grid: tuple, names: list[str]) -> None:
    xs, ys, Z = grid
    surf, steps = shown.surf, shown.steps
    marks = figs.race_marks(steps)

    def show_race(pos: int) -> None:
        upto = marks[pos - 1]
        st.markdown(t("optimizers.race_step", step=upto, total=steps))
        common = dict(log=surf.log_scale, x_title="x", y_title="y", loss_title=t("optimizers.loss"),
                      start_title=t("optimizers.start"), min_title=t("optimizers.minimum"))
        # Two stacked charts of the same plot area: the contours (the same figure at every step, so Streamlit
        # keeps that chart while playing: a chart whose figure changes is remounted, blank until redrawn) and,
        # on top, the paths up to this step. The caption comes after the stack.
        with st.container(key="op_map_stack"):
            chart(figure(figs.contour_race, xs, ys, Z, shown.paths[:, :1], [], surf.minima, layer="surface", **common),
                  key="op_contour_surface", name=t("optimizers.surface"), summary="")
            ev = chart(figure(figs.contour_race, xs, ys, Z, shown.paths, names, surf.minima, upto=upto, layer="paths",
                              **common),
                       key="op_contour", name=t("optimizers.tab_map"), on_select="rerun", selection_mode="points",
                       summary="")
        st.caption(figs.race_summary(xs, ys, Z, shown.paths, shown.losses, names, log=surf.log_scale, upto=upto,
                                     lang=lang()))
        pts = (ev or {}).get("selection", {}).get("points", []) if ev else []
        if pts and (round(pts[0]["x"], 4), round(pts[0]["y"], 4)) != st.session_state.get("_op_last_click"):
            st.rerun(scope="app")  # a click inside the race view: the whole page restarts from there

    # Streamlit controls (keyboard: Tab, Enter/Space, arrow keys on the slider), as on the Stride page:
    # play steps the race forward in a fragment, so only the map redraws, with its contours
    st.html(_STACK_CSS)
    stepper("op", len(marks), show_race, default=-1, speeds=RACE_SPEEDS, default_speed=4.0,
            texts={"position": t("optimizers.race_position"), "position_help": t("optimizers.race_position_help"),
                   "first_help": t("optimizers.race_first_help"), "last_help": t("optimizers.race_last_help"),
                   "speed_help": t("optimizers.race_speed_help"), "speed_value": t("optimizers.race_speed_value")})
    note(t("optimizers.map_note"))


# The map's two charts in one grid cell, the paths' (transparent) over the contours'
_STACK_CSS = """<style>
.st-key-op_map_stack { display: grid !important; grid-template-columns: minmax(0, 1fr); }
.st-key-op_map_stack > div { grid-area: 1 / 1; width: 100%; }
</style>"""


def surface_tab(shown: Shown, grid: tuple, names: list[str]) -> None:
    xs, ys, Z = grid
    chart(figs.surface_3d(xs, ys, Z, shown.paths, shown.losses, names, log=shown.surf.log_scale, x_title="x",
                          y_title="y", loss_title=t("optimizers.loss")), key="op_3d", name=t("optimizers.tab_3d"),
          summary=figs.race_summary(xs, ys, Z, shown.paths, shown.losses, names, log=shown.surf.log_scale,
                                    upto=None, lang=lang()))


def loss_tab(shown: Shown, names: list[str]) -> None:
    chart(figure(figs.loss_curves, shown.losses, names, step_title=t("optimizers.step"),
                 loss_title=t("optimizers.loss"), log_y=True), key="op_loss", name=t("optimizers.tab_loss"),
          summary=figs.final_losses_summary(shown.losses, names, lang=lang()))


def table_tab(shown: Shown, names: list[str]) -> None:
    rows = []
    for n, s in zip(names, shown.summaries):
        rows.append({t("optimizers.col_optimizer"): n,
                     t("optimizers.col_final_loss"): s["final_loss"],
                     # empty cells (not "None") where there is no minimum or it was never reached
                     t("optimizers.col_distance"): "" if s["distance"] is None else f"{s['distance']:.4g}",
                     t("optimizers.col_steps_to_tol"): "" if s["steps_to_tol"] is None else str(s["steps_to_tol"]),
                     t("optimizers.col_diverged"): (t("optimizers.diverged_at", step=s["diverged_at"])
                                                    if s["diverged"] else "—")})
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(t("optimizers.table_note"))


def rules_tab(chosen: list) -> None:
    for name in chosen:
        st.markdown(f"**{t(f'optimizers.opt_{name}')}** — {t(f'optimizers.why_{name}')}")
        st.latex(t(f"optimizers.rule_{name}"))
        st.caption(t("optimizers.rule_class", cls=optim.torch_class(name)))


# ================================================================ a trained model's real loss landscape
def _trained_model() -> KeptRun | None:
    """The trained model whose landscape to show: one a link (?run=…) or a reload names, else this session's."""
    trained = st.session_state.get("trained_model")
    linked = kept_runs.linked_ids()  # a link (?run=…) or a reload names the run whose landscape to show
    if linked and (not trained or trained.id != linked[-1]):
        kept = kept_runs.load(linked[-1])
        if kept is not None:
            trained = kept
            st.session_state["trained_model"] = trained
        elif trained and trained.id:
            trained = None  # the link names a run that no longer exists: don't show another one instead
    if linked:
        kept_runs.publish_ids(linked)
    return trained


@st.fragment(run_every=1.0)
def _landscape_progress(cache: dict) -> None:
    k, job = st.session_state["_op_landscape_job"]
    view = job.poll()
    if view.finished:
        if job.result is not None and "loss" in job.result:
            cache[k] = job.result
        elif view.error or view.state == "lost":
            st.session_state["_op_landscape_error"] = ui_jobs.failure_detail(view)
        del st.session_state["_op_landscape_job"]
        st.rerun(scope="app")
    ui_jobs.status(view, t("optimizers.landscape_progress"))


def landscape() -> None:
    st.header(t("optimizers.landscape_header"))
    trained = _trained_model()
    if not trained:
        st.info(t("optimizers.landscape_missing"))
        lesson_link("pages/train.py", t("nav.train"), "🧠")
        return
    st.markdown(t("optimizers.landscape_text", name=literal(trained.label), acc=f"{100 * trained.test_accuracy:.1f}"))
    cache = st.session_state.setdefault("_op_landscapes", {})
    key = trained.id or id(trained.model)
    pending = st.session_state.get("_op_landscape_job")
    if key not in cache and pending is None and st.button(t("optimizers.landscape_compute"), key="op_landscape_btn"):
        # computed on the training engine (a Dask worker), never in the web process
        job = ui_jobs.start(jobs.LandscapeJob(trained.model, trained.config, owner=ui_jobs.owner()))
        if job is not None:
            st.session_state["_op_landscape_job"] = pending = (key, job)
    if pending is not None:
        _landscape_progress(cache)
    if "_op_landscape_error" in st.session_state:
        st.error(t("common.unexpected_error", detail=literal(st.session_state.pop("_op_landscape_error"))))
    if key in cache:
        L = cache[key]
        chart(figure(figs.landscape, L["alphas"], L["betas"], L["loss"], x_title=t("optimizers.landscape_x"),
                     y_title=t("optimizers.landscape_y"),
                     loss_title=t("optimizers.loss")), key="op_landscape", name=t("optimizers.landscape_header"))
        note(t("optimizers.landscape_note"))


st.title(t("optimizers.title"))
st.markdown(t("optimizers.intro"))
_warm_real_surface()
picked, chosen, surf = settings()
shown = race(picked, chosen, surf)
grid = _grid(shown.surface, float(shown.kappa))
asked = ask_all("optimizers", dict(surface=picked.surface, kappa=picked.kappa, runs=picked.runners, start=picked.start,
                                   steps=picked.steps, noise=picked.noise, seed=picked.seed),
                "op")  # predict first: the race waits for the answers
if all(asked.values()):
    names = runner_names(shown)
    # lazy tabs: a switch reruns the page and only the open tab's content runs (the server CPU per click)
    tabs = st.tabs([t("optimizers.tab_map"), t("optimizers.tab_3d"), t("optimizers.tab_loss"),
                    t("optimizers.tab_table"), t("optimizers.tab_rules")], key="op_tabs", on_change="rerun")
    views = (lambda: map_tab(shown, grid, names), lambda: surface_tab(shown, grid, names),
             lambda: loss_tab(shown, names), lambda: table_tab(shown, names), lambda: rules_tab(shown.chosen))
    for tab, view in zip(tabs, views):
        if tab.open is not False:
            with tab:
                view()
else:
    st.info(t("questions.hidden"))
st.markdown(t("optimizers.lr_text"))
landscape()
