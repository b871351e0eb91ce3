"""Lesson — Inside the network: a whole trained CNN on one input. Every layer as a column; click any channel and
position for the exact arithmetic of that unit; softmax with its numbers; what a channel looks for.

The model is the learner's newest finished run (or one picked), else the reference CNN shipped with the app
(``explainer.learning.network.reference_model``). Traces are cached per model (run id or "reference") and input across
sessions; the top patches and optimised inputs are engine jobs (``explainer.engine.jobs``)."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import hashlib
import html
from typing import NamedTuple

import numpy as np
import streamlit as st

from explainer import limits
from explainer.engine import jobs
from explainer.learning import network as N
from explainer.learning.runs import KeptRun
from explainer.data.draw import preprocess_drawing
from explainer.errors import UserError
from explainer.figures import backprop as bp_figs
from explainer.figures import network as figs
from explainer.figures.style import fmt, number
from explainer.data import datasets
from explainer.data.images import LUMA, decode_upload
from ui import jobs as ui_jobs
from ui import runs as runstore
from ui.data import built_in
from ui.canvas import draw_canvas
from ui.charts import By, chart, figure
from ui.questions import ask_all
from ui.registry import shared_registry
from ui.shell import from_outside, lang, literal, note, t, t_error, widget
from ui.shell import phone as phone_browser
from ui.tables.network import SHOWN, TABLE as NW

CFG = {"displayModeBar": False}
# A tap on a chart fires Plotly's plotly_click but not the plotly_selected that Streamlit's on_select listens to
# (a mouse click fires both): after a touch, a chart whose clickmode selects gets that event with the tapped
# points (their plain fields: the full ones refer to the chart itself, which Streamlit can't copy). Once per page.
TAP_SELECT = """<script>(() => {
  if (window.__cxTapSelect) return;
  window.__cxTapSelect = true;
  let touch = 0;
  document.addEventListener('touchstart', () => { touch = Date.now(); }, true);
  const hook = gd => {
    if (gd.__cxTap || !gd.on) return;
    gd.__cxTap = true;
    gd.on('plotly_click', ev => {
      const mode = (gd._fullLayout && gd._fullLayout.clickmode) || '';
      if (!touch || Date.now() - touch > 1500 || !mode.includes('select') || !ev || !ev.points) return;
      const points = ev.points.map(p => ({curveNumber: p.curveNumber, pointNumber: p.pointNumber,
                                         pointIndex: p.pointIndex, x: p.x, y: p.y, data: p.data,
                                         fullData: p.fullData}));
      setTimeout(() => gd.emit('plotly_selected', {points: points, selections: []}), 0);
    });
  };
  setInterval(() => document.querySelectorAll('.js-plotly-plot').forEach(hook), 300);
})();</script>"""
PATCH, PATCH_STEP = 8, 2  # occlusion as on "How kernels learn"


def lab() -> dict:
    return dict(x_title=t("common.column"), y_title=t("common.row"), value_label=t("common.value"))


# ---------------------------------------------------------------- shared caches (all sessions)
def _mnist_test(dataset: str = "mnist"):
    """The test images and labels of the model's data set (``ui.data``: loaded once per server for every page)."""
    data = built_in(dataset)
    return data[2], data[3]


@st.cache_resource(show_spinner=False)
def _reference():
    """The shipped reference CNN, what ``--make-reference`` recorded, and its training configuration."""
    from explainer.learning.train import TrainConfig

    info = N.reference_info()
    return N.reference_model(), info, TrainConfig.from_dict(info["config"])


@st.cache_resource(show_spinner=False, max_entries=64)
def _trace(model_key: str, input_key: str, _model, _x: np.ndarray):
    """Every layer of ``_model`` on ``_x``, by small keys: the model (run id / "reference") and the input."""
    return N.trace(_model, _x)


@st.cache_resource(show_spinner=False, max_entries=64)
def _overview(model_key: str, input_key: str, shown: int, lang: str, names: tuple, _layers, texts: tuple,
              phone: bool = False, classes: tuple | None = None):
    """``(figure, points, boxes)``: the overview without a selection (its maps' pictures, the costly part: made
    once per model, input and wording for every session), its clickable points and their tiles' boxes."""
    boxes: dict = {}
    fig, points = (figs.overview_rows if phone else figs.overview)(
        _layers, shown=shown, selected=None, feed=None, predicted=int(np.argmax(_layers[-1].output)),
        names=list(names), range_fmt=texts[0], hover=texts[1], channel_word=texts[2], title=texts[3],
        classes=list(classes) if classes else None, boxes=boxes)
    return fig, points, boxes


@st.cache_resource(show_spinner=False, max_entries=64)
def _attributions(model_key: str, input_key: str, _model, _x: np.ndarray):
    """Grad-CAM, saliency and occlusion for one input and one model (as "How kernels learn" computes the last two)."""
    from explainer.learning import backprop as bp

    cam, cls, conv = N.grad_cam(_model, _x, traced=_trace(model_key, input_key, _model, _x))
    sal, _, probs = bp.saliency(_model, _x, cls)
    occ = bp.occlusion(_model, _x, cls, patch=PATCH, stride=PATCH_STEP)
    return cam, cls, conv, sal, probs, occ


def _input_figure(_x: np.ndarray, texts: tuple):
    """The 28×28 input as the network receives it (``chart(figure(_input_figure, By(input_key, x), texts))``: built
    and sent as the same wire dict for every session that shows this input with this wording)."""
    title, x_title, y_title, value_label = texts
    if np.ndim(_x) == 3:  # a colour picture (H, W, 3), in its colours
        return figs.patches(np.asarray(_x)[None], [""], title=title, cols=1, height=300)
    return bp_figs.attribution(_x * 255, title=title, colorscale="Greys", zmin=0, zmax=255, height=300,
                               x_title=x_title, y_title=y_title, value_label=value_label)


def _shared_jobs():
    """Top-patch and optimised-input jobs per (model, layer[, channel]): started once, shared by every learner
    (a locked registry; the oldest finished ones go beyond 64)."""
    return shared_registry("network.jobs", max_entries=64, evictable=lambda j: j.done)


# ---------------------------------------------------------------- the model
def _own_held(config=None):
    """The learner's own images prepared on the Train page (this session's), when ``config`` (a run's) was trained
    on exactly these pictures (same hash and size; None: any run); else None."""
    held = st.session_state.get("_tr_own")
    spec = (getattr(config, "own", None) or {}) if config is not None else None
    if held is None or (spec is not None and (spec.get("sha256") != held.sha256 or spec.get("mode") != held.mode)):
        return None
    return held


def session_runs() -> list[KeptRun]:
    runs: list[KeptRun] = st.session_state.setdefault("tr_runs", [])
    runstore.restore_runs(runs)
    # a run on a learner's own images only while this session holds its pictures (the run store keeps none)
    return [r for r in runs if r.model is not None and (r.config.dataset != datasets.OWN or _own_held(r.config))]


def dataset_of(config) -> str:
    return getattr(config, "dataset", datasets.DEFAULT)


def test_pictures(config):
    """The test pictures and labels of the model's data set (``config``'s): MNIST or Fashion-MNIST (loaded once per
    server), your own images (this session's upload)."""
    if dataset_of(config) == datasets.OWN:
        held = _own_held(config)
        if held is None:
            raise UserError("errors.zip.own_gone")
        return held.test_x, held.test_y
    return _mnist_test(dataset_of(config))


def class_names(config) -> list[str]:
    """The model's classes in the learner's language (your own images: the folders' names, shown literally)."""
    if dataset_of(config) == datasets.OWN:
        return list(config.own["names"])
    return datasets.get(dataset_of(config)).class_names(lang())


def _other(key: str, config) -> str:
    """A text's key for the model's data set: digits' wording on MNIST, pictures' (``…_other``) on another set."""
    return key if dataset_of(config) == datasets.DEFAULT else f"{key}_other"


def _fingerprint(model) -> str:
    return N.model_key_of(model)


def _run_value(run: KeptRun) -> str:
    """How ``nw_model`` names a run: its id in the run store, else (a run the store refused) its weights' key."""
    if not run.id and run.weights_key is None:
        run.weights_key = _fingerprint(run.model)
    return run.id or run.weights_key


def _linked_run(runs: list[KeptRun], value) -> str | None:
    """``nw_model`` as this session can show it: "newest", "reference" or one of its runs' values; a run id the
    session doesn't hold yet is loaded from the run store (as ``?run=`` does). Anything else (a link of an older
    version named runs by place, "run3"; a run the store no longer keeps) gets a message: None."""
    if value in ("newest", "reference") or any(_run_value(r) == value for r in runs):
        return value
    from explainer.engine.runstore import valid_id

    if valid_id(value):
        run = runstore.load(value)
        if run is not None and run.model is not None:
            runs.append(run)
            runstore.publish_ids([r.id for r in runs if r.id])
            return value
    return None


def choose_model() -> tuple:
    """``(model, key, label, config)``: the newest finished run, one picked, or the reference model."""
    runs = session_runs()
    ss = st.session_state
    asked = st.query_params.get("nw_model")
    if asked is not None and from_outside("nw_model", asked) and _linked_run(runs, asked) is None:
        st.warning(t("network.model_missing", value=literal(asked if len(asked) <= 40 else asked[:40] + "…")))  # the page goes on with the reference model
        st.query_params["nw_model"] = "reference"
        ss["nw_model"] = "reference"
    elif ss.get("nw_model") is not None and _linked_run(runs, ss["nw_model"]) is None:
        ss["nw_model"] = "reference"
    options = ["newest", "reference"] + [_run_value(r) for r in runs]
    names = {"newest": t("network.model_newest") if runs else t("network.model_newest_none"),
             "reference": t("network.model_reference")}
    names.update({_run_value(r): r.label for r in runs})

    def selectbox(label: str, *, key: str, max_chars: int | None = None, **kwargs):
        """A select box over this session's runs (by id) for the text setting ``nw_model``."""
        return st.selectbox(label, key=key, options=options, **kwargs)

    choice = widget(selectbox, t("network.model"), NW["nw_model"], format_func=lambda o, n=names: n.get(o, o),
                    publish_if=lambda v, o=options: v in o)
    if choice == "newest":
        choice = _run_value(runs[-1]) if runs else "reference"
    if choice == "reference" or choice not in names:
        model, info, config = _reference()
        st.caption(t("network.reference_caption", acc=f"{100 * info['test_accuracy']:.2f}"))
        return model, "reference", t("network.model_reference"), config
    run = next(r for r in runs if _run_value(r) == choice)
    acc = run.test_accuracy
    st.caption(t(_other("network.run_caption", run.config), name=literal(run.label),
                 acc=f"{100 * acc:.2f} %" if acc == acc and acc is not None else "…"))
    return run.model, choice, run.label, run.config


# ---------------------------------------------------------------- the input
def _random_digit(cls: int, config=None) -> None:
    """Button callback: a random test picture of class ``cls`` (runs before the widgets are drawn)."""
    _, y = test_pictures(config)
    idx = np.flatnonzero(y == cls)
    rng = np.random.default_rng()
    st.session_state["nw_digit"] = int(rng.choice(idx)) if idx.size else 0


def choose_input(config=None) -> tuple[np.ndarray, str, int | None, int | None] | None:
    """``(x in [0, 1], key, true label or None, test index or None)``, or None (with a hint) while empty. ``x`` is
    28×28, or 32×32×3 for a run on colour pictures of your own. A model of another data set than MNIST is given its
    own test pictures only: a drawing or an upload is prepared as a digit, which such a model never saw."""
    key = dataset_of(config)
    mnist = key == datasets.DEFAULT
    src = widget(st.segmented_control, t("network.source"), NW["nw_src"], required=True,
                 format_func=lambda o, m=mnist: t(f"network.src_{o}" if m or o != "test" else "network.src_test_other"),
                 **({} if mnist else dict(options=["test"], default="test")))
    if not mnist:
        note(t("network.test_only", name=t(f"datasets.{key}")))
    if src == "test":
        try:
            x_test, y_test = test_pictures(config)  # the model's own data set's test images
        except UserError as exc:
            st.error(t_error(exc))
            return None
        names = class_names(config)
        # the button's words ("A random one of this digit") need more than a quarter of a 1280 px page
        c1, c2, c3 = st.columns([3, 2, 3], vertical_alignment="bottom")
        with c1:
            i = int(widget(st.number_input, t(_other("network.digit", config)), NW["nw_digit"],
                           max_value=len(x_test) - 1))
        with c2:
            cls = widget(st.selectbox, t(_other("network.class", config)), NW["nw_class"],
                         options=list(range(len(names))), default=min(7, len(names) - 1),
                         format_func=lambda k, n=names: n[k] if 0 <= k < len(n) else str(k))
        with c3:
            st.button(t(_other("network.random", config)), key="nw_random", on_click=_random_digit, args=(cls, config),
                      width="stretch")
        # the input's key names its data set: test picture 5 of Fashion-MNIST is not MNIST's test digit 5
        where = "" if mnist else (f"{key}-" if key != datasets.OWN else f"own{config.own['sha256'][:12]}-")
        return x_test[i].astype(np.float32) / 255.0, f"{where}test{i}", int(y_test[i]), i
    if src == "draw":
        img = draw_canvas("nw_canvas", t("network.clear"), label=t("network.canvas_label"))
        if img is None:
            st.info(t("network.draw_hint"))
            return None
        key = "draw" + hashlib.sha1(img.tobytes()).hexdigest()[:16]
    else:
        up = st.file_uploader(t("network.upload"), key="nw_upload", max_upload_size=limits.mb(limits.UPLOAD_BYTES))
        if up is None:
            st.info(t("network.upload_hint"))
            return None
        kept = st.session_state.get("_nw_upload")  # decoded once per file, not on every rerun
        if kept is None or kept[0] != up.file_id:
            try:
                kept = (up.file_id, decode_upload(up.getvalue())[0],
                        "up" + hashlib.sha1(up.getvalue()).hexdigest()[:16])
            except UserError as exc:
                st.error(t_error(exc))
                return None
            st.session_state["_nw_upload"] = kept
        _, img, key = kept
    x = preprocess_drawing(img)  # exactly as on Train: crop to the ink, 20 px, centre of mass in the middle
    if x.max() == 0:
        st.info(t("network.draw_empty"))
        return None
    return x, key, None, None


# ---------------------------------------------------------------- names
def layer_names(layers) -> list[str]:
    counts: dict[str, int] = {}
    out = []
    for L in layers:
        counts[L.kind] = counts.get(L.kind, 0) + 1
        out.append(t(f"network.kind_{L.kind}", n=counts[L.kind], f=getattr(L, "function", "") or ""))
    return out


def shape_of(L) -> str:
    return "×".join(map(str, L.output.shape))


# ---------------------------------------------------------------- overview
def follow_overview_click(points_key: str) -> None:
    """A click on a channel of the overview selects its layer and channel (before the pickers are drawn)."""
    ss = st.session_state
    n = ss.get("_nw_ov_n", 0)
    event = ss.get(f"nw_ov_{n}")
    pts = (event or {}).get("selection", {}).get("points", []) if event else []
    points = ss.get(points_key) or []
    if pts:
        idx = pts[0].get("point_index", pts[0].get("point_number"))
        if isinstance(idx, int) and 0 <= idx < len(points):
            ss["nw_layer"], ss["nw_channel"] = points[idx]
            ss["nw_row"], ss["nw_col"] = ss.get("nw_row", 0), ss.get("nw_col", 0)
        ss["_nw_ov_n"] = n + 1  # a fresh chart: the same channel can be clicked again


def _selected(fig, boxes: dict, layers, selected: tuple[int, int]):
    """The overview ``fig`` (drawn without a selection) with ``selected`` (layer, channel) outlined and the channels
    of the layer before that feed it (``figs.with_selection``): built once per selection, for every session."""
    feed = N.feeders(layers, *selected) if selected[0] > 0 else None
    return figs.with_selection(fig, boxes, selected, feed)


def overview(layers, names, model_key: str, input_key: str, pred: int, classes: list[str] | None = None,
             config=None) -> tuple[int, int]:
    st.header(t("network.overview_header"))
    note(t(_other("network.overview_intro", config)))
    phone = phone_browser()
    if phone:
        note(t("network.rows_note"))
    follow_overview_click("_nw_points")
    ss = st.session_state
    opts = list(range(1, len(layers)))
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    with c1:
        layer = widget(st.selectbox, t("network.layer"), NW["nw_layer"], options=opts,
                       format_func=lambda i, n=names, L=layers: f"{n[i]} · {shape_of(L[i])}" if 0 <= i < len(n) else str(i))
    C = layers[layer].output.shape[0]
    with c2:
        channel = int(widget(st.number_input, t("network.channel_label"), NW["nw_channel"], max_value=C - 1,
                             help=t("network.channel_help")))
    with c3:
        show_all = widget(st.toggle, t("network.show_all"), NW["nw_all"])
    channel = min(channel, C - 1)
    texts = (t("network.range"), t("common.value"), t("network.channel_word"), t("network.overview_title"))
    first = figs.ROW_TILES if phone else SHOWN  # a phone: one row of maps per layer until "show all"
    shown = 0 if show_all else first
    code, titles, cls = ss.get("lang", "en"), tuple(f"{n}<br>{shape_of(L)}" for n, L in zip(names, layers)), \
        tuple(classes or ())
    fig, points, boxes = _overview(model_key, input_key, shown, code, titles, layers, texts, phone, cls)
    ss["_nw_points"] = points
    # the selected channel outlined (and the ones feeding it) on that figure: once per selection for every session;
    # the figure cache knows the overview, its boxes and the trace by the small values they are made of
    base = (model_key, input_key, shown, code, titles, texts, phone, cls)
    n = ss.get("_nw_ov_n", 0)
    deep = max(L.output.shape[0] for L in layers if L.output.ndim == 3)
    summary = t("network.overview_summary", n=len(layers), pred=literal(classes[pred]) if classes else pred,
                p=f"{100 * layers[-1].output[pred]:.1f}", layer=names[layer], c=channel)
    chart(figure(_selected, By(base, fig), By(base, boxes), By(base, layers), (layer, channel)), key=f"nw_ov_{n}",
          name=t("network.overview_title"), summary=summary, table=False, on_select="rerun", selection_mode="points",
          config=CFG)
    if not show_all and deep > first:
        note(t("network.shown_note", k=first))
    return layer, channel


# ---------------------------------------------------------------- detail of one unit
def follow_map_click(h: int, w: int) -> None:
    ss = st.session_state
    n = ss.get("_nw_map_n", 0)
    event = ss.get(f"nw_map_{n}")
    pts = (event or {}).get("selection", {}).get("points", []) if event else []
    if pts and "x" in pts[0] and "y" in pts[0]:
        r, c = int(round(pts[0]["y"])), int(round(pts[0]["x"]))
        if 0 <= r < h and 0 <= c < w:
            ss["nw_row"], ss["nw_col"] = r, c
        ss["_nw_map_n"] = n + 1


def detail(model, x, layers, names, layer: int, channel: int, test_index: int | None, model_key: str,
           classes: list[str] | None = None, mnist: bool = True) -> None:
    st.header(t("network.detail_header"))
    note(t("network.detail_intro"))
    L = layers[layer]
    L_ = lab()
    row = col = 0
    if L.output.ndim == 3:
        h, w = L.output.shape[1:]
        follow_map_click(h, w)
        c1, c2 = st.columns(2)
        with c1:
            row = int(widget(st.number_input, t("network.row"), NW["nw_row"], max_value=h - 1))
        with c2:
            col = int(widget(st.number_input, t("network.col"), NW["nw_col"], max_value=w - 1))
        row, col = min(row, h - 1), min(col, w - 1)
        n = st.session_state.get("_nw_map_n", 0)
        chart(figure(figs.map_picker, L.output[channel], row, col, title=t("network.map_title", layer=names[layer], c=channel,
                                                                   r=row, col=col), **L_),
              key=f"nw_map_{n}", name=t("network.map_name"), on_select="rerun", selection_mode="points", config=CFG)
    unit = N.unit_for(layers, layer, channel, row, col)
    if unit is None:
        st.info(t(f"network.no_unit_{L.kind}"))
        return
    u = N.explain_unit(model, x, *unit, traced=layers)
    U = layers[u.layer]
    if unit[0] != layer:
        st.markdown(t("network.unit_behind", layer=names[u.layer], c=u.channel, r=u.row, col=u.col))
    logits = max((i for i, L_i in enumerate(layers) if L_i.kind == "dense"), default=-1)
    if u.layer == logits and classes and 0 <= u.channel < len(classes):  # a logit: the score of one class
        st.markdown(t("network.unit_class", k=u.channel, name=literal(classes[u.channel])))
    if U.kind == "conv":
        conv_arithmetic(u, layers, names, test_index, model_key, mnist)
    else:
        dense_arithmetic(u, layers, names)
    lines = [t("network.sum_partial", n=len(u.partial_sums), total=fmt(u.partial_sums.sum()), b=fmt(u.bias),
               pre=fmt(u.pre_activation))]
    if u.activated is not None:
        lines.append(t("network.sum_activation", f=u.activation, pre=fmt(u.pre_activation), v=fmt(u.activated)))
    if u.pooled is not None:
        lines.append(t("network.sum_pooled", r=u.pooled_at[0], c=u.pooled_at[1], v=fmt(u.pooled)))
    st.markdown("\n".join(f"- {line}" for line in lines))
    st.caption(t("network.matches", v=number(u.value, ".6g"), pre=number(u.pre_activation, ".6g")))


def conv_arithmetic(u, layers, names, test_index: int | None, model_key: str, mnist: bool = True) -> None:
    U = layers[u.layer]
    c_in = u.windows.shape[0]
    L_ = lab()
    st.markdown(t("network.conv_text", c_in=c_in, k=U.size, s=U.stride, p=U.padding, prev=names[u.layer - 1]))
    chart(figure(figs.bars, u.partial_sums, labels=[str(i) for i in range(c_in)], title=t("network.partials_title"),
                    x_title=t("network.in_channel"), y_title=t("network.partial"), height=260),
          key="nw_partials", name=t("network.partials_title"), config=CFG,
          summary=t("network.partials_summary", n=c_in, hi=fmt(u.partial_sums.max()),
                    khi=int(np.argmax(u.partial_sums)), lo=fmt(u.partial_sums.min()),
                    klo=int(np.argmin(u.partial_sums)), total=fmt(u.partial_sums.sum())))
    k = int(widget(st.number_input, t("network.in_channel"), NW["nw_in"], max_value=c_in - 1,
                   help=t("network.in_help")))
    k = min(k, c_in - 1)
    # as the Kernels inspector: two grids a row (three in a row left no room for their numbers)
    a, b = st.columns(2)
    with a:
        chart(figure(figs.unit_grid, u.windows[k], title=t("network.window_title", k=k), colorbar_title=t("common.value"),
                             **L_), key="nw_win", config=CFG)
    with b:
        chart(figure(figs.unit_grid, u.kernels[k], title=t("network.kernel_title", k=k), colorbar_title=t("network.weight"),
                             **L_), key="nw_ker", config=CFG)
    c, d = st.columns(2, vertical_alignment="center")
    with c:
        chart(figure(figs.unit_grid, u.products[k], title=t("network.products_title", k=k),
                             colorbar_title=t("network.product"), **L_), key="nw_prod", config=CFG)
    with d:
        st.markdown(t("network.partial_line", k=k, n=u.products[k].size, v=fmt(u.partial_sums[k])))
        kernels_link(u, U, k, test_index, model_key, mnist)


def kernels_link(u, U, k: int, test_index: int | None, model_key: str, mnist: bool = True) -> None:
    """A button to the Kernels lesson with this kernel slice (exact) on input channel ``k``'s map as this convolution
    reads it (``kn_map``: model, test digit, layer, channel; Kernels recomputes the map) at the unit's window: there
    the window, products and their sum are this page's numbers. A link can name only what another page can make
    again: a test digit and the reference model or a run the store keeps."""
    from explainer.maths.kernels import MAX_SIZE
    from explainer.engine.runstore import valid_id

    if U.size > MAX_SIZE:
        return
    if test_index is None or not (model_key == "reference" or valid_id(model_key)):
        st.caption(t(("network.open_needs_test" if mnist else "network.open_needs_mnist") if test_index is None
                     else "network.open_needs_store"))
        return
    params = {"kn_view": "explore", "kn_kernel": "custom", "kn_custom": N.kernel_text(u.kernels[k]),
              "kn_div": "none", "kn_bias": "0.0", "kn_flip": "0", "kn_out": "raw",
              "kn_map": f"{model_key},{test_index},{u.layer},{k}",
              "kn_row": str(u.row * U.stride), "kn_col": str(u.col * U.stride)}
    st.session_state["_nw_kernels_link"] = params  # what the button sends (tests read it)
    if st.button(t("network.open_kernels"), key="nw_open_kernel"):
        st.switch_page("pages/kernels.py", query_params=params)
    note(t("network.open_note", s=U.stride, r=u.row * U.stride, c=u.col * U.stride))


def dense_arithmetic(u, layers, names) -> None:
    n = u.products.size
    st.markdown(t("network.dense_text", n=n, prev=names[u.layer - 1]))
    flat = u.products.ravel()
    top = np.argsort(-np.abs(flat), kind="stable")[:20]
    chart(figure(figs.bars, flat[top], labels=[str(i) for i in top], title=t("network.dense_title", k=len(top)),
                    x_title=t("network.feature"), y_title=t("network.product"), height=280),
          key="nw_dense", name=t("network.dense_name"), config=CFG)


# ---------------------------------------------------------------- softmax
def softmax_section(layers, true_label: int | None, classes: list[str] | None = None, config=None) -> None:
    st.header(t(_other("network.softmax_header", config)))
    note(t(_other("network.softmax_intro", config)))
    temp = widget(st.slider, t("network.temperature"), NW["nw_temp"], help=t("network.temperature_help"))
    s = N.softmax_steps(N.logits_of(layers), temp)
    classes = classes or [str(i) for i in range(len(s.probs))]
    col = t(_other("network.col_digit", config))
    # true minus signs ("−0.5267", "6.4e−07"), as in every other number of the app
    rows = [{col: classes[i], t("network.col_logit"): number(z, ".4f"),
             t("network.col_scaled"): number(v, ".4f"), t("network.col_exp"): number(e, ".6g"),
             t("network.col_prob"): f"{100 * p:.3f} %"} for i, (z, v, e, p) in
            enumerate(zip(s.logits, s.scaled, s.exp, s.probs))]
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(rows, hide_index=True, width="stretch")
    with right:
        chart(figure(figs.bars, 100 * s.probs, labels=[html.escape(c) for c in classes],
                     title=t("network.probs_title", t=f"{temp:g}"), x_title=col, y_title=t("network.col_prob"),
                     mark=s.winner, fmt=".1f",
                     height=300), key="nw_probs", name=t("network.probs_name"), config=CFG)
    st.markdown(t("network.softmax_sum", total=f"{s.total:.6g}", shift=f"{s.shift:g}") if s.shift else
                t("network.softmax_total", total=f"{s.total:.6g}"))
    st.markdown(t("network.softmax_winner", k=literal(classes[s.winner]), margin=f"{s.margin:.3f}", p=f"{100 * s.probs.max():.2f}"))
    if true_label is not None:
        st.caption(t(_other("network.true_label", config), y=literal(classes[true_label])))


# ---------------------------------------------------------------- what a channel looks for
class SharedJob(NamedTuple):
    """A shared job's name in the server-wide registry: its kind ("patches": a layer's top patches; "optimise": one
    channel's optimised input), the model's key, the layer and (for "optimise") the channel."""
    kind: str
    model_key: str
    layer: int
    channel: int | None = None


def looks_for(model, config, model_key: str, layers, names, layer: int, channel: int) -> None:
    st.header(t("network.looks_header"))
    note(t(_other("network.looks_intro", config)))
    ui_jobs.warm_up()  # its two buttons start engine jobs: the engine (and Dask's import) starts in the background
    L = layers[layer]
    shared = _shared_jobs()
    if L.output.ndim == 3 and L.kind != "input":
        pkey = SharedJob("patches", model_key, layer)
        okey = SharedJob("optimise", model_key, layer, channel)
        c1, c2 = st.columns(2)
        with c1:
            if shared.get(pkey) is None and st.button(t("network.find_patches"), key="nw_find_patches"):
                held = _own_held(config) if dataset_of(config) == datasets.OWN else None  # its test pictures go along
                shared.get_or_start(pkey, lambda: ui_jobs.start(jobs.TopPatchesJob(
                    model, config, layer, owner=ui_jobs.owner(),
                    data=None if held is None else (held.train_x[:0], held.train_y[:0], held.test_x, held.test_y))))
        with c2:
            if shared.get(okey) is None and st.button(t("network.optimise"), key="nw_optimise"):
                shared.get_or_start(okey, lambda: ui_jobs.start(
                    jobs.OptimiseInputJob(model, config, layer, channel, owner=ui_jobs.owner())))
        running = any(j is not None and not j.done for j in (shared.get(pkey), shared.get(okey)))
        # polls once a second only while a job runs (defined once that is known, as on the Train page)
        st.fragment(run_every=1.0 if running else None)(job_results)(pkey, okey, running, layer, channel, config)
    else:
        st.info(t("network.looks_spatial"))


def job_results(pkey: SharedJob, okey: SharedJob, was_running: bool, layer: int, channel: int, config) -> None:
    """The two jobs' progress (polled every second while one runs), then their pictures."""
    shared = _shared_jobs()
    running = False
    for key in (pkey, okey):
        job = shared.get(key)
        if job is None:
            continue
        view = job.poll()
        if not view.finished:
            running = True
            ui_jobs.status(view, t("network.job_running"))
        elif job.result is None:
            st.error(t("network.job_failed", detail=literal(ui_jobs.failure_detail(view))))
            if st.button(t("network.retry"), key=f"nw_retry_{key.kind}"):
                shared.pop(key, None)
                st.rerun()
    pjob = shared.get(pkey)
    res = pjob.result if pjob is not None and pjob.done else None
    if res is not None:
        ch = min(channel, res["patches"].shape[0] - 1)
        caps = [f"#{i} · {number(v, '.2f')}" for i, v in zip(res["index"][ch], res["value"][ch])]
        size = res["field"][0]
        title = t(_other("network.patches_title", config), c=ch, s=size)
        phone = phone_browser()
        if phone:  # a phone: 3 a row, the title above (one line of it is wider than the screen)
            st.markdown(f"**{title}**")
        chart(figs.patches(np.clip(res["patches"][ch], 0, 1), caps, title="" if phone else title,
                           cols=3 if phone else 9, height=430 if phone else 170),
              key="nw_patches", name=t("network.patches_name"), config=CFG,
              summary=t("network.patches_summary", c=ch, items=", ".join(caps)))  # not the mosaic's "11×99 grid"
    ojob = shared.get(okey)
    opt = ojob.result if ojob is not None and ojob.done else None
    if opt is not None:
        c1, c2 = st.columns(2)
        with c1:
            title = t("network.optimised_title", c=channel)
            chart(figs.patches(opt["image"][None], [""], title=title, cols=1, height=300) if opt["image"].ndim == 3 else
                  bp_figs.attribution(opt["image"], title=title, colorscale="Greys", zmin=0, zmax=1, **lab()),
                  key="nw_opt", name=t("network.optimised_name"), config=CFG)  # a colour picture in its colours
        with c2:
            st.markdown(t("network.optimised_text", a=number(opt["values"][0], ".3f"), b=number(opt["values"][-1], ".3f"),
                          n=len(opt["values"])))
    if was_running and not running:  # finished: the whole page once more, which stops the polling
        st.rerun(scope="app")


def _attribution_of(maps: tuple, which: int, **kwargs):
    """Grad-CAM's (0), saliency's (1) or occlusion's (2) map of ``maps`` as ``bp_figs.attribution`` draws it."""
    return bp_figs.attribution(maps[which], **kwargs)


def grad_cam_section(model, model_key: str, x, input_key: str) -> None:
    """Where the network looked for its prediction (a fragment: its toggle reruns only this part)."""
    st.header(t("network.cam_header"))
    if not widget(st.toggle, t("network.cam_show"), NW["nw_cam"]):  # on demand: three maps, a backward pass and
        return  # 121 occluded forward passes are more than a default rerun's budget
    try:
        cam, cls, conv, sal, probs, occ = _attributions(model_key, input_key, model, np.asarray(x, dtype=np.float32))
    except UserError:
        st.info(t("network.cam_none"))
        return
    from explainer.learning import backprop as bp

    L_ = lab()
    coords = bp.occlusion_centres(PATCH, PATCH_STEP, side=int(np.asarray(x).shape[0]))
    g1, g2, g3 = st.columns(3)
    # built once per model, input and wording for every session (the maps are named by the model's and input's keys)
    got = By((model_key, input_key), (cam, sal, occ))
    with g1:
        chart(figure(_attribution_of, got, 0, title=t("network.cam_title", k=cls), zmin=0, **L_), key="nw_gradcam",
              config=CFG)
    with g2:
        chart(figure(_attribution_of, got, 1, title=t("backprop.saliency_title", k=cls), zmin=0, **L_), key="nw_sal",
              config=CFG)
    with g3:
        chart(figure(_attribution_of, got, 2, title=t("backprop.occlusion_title", k=cls), colorscale="RdBu",
                     coords=coords, **L_), key="nw_occ", config=CFG)
    note(t("network.cam_text", k=cls))


def unit_views(model, x, layers, names, model_key: str, input_key: str, pred: int, classes, config,
               true_label: int | None, test_index: int | None) -> None:
    """The overview and what follows from its selection (the unit's detail, what its channel looks for), as a
    fragment: a new layer, channel, "show all" or a click on the overview reruns only this part, not the model,
    input and questions above it, nor softmax and Grad-CAM below it (each a fragment of its own: they depend on the
    model and the input only)."""
    layer, channel = overview(layers, names, model_key, input_key, pred, classes, config)
    # a click on the unit's map or a new row / column / input channel reruns only the unit's detail (the overview,
    # softmax and the rest depend on none of them)
    # the Kernels lesson reads MNIST's test digits: a link to it names one only for a model of MNIST
    mnist = dataset_of(config) == datasets.DEFAULT
    st.fragment(detail)(model, x, layers, names, layer, channel, test_index if mnist else None, model_key, classes,
                        mnist)
    looks_for(model, config, model_key, layers, names, layer, channel)


# ---------------------------------------------------------------- page
st.title(t("network.title"))
intro = st.container()  # the intro names what the model reads: written once the model is chosen
model, model_key, model_label, config = choose_model()
intro.markdown(t(_other("network.intro", config)))
picked = choose_input(config)
if picked is None:
    st.stop()
x, input_key, true_label, test_index = picked
layers = _trace(model_key, input_key, model, x)
names = layer_names(layers)
pred = int(np.argmax(layers[-1].output))
classes = class_names(config)
shown_pred = literal(classes[pred]) if pred < len(classes) else pred
L_ = lab()
side = int(np.asarray(x).shape[0])
in_fig = figure(_input_figure, By(input_key, x),
                (t(_other("network.input_title", config), h=side, w=side, c=layers[0].output.shape[0]),
                 L_["x_title"], L_["y_title"], L_["value_label"]))
in_slot = st.container()  # the picture first, then the questions about it
# predict first: the prediction, the overview (its softmax row), the unit's detail, softmax and what a channel looks
# for all show the answers, so the page goes on once both questions are answered or skipped
# the picture as a poll's figure draws it (high: dark): a digit's or a garment's bright ink, a colour photo's darkness
poll_image = x if np.ndim(x) == 2 else 1 - np.asarray(x) @ np.array(LUMA)
revealed = all(ask_all("network", {"probs": [round(float(v), 4) for v in layers[-1].output],
                                   "image": np.round(poll_image, 3).tolist()},
                       "nw").values())
with in_slot:
    chart(in_fig, key="nw_input", config=CFG,
          summary=t(_other("network.input_summary", config), pred=shown_pred, h=side, w=side) if revealed
          else t("network.input_summary_unread"))
if not revealed:
    st.info(t("questions.hidden"))
    st.stop()
st.markdown(t("network.prediction", pred=shown_pred, p=f"{100 * layers[-1].output[pred]:.1f}", model=literal(model_label)))
with st.sidebar:  # a fragment can't write to the sidebar: the overview's tap-to-select script goes there first
    st.html(TAP_SELECT, unsafe_allow_javascript=True)
st.fragment(unit_views)(model, x, layers, names, model_key, input_key, pred, classes, config, true_label, test_index)
# then the output: softmax (its temperature reruns only it), and where the network looked for it (Grad-CAM on demand)
st.fragment(softmax_section)(layers, true_label, classes, config)
st.fragment(grad_cam_section)(model, model_key, x, input_key)
