"""Lesson — Stride & padding: step the window through padding, stride and dilation; channels;
transposed convolution; receptive fields."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import numpy as np
import pandas as pd
import streamlit as st

from explainer.maths.conv import conv_transpose2d
from explainer.errors import UserError
from explainer.figures import stepper as figs
from explainer.maths.formulas import TRANSPOSED_GENERAL, conv_params_latex, conv_size, transposed_size, tutorial_size
from explainer.data.images import channels as rgb_channels
from explainer.maths.receptive import Layer, field_mask, layer_sizes, receptive_field
from explainer.maths.stepper import conv_walk, parse_grid, transposed_walk
from ui.charts import chart, figure
from ui.questions import ask
from ui.images import image_region
from explainer.limits import KERNEL_TEXT_CHARS
from ui.shell import formula, keep_last, labels, lesson_views, literal, note, section, t, tn, widget
from ui.stepper import figure_labels, grid_controls, random_grid, stepper, uncovered_warning
from ui.tables.stride import RF_PRESETS, TUTORIAL, VIEWS, TABLE as STRIDE



def edge_kernel(k: int) -> np.ndarray:
    """The default kernel of size k: +1 on the left, 0 in the middle, −1 on the right (a vertical-edge detector)."""
    return np.tile(np.sign((k - 1) / 2 - np.arange(k)), (k, 1))


@st.cache_data(max_entries=64, show_spinner=False)
def _reads_as_grid(text: str) -> bool:
    """Whether typed kernel text is valid or empty (only such text is written to the shareable URL)."""
    if not text.strip():
        return True
    try:
        parse_grid(text, 7)
    except UserError:
        return False
    return True


def make_conv_walk(x, kernel, stride, padding, dilation, bias, mode):
    walk = conv_walk(x, kernel, stride, padding, dilation, bias, mode)
    return walk, walk.output()


@st.cache_data(max_entries=64, show_spinner=False)
def make_transposed_walk(x, kernel, stride, padding, dilation, output_padding):
    walk = transposed_walk(x, kernel, stride, padding, dilation, output_padding)
    return walk, walk.output(), conv_transpose2d(x, kernel, stride, padding, dilation, output_padding)


def show_step(walk, out, pos: int, lab: dict, colorscale: str = "Blues", per_channel: bool = False,
              prefix: str = "sp", grid_title: str = "stride.grid_title") -> None:
    """One step of a convolution walk: grid(s) with the window, the products and sum, the output so far."""
    step = walk.step(pos - 1)
    k, r, c = step.out
    if per_channel:
        cols = st.columns(walk.grid.shape[0])
        for ch, col in enumerate(cols):
            with col:
                chart(figure(figs.grid_figure, walk, step, channel=ch, labels=lab, colorscale=colorscale,
                                                 title=lab["channel"].format(c=ch), compact=True),
                                key=f"{prefix}_grid_{ch}", config={"displayModeBar": False})
    else:
        left, right = st.columns([3, 2])
        with left:
            chart(figure(figs.grid_figure, walk, step, labels=lab, colorscale=colorscale, title=t(grid_title)),
                            key=f"{prefix}_grid", config={"displayModeBar": False})
        with right:
            chart(figure(figs.output_figure, out, pos, labels=lab, title=t("stride.output_title")),
                            key=f"{prefix}_out", config={"displayModeBar": False})
    st.markdown(t("stride.step_text", n=pos, total=len(walk), r=r, c=c, k=k))
    chart(figure(figs.window_figure, walk, step, labels=lab, title=t("stride.products_title")),
                    key=f"{prefix}_products", config={"displayModeBar": False})
    if per_channel:
        sums = " + ".join(figs.fmt(v) if v >= 0 else f"({figs.fmt(v)})" for v in step.products.sum(axis=(1, 2)))
        st.markdown(t("stride.channel_sum", sums=sums, b=figs.fmt(step.bias), y=figs.fmt(step.result), k=k))
        chart(figure(figs.output_figure, out, pos, labels=lab, title=t("stride.output_title")),
                        key=f"{prefix}_out", config={"displayModeBar": False})
    else:
        st.markdown(f"`{figs.equation(step)}`")


# ---------------------------------------------------------------- sections
def stepper_input() -> tuple[np.ndarray, str]:
    """The stepper's input (a random grid or an image region) and its colour scale."""
    src = widget(st.segmented_control, t("stride.source"), STRIDE["sp_input"],
                 format_func=labels("stride.src_"), required=True)
    if src == "image":
        x, picked, top, left = image_region("stride", "sp", min_size=3)
        size = x.shape[0]
        colorscale = "Greys"
        st.caption(t("stride.crop_caption", h=size, w=size, top=top, left=left, name=literal(picked.name)))
    else:
        x = grid_controls("stride", "sp", 5)
        colorscale = "Blues"
    return x, colorscale


def conv_settings() -> tuple:
    """The convolution's settings: kernel size, stride, dilation, the padding preset and padding, the padding
    mode and the typed kernel's text."""
    c1, c2, c3 = st.columns(3)
    with c1:
        k = widget(st.slider, t("stride.kernel"), STRIDE["sp_k"])
    with c2:
        s = widget(st.slider, t("stride.stride"), STRIDE["sp_s"])
    with c3:
        d = widget(st.slider, t("stride.dilation"), STRIDE["sp_d"],
                   help=t("stride.dilation_help"))
    c1, c2, c3 = st.columns([5, 3, 3])
    with c1:
        preset = widget(st.segmented_control, t("stride.preset"), STRIDE["sp_preset"],
                        format_func=labels("stride.preset_"), required=True,
                        help=t("stride.preset_help"))
    span = d * (k - 1)
    with c2:
        if preset == "custom":
            p = widget(st.slider, t("stride.padding"), STRIDE["sp_p"])
        else:
            p = {"valid": 0, "same": span // 2, "full": span}[preset]
            st.metric(t("stride.padding"), p, help=t(f"stride.preset_{preset}_help"))
    with c3:
        mode = widget(st.selectbox, t("stride.padding_mode"), STRIDE["sp_mode"], format_func=labels("stride.mode_"),
                      help=t("stride.padding_mode_help"))
    with st.expander(t("stride.kernel_values"), expanded=bool(st.session_state.get("sp_kernel"))):
        kernel_text = widget(st.text_area, t("stride.kernel_values"), STRIDE["sp_kernel"], height=110,
                             placeholder=t("stride.kernel_placeholder"),
                             help=t("stride.kernel_values_help", chars=KERNEL_TEXT_CHARS), label_visibility="collapsed",
                             publish_if=_reads_as_grid)
    return k, s, d, preset, p, mode, kernel_text


def size_formulas(walk, kernel: np.ndarray, out: np.ndarray, mode: str) -> bool:
    """The output size (after its question): PyTorch's formula and the tutorial's, and the size sentence.
    False: the question waits for its answer."""
    kh, kw = kernel.shape
    (pad_h, pad_w), (sh, sw), (dh, dw) = walk.origin, walk.stride, walk.dilation
    ih, iw = walk.input_shape
    st.subheader(t("stride.size_header"))
    if not ask("stride.out_size", {"n": ih, "k": kh, "s": sh, "p": pad_h, "d": dh}, "sp"):  # predict first
        return False
    st.markdown(t("stride.formula_torch"))
    formula(conv_size(ih, kh, sh, pad_h, dh, "H").latex)
    formula(conv_size(iw, kw, sw, pad_w, dw, "W").latex)
    st.markdown(t("stride.formula_tutorial"))
    (th, agree_h), (tw, agree_w) = (tutorial_size(ih, kh, sh, pad_h, dh, "H"), tutorial_size(iw, kw, sw, pad_w, dw, "W"))
    formula(th)
    if (ih, kh, sh, pad_h, dh) != (iw, kw, sw, pad_w, dw):
        formula(tw)
    st.caption(t("stride.formula_agree") if agree_h and agree_w else t("stride.formula_differ"))
    st.markdown(tn("stride.size_text", len(walk), h=ih, w=iw, kh=kh, kw=kw, oh=out.shape[1], ow=out.shape[2],
                  n=len(walk), mode=t(f"stride.mode_{mode}")))
    return True


def section_stepper(lab: dict) -> None:
    section("stride", "stepper")
    x, colorscale = stepper_input()
    k, s, d, preset, p, mode, kernel_text = conv_settings()
    span = d * (k - 1)

    def build(default: bool = False):
        kernel = parse_grid(kernel_text, 7) if kernel_text.strip() and not default else edge_kernel(k)
        return make_conv_walk(x, kernel, s, p, d, 0.0, mode), kernel

    result, error = keep_last("sp_stepper", build)
    if error:
        st.error(error)
    if result is None:  # nothing good yet (a shared link with a bad kernel): show the default kernel
        result, _ = keep_last("sp_stepper", lambda: build(default=True))
    if result is None:
        return
    (walk, out), kernel = result
    if not size_formulas(walk, kernel, out, mode):
        return
    if preset == "same" and (s > 1 or span % 2):
        st.info(t("stride.same_note"))
    uncovered_warning(walk, "stride")
    stepper("sp", len(walk), lambda pos: show_step(walk, out, pos, lab, colorscale))
    note(t("stride.stepper_note"))


def section_channels(lab: dict) -> None:
    section("stride", "channels")

    if st.session_state.pop("_sp_tutorial_done", False):
        st.success(t("stride.tutorial_done"))
    src = widget(st.segmented_control, t("stride.source"), STRIDE["sp_csrc"], format_func=labels("stride.csrc_"),
                 required=True)
    c1, c2, c3 = st.columns(3)
    with c1:
        n = widget(st.slider, t("stride.size"), STRIDE["sp_cn"])
    with c2:
        kk = widget(st.slider, t("stride.kernels"), STRIDE["sp_ck"], help=t("stride.kernels_help"))
        f = widget(st.slider, t("stride.kernel"), STRIDE["sp_cf"])
    with c3:
        s = widget(st.slider, t("stride.stride"), STRIDE["sp_cs"])
        p = widget(st.slider, t("stride.padding"), STRIDE["sp_cp"])
    if src == "image":
        from explainer.data.images import sample

        photo = sample("astronaut")
        x = rgb_channels(photo[100:100 + n, 180:180 + n]).astype(float)
        st.caption(t("stride.rgb_caption", n=n))
    else:
        x = random_grid((3, n, n), 7, 0, 3)
    bank = random_grid((kk, 3, f, f), 11, -1, 2)
    bias = np.array([1.0, 0.0, -1.0, 0.5])[:kk]
    result, error = keep_last("sp_channels", lambda: make_conv_walk(x, bank, s, p, 1, bias, "zeros"))
    if error:
        st.error(error)
    if result is None:
        return
    walk, out = result
    c_in, f_now = walk.grid.shape[0], walk.window[0]
    k_now, ho, wo = walk.out_shape
    params = Layer("conv", f_now).params(c_in, k_now)
    if not ask("stride.params", {"kernels": k_now, "channels": c_in, "f": f_now}, "sp"):  # predict first
        return
    formula(conv_params_latex(k_now, c_in, f_now, t("stride.params_word")))
    st.markdown(tn("stride.channels_shape", k_now, n=walk.input_shape[0], c=c_in, k=k_now, f=f_now, ho=ho, wo=wo,
                  slices=k_now * c_in, params=params, bias=", ".join(figs.fmt(b) for b in walk.bias)))
    stepper("sp_c", len(walk), lambda pos: show_step(walk, out, pos, lab, "Greys" if src == "image" else "Blues",
                                                      per_channel=True, prefix="sp_c"))
    note(t("stride.channels_note"))


def section_transposed(lab: dict) -> None:
    section("stride", "transposed")
    c1, c2, c3 = st.columns(3)
    with c1:
        n = widget(st.slider, t("stride.size"), STRIDE["sp_tn"])
        k = widget(st.slider, t("stride.kernel"), STRIDE["sp_tk"])
    with c2:
        s = widget(st.slider, t("stride.stride"), STRIDE["sp_ts"])
        p = widget(st.slider, t("stride.padding"), STRIDE["sp_tp"])
    with c3:
        op = widget(st.slider, t("stride.output_padding"), STRIDE["sp_tpad"],
                    help=t("stride.output_padding_help"))
    x = random_grid((n, n), 3, 1, 5)
    kernel = random_grid((k, k), 5, 0, 3)

    def build():
        size = transposed_size(n, k, s, p, 1, op)
        if size.value is None:  # the transposed formula's own message: here padding crops, so less padding helps
            raise UserError("stride.transposed_no_output", n=n, k=k, s=s, p=p, size=size.raw)
        return size, make_transposed_walk(x, kernel, s, p, 1, op)

    result, error = keep_last("sp_transposed", build)
    if error:
        st.error(error)
    if result is None:
        return
    size, (walk, out, direct) = result
    n_in, k_in = walk.input_shape[0], walk.window[0]
    s_in = walk.spacing[0]
    ho = out.shape[1]
    if not ask("stride.transposed_size", {"n": n_in, "k": k_in, "s": s_in, "p": p, "op": op}, "sp"):  # predict first
        return
    formula(TRANSPOSED_GENERAL)
    formula(size.latex)
    border = walk.origin[0]
    st.markdown(tn("stride.transposed_text", s_in - 1, n=n_in, s=s_in, k=k_in, zeros=s_in - 1, border=border, ho=ho,
                  ok="✓" if np.allclose(out, direct) else "✗"))
    stepper("sp_t", len(walk), lambda pos: show_step(walk, out, pos, lab, "Blues", prefix="sp_t",
                                                      grid_title="stride.stuffed_title"))
    note(t("stride.transposed_note"))


# stacks of convolutions with the same receptive field: two 3×3 vs one 5×5, three 3×3 vs one 7×7
RF_STACKS = {"2x3": [Layer("conv", 3)] * 2, "1x5": [Layer("conv", 5)],
             "3x3": [Layer("conv", 3)] * 3, "1x7": [Layer("conv", 7)]}


@st.cache_data(max_entries=32, show_spinner=False)
def rf_table(layers: tuple, n: int):
    fields = receptive_field(layers)
    sizes = layer_sizes(layers, n)
    return fields, sizes


def rf_layers_editor():
    """The layer table (a preset, editable) → the edited rows."""
    preset = widget(st.selectbox, t("stride.rf_preset"), STRIDE["sp_rpreset"],
                    format_func=labels("stride.rf_preset_"))
    base = pd.DataFrame([dict(kind=L.kind, kernel=L.kernel, stride=L.stride, dilation=L.dilation, padding=L.padding)
                         for L in RF_PRESETS[preset]])

    def number(key: str, lo: int, hi: int):
        return st.column_config.NumberColumn(t(f"stride.{key}"), min_value=lo, max_value=hi, step=1, required=True)

    return st.data_editor(
        base, key=f"sp_rlayers_{preset}", num_rows="dynamic", hide_index=True,
        column_config={
            "kind": st.column_config.SelectboxColumn(t("stride.rf_kind"), options=["conv", "pool"], required=True),
            "kernel": number("kernel", 1, 7), "stride": number("stride", 1, 4), "dilation": number("dilation", 1, 3),
            "padding": number("padding", 0, 3),
        })


def rf_layers_table(fields, sizes, ch: int) -> None:
    """Per layer: kind and size, output size, receptive field, jump, parameters."""
    kinds = {"conv": t("stride.rf_conv"), "pool": t("stride.rf_pool")}
    st.dataframe(pd.DataFrame({
        t("stride.rf_layer"): [f"{i + 1}. {kinds[f.layer.kind]} {f.layer.kernel}×{f.layer.kernel}" for i, f in enumerate(fields)],
        t("stride.rf_out_size"): [f"{m}×{m}" for m in sizes[1:]],
        t("stride.rf_size"): [f.size for f in fields],
        t("stride.rf_jump"): [f.jump for f in fields],
        t("stride.rf_params"): [f.layer.params(ch) for f in fields],
    }), hide_index=True)


def rf_picked_cell(last: int) -> tuple[int, int]:
    """The output cell to explain: row and column sliders, moved by a click on the output map."""
    ss = st.session_state
    picked = ss.get("sp_rf_pick")
    points = picked["selection"]["points"] if picked else []
    if points:  # a click on the output map (below) picks the cell: move the sliders there
        where = (int(points[0]["y"]), int(points[0]["x"]))
        if where != ss.get("_sp_rf_picked") and max(where) < last:
            ss["_sp_rf_picked"] = where
            ss["sp_rr"], ss["sp_rcol"] = where
    c1, c2 = st.columns(2)
    with c1:
        r = widget(st.slider, t("stride.rf_row"), STRIDE["sp_rr"], default=last // 2, max_value=max(last - 1, 1),
                   disabled=last < 2)
    with c2:
        c = widget(st.slider, t("stride.rf_col"), STRIDE["sp_rcol"], default=last // 2,
                   max_value=max(last - 1, 1), disabled=last < 2)
    return min(r, last - 1), min(c, last - 1)


def rf_field_view(layers, fields, sizes, n: int, lab: dict) -> None:
    """The input pixels one output cell sees, beside the output map to pick the cell on."""
    last = sizes[-1]
    r, c = rf_picked_cell(last)
    mask = field_mask(layers, r, c, (sizes[0], sizes[0]))
    f = fields[-1]
    left, right = st.columns([3, 2])
    with left:
        chart(figure(figs.field_figure, mask, f.start + r * f.jump, f.start + c * f.jump, f.size, labels=lab,
                                          title=t("stride.rf_fig_title", r=r, c=c, size=f.size, n=int(mask.sum())),
                                          field_label=t("stride.rf_in_field"), span_label=t("stride.rf_span")),
                        key="sp_rf_fig", config={"displayModeBar": False})
    with right:
        chart(figure(figs.cell_picker, last, last, r, c, labels=lab, title=t("stride.rf_pick_title", n=last)),
                        key="sp_rf_pick", on_select="rerun", selection_mode="points",
                        config={"displayModeBar": False})
        st.caption(t("stride.rf_pick_help"))
    st.markdown(tn("stride.rf_text", f.jump, r=r, c=c, size=f.size, jump=f.jump, n=n, total=int(mask.sum())))


def rf_compare_stacks(ch: int) -> None:
    """Stacks of small kernels against one large kernel with the same receptive field."""
    st.subheader(t("stride.rf_compare_header"))
    params = {name: sum(L.params(ch) for L in stack) for name, stack in RF_STACKS.items()}
    st.dataframe(pd.DataFrame([{t("stride.rf_stack"): t(f"stride.rf_stack_{name}"),
                                t("stride.rf_size"): receptive_field(stack)[-1].size,
                                t("stride.rf_params"): params[name],
                                t("stride.rf_nonlin"): len(stack)} for name, stack in RF_STACKS.items()]),
                 hide_index=True)
    st.markdown(t("stride.rf_compare_text", c=ch, two=params["2x3"], five=params["1x5"], three=params["3x3"],
                  seven=params["1x7"]))


def section_receptive(lab: dict) -> None:
    section("stride", "receptive")
    edited = rf_layers_editor()
    c1, c2 = st.columns(2)
    with c1:
        n = widget(st.slider, t("stride.rf_input"), STRIDE["sp_rn"])
    with c2:
        ch = widget(st.number_input, t("stride.rf_channels"), STRIDE["sp_rc"],
                    help=t("stride.rf_channels_help"))

    def build():
        rows = edited.to_dict("records")
        if not rows:
            raise UserError("stride.rf_empty")
        layers = tuple(Layer(str(r["kind"]), r["kernel"], r["stride"], r["dilation"], r["padding"]) for r in rows)
        return layers, rf_table(layers, n)

    result, error = keep_last("sp_receptive", build)
    if error:
        st.error(error)
    if result is None:
        return
    layers, (fields, sizes) = result
    rf_layers_table(fields, sizes, ch)
    rf_field_view(layers, fields, sizes, n, lab)
    rf_compare_stacks(ch)
    note(t("stride.receptive_note"))


# ---------------------------------------------------------------- page
def _tutorial() -> None:
    """The tutorial's example: a 5×5×3 input, padding 1, two 3×3×3 kernels, stride 2, from its first step."""
    ss = st.session_state
    ss.update(TUTORIAL, _sp_c_playing=False, _sp_tutorial_done=True)


view = lesson_views("stride", "sp_view", VIEWS)
st.button(t("stride.tutorial_preset"), key="sp_tutorial", on_click=_tutorial, icon=":material/school:",
          help=t("stride.tutorial_preset_help"))
LAB = figure_labels()
{"stepper": section_stepper, "channels": section_channels, "transposed": section_transposed,
 "receptive": section_receptive}[view](LAB)
