"""Lesson — Stride & padding: step the window through padding, stride and dilation; channels;
transposed convolution; receptive fields."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explainer.conv import PADDING_MODES, conv_transpose2d
from explainer.errors import UserError
from explainer.figures import stepper as figs
from explainer.images import channels as rgb_channels
from explainer.receptive import Layer, field_mask, layer_sizes, receptive_field
from explainer.stepper import conv_walk, parse_grid, transposed_walk
from ui.images import image_region
from ui.shell import formula, keep_last, labels, note, t, widget
from ui.stepper import grid_controls, random_grid, stepper

VIEWS = ("stepper", "channels", "transposed", "receptive")
PRESETS = ("custom", "valid", "same", "full")


def figure_labels() -> dict:
    keys = ("row", "column", "value", "padding", "inserted", "outside", "window", "uncovered", "output", "product",
            "input", "weight", "channel", "map", "picked", "counted", "not_counted")
    return {k: t(f"stepper.lab_{k}") for k in keys}


def edge_kernel(k: int) -> np.ndarray:
    """The default kernel of size k: +1 on the left, 0 in the middle, −1 on the right (a vertical-edge detector)."""
    return np.tile(np.sign((k - 1) / 2 - np.arange(k)), (k, 1))


@st.cache_data(max_entries=64, show_spinner=False)
def make_conv_walk(x, kernel, stride, padding, dilation, bias, mode):
    walk = conv_walk(x, kernel, stride, padding, dilation, bias, mode)
    return walk, walk.output()


@st.cache_data(max_entries=64, show_spinner=False)
def make_transposed_walk(x, kernel, stride, padding, dilation, output_padding):
    walk = transposed_walk(x, kernel, stride, padding, dilation, output_padding)
    return walk, walk.output(), conv_transpose2d(x, kernel, stride, padding, dilation, output_padding)


def size_formula(n, k, s, p, d, axis: str) -> str:
    span = n + 2 * p - d * (k - 1) - 1
    if span < 0:
        return rf"{axis}_{{out}} = \left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k} - 1) - 1}}{{{s}}} \right\rfloor + 1 \;\Rightarrow\; {span} < 0"
    return (rf"{axis}_{{out}} = \left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k} - 1) - 1}}{{{s}}} \right\rfloor + 1"
            rf" = \left\lfloor \frac{{{span}}}{{{s}}} \right\rfloor + 1 = {span // s + 1}")


def tutorial_formula(n, k, s, p, d, axis: str) -> tuple[str, bool]:
    """The tutorial's ``(W − F + 2P)/S + 1`` (F: the dilated kernel's extent) and whether it gives
    the same whole number as PyTorch's floor form."""
    f = d * (k - 1) + 1
    num = n - f + 2 * p
    agree = num >= 0 and num % s == 0
    value = f"{num // s + 1}" if agree else f"{num / s + 1:g}"
    return (rf"{axis}_{{out}} = \frac{{{axis} - F + 2P}}{{S}} + 1 = \frac{{{n} - {f} + 2\cdot{p}}}{{{s}}} + 1 = {value}",
            agree)


def show_step(walk, out, pos: int, lab: dict, colorscale: str = "Blues", per_channel: bool = False,
              prefix: str = "sp", grid_title: str = "stride.grid_title") -> None:
    """One step of a convolution walk: grid(s) with the window, the products and sum, the output so far."""
    step = walk.step(pos - 1)
    k, r, c = step.out
    if per_channel:
        cols = st.columns(walk.grid.shape[0])
        for ch, col in enumerate(cols):
            with col:
                st.plotly_chart(figs.grid_figure(walk, step, channel=ch, labels=lab, colorscale=colorscale,
                                                 title=lab["channel"].format(c=ch), compact=True),
                                key=f"{prefix}_grid_{ch}", config={"displayModeBar": False})
    else:
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(figs.grid_figure(walk, step, labels=lab, colorscale=colorscale, title=t(grid_title)),
                            key=f"{prefix}_grid", config={"displayModeBar": False})
        with right:
            st.plotly_chart(figs.output_figure(out, pos, labels=lab, title=t("stride.output_title")),
                            key=f"{prefix}_out", config={"displayModeBar": False})
    st.markdown(t("stride.step_text", n=pos, total=len(walk), r=r, c=c, k=k))
    st.plotly_chart(figs.window_figure(walk, step, labels=lab, title=t("stride.products_title")),
                    key=f"{prefix}_products", config={"displayModeBar": False})
    if per_channel:
        sums = " + ".join(figs.fmt(v) if v >= 0 else f"({figs.fmt(v)})" for v in step.products.sum(axis=(1, 2)))
        st.markdown(t("stride.channel_sum", sums=sums, b=figs.fmt(step.bias), y=figs.fmt(step.result), k=k))
        st.plotly_chart(figs.output_figure(out, pos, labels=lab, title=t("stride.output_title")),
                        key=f"{prefix}_out", config={"displayModeBar": False})
    else:
        st.markdown(f"`{figs.equation(step)}`")


# ---------------------------------------------------------------- sections
def section_stepper(lab: dict) -> None:
    st.header(t("stride.stepper_header"))
    st.markdown(t("stride.stepper_intro"))
    src = widget(st.segmented_control, t("stride.source"), key="sp_input", default="grid", options=["grid", "image"],
                 format_func=labels("stride.src_"), required=True)
    if src == "image":
        x, picked, top, left = image_region("sp_img", "sp", crop_label=t("stride.crop"),
                                            top_label=t("stride.crop_top"), left_label=t("stride.crop_left"),
                                            min_size=3)
        size = x.shape[0]
        colorscale = "Greys"
        st.caption(t("stride.crop_caption", h=size, w=size, top=top, left=left, name=picked.name))
    else:
        x = grid_controls("stride", "sp", 5)
        colorscale = "Blues"

    c1, c2, c3 = st.columns(3)
    with c1:
        k = widget(st.slider, t("stride.kernel"), key="sp_k", default=3, min_value=1, max_value=7)
    with c2:
        s = widget(st.slider, t("stride.stride"), key="sp_s", default=2, min_value=1, max_value=4)
    with c3:
        d = widget(st.slider, t("stride.dilation"), key="sp_d", default=1, min_value=1, max_value=3,
                   help=t("stride.dilation_help"))
    c1, c2, c3 = st.columns([5, 3, 3])
    with c1:
        preset = widget(st.segmented_control, t("stride.preset"), key="sp_preset", default="custom",
                        options=list(PRESETS), format_func=labels("stride.preset_"), required=True,
                        help=t("stride.preset_help"))
    span = d * (k - 1)
    with c2:
        if preset == "custom":
            p = widget(st.slider, t("stride.padding"), key="sp_p", default=1, min_value=0, max_value=3)
        else:
            p = {"valid": 0, "same": span // 2, "full": span}[preset]
            st.metric(t("stride.padding"), p, help=t(f"stride.preset_{preset}_help"))
    with c3:
        mode = widget(st.selectbox, t("stride.padding_mode"), key="sp_mode", default="zeros",
                      options=list(PADDING_MODES), format_func=labels("stride.mode_"),
                      help=t("stride.padding_mode_help"))
    with st.expander(t("stride.kernel_values"), expanded=bool(st.session_state.get("sp_kernel"))):
        kernel_text = widget(st.text_area, t("stride.kernel_values"), key="sp_kernel", default="", height=110,
                             placeholder=t("stride.kernel_placeholder"), help=t("stride.kernel_values_help"),
                             label_visibility="collapsed")

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
    kh, kw = kernel.shape
    (pad_h, pad_w), (sh, sw), (dh, dw) = walk.origin, walk.stride, walk.dilation
    ih, iw = walk.input_shape
    st.subheader(t("stride.size_header"))
    st.markdown(t("stride.formula_torch"))
    formula(size_formula(ih, kh, sh, pad_h, dh, "H"))
    formula(size_formula(iw, kw, sw, pad_w, dw, "W"))
    st.markdown(t("stride.formula_tutorial"))
    (th, agree_h), (tw, agree_w) = (tutorial_formula(ih, kh, sh, pad_h, dh, "H"),
                                    tutorial_formula(iw, kw, sw, pad_w, dw, "W"))
    formula(th)
    if (ih, kh, sh, pad_h, dh) != (iw, kw, sw, pad_w, dw):
        formula(tw)
    st.caption(t("stride.formula_agree") if agree_h and agree_w else t("stride.formula_differ"))
    st.markdown(t("stride.size_text", h=ih, w=iw, kh=kh, kw=kw, oh=out.shape[1], ow=out.shape[2],
                  n=len(walk), mode=t(f"stride.mode_{mode}")))
    if preset == "same" and (s > 1 or span % 2):
        st.info(t("stride.same_note"))
    rows, cols = walk.uncovered()
    if rows or cols:
        st.warning(t("stride.uncovered", rows=", ".join(map(str, rows)) or "—", cols=", ".join(map(str, cols)) or "—"))
    stepper("sp", len(walk), lambda pos: show_step(walk, out, pos, lab, colorscale))
    note(t("stride.stepper_note"))


def section_channels(lab: dict) -> None:
    st.header(t("stride.channels_header"))
    st.markdown(t("stride.channels_intro"))

    if st.session_state.pop("_sp_tutorial_done", False):
        st.success(t("stride.tutorial_done"))
    src = widget(st.segmented_control, t("stride.source"), key="sp_csrc", default="random",
                 options=["random", "image"], format_func=labels("stride.csrc_"), required=True)
    c1, c2, c3 = st.columns(3)
    with c1:
        n = widget(st.slider, t("stride.size"), key="sp_cn", default=5, min_value=3, max_value=8)
    with c2:
        kk = widget(st.slider, t("stride.kernels"), key="sp_ck", default=2, min_value=1, max_value=4,
                    help=t("stride.kernels_help"))
        f = widget(st.slider, t("stride.kernel"), key="sp_cf", default=3, min_value=1, max_value=5)
    with c3:
        s = widget(st.slider, t("stride.stride"), key="sp_cs", default=2, min_value=1, max_value=3)
        p = widget(st.slider, t("stride.padding"), key="sp_cp", default=1, min_value=0, max_value=2)
    if src == "image":
        from explainer.images import sample

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
    params = k_now * c_in * f_now * f_now + k_now
    formula(rf"\text{{{t('stride.params_word')}}} = K\cdot C\cdot F\cdot F + K = {k_now}\cdot{c_in}\cdot{f_now}\cdot{f_now}"
            rf" + {k_now} = {params}")
    st.markdown(t("stride.channels_shape", n=walk.input_shape[0], c=c_in, k=k_now, f=f_now, ho=ho, wo=wo,
                  slices=k_now * c_in, params=params, bias=", ".join(figs.fmt(b) for b in walk.bias)))
    stepper("sp_c", len(walk), lambda pos: show_step(walk, out, pos, lab, "Greys" if src == "image" else "Blues",
                                                      per_channel=True, prefix="sp_c"))
    note(t("stride.channels_note"))


def section_transposed(lab: dict) -> None:
    st.header(t("stride.transposed_header"))
    st.markdown(t("stride.transposed_intro"))
    c1, c2, c3 = st.columns(3)
    with c1:
        n = widget(st.slider, t("stride.size"), key="sp_tn", default=2, min_value=1, max_value=5)
        k = widget(st.slider, t("stride.kernel"), key="sp_tk", default=3, min_value=1, max_value=4)
    with c2:
        s = widget(st.slider, t("stride.stride"), key="sp_ts", default=2, min_value=1, max_value=3)
        p = widget(st.slider, t("stride.padding"), key="sp_tp", default=0, min_value=0, max_value=3)
    with c3:
        op = widget(st.slider, t("stride.output_padding"), key="sp_top", default=0, min_value=0, max_value=2,
                    help=t("stride.output_padding_help"))
    x = random_grid((n, n), 3, 1, 5)
    kernel = random_grid((k, k), 5, 0, 3)
    def build():
        size = (n - 1) * s - 2 * p + (k - 1) + op + 1
        if size < 1:  # the transposed formula's own message: here padding crops, so less padding helps
            raise UserError("stride.transposed_no_output", n=n, k=k, s=s, p=p, size=size)
        return make_transposed_walk(x, kernel, s, p, 1, op)

    result, error = keep_last("sp_transposed", build)
    if error:
        st.error(error)
    if result is None:
        return
    walk, out, direct = result
    n_in, k_in = walk.input_shape[0], walk.window[0]
    s_in = walk.spacing[0]
    ho = out.shape[1]
    p_in = k_in - 1 - walk.origin[0]
    op_in = ho - ((n_in - 1) * s_in - 2 * p_in + k_in)
    formula(r"H_{out} = (H - 1)\cdot S - 2P + D\cdot(F - 1) + P_{out} + 1")
    formula(rf"H_{{out}} = ({n_in} - 1)\cdot{s_in} - 2\cdot{p_in} + 1\cdot({k_in} - 1) + {op_in} + 1 = {ho}")
    border = walk.origin[0]
    st.markdown(t("stride.transposed_text", n=n_in, s=s_in, k=k_in, zeros=s_in - 1, border=border, ho=ho,
                  ok="✓" if np.allclose(out, direct) else "✗"))
    stepper("sp_t", len(walk), lambda pos: show_step(walk, out, pos, lab, "Blues", prefix="sp_t",
                                                      grid_title="stride.stuffed_title"))
    note(t("stride.transposed_note"))


RF_PRESETS = {
    "two3": [Layer("conv", 3), Layer("conv", 3)],
    "three3": [Layer("conv", 3), Layer("conv", 3), Layer("conv", 3)],
    "vgg": [Layer("conv", 3, padding=1), Layer("conv", 3, padding=1), Layer("pool", 2, 2),
            Layer("conv", 3, padding=1), Layer("conv", 3, padding=1), Layer("pool", 2, 2)],
    "dilated": [Layer("conv", 3, dilation=1), Layer("conv", 3, dilation=2), Layer("conv", 3, dilation=3)],
    "strided": [Layer("conv", 3, stride=2), Layer("conv", 3, stride=2), Layer("conv", 3)],
}


@st.cache_data(max_entries=32, show_spinner=False)
def rf_table(layers: tuple, n: int):
    fields = receptive_field(layers)
    sizes = layer_sizes(layers, n)
    return fields, sizes


def section_receptive(lab: dict) -> None:
    st.header(t("stride.receptive_header"))
    st.markdown(t("stride.receptive_intro"))
    preset = widget(st.selectbox, t("stride.rf_preset"), key="sp_rpreset", default="vgg", options=list(RF_PRESETS),
                    format_func=labels("stride.rf_preset_"))
    base = pd.DataFrame([dict(kind=L.kind, kernel=L.kernel, stride=L.stride, dilation=L.dilation, padding=L.padding)
                         for L in RF_PRESETS[preset]])
    edited = st.data_editor(
        base, key=f"sp_rlayers_{preset}", num_rows="dynamic", hide_index=True,
        column_config={
            "kind": st.column_config.SelectboxColumn(t("stride.rf_kind"), options=["conv", "pool"], required=True),
            "kernel": st.column_config.NumberColumn(t("stride.kernel"), min_value=1, max_value=7, step=1, required=True),
            "stride": st.column_config.NumberColumn(t("stride.stride"), min_value=1, max_value=4, step=1, required=True),
            "dilation": st.column_config.NumberColumn(t("stride.dilation"), min_value=1, max_value=3, step=1,
                                                      required=True),
            "padding": st.column_config.NumberColumn(t("stride.padding"), min_value=0, max_value=3, step=1,
                                                     required=True),
        })
    c1, c2 = st.columns(2)
    with c1:
        n = widget(st.slider, t("stride.rf_input"), key="sp_rn", default=16, min_value=4, max_value=32)
    with c2:
        ch = widget(st.number_input, t("stride.rf_channels"), key="sp_rc", default=64, min_value=1, max_value=1024,
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
    kinds = {"conv": t("stride.rf_conv"), "pool": t("stride.rf_pool")}
    table = pd.DataFrame({
        t("stride.rf_layer"): [f"{i + 1}. {kinds[f.layer.kind]} {f.layer.kernel}×{f.layer.kernel}" for i, f in enumerate(fields)],
        t("stride.rf_out_size"): [f"{m}×{m}" for m in sizes[1:]],
        t("stride.rf_size"): [f.size for f in fields],
        t("stride.rf_jump"): [f.jump for f in fields],
        t("stride.rf_params"): [f.layer.params(ch) for f in fields],
    })
    st.dataframe(table, hide_index=True)
    last = sizes[-1]
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
        r = widget(st.slider, t("stride.rf_row"), key="sp_rr", default=last // 2, min_value=0, max_value=max(last - 1, 1),
                   disabled=last < 2)
    with c2:
        c = widget(st.slider, t("stride.rf_col"), key="sp_rcol", default=last // 2, min_value=0,
                   max_value=max(last - 1, 1), disabled=last < 2)
    r, c = min(r, last - 1), min(c, last - 1)
    mask = field_mask(layers, r, c, (sizes[0], sizes[0]))
    f = fields[-1]
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(figs.field_figure(mask, f.start + r * f.jump, f.start + c * f.jump, f.size, labels=lab,
                                          title=t("stride.rf_fig_title", r=r, c=c, size=f.size, n=int(mask.sum())),
                                          field_label=t("stride.rf_in_field"), span_label=t("stride.rf_span")),
                        key="sp_rf_fig", config={"displayModeBar": False})
    with right:
        st.plotly_chart(figs.cell_picker(last, last, r, c, labels=lab, title=t("stride.rf_pick_title", n=last)),
                        key="sp_rf_pick", on_select="rerun", selection_mode="points",
                        config={"displayModeBar": False})
        st.caption(t("stride.rf_pick_help"))
    st.markdown(t("stride.rf_text", r=r, c=c, size=f.size, jump=f.jump, n=n, total=int(mask.sum())))

    st.subheader(t("stride.rf_compare_header"))
    rows = []
    for name, stack in (("2x3", [Layer("conv", 3)] * 2), ("1x5", [Layer("conv", 5)]),
                        ("3x3", [Layer("conv", 3)] * 3), ("1x7", [Layer("conv", 7)])):
        rows.append({t("stride.rf_stack"): t(f"stride.rf_stack_{name}"),
                     t("stride.rf_size"): receptive_field(stack)[-1].size,
                     t("stride.rf_params"): sum(L.params(ch) for L in stack),
                     t("stride.rf_nonlin"): len(stack)})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown(t("stride.rf_compare_text", c=ch, two=2 * (9 * ch * ch + ch), five=25 * ch * ch + ch,
                  three=3 * (9 * ch * ch + ch), seven=49 * ch * ch + ch))
    note(t("stride.receptive_note"))


# ---------------------------------------------------------------- page
st.title(t("stride.title"))
st.markdown(t("stride.intro"))


def _tutorial() -> None:
    """The tutorial's example: a 5×5×3 input, padding 1, two 3×3×3 kernels, stride 2, from its first step."""
    ss = st.session_state
    ss.update(sp_view="channels", sp_ck=2, sp_cf=3, sp_cs=2, sp_cp=1, sp_cn=5, sp_csrc="random", sp_c_pos=1,
              _sp_c_playing=False, _sp_tutorial_done=True)


st.button(t("stride.tutorial_preset"), key="sp_tutorial", on_click=_tutorial, icon=":material/school:",
          help=t("stride.tutorial_preset_help"))
view = widget(st.segmented_control, t("stride.view"), key="sp_view", default="stepper", options=list(VIEWS),
              format_func=labels("stride.view_"), required=True)
LAB = figure_labels()
{"stepper": section_stepper, "channels": section_channels, "transposed": section_transposed,
 "receptive": section_receptive}[view](LAB)
