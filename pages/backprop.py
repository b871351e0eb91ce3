"""Lesson — How kernels learn: backpropagation through a convolution by hand, a 3×3 kernel learning live,
convolution vs a dense layer on shifted digits, and what a trained network looks at."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import hashlib
from typing import NamedTuple

import numpy as np
import streamlit as st

from explainer.learning import backprop as bp
from explainer.data import datasets
from explainer.engine import jobs
from explainer.data.draw import preprocess_drawing
from explainer.errors import UserError
from explainer.i18n import translate
from explainer.figures import backprop as figs
from explainer.figures import network as net_figs
from explainer.maths.kernels import format_kernel
from explainer.maths.kernels import kernel as named_kernel
from explainer.maths.shift import SHIFTS
from explainer.learning.train import TrainConfig
from ui import jobs as ui_jobs
from ui.data import built_in
from ui.canvas import draw_canvas
from ui.charts import chart, figure
from ui.questions import ask
from ui.registry import SharedRegistry, shared_registry
from ui.shell import formula, labels, lang, lesson_views, literal, note, t, t_error, tn, widget
from ui.tables.backprop import TABLE as BACKPROP, VIEWS, lr_key
TICK = bp.FRAME_SECONDS  # seconds between animation frames while playing
CFG = {"displayModeBar": False}  # the chart toolbar covered the titles of the lesson's small grids; no zooming
PATCH, PATCH_STEP = 8, 2  # occlusion: an 8×8 grey patch every 2 pixels (11×11 = 121 forward passes)
SHIFT_DIGITS = 2000  # test digits for the shift experiment (fixed: the first 2,000)
MAX_SHIFT_JOBS = 32  # shifted-digit results kept per server (by model)
# The two small models this lesson can train itself (≈ 6,000 digits, 2 epochs each).
SMALL_RUNS = {
    "cnn": dict(model="fast", optimizer="adam", lr=0.004, one_cycle=True, batch_size=64, epochs=2, train_size=6000),
    "mlp": dict(model="mlp", optimizer="adam", lr=0.001, one_cycle=False, batch_size=64, epochs=2, train_size=6000),
}


def fmt(v: float) -> str:
    v = float(v)
    return f"{v:.0f}" if v.is_integer() else f"{v:.4g}"


def lab() -> dict:
    return dict(x_title=t("common.column"), y_title=t("common.row"), value_label=t("common.value"))


def _clicked(base: str) -> tuple[int, int] | None:
    """The cell clicked in the chart keyed ``{base}_{n}`` on the last run, then a fresh chart key (so the same
    cell can be clicked again)."""
    ss = st.session_state
    n = ss.get(f"_{base}_n", 0)
    event = ss.get(f"{base}_{n}")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return None
    ss[f"_{base}_n"] = n + 1
    return int(points[0]["y"]), int(points[0]["x"])


def _chart_key(base: str) -> str:
    return f"{base}_{st.session_state.get(f'_{base}_n', 0)}"


def terms_latex(lhs: str, left: np.ndarray, right: np.ndarray, total: float, per_line: int = 3,
                max_lines: int = 6) -> str:
    """``lhs = a·b + …`` written out (zero terms left out), then the sum."""
    terms = [rf"({fmt(a)})\cdot({fmt(b)})" for a, b in zip(left.ravel(), right.ravel()) if a != 0 and b != 0]
    lines = [" + ".join(terms[i: i + per_line]) for i in range(0, len(terms), per_line)] or ["0"]
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [r"\dots"]
    body = r" \\ &\quad + ".join(lines)
    return rf"\begin{{aligned}} {lhs} &= {body} \\ &= {fmt(total)} \end{{aligned}}"


# ================================================================ 1. by hand
def hand_example() -> bp.HandExample:
    """The section's header and settings, and the worked example they give (stops on a bad setting)."""
    st.header(t("backprop.hand_header"))
    st.markdown(t("backprop.hand_intro"))
    formula(r"L=\tfrac12\sum_{r,c}\left(Y_{r,c}-T_{r,c}\right)^2,\qquad \frac{\partial L}{\partial Y}=Y-T")
    c1, c2, c3 = st.columns(3)
    with c1:
        xname = widget(st.selectbox, t("backprop.input"), BACKPROP["bp_input"], format_func=labels("backprop.input_"))
        stride = widget(st.slider, t("backprop.stride"), BACKPROP["bp_s"])
    with c2:
        wname = widget(st.selectbox, t("backprop.kernel"), BACKPROP["bp_kernel"], format_func=labels("backprop.k_"))
        padding = widget(st.slider, t("backprop.padding"), BACKPROP["bp_p"])
    with c3:
        tname = widget(st.selectbox, t("backprop.target"), BACKPROP["bp_target"], format_func=labels("backprop.k_"))
        bias = widget(st.number_input, t("backprop.bias"), BACKPROP["bp_bias"])
    x_hand = bp.hand_input(xname)
    w_hand = np.asarray(named_kernel(wname).weights, dtype=np.float64)
    try:
        return bp.hand_example(x_hand, w_hand, np.asarray(named_kernel(tname).weights, dtype=np.float64), bias,
                               stride, padding)
    except UserError as exc:
        st.error(t_error(exc))
        st.stop()


def forward_pass(ex: bp.HandExample, L: dict, state: dict) -> bool:
    """X, W, Y, the target T, ∂L/∂Y, the loss and ∂L/∂b. Predict first (``ui.questions``, on the by-hand ``state``):
    Y, T and ∂L/∂Y (their size) wait for ``backprop.y_size``; ∂L/∂b and the gradients below for ``backprop.grad_b``,
    asked once ∂L/∂Y shows. Returns whether the gradients below may show."""
    g1, g2, g3 = st.columns(3)
    with g1:
        chart(figure(figs.grid, ex.x, title=t("backprop.x_title", h=ex.x.shape[0], w=ex.x.shape[1]), signed=False,
                     **L), key="bp_x", config=CFG)
    with g2:
        chart(figure(figs.grid, ex.w, title=t("backprop.w_title"), **L), key="bp_w", config=CFG)
    if not ask("backprop.y_size", state, "bp"):
        st.info(t("questions.hidden"))
        return False
    with g3:
        chart(figure(figs.grid, ex.y, title=t("backprop.y_title", h=ex.y.shape[0], w=ex.y.shape[1]), **L), key="bp_y", config=CFG)
    g1, g2, g3 = st.columns(3)
    with g1:
        chart(figure(figs.grid, ex.target, title=t("backprop.t_title"), **L), key="bp_t", config=CFG)
    with g2:
        chart(figure(figs.grid, ex.grad_y, title=t("backprop.gy_title"), **L), key="bp_gy", config=CFG)
    with g3:
        st.metric(t("backprop.loss"), fmt(ex.loss))
    st.caption(t("backprop.forward_summary", loss=fmt(ex.loss), lo=fmt(ex.grad_y.min()), hi=fmt(ex.grad_y.max()),
                 ylo=fmt(ex.y.min()), yhi=fmt(ex.y.max()), tlo=fmt(ex.target.min()), thi=fmt(ex.target.max())))
    if not ask("backprop.grad_b", state, "bp"):
        st.info(t("questions.hidden"))
        return False
    with g3:
        st.metric(t("backprop.grad_b"), fmt(ex.grad_b))
        st.caption(t("backprop.grad_b_text", n=ex.grad_y.size, value=fmt(ex.grad_b)))
    return True


def picked_cell(pick: str, keys: tuple[str, str], label_keys: tuple[str, str], shape) -> tuple[int, int]:
    """The cell to explain: row and column inputs (``keys``), moved by a click on the chart ``pick``."""
    rows, cols = shape
    hit = _clicked(pick)
    if hit is not None and 0 <= hit[0] < rows and 0 <= hit[1] < cols:
        st.session_state[keys[0]], st.session_state[keys[1]] = hit
    c1, c2 = st.columns(2)
    r = widget(c1.number_input, t(label_keys[0]), BACKPROP[keys[0]], max_value=rows - 1)
    c = widget(c2.number_input, t(label_keys[1]), BACKPROP[keys[1]], max_value=cols - 1)
    return int(r), int(c)


def explain_entry(pick: str, gradient, click_text: str, middle: tuple, right: tuple, lhs: str, terms) -> None:
    """One gradient entry written out: the gradient map (a click on it picks the entry), the two grids whose
    products add up to it (``(figure, key)`` each) and the sum ``lhs = Σ left × right`` as a formula."""
    g1, g2, g3 = st.columns(3)
    with g1:
        chart(gradient, key=_chart_key(pick), on_select="rerun", selection_mode="points", config=CFG)
        st.caption(click_text)
    for column, (fig, key) in ((g2, middle), (g3, right)):
        with column:
            chart(fig, key=key, config=CFG)
    formula(terms_latex(lhs, terms.left, terms.right, terms.total))


def weight_gradient(ex: bp.HandExample, L: dict) -> None:
    """∂L/∂W: click a weight."""
    st.subheader(t("backprop.gw_header"))
    st.markdown(t("backprop.gw_intro"))
    formula(r"\frac{\partial L}{\partial W_{i,j}}=\sum_{r,c}\frac{\partial L}{\partial Y_{r,c}}\,"
            r"\tilde X_{r\cdot s+i,\;c\cdot s+j}")
    wi, wj = picked_cell("bp_gw_pick", ("bp_wi", "bp_wj"), ("backprop.weight_row", "backprop.weight_col"), ex.w.shape)
    wt = bp.weight_terms(ex.x, ex.w, ex.grad_y, wi, wj, ex.stride, ex.padding)
    explain_entry("bp_gw_pick", figure(figs.grid, ex.grad_w, title=t("backprop.gw_title"), box=(wi, wj, 1, 1), clickable=True, **L),
                  t("backprop.click_weight"),
                  (figure(figs.grid, wt.right, title=t("backprop.under_title", i=wi, j=wj), signed=False, **L), "bp_under"),
                  (figure(figs.grid, wt.left, title=t("backprop.gy_title"), **L), "bp_gy2"),
                  rf"\frac{{\partial L}}{{\partial W_{{{wi},{wj}}}}}", wt)
    st.caption(t("backprop.gw_summary", i=wi, j=wj, value=fmt(wt.total), n=wt.left.size))


def input_gradient(ex: bp.HandExample, L: dict) -> None:
    """∂L/∂X: click an input pixel; then the check against autograd."""
    stride, padding = ex.stride, ex.padding
    st.subheader(t("backprop.gx_header"))
    st.markdown(t("backprop.gx_intro"))
    formula(r"\frac{\partial L}{\partial X}=\operatorname{crop}_p\!\left(\operatorname{pad}_{k-1}"
            r"\big(\operatorname{dilate}_s(\tfrac{\partial L}{\partial Y})\big)\star\operatorname{rot}_{180^\circ}(W)\right)")
    kh, kw = ex.w.shape
    xr, xc = picked_cell("bp_gx_pick", ("bp_xr", "bp_xc"), ("backprop.pixel_row", "backprop.pixel_col"), ex.x.shape)
    it = bp.input_terms(ex.x, ex.w, ex.grad_y, xr, xc, stride, padding)
    explain_entry("bp_gx_pick", figure(figs.grid, ex.grad_x, title=t("backprop.gx_title"), box=(xr, xc, 1, 1), clickable=True, **L),
                  t("backprop.click_pixel"),
                  (figure(figs.grid, ex.padded_grad, title=t("backprop.padded_title"),
                          box=(xr + padding, xc + padding, kh, kw), **L), "bp_padded"),
                  (figure(figs.grid, it.right, title=t("backprop.rot_title"), **L), "bp_rot"),
                  rf"\frac{{\partial L}}{{\partial X_{{{xr},{xc}}}}}", it)
    st.caption(tn("backprop.gx_summary", stride - 1, r=xr, c=xc, value=fmt(it.total), h=ex.padded_grad.shape[0],
                 w=ex.padded_grad.shape[1], s=stride, zeros=stride - 1))
    if stride > 1:
        note(t("backprop.stride_note", s=stride, zeros=stride - 1))
    st.success(t("backprop.autograd_check", diff=f"{bp.autograd_difference(ex):.1e}"))


# ================================================================ 2. watch a kernel learn
class Goal(NamedTuple):
    """What the learning kernel aims at: the fit's image and target, the target kernel (``None`` when no 3×3
    kernel makes it), the kernel it should end at and the best loss any 3×3 kernel reaches."""
    image: str
    target: str
    target_k: np.ndarray | None
    kernel: np.ndarray
    best_loss: float


class FitSettings(NamedTuple):
    """A kernel fit as the learner set it (also its key: a new fit when one changes)."""
    image: str
    target: str
    optimizer: str
    lr: float
    start: str


def fit_settings() -> tuple[FitSettings, int]:
    """The section's header and settings: ``(FitSettings, speed)``."""
    st.header(t("backprop.learn_header"))
    st.markdown(t("backprop.learn_intro"))
    c1, c2, c3 = st.columns(3)
    with c1:
        fit_target = widget(st.selectbox, t("backprop.fit_target"), BACKPROP["bp_fit_target"],
                            format_func=labels("backprop.fit_"))
        fit_image = widget(st.selectbox, t("backprop.fit_image"), BACKPROP["bp_fit_image"],
                           format_func=labels("picker.src_"))
    with c2:
        opt_name = widget(st.selectbox, t("backprop.optimizer"), BACKPROP["bp_opt"], format_func=labels("optimizers.opt_"))
        lr = widget(st.number_input, t("backprop.lr"), BACKPROP[lr_key(opt_name)], format="%.4f")
    with c3:
        start = widget(st.radio, t("backprop.start"), BACKPROP["bp_start"], horizontal=True,
                       format_func=labels("backprop.start_"))
        speed = widget(st.select_slider, t("backprop.speed"), BACKPROP["bp_speed"])
    return FitSettings(fit_image, fit_target, opt_name, lr, start), speed


def fit_controls(fit_args: FitSettings) -> bool:
    """This session's fit (a new one when a setting changed; stops on a bad setting), the step / play / reset
    controls; whether it is playing."""
    fit_image, fit_target, opt_name, lr, start = fit_args
    fit_key = fit_args._replace(lr=float(lr))
    ss = st.session_state
    if ss.get("_bp_fit_key") != fit_key or st.session_state.get("bp_fit") is None:
        try:
            ss["bp_fit"] = bp.KernelFit(fit_image, fit_target, opt_name, lr, start)
            ss["_bp_fit_key"] = fit_key
        except UserError as exc:
            st.error(t_error(exc))
            st.stop()
    if ss.pop("_bp_stop_play", False):  # the fragment finished the learning while playing
        ss["bp_play"] = False
    b1, b2, b3 = st.columns(3)
    if b1.button(t("backprop.step_button"), key="bp_step_btn", width="stretch"):
        ss["bp_fit"].step(1)
    playing = widget(b2.toggle, t("backprop.play"), BACKPROP["bp_play"], url=False)
    if b3.button(t("backprop.reset"), key="bp_reset", width="stretch"):
        ss["bp_fit"] = bp.KernelFit(fit_image, fit_target, opt_name, lr, start)
    return playing


def fit_goal(fit_image: str, fit_target: str) -> Goal:
    target_k = bp.target_kernel(fit_target)
    best_k, best_loss = bp.best_fit(fit_image, fit_target)
    return Goal(fit_image, fit_target, target_k, target_k if target_k is not None else best_k, best_loss)


def _finished(fit: bp.KernelFit, goal: Goal) -> bool:
    return fit.diverged or fit.steps >= bp.MAX_STEPS or fit.distance(goal.kernel) < 1e-4


def _kernels(fit: bp.KernelFit, goal: Goal, L: dict) -> None:
    """The learned kernel, the one it aims at and the last update."""
    w = fit.weights
    g1, g2, g3 = st.columns(3)
    with g1:
        chart(figure(figs.grid, w, title=t("backprop.learned_title", n=fit.steps), number_format=".2f", height=300,
                     **L), key="bp_fit_w")
    with g2:
        goal_title = t("backprop.goal_title") if goal.target_k is not None else t("backprop.best_title")
        chart(figure(figs.grid, goal.kernel, title=goal_title, number_format=".2f", height=300, **L), key="bp_fit_goal")
    with g3:
        chart(figure(figs.grid, fit.last_update, title=t("backprop.update_title"), number_format=".2f", height=300,
                     **L), key="bp_fit_update")
    st.caption(t("backprop.update_summary", n=fit.steps, gmax=fmt(np.max(np.abs(fit.last_grad))),
                 umax=fmt(np.max(np.abs(fit.last_update)))))


def _maps(fit: bp.KernelFit, goal: Goal, L: dict) -> None:
    """The kernel's output next to the target map."""
    g1, g2 = st.columns(2)
    x_img, t_map = bp.fit_problem(goal.image, goal.target)
    out = fit.output()
    lim = float(np.max(np.abs(t_map))) or 1.0
    with g1:
        chart(figure(figs.attribution, out, title=t("backprop.output_title"), colorscale="RdBu", zmin=-lim, zmax=lim,
                     **L), key="bp_fit_out")
    with g2:
        chart(figure(figs.attribution, t_map, title=t("backprop.target_map_title"), colorscale="RdBu", zmin=-lim,
                     zmax=lim, **L), key="bp_fit_tmap")
    st.caption(t("backprop.maps_summary", h=out.shape[0], w=out.shape[1], olo=fmt(out.min()), ohi=fmt(out.max()),
                 tlo=fmt(t_map.min()), thi=fmt(t_map.max())))


def _fit_status(fit: bp.KernelFit, goal: Goal) -> None:
    """The loss curve, and how far the fit is from its goal."""
    best_loss = goal.best_loss
    chart(figure(figs.loss_curve, fit.losses, title=t("backprop.loss_title"), x_title=t("backprop.step"),
                 y_title=t("backprop.loss"), best=best_loss if goal.target_k is None else None,
                 best_label=t("backprop.best_loss")),
          key="bp_fit_loss")
    dist = fit.distance(goal.kernel)
    best_text = f"{best_loss:.3g}" if best_loss > 1e-12 else "0"
    st.markdown(t("backprop.fit_status", n=fit.steps, loss=f"{fit.losses[-1]:.3g}", best=best_text, dist=f"{dist:.4f}"))
    if fit.diverged:
        st.error(t("backprop.diverged", n=fit.steps))
    elif goal.target_k is None:
        st.warning(t("backprop.unreachable", best=f"{best_loss:.3g}"))
    elif dist < 1e-3:
        st.success(t("backprop.converged", n=fit.steps))


def learning(goal: Goal, speed: int, L: dict) -> None:
    """The fit's view, run as a fragment by ``learn``: while playing only it reruns, ``speed`` steps per tick."""
    fit: bp.KernelFit = st.session_state["bp_fit"]
    if st.session_state.get("bp_play"):
        if _finished(fit, goal):
            st.session_state["_bp_stop_play"] = True
            st.rerun(scope="app")
        fit.step(speed)
    _kernels(fit, goal, L)
    _maps(fit, goal, L)
    _fit_status(fit, goal)


def learn(L: dict) -> None:
    fit_args, speed = fit_settings()
    playing = fit_controls(fit_args)
    goal = fit_goal(fit_args.image, fit_args.target)
    st.fragment(run_every=TICK if playing else None)(learning)(goal, speed, L)
    note(t("backprop.learn_note"))
    if st.button(t("backprop.open_inspector"), key="bp_open"):
        st.switch_page("pages/kernels.py", query_params={
            "kn_kernel": "custom", "kn_custom": format_kernel(np.round(st.session_state["bp_fit"].weights, 3)),
            "kn_src": goal.image})


# ================================================================ 3. conv vs dense
def _default_dataset() -> str:
    """The data set the lesson starts on: the Train page's choice, else MNIST."""
    chosen = st.session_state.get("tr_dataset")
    return chosen if chosen in datasets.CHOICES else datasets.DEFAULT


def _w(key: str, dkey: str) -> str:
    """A text's key for the data set ``dkey``: digits' wording on MNIST, pictures' (``…_other``) on another set."""
    return key if dkey == datasets.DEFAULT else f"{key}_other"


def _picture_labels():
    """The picture source's options for a data set other than MNIST: "A test picture", "Draw one" (the language bound
    now, as ``ui.shell.labels`` binds it)."""
    own, code = labels("backprop.dsrc_"), lang()
    return lambda value: translate(f"backprop.dsrc_{value}_other", code) if value == "test" else own(value)


def parameter_counts() -> None:
    st.header(t("backprop.dense_header"))
    # the picker below is drawn after this intro: its value as the widget holds it (else its default)
    shown = st.session_state.get("bp_dataset")
    st.markdown(t(_w("backprop.dense_intro", shown if shown in datasets.CHOICES else _default_dataset())))
    side = widget(st.select_slider, t("backprop.map_side"), BACKPROP["bp_side"])
    pc = bp.parameter_counts(side, side)
    c1, c2, c3 = st.columns(3)
    c1.metric(t("backprop.conv_params"), f"{pc['conv']:,}")
    c2.metric(t("backprop.dense_params"), f"{pc['dense']:,}")
    c3.metric(t("backprop.ratio"), f"{pc['ratio']:,.0f}×")
    st.caption(t("backprop.params_text", side=side, conv=f"{pc['conv']:,}", dense=f"{pc['dense']:,}"))


def small_config(cfg: dict, key: str) -> TrainConfig:
    """A small training's configuration on the data set ``key`` (your own images: their spec, never the pictures)."""
    own = datasets.own_spec(_own_held()) if key == datasets.OWN else None
    return TrainConfig(**cfg, dataset=key, own=own)


def _own_arrays(key: str, test_only: bool = False):
    """What an engine job on your own images takes with it: their arrays (``test_only``: the test pictures, the
    training ones left empty); None for a built-in set (the worker reads its own copy)."""
    held = _own_held() if key == datasets.OWN else None
    if held is None:
        return None
    if test_only:
        return held.train_x[:0], held.train_y[:0], held.test_x, held.test_y
    return held.train_x, held.train_y, held.test_x, held.test_y


def start_training(config: TrainConfig, data=None) -> jobs.TrainingJob | None:
    """One of the lesson's small trainings, on the job engine (never in the web process). Its owner is the learner
    who asked (their session, one job per model: the lesson's pair is not their Train page's training); on a built-in
    set it is started once per server and shared (``_small_runs``); on your own images (``data``, shipped once with
    the job) it is this session's."""
    try:
        job = jobs.TrainingJob(config, data, owner=f"{ui_jobs.owner()}/backprop-small-{config.model}")
    except UserError as exc:
        st.error(t_error(exc))
        return None
    return ui_jobs.start(job)


def _failed(job) -> bool:
    return job.done and job.result is None


def _small_runs() -> SharedRegistry:
    """The lesson's two small trainings, shared by every learner on this server (started once, on request)."""
    return shared_registry("backprop.small_runs")


def _shift_jobs() -> SharedRegistry:
    """Shifted-digit accuracy per trained model (by its weights' hash), computed on the engine and shared by
    every learner: a model is evaluated once per server (at most ``MAX_SHIFT_JOBS``; finished ones make room)."""
    return shared_registry("backprop.shift_jobs", max_entries=MAX_SHIFT_JOBS, evictable=lambda j: j.done)


def _fingerprint(model) -> str:
    """A small key for a trained model: a hash of its weights (the same weights give the same evaluation)."""
    h = hashlib.sha1()
    for p in model.state_dict().values():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _shift_count(config) -> int:
    """How many test pictures the shift experiment scores: the first 2,000 (fewer when your own set has fewer)."""
    held = _own_held() if config.dataset == datasets.OWN else None
    return min(SHIFT_DIGITS, len(held.test_y)) if held is not None else SHIFT_DIGITS


def _shift_job(kind: str, model, config) -> jobs.ShiftJob | None:
    """The (shared) engine job measuring ``model`` (the pair's ``kind``: ``"cnn"`` or ``"mlp"``) on shifted digits;
    started when there is none or it failed. Its owner is the learner who asked, per model: the pair's two jobs run
    together (one owner for both would refuse the second, "one job of this kind")."""
    def start():
        try:
            job = jobs.ShiftJob(model, config, digits=_shift_count(config), owner=f"{ui_jobs.owner()}/backprop-shift-{kind}",
                                data=_own_arrays(config.dataset, test_only=True))
        except UserError as exc:
            st.error(t_error(exc))
            return None
        return ui_jobs.start(job)

    # keyed by the weights and the data (the same weights on other pictures are another experiment)
    data_key = (config.own or {}).get("sha256", "") if config.dataset == datasets.OWN else config.dataset
    # your own images: the job (which holds their test pictures) stays with this session, as the pictures do
    registry = _session_registry("_bp_own_shift") if config.dataset == datasets.OWN else _shift_jobs()
    return registry.get_or_start(f"{_fingerprint(model)}-{data_key}", start, keep=lambda job: not _failed(job))


@st.cache_data(max_entries=128, show_spinner=False)
def _attributions(key: str, _model, x28: np.ndarray):
    """Saliency and occlusion for one digit and one trained model (by its weights' hash); shared by sessions."""
    sal, cls, probs = bp.saliency(_model, x28)
    return sal, cls, probs, bp.occlusion(_model, x28, cls, patch=PATCH, stride=PATCH_STEP)


def _small_key(kind: str, key: str) -> str:
    """The registry's name of a small training: ``"cnn"``/``"mlp"`` on MNIST, ``"cnn-fashion"`` …, on your own
    images ``"cnn-own-<hash>-<mode>"`` (this session's upload)."""
    if key == datasets.OWN:
        held = _own_held()
        return f"{kind}-own-{held.sha256[:16]}-{held.mode}"
    return kind if key == datasets.DEFAULT else f"{kind}-{key}"


def _small_registry(key: str) -> SharedRegistry:
    """Where the lesson's small trainings on ``key`` live: shared by the server for a built-in set, this session's
    own for your own images (their pictures never leave the session that uploaded them)."""
    return _small_runs() if key != datasets.OWN else _session_registry("_bp_own_small")


def _session_registry(name: str) -> SharedRegistry:
    """A registry of this session's own (jobs on your own images: they hold its pictures, and go with it)."""
    ss = st.session_state
    if not isinstance(ss.get(name), SharedRegistry):
        ss[name] = SharedRegistry(f"backprop.{name}")
    return ss[name]


def _session_models(key: str = datasets.DEFAULT) -> dict:
    """A CNN and an MLP trained on the data set ``key`` as ``(model, config, label)``: the newest of each from the
    Train page's runs, else the lesson's own small ones."""
    found = {}
    for run in reversed(st.session_state.get("tr_runs", [])):
        if run.config.dataset != key or run.model is None or (key == datasets.OWN and not _own_matches(run.config)):
            continue
        kind = "mlp" if run.config.model == "mlp" else "cnn"
        found.setdefault(kind, (run.model, run.config, run.label))
    if key == datasets.OWN and _own_held() is None:
        return found  # nothing uploaded on Train (yet): no run can be this set's
    shared = _small_registry(key)
    for kind in ("cnn", "mlp"):
        job = shared.get(_small_key(kind, key))
        if kind not in found and job is not None and job.done and job.result is not None:
            found[kind] = (job.result.model, job.result.config, t(f"backprop.small_{kind}"))
    return found


def _own_held():
    """The learner's own images as prepared on the Train page (``ownimages.OwnDataset``, kept with this session
    only), or None."""
    return st.session_state.get("_tr_own")


def _own_matches(config) -> bool:
    """Whether a run trained on own images was trained on the pictures this session holds (same hash and size)."""
    held, spec = _own_held(), getattr(config, "own", None) or {}
    return held is not None and spec.get("sha256") == held.sha256 and spec.get("mode") == held.mode


def _load_data(key: str = datasets.DEFAULT):
    """The data set ``key``, or ``None`` (and the message shown: how to get it) when it cannot be read. Your own
    images are the set prepared on the Train page (this session's; never a second upload here)."""
    if key == datasets.OWN:
        held = _own_held()
        if held is None:
            st.info(t("backprop.own_none"))
            return None
        return held.train_x, held.train_y, held.test_x, held.test_y
    if key == "fashion" and not datasets.available(key):
        st.warning(t("datasets.missing", package=datasets.FASHION_PACKAGE, env=datasets.FASHION_ENV))
        return None
    try:
        return built_in(key)
    except UserError as exc:
        st.error(t_error(exc))
        return None


def small_progress(running: bool, key: str = datasets.DEFAULT) -> None:
    """The lesson's small trainings' progress (a fragment, ticking while one runs); the page reruns at the end."""
    small = _small_registry(key).snapshot()  # a copy: other sessions may start one meanwhile
    for name, job in small.items():
        view = job.poll()
        what = t(f"backprop.small_{name.split('-')[0]}")
        if view.finished and job.result is None:
            st.error(t("backprop.train_failed", detail=literal(ui_jobs.failure_detail(view))))
        elif view.finished:
            st.caption(t(_w("backprop.trained", key), what=what, acc=f"{100 * job.result.test_accuracy:.1f}"))
        else:
            ui_jobs.status(view, t("backprop.training", what=what))
    if small and all(j.done for j in small.values()) and running:
        st.rerun(scope="app")


def small_trainings(models: dict, key: str = datasets.DEFAULT) -> None:
    """Fewer than two trained models: a button that trains the lesson's own small ones (on the data set ``key``),
    and their progress."""
    shared = _small_registry(key)
    st.info(t("backprop.need_models_own") if key == datasets.OWN else t(_w("backprop.need_models", key)))
    busy = any(not j.done for j in shared.values())
    if st.button(t("backprop.train_small"), key="bp_train", type="primary", disabled=busy):
        for kind, cfg in SMALL_RUNS.items():
            if kind not in models:  # started once, whoever presses at the same moment; a failed one again
                shared.get_or_start(_small_key(kind, key), lambda cfg=cfg: start_training(small_config(cfg, key),
                                                                                          _own_arrays(key)),
                                    keep=lambda job: not _failed(job))
    running = any(not j.done for j in shared.values())
    st.fragment(run_every=1.0 if running else None)(small_progress)(running, key)


def shift_progress(shift_jobs: dict, pending: list, n: int = SHIFT_DIGITS, key: str = datasets.DEFAULT) -> None:
    """The shift evaluations' progress (a fragment, ticking while one runs); the page reruns at the end."""
    for kind, job in shift_jobs.items():
        if job is not None and not job.done:
            ui_jobs.status(job.poll(), t(_w("backprop.evaluating", key), n=f"{n:,}"))
    if pending and all(j.done for j in pending):
        st.rerun(scope="app")


def shift_curves(models: dict, shift_jobs: dict, key: str = datasets.DEFAULT) -> None:
    """Accuracy on shifted digits, the CNN against the MLP: chart, summary and table."""
    curves = [(models[kind][2], shift_jobs[kind].result) for kind in ("cnn", "mlp")]
    chart(figure(figs.shift_curves, SHIFTS, curves, title=t(_w("backprop.shift_title", key)), x_title=t("backprop.shift_px"),
                 y_title=t("backprop.accuracy")), key="bp_shift")
    (n1, a1), (n2, a2) = curves
    st.caption(t(_w("backprop.shift_summary", key), cnn=literal(n1), mlp=literal(n2), c0=f"{100 * a1[0]:.1f}", c6=f"{100 * a1[-1]:.1f}",
                 m0=f"{100 * a2[0]:.1f}", m6=f"{100 * a2[-1]:.1f}", n=f"{_shift_count(models['cnn'][1]):,}"))
    st.dataframe([{t("backprop.shift_px"): s, n1: f"{100 * a:.1f} %", n2: f"{100 * b:.1f} %"}
                  for s, a, b in zip(SHIFTS, a1, a2)], hide_index=True)
    note(t(_w("backprop.shift_note", key)))


def shift_experiment(models: dict, key: str = datasets.DEFAULT) -> None:
    """Both models evaluated on shifted digits (engine jobs): their progress, then the curves."""
    shift_jobs = {kind: _shift_job(kind, models[kind][0], models[kind][1]) for kind in ("cnn", "mlp")}
    pending = [j for j in shift_jobs.values() if j is not None and not j.done]
    if pending:
        st.fragment(run_every=1.0 if pending else None)(shift_progress)(shift_jobs, pending,
                                                                        _shift_count(models["cnn"][1]), key)
    elif all(j is not None and j.result is not None for j in shift_jobs.values()):
        shift_curves(models, shift_jobs, key)
    else:
        failed = [j for j in shift_jobs.values() if j is not None and j.done and j.result is None]
        if failed:
            st.error(t("backprop.train_failed", detail=literal(ui_jobs.failure_detail(failed[0]))))


def conv_vs_dense() -> tuple:
    """Parameter counts, then a CNN and an MLP on shifted images of the chosen data set (the Train page's choice
    by default): ``(its data or None, the models, its key)``."""
    parameter_counts()
    key = widget(st.selectbox, t("datasets.picker"), BACKPROP["bp_dataset"],
                 default=_default_dataset(), format_func=labels("datasets."),  # your own images: Train's upload
                 help=t("datasets.picker_help"))
    data = _load_data(key)
    models = _session_models(key)
    if data is not None and len(models) < 2:
        small_trainings(models, key)
    if data is not None and len(models) == 2:
        shift_experiment(models, key)
    return data, models, key


# ================================================================ 4. what the network looks at
def pick_digit(data, key: str = datasets.DEFAULT) -> np.ndarray:
    """The digit to explain (28×28, 0…1; a colour picture of your own 32×32×3): drawn, or one of the test pictures;
    stops while nothing is drawn. Your own images: their test pictures only (a drawing is not one of them)."""
    src = "test" if key == datasets.OWN else widget(st.radio, t(_w("backprop.digit_source", key)), BACKPROP["bp_dsrc"],
                                                    horizontal=True,
                                                    format_func=labels("backprop.dsrc_") if key == datasets.DEFAULT
                                                    else _picture_labels())
    x28 = None
    if src == "draw":
        drawing = draw_canvas("bp_canvas", t("backprop.clear"), label=t(_w("backprop.canvas_label", key)))
        if drawing is not None:
            x28 = preprocess_drawing(drawing)
            if x28.max() == 0:
                x28 = None
        if x28 is None:
            st.info(t(_w("backprop.draw_hint", key)))
            st.stop()
    else:
        idx = int(widget(st.number_input, t("backprop.digit_index" if key == datasets.DEFAULT else "backprop.picture_index"),
                         BACKPROP["bp_digit"],
                         max_value=len(data[2]) - 1))
        x28 = data[2][idx] / 255.0
        if key == datasets.OWN:
            st.caption(t("backprop.own_picture", i=idx, label=literal(str(datasets_names(key)[int(data[3][idx])]))))
    return x28


def datasets_names(key: str) -> list[str]:
    """The class names of ``key`` in the learner's language (your own images: their folders' names)."""
    if key == datasets.OWN:
        held = _own_held()
        return list(held.class_names) if held is not None else []
    return datasets.get(key).class_names(lang())


def attributions(cnn: tuple, x28: np.ndarray, L: dict, names: list[str] | None = None,
                 key: str = datasets.DEFAULT) -> None:
    """The CNN's prediction for the digit (``names``: its data set's classes), its saliency and occlusion maps."""
    model, _, name = cnn
    sal, cls, probs, occ = _attributions(_fingerprint(model), model, np.asarray(x28, dtype=np.float32))
    coords = bp.occlusion_centres(PATCH, PATCH_STEP, side=int(np.asarray(x28).shape[0]))
    shown = literal(str(names[cls])) if names and 0 <= cls < len(names) else cls
    st.markdown(t("backprop.look_pred", model=literal(name), pred=shown, p=f"{100 * probs[cls]:.1f}"))
    g1, g2, g3 = st.columns(3)
    shown_x = np.asarray(x28, dtype=np.float64)
    with g1:
        title = t(_w("backprop.digit_title", key))
        chart(figure(net_figs.patches, shown_x[None], [""], title=title, cols=1, height=300) if shown_x.ndim == 3 else
              figure(figs.attribution, shown_x, title=title, colorscale="Greys", reversescale=True, zmin=0, zmax=1, **L),
              key="bp_digit_fig")  # a colour picture in its colours
    with g2:
        chart(figure(figs.attribution, sal, title=t("backprop.saliency_title", k=cls), zmin=0, **L), key="bp_sal")
        top = np.unravel_index(int(np.argmax(sal)), sal.shape)
        st.caption(t("backprop.saliency_text", k=cls, r=int(top[0]), c=int(top[1])))
    with g3:
        # the colour range spans this map's own values: a confident network moves by a few per cent only
        chart(figure(figs.attribution, occ, title=t("backprop.occlusion_title", k=cls), colorscale="RdBu",
                     coords=coords, **L), key="bp_occ")
        low = np.unravel_index(int(np.argmin(occ)), occ.shape)
        st.caption(t(_w("backprop.occlusion_text", key), k=cls, size=PATCH, p=f"{100 * probs[cls]:.1f}",
                     low=f"{100 * occ.min():.1f}", r=f"{coords[low[0]]:g}", c=f"{coords[low[1]]:g}"))


def look(data, models: dict, L: dict, key: str = datasets.DEFAULT) -> None:
    st.header(t("backprop.look_header"))
    st.markdown(t("backprop.look_intro"))
    cnn = models.get("cnn") if data is not None else None
    if cnn is None:
        st.info(t("backprop.need_cnn"))
        st.stop()
    attributions(cnn, pick_digit(data, key), L, datasets_names(key), key)
    note(t("backprop.look_note"))


view = lesson_views("backprop", "bp_view", VIEWS)
L = lab()


# The lesson shows one part at a time (a full run, e.g. the language, draws that part alone: the page's server CPU
# per click); each part is a fragment, so a click on one of its settings reruns that part alone.
@st.fragment
def by_hand() -> None:
    ex = hand_example()
    ss = st.session_state  # predict first (ui/questions.py): the by-hand example's settings, as the widgets hold them
    if forward_pass(ex, L, dict(input=ss["bp_input"], kernel=ss["bp_kernel"], target=ss["bp_target"], bias=ss["bp_bias"],
                                stride=ss["bp_s"], padding=ss["bp_p"])):
        weight_gradient(ex, L)
        input_gradient(ex, L)


@st.fragment
def trained_networks() -> None:
    data, models, data_key = conv_vs_dense()
    look(data, models, L, data_key)


if view == "hand":
    by_hand()
elif view == "learn":
    st.fragment(learn)(L)
else:
    trained_networks()
