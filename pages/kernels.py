"""Lesson — Kernels: a kernel on a real image, the pixel inspector, worked examples, shift invariance."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from explainer.maths import shift as shift_demo
from explainer.errors import UserError
from explainer.figures import kernels as figs
from explainer.maths.formulas import inspection_latex
from explainer.data.images import LUMA, sample, to_grey
from explainer.maths.inspector import apply_kernel, apply_kernel_rgb, curve_example, gradient_magnitude, inspect_pixel
from explainer.maths.kernels import (MAX_ABS, apply_edits, clip_display, divisor_for,
                               format_kernel, kernel, parse_kernel, resize_kernel)
from ui.charts import chart, figure
from explainer.engine.runstore import valid_id
from ui.images import PickedImage, digit, image_picker
from ui.questions import ask
from ui.speedups import array_key
from explainer.limits import KERNEL_TEXT_CHARS
from ui.shell import formula, keep_last, labels, lesson_views, note, publish, restore, t, widget
from ui.tables.kernels import DEFAULT_CUSTOM, MAP_CHARS, VIEWS, TABLE as KERNELS
from ui.tables.network import MAX_CHANNELS, MAX_LAYERS
from ui.tables.shared import DIGIT_MAX

CFG = {"displayModeBar": False}


def lab() -> dict:
    return dict(x_title=t("kernels.lab_col"), y_title=t("kernels.lab_row"), value_label=t("kernels.lab_value"))


def tex(v: float) -> str:
    """A number for a formula (TeX sets "-" as a minus sign); no "-0"."""
    text = f"{v:.0f}" if float(v).is_integer() else f"{v:.4g}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def fmt(v: float) -> str:
    """A number in text: as in a formula, with a true minus sign (the figures write "−" too)."""
    return tex(v).replace("-", "−")


@st.cache_data(max_entries=16, show_spinner=False)
def grey_of(key: str, _img: np.ndarray) -> np.ndarray:
    """The picked image ``_img`` (its ``array_key`` is ``key``) as uint8 grey."""
    return to_grey(_img)


class Filtering(NamedTuple):
    """What the maps are computed from: the image, the kernel (weights ÷ divisor), the bias and the flip, the
    partner kernel the magnitude view combines with it (None for a kernel without one), and the image's
    ``array_key`` (the cached functions below are keyed by it, not by the image: hashing a 512² image for each
    of them was ~1 ms a time, four or five times a click)."""
    img: np.ndarray
    weights: np.ndarray
    divisor: float
    bias: float
    flip: bool
    partner: np.ndarray | None
    partner_divisor: float
    key: str

    def maps(self):
        """``output_maps`` of these settings (the output map doesn't depend on the partner kernel)."""
        return output_maps(self.key, self.img, self.weights, self.divisor, self.bias, self.flip)


class View(NamedTuple):
    """The output map's view (raw, clipped, magnitude) and the partner kernel a magnitude combines."""
    view: str
    partner: np.ndarray | None
    partner_divisor: float


@st.cache_resource(max_entries=32, show_spinner=False)
def output_maps(key: str, _img: np.ndarray, weights: np.ndarray, divisor: float, bias: float, flip: bool):
    """The output map and the position of the strongest response (the clipped and magnitude views are made
    only when shown, in ``output_figures``: a 1024² image's rerun stays quick). ``key``: ``_img``'s ``array_key``.

    One read-only map shared by every session (not pickled into the cache and out of it on every rerun: a 512²
    map is 2 MB); nothing writes into it (the inspector changes a copy), and a write would raise."""
    out = apply_kernel(_img.astype(np.float64), weights, divisor, bias, flip)
    out.flags.writeable = False
    r, c = np.unravel_index(int(np.argmax(np.abs(out))), out.shape)
    return out, (int(r), int(c)), figs.value_range(out, "signed")


def view_map(img, out, view: str, bias: float, flip: bool, partner, partner_divisor: float) -> np.ndarray:
    """The output as shown: raw, clipped to 0–255 as the tutorials display it, or the magnitude
    (√(gx² + gy²) with the kernel's partner, else |value|)."""
    if view == "clipped":
        return clip_display(out).astype(np.float64)
    if view == "magnitude":
        if partner is None:
            return np.abs(out)
        return gradient_magnitude(out, apply_kernel(img.astype(np.float64), partner, partner_divisor, bias, flip))
    return out


def _plain(fig) -> dict:
    """A figure as plain dicts: cheap to cache and to rebuild (unpickling a go.Figure re-validates it). Its own
    dicts, not Plotly's deep copies (the cache pickles them anyway); the shared template is left to ``boxed``."""
    return {"data": [dict(tr) for tr in fig._data], "layout": {k: v for k, v in fig._layout.items() if k != "template"}}


def _figure(d: dict, box: tuple | None = None, side: int = 0):
    """Rebuild a cached figure, ``box`` (top, left, rows, cols) outlined (see ``figs.boxed``)."""
    return figs.boxed(d["data"], d["layout"], box, side)


@st.cache_data(max_entries=16, show_spinner=False)
def input_figure(key: str, _img: np.ndarray, title: str, labels_: tuple, kind: str = "grey") -> dict:
    """The input map of ``_img`` (its ``array_key`` is ``key``)."""
    img = _img
    x_title, y_title, value_label = labels_
    bar = t("kernels.cb_grey") if kind == "grey" else t("common.value")
    return _plain(figs.map_figure(img, kind=kind, title=title, colorbar_title=bar, x_title=x_title,
                                  y_title=y_title, value_label=value_label))


@st.cache_data(max_entries=32, show_spinner=False)
def output_figures(key: str, _img: np.ndarray, weights: np.ndarray, divisor: float, bias: float, flip: bool,
                   partner: np.ndarray | None, partner_divisor: float, view: str, texts: tuple) -> tuple[dict, dict]:
    """The output map in ``view`` and the histogram, keyed by the settings and the image's ``array_key`` (not by
    the big arrays)."""
    img = _img
    out = output_maps(key, img, weights, divisor, bias, flip)[0]
    title, colorbar, x_title, y_title, value_label, hist_title, hist_x, hist_y = texts
    kh, kw = np.shape(weights)
    z = view_map(img, out, view, bias, flip, partner, partner_divisor)
    kind = {"raw": "signed", "clipped": "grey", "magnitude": "magnitude"}[view]
    fig = figs.map_figure(z, kind=kind, title=title, colorbar_title=colorbar, x_title=x_title, y_title=y_title,
                          value_label=value_label, offset=((kh - 1) / 2, (kw - 1) / 2), extent=img.shape)
    # the histogram of the values shown (magnitudes in the magnitude view, 0–255 when clipped)
    return _plain(fig), _plain(figs.histogram_figure(z, title=hist_title, x_title=hist_x, y_title=hist_y))


def _grid_resized() -> None:
    """Callback (runs before the widgets exist, so it may rewrite ``kn_custom``): crop or zero-pad the kernel."""
    ss = st.session_state
    try:
        weights = parse_kernel(ss.get("kn_custom", DEFAULT_CUSTOM))
    except UserError:
        return
    ss["kn_custom"] = format_kernel(resize_kernel(weights, int(ss["kn_grid_rows"]), int(ss["kn_grid_cols"])))


def _grid_edited(key: str, weights: np.ndarray) -> None:
    """Callback: the grid's edited cells become the custom kernel's text (and so the shareable URL)."""
    try:
        new = apply_edits(weights, (st.session_state.get(key) or {}).get("edited_rows", {}))
    except UserError:
        return
    st.session_state["kn_custom"] = format_kernel(new)


def grid_editor(text: str) -> None:
    """The custom kernel as an editable grid, 1×1 to 7×7 (even sizes too); it and the text stay in step."""
    try:
        weights = parse_kernel(text)
    except UserError:
        return  # the text's own message is shown below; the grid returns once the text reads as a kernel
    kh, kw = weights.shape
    ss = st.session_state
    ss["kn_grid_rows"], ss["kn_grid_cols"] = kh, kw  # follow the text (set before the inputs are drawn)
    c1, c2 = st.columns(2)
    with c1:
        widget(st.number_input, t("kernels.grid_rows"), KERNELS["kn_grid_rows"], on_change=_grid_resized)
    with c2:
        widget(st.number_input, t("kernels.grid_cols"), KERNELS["kn_grid_cols"], on_change=_grid_resized)
    key = f"kn_grid_{format_kernel(weights)}"  # a fresh editor whenever the kernel changes
    cols = [str(j) for j in range(kw)]
    st.data_editor(pd.DataFrame(weights, columns=cols), key=key, on_change=_grid_edited, args=(key, weights),
                   column_config={c: st.column_config.NumberColumn(c, min_value=-MAX_ABS, max_value=MAX_ABS,
                                                                   required=True) for c in cols},
                   width="content")
    st.caption(t("kernels.grid_help"))


def _reads_as_kernel(text: str) -> bool:
    """Whether typed kernel text is valid (only valid text is written to the shareable URL)."""
    try:
        parse_kernel(text)
    except UserError:
        return False
    return True


def chosen_kernel(name: str):
    """Draw the kernel's own controls; return a function giving (weights, divisor, partner weights, partner
    divisor, pair name), which raises ``UserError`` on a bad custom kernel (so the page can keep its last view)."""
    if name != "custom":
        for key in ("kn_custom", "kn_div", "kn_divnum"):  # a named kernel's link carries no custom text
            if key in st.query_params:
                del st.query_params[key]
                st.session_state.get("_published_url_values", {}).pop(key, None)
        k = kernel(name)
        if k.divisor != 1:
            st.caption(t("kernels.divisor_caption", d=fmt(k.divisor)))
        pair = kernel(k.pair) if k.pair else None
        return lambda: (k.weights, k.divisor, (pair.weights if pair else None), (pair.divisor if pair else 1.0),
                        k.pair)
    text = widget(st.text_area, t("kernels.custom_label"), KERNELS["kn_custom"],
                  help=t("kernels.custom_help", chars=KERNEL_TEXT_CHARS), height=120,
                  publish_if=_reads_as_kernel)
    grid_editor(text)
    c1, c2 = st.columns(2)
    with c1:
        mode = widget(st.selectbox, t("kernels.divide"), KERNELS["kn_div"],
                      format_func=labels("kernels.div_"))
    with c2:
        number = widget(st.number_input, t("kernels.div_number_label"), KERNELS["kn_divnum"],
                        disabled=mode != "number", format="%.4g")

    def parse():
        weights = parse_kernel(text)
        return weights, divisor_for(weights, mode, number), None, 1.0, None

    return parse


def shown_value(img, value: float, r: int, c: int, view: str, bias: float, flip: bool, partner,
                partner_divisor: float) -> float:
    """What the output view shows at (r, c) for a raw output ``value``: the value itself, clipped to 0–255, or
    the magnitude √(gx² + gy²) (gy from the partner kernel at the same place) / |value|."""
    if view == "clipped":
        return float(clip_display(np.array([value]))[0])
    if view == "magnitude":
        if partner is None:
            return abs(value)
        gy = inspect_pixel(img, partner, r, c, partner_divisor, bias, flip).value
        return float(gradient_magnitude(np.array([value]), np.array([gy]))[0])
    return value


def _shown_near(img, out, r: int, c: int, shown: View, bias, flip):
    """A copy of the map whose 9×9 cells around (r, c) show what the view shows (clipped values or magnitudes):
    the neighbourhood map of a view other than raw. The partner kernel runs over the image's part under these
    cells only (as the map does: 2.7 → 0.1 ms, not 81 cells one by one); the caller's ``inspect_pixel`` has
    checked the image."""
    ho, wo = out.shape
    picker_map = out.copy()
    r0, r1, c0, c1 = max(0, r - 4), min(ho, r + 5), max(0, c - 4), min(wo, c + 5)
    block = out[r0:r1, c0:c1]
    if shown.view == "clipped":
        picker_map[r0:r1, c0:c1] = clip_display(block)
    elif shown.partner is None:
        picker_map[r0:r1, c0:c1] = np.abs(block)
    else:
        ph, pw = np.shape(shown.partner)
        part = img[r0: r1 - 1 + ph, c0: c1 - 1 + pw]
        gy = apply_kernel(np.asarray(part, dtype=np.float64), shown.partner, shown.partner_divisor, bias, flip)
        picker_map[r0:r1, c0:c1] = gradient_magnitude(block, gy)
    return picker_map


def pixel_inspector(img, weights, divisor, bias, flip, out, best, signed: tuple[float, float],
                    shown: View | None = None,
                    kind: str = "grey") -> None:
    st.header(t("kernels.inspector_header"))
    note(t("kernels.inspector_intro"))
    ho, wo = out.shape
    ss = st.session_state
    n = ss.get("_kn_pick_n", 0)
    picked = ss.get(f"kn_pick_{n}")
    points = picked["selection"]["points"] if picked else []
    if points:  # a click in the neighbourhood map moves the inspector there
        r, c = int(points[0]["y"]), int(points[0]["x"])
        if 0 <= r < ho and 0 <= c < wo:
            ss["kn_row"], ss["kn_col"] = r, c
        ss["_kn_pick_n"] = n = n + 1  # a fresh chart: the same cell can be clicked again
    c1, c2 = st.columns(2)
    with c1:
        r = widget(st.number_input, t("kernels.row"), KERNELS["kn_row"], default=best[0], max_value=ho - 1)
    with c2:
        c = widget(st.number_input, t("kernels.col"), KERNELS["kn_col"], default=best[1], max_value=wo - 1)
    r, c = int(min(max(r, 0), ho - 1)), int(min(max(c, 0), wo - 1))
    info = inspect_pixel(img, weights, r, c, divisor, bias, flip)
    L = lab()
    left, right = st.columns([1, 1])
    picker_map = out if shown is None or shown.view == "raw" else _shown_near(img, out, r, c, shown, bias, flip)
    with left:
        # the raw map's colour range is the cached one (a percentile of the whole map, ~1 ms); another view's
        # changed cells can move it, so it is worked out afresh there
        near = figs.neighbourhood(picker_map, r, c, zrange=signed if picker_map is out else None)
        chart(figure(figs.neighbourhood_block, *near, r, c, title=t("kernels.pick_title", r=r, c=c), **L),
                        key=f"kn_pick_{n}", on_select="rerun", selection_mode="points", config=CFG)
    with right:
        chart(figure(figs.grid_figure, info.window, title=t("kernels.window_title"), kind=kind,
                     colorbar_title=t("kernels.cb_grey") if kind == "grey" else t("common.value"), **L),
              key="kn_win", config=CFG)
    a, b = st.columns(2)
    with a:
        chart(figure(figs.grid_figure, info.kernel, title=t("kernels.kernel_title"), kind="signed",
                                         colorbar_title=t("kernels.cb_weight"), **L), key="kn_ker", config=CFG)
    with b:
        chart(figure(figs.grid_figure, info.products, title=t("kernels.products_title"), kind="signed",
                                         colorbar_title=t("kernels.cb_product"), **L), key="kn_prod", config=CFG)
    formula(inspection_latex(info, tex))
    st.markdown(t("kernels.sum_line", n=info.products.size, total=fmt(info.total), d=fmt(divisor), b=fmt(bias),
                  value=fmt(info.value)))
    st.caption(t("kernels.matches", value=fmt(out[r, c]), r=r, c=c))
    if shown is not None and shown.view != "raw":  # the view shows something else than the raw sum: say what
        view, partner, partner_divisor = shown
        st.markdown(t(f"kernels.inspector_{view}", raw=fmt(info.value),
                      value=fmt(shown_value(img, info.value, r, c, view, bias, flip, partner, partner_divisor))))


@st.cache_data(max_entries=8, show_spinner=False)
def channel_figures(rgb: np.ndarray, weights: np.ndarray, divisor: float, bias: float, flip: bool,
                    texts: tuple, labels_: tuple) -> tuple[list[dict], dict]:
    """The red, green and blue maps and their sum + bias (plain figures), and the numbers quoted under them."""
    per, total = apply_kernel_rgb(rgb, weights, divisor, bias, flip)
    x_title, y_title, value_label = labels_
    *titles, colorbar = texts
    figures = [_plain(figs.map_figure(z, kind="signed", title=title, colorbar_title=colorbar, height=360,
                                      x_title=x_title, y_title=y_title, value_label=value_label))
               for z, title in zip((*per, total), titles)]
    grey_out = apply_kernel(to_grey(rgb).astype(np.float64), weights, divisor, bias, flip)
    luma = np.tensordot(LUMA, per, axes=1) + bias
    numbers = dict(h=total.shape[0], w=total.shape[1], H=rgb.shape[0], W=rgb.shape[1],
                   r=fmt(np.abs(per[0]).max()), g=fmt(np.abs(per[1]).max()), b=fmt(np.abs(per[2]).max()),
                   total=fmt(np.abs(total).max()), diff=f"{np.abs(luma - grey_out).max():.3g}")
    return figures, numbers


def colour_channels(rgb: np.ndarray, weights, divisor: float, bias: float, flip: bool) -> None:
    """The kernel as one depth-3 kernel of a CNN layer: a map per colour channel, their sum + bias."""
    st.header(t("kernels.rgb_header"))
    st.markdown(t("kernels.rgb_text"))
    L = lab()
    texts = (*(t(f"kernels.rgb_map_{c}") for c in ("red", "green", "blue", "sum")), t("kernels.cb_value"))
    figures, numbers = channel_figures(np.ascontiguousarray(rgb[..., :3]), np.asarray(weights, dtype=np.float64),
                                       float(divisor), float(bias), bool(flip), texts,
                                       (L["x_title"], L["y_title"], L["value_label"]))
    cells = [c for _ in range(2) for c in st.columns(2)]
    for col, fig, name in zip(cells, figures, ("red", "green", "blue", "sum")):
        with col:
            chart(_figure(fig), key=f"kn_rgb_{name}", config=CFG)
    st.markdown(t("kernels.rgb_numbers", **numbers))


def default_result(img: np.ndarray, key: str):
    """What ``explore`` shows for the default kernel (vertical edge) on ``img`` (its ``array_key`` is ``key``)."""
    k = kernel("vertical_edge")
    pair = kernel(k.pair)
    settings = Filtering(img, np.asarray(k.weights), float(k.divisor), 0.0, False, np.asarray(pair.weights),
                         float(pair.divisor), key)
    out, best, signed = settings.maps()
    return settings, k.pair, out, best, signed


def _map_ref(text: str):
    """``kn_map``'s URL text → (model, test digit, layer, input channel); None for ""; ``ValueError`` otherwise."""
    if text == "":
        return None
    parts = text.split(",")
    if len(text) > MAP_CHARS or len(parts) != 4 or not (parts[0] == "reference" or valid_id(parts[0])):
        raise ValueError(text)
    index, layer, channel = (int(p) for p in parts[1:])
    if not (0 <= index <= DIGIT_MAX and 0 < layer < MAX_LAYERS and 0 <= channel < MAX_CHANNELS):
        raise ValueError(text)
    return parts[0], index, layer, channel


@st.cache_data(max_entries=16, show_spinner=False)
def network_input_map(model: str, index: int, layer: int, channel: int):
    """``(map, conv number, stride, padding)``: an input channel of a convolution of Inside the network as that
    convolution reads it (``explainer.learning.network.input_map``), on MNIST test digit ``index``; None without the run."""
    from explainer.learning import network as N
    from explainer.data.mnist import load_mnist

    if model == "reference":
        net = N.reference_model()
    else:
        from ui import runs

        run = runs.load(model)
        net = run.get("model") if run else None
        if net is None:
            return None
    x_test = load_mnist()[2]
    layers = N.trace(net, x_test[index % len(x_test)].astype(np.float32) / 255.0)
    m = N.input_map(layers, layer, channel)
    return m, sum(L.kind == "conv" for L in layers[:layer + 1]), layers[layer].stride, layers[layer].padding


def _forget_map() -> None:
    publish("kn_map", None, "")


def network_map() -> PickedImage | None:
    """The image of a link from Inside the network ("open this kernel in the Kernels lesson"): the map a
    convolution reads (``kn_map``), with its own numbers; None when there is none (the picker then)."""
    ref = restore("kn_map", None, parse=_map_ref)
    if ref is None:
        return None
    try:
        made = network_input_map(*ref)
    except (UserError, ValueError):
        made = None
    if made is None:
        st.warning(t("kernels.map_missing"))
        publish("kn_map", None, "")
        return None
    m, n_conv, s, p = made
    name = t("kernels.map_name", c=ref[3], layer=t("network.kind_conv", n=n_conv, f=""), i=ref[1], p=p)
    st.caption(t("kernels.map_caption", name=name, s=s))
    st.button(t("kernels.map_back"), key="kn_map_back", on_click=_forget_map)
    publish("kn_map", ref, ",".join(map(str, ref)))
    return PickedImage(m, name, False)


def explore_settings(picked: PickedImage) -> tuple:
    """The explorer's settings: per colour channel (a colour picture), the kernel (its builder), bias and flip."""
    per_channel = False
    if picked.is_rgb:
        note(t("kernels.rgb_note"))
        per_channel = widget(st.toggle, t("kernels.rgb_toggle"), KERNELS["kn_rgb"],
                             help=t("kernels.rgb_toggle_help"))
    name = widget(st.selectbox, t("kernels.kernel"), KERNELS["kn_kernel"], format_func=labels("kernels.k."),
                  help=t("kernels.kernel_help"))
    st.caption(t(f"kernels.what.{name}"))
    build = chosen_kernel(name)
    c1, c2 = st.columns(2)
    with c1:
        bias = widget(st.number_input, t("kernels.bias"), KERNELS["kn_bias"], help=t("kernels.bias_help"),
                      format="%.4g")
    with c2:
        flip = widget(st.toggle, t("kernels.flip"), KERNELS["kn_flip"], help=t("kernels.flip_help"))
    note(t("kernels.flip_note"))
    return per_channel, build, bias, flip


def explore_result(img: np.ndarray, key: str, build, bias: float, flip: bool):
    """``(settings, pair, out, best, signed colour range of out)`` of the kernel on ``img`` (its ``array_key`` is ``key``; the last good one after an error, shown), or the
    default kernel's when there is none yet; None when not even that can be made."""

    def compute():
        weights, divisor, partner, pdiv, pair = build()
        if not np.isfinite(bias) or abs(bias) > MAX_ABS:
            raise UserError("errors.too_large", text=str(bias), limit=f"{MAX_ABS:g}")
        settings = Filtering(img, np.asarray(weights, dtype=np.float64), float(divisor), float(bias), bool(flip),
                             None if partner is None else np.asarray(partner, dtype=np.float64), float(pdiv), key)
        out, best, signed = settings.maps()
        return settings, pair, out, best, signed

    result, error = keep_last("kn_explore", compute)
    if error:
        st.error(error)
    if result is None:  # nothing good yet (e.g. a shared link with a bad kernel): the default kernel meanwhile
        try:
            result = default_result(img, key)
        except UserError:
            return None
        st.info(t("kernels.showing_default", kernel=t("kernels.k.vertical_edge")))
    return result


def view_notes(view: str | None, pair: str | None, H: int, W: int) -> None:
    """The side notes on the output view (raw, clipped or magnitude) and on a large picture."""
    if view == "raw":
        note(t("kernels.out_raw_note"))
    elif view == "clipped":
        note(t("kernels.out_clipped_note"))
    else:
        note(t("kernels.magnitude_pair", pair=t(f"kernels.k.{pair}")) if pair else t("kernels.magnitude_abs"))
    if max(H, W) > figs.MAX_HEATMAP_SIDE:
        note(t("kernels.big_note"))


def explore() -> None:
    linked = network_map()
    picked = linked or image_picker("kn", default="camera")
    key = array_key(picked.array)  # once per full run: the cached functions below are keyed by it
    if linked is None:
        img, key = grey_of(key, picked.array), key + ":grey"
    else:
        img = picked.array  # a map keeps its own numbers
    kind = "grey" if linked is None else ("signed" if img.min() < 0 else "magnitude")
    # Fragments (server CPU per click, issue 19): a change of the kernel, bias, flip or view reruns what follows
    # the picker, not the sidebar and the lesson's header; the inspected cell reruns only the maps (explore_maps).
    # The picture (and the app's settings in the sidebar) rerun the page.
    st.fragment(explore_image)(picked, img, key, kind)


def explore_image(picked: PickedImage, img: np.ndarray, key: str, kind: str) -> None:
    """The kernel's settings on the picked image, the output view, its question, and the maps (a fragment)."""
    per_channel, build, bias, flip = explore_settings(picked)
    result = explore_result(img, key, build, bias, flip)
    if result is None:
        return
    current = img  # the picked image; the maps below may still show the last good one (another image)
    settings = result[0]
    view = widget(st.segmented_control, t("kernels.output_view"), KERNELS["kn_out"],
                  format_func=labels("kernels.out_"), required=True)
    seen = ask("kernels.out_width", {"w": settings.img.shape[1], "kw": np.shape(settings.weights)[1]},
               "kn")  # predict first: the output map waits for it
    same = settings.img.shape == current.shape and np.array_equal(settings.img, current)
    st.fragment(explore_maps)(picked, kind, result, view, seen, per_channel and same)


def explore_maps(picked: PickedImage, kind: str, result, view: str | None, seen: bool, channels: bool) -> None:
    """The input and output maps with the inspected cell, the histogram, the colour channels and the inspector."""
    settings, pair, out, best, signed = result
    img, weights, divisor, bias, flip = settings.img, settings.weights, settings.divisor, settings.bias, settings.flip
    kh, kw = np.shape(weights)
    ss = st.session_state
    r = int(min(ss.get("kn_row", best[0]), out.shape[0] - 1))
    c = int(min(ss.get("kn_col", best[1]), out.shape[1] - 1))
    H, W = img.shape
    L = lab()
    labels_ = (L["x_title"], L["y_title"], L["value_label"])
    cb = {"raw": t("kernels.cb_value"), "clipped": t("kernels.cb_grey"), "magnitude": t("kernels.cb_magnitude")}[view]
    texts = (t("kernels.output_title", h=out.shape[0], w=out.shape[1]), cb, *labels_, t("kernels.hist_title"),
             t("kernels.hist_x"), t("kernels.hist_y"))
    out_fig, hist_fig = output_figures(settings.key, img, weights, divisor, bias, flip, settings.partner,
                                       settings.partner_divisor, view=view or "raw", texts=texts)
    left, right = st.columns(2)
    with left:
        in_fig = input_figure(settings.key, img, t("kernels.input_title", h=H, w=W), labels_, kind)
        chart(figure(_figure, in_fig, (r, c, kh, kw), max(H, W)), key="kn_in", config=CFG)
    with right:
        if seen:
            chart(figure(_figure, out_fig, (r, c, 1, 1), max(H, W)), key="kn_outmap", config=CFG)
        else:
            st.info(t("questions.hidden"))
    view_notes(view, pair, H, W)
    if seen:
        st.markdown(t("kernels.range", lo=fmt(out.min()), hi=fmt(out.max()), h=out.shape[0], w=out.shape[1], H=H, W=W,
                      kh=kh, kw=kw))
    chart(figure(_figure, hist_fig), key="kn_hist", config=CFG)
    if channels:
        colour_channels(picked.array, weights, divisor, bias, flip)
    pixel_inspector(img, weights, divisor, bias, flip, out, best, signed,
                    shown=View(view or "raw", settings.partner, settings.partner_divisor), kind=kind)


def open_step_edge() -> None:
    """Show the 60|0 step edge under the vertical edge kernel in the explorer, inspecting an edge pixel."""
    st.session_state.update(kn_src="step_edge", kn_kernel="vertical_edge", kn_view="explore", kn_row=0, kn_col=1,
                            kn_out="raw")
    st.query_params.update(kn_src="step_edge", kn_kernel="vertical_edge", kn_view="explore", kn_out="raw")


def examples() -> None:
    L = lab()
    st.header(t("kernels.step_header"))
    st.markdown(t("kernels.step_text"))
    img = sample("step_edge").astype(np.float64)  # the tutorials' 6×6: 60 on the left half, 0 on the right
    k = kernel("vertical_edge").weights
    out = apply_kernel(img, k)
    seen = ask("kernels.edge_value", {"row": 0, "col": 1}, "kn")  # predict first: the output and its sum wait
    a, b, c = st.columns([6, 4, 5])
    with a:
        chart(figure(figs.grid_figure, img, title=t("kernels.input_title", h=img.shape[0], w=img.shape[1]), kind="grey",
                                         colorbar_title=t("kernels.cb_grey"), **L), key="kn_ex_img", config=CFG)
    with b:
        chart(figure(figs.grid_figure, k, title=t("kernels.kernel_title"), kind="signed",
                                         colorbar_title=t("kernels.cb_weight"), **L), key="kn_ex_k", config=CFG)
    with c:
        if seen:
            chart(figure(figs.grid_figure, out, title=t("kernels.output_title", h=out.shape[0], w=out.shape[1]),
                         kind="signed", colorbar_title=t("kernels.cb_value"), **L), key="kn_ex_out", config=CFG)
        else:
            st.info(t("questions.hidden"))
    if seen:
        formula(inspection_latex(inspect_pixel(img, k, 0, 1), tex, per_line=3))
    # A callback runs before the widgets exist, so it may set their values (kn_view is already drawn here).
    st.button(t("kernels.step_open"), key="kn_ex_open", on_click=open_step_edge)

    st.header(t("kernels.curve_header"))
    st.markdown(t("kernels.curve_text"))
    ex = curve_example()
    match, other = inspect_pixel(ex["match"], ex["kernel"], 0, 0), inspect_pixel(ex["other"], ex["kernel"], 0, 0)
    left, right = st.columns(2)
    with left:
        chart(figure(figs.grid_figure, ex["kernel"], title=t("kernels.kernel_title"), kind="signed",
                                         colorbar_title=t("kernels.cb_weight"), height=340, **L), key="kn_cv_k",
                        config=CFG)
    for col, (patch, info, key, title) in zip(
            (right, left), ((ex["match"], match, "kn_cv_m", "kernels.curve_match"),
                                   (ex["other"], other, "kn_cv_o", "kernels.curve_other"))):
        with col:
            chart(figure(figs.grid_figure, patch, title=t(title, v=fmt(info.value)), kind="grey",
                                             colorbar_title=t("kernels.cb_grey"), height=340, **L), key=key, config=CFG)
            formula(inspection_latex(info, tex, per_line=3))


@st.cache_data(max_entries=32, show_spinner=False)
def shift_comparison(s: int):
    one, _, _ = digit(shift_demo.ONE_INDEX)
    seven, _, _ = digit(shift_demo.SEVEN_INDEX)
    return shift_demo.compare(one, seven, s)


def shift_section() -> None:
    st.header(t("kernels.shift_header"))
    st.markdown(t("kernels.shift_text"))
    s = widget(st.slider, t("kernels.shift_slider"), KERNELS["kn_shift"])
    cmp = shift_comparison(s)
    L = lab()
    cols = st.columns(3)
    for col, (im, title, key) in zip(cols, ((cmp.one, t("kernels.shift_one"), "one"),
                                             (cmp.shifted, t("kernels.shift_shifted", s=s), "shifted"),
                                             (cmp.seven, t("kernels.shift_seven"), "seven"))):
        with col:
            chart(figure(figs.map_figure, im * 255, kind="grey", title=title, colorbar_title=t("kernels.cb_grey"),
                                            height=260, **L), key=f"kn_sh_{key}", config=CFG)
    n_feat = cmp.features_one.size
    chart(figure(figs.distances_figure,
        [t("kernels.dist_pixels"), t("kernels.dist_features", n=n_feat)],
        [cmp.pixel_to_one, cmp.feature_to_one], [cmp.pixel_to_seven, cmp.feature_to_seven],
        one_label=t("kernels.dist_to_one"), seven_label=t("kernels.dist_to_seven"), title=t("kernels.dist_title"),
        y_title=t("kernels.dist_y")), key="kn_sh_dist", config=CFG)
    p1, p7, f1, f7 = (f"{v:.2f}" for v in (cmp.pixel_to_one, cmp.pixel_to_seven, cmp.feature_to_one,
                                           cmp.feature_to_seven))
    st.markdown(t("kernels.verdict_pixels_seven", a=p7, b=p1) if cmp.pixel_to_seven < cmp.pixel_to_one
                else t("kernels.verdict_pixels_one", a=p1, b=p7))
    st.markdown(t("kernels.verdict_features_one", a=f1, b=f7) if cmp.feature_to_one < cmp.feature_to_seven
                else t("kernels.verdict_features_seven", a=f7, b=f1))
    chart(figure(figs.grid_figure, np.hstack([np.pad(m, ((0, 0), (0, 1)), constant_values=np.nan)
                                                for m in cmp.features_shifted])[:, :-1],
                                     title=t("kernels.features_title"), kind="magnitude",
                                     colorbar_title=t("kernels.cb_magnitude"), height=220, **L),
                    key="kn_sh_feat", config=CFG)
    note(t("kernels.features_note"))


# ---------------------------------------------------------------- page
view = lesson_views("kernels", "kn_view", VIEWS)
{"explore": explore, "examples": examples, "shift": shift_section}[view or "explore"]()
