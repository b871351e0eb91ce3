"""Lesson — Pooling: step through max / average / global average pooling; pooling a real image and
the X/O feature maps; the small shift a max-pool absorbs."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

from typing import NamedTuple

import numpy as np
import streamlit as st

from explainer.figures import stepper as figs
from explainer.figures.images import picture
from explainer.maths.formulas import pool_size
from explainer.data.images import to_grey
from explainer.maths.pooling import global_avg_pool, pool2d, shift
from explainer.maths.stepper import pool_walk
from ui.charts import chart, figure
from ui.questions import ask
from ui.images import image_picker, image_region
from explainer.maths import xo
from ui.shell import formula, keep_last, labels, lesson_views, note, section, t, tn, widget
from ui.stepper import figure_labels, grid_controls, stepper, uncovered_warning
from ui.tables.pooling import OVERLAP, VIEWS, TABLE as POOLING


# The X/O example (9×9, +1 strokes on −1 background) and its three 3×3 filters come from explainer.maths.xo.


@st.cache_data(max_entries=16, show_spinner=False)
def feature_maps(which: str, dy: int = 0, dx: int = 0) -> np.ndarray:
    """The three 7×7 feature maps of the X or O image (shifted by dy, dx): the X/O network's first stage."""
    return xo.filter_maps(shift(xo.X if which == "x" else xo.O, dy, dx, fill=-1.0))


class Pooling(NamedTuple):
    """One pooling as the page sets it: ``make_pool_walk``'s arguments, by name."""
    x: np.ndarray
    size: tuple
    stride: tuple
    mode: str
    padding: int
    ceil_mode: bool
    count_include_pad: bool


@st.cache_data(max_entries=64, show_spinner=False)
def make_pool_walk(x, size, stride, mode, padding, ceil_mode, count_include_pad):
    walk = pool_walk(x, size, stride, mode, padding, ceil_mode, count_include_pad)
    return walk, walk.output()


@st.cache_data(max_entries=16, show_spinner=False)
def pooled_levels(img: np.ndarray, levels: int) -> tuple[list, list]:
    """Max- and average-pooled copies (2×2, stride 2), once per level, as uint8 images."""
    maxes, avgs = [], []
    a = b = img.astype(float)
    for _ in range(levels):
        a = pool2d(a, 2, 2, "max")
        b = pool2d(b, 2, 2, "avg")
        maxes.append(np.clip(np.rint(a), 0, 255).astype(np.uint8))
        avgs.append(np.clip(np.rint(b), 0, 255).astype(np.uint8))
    return maxes, avgs


def show_pool_step(walk, out, pos: int, lab: dict, colorscale: str, compare=None) -> None:
    """One step of the pooling walk; ``compare``: the max and the average walks over the same input and window,
    whose results are shown side by side below."""
    step = walk.step(pos - 1)
    k, r, c = step.out
    left, right = st.columns([3, 2])
    with left:
        chart(figure(figs.grid_figure, walk, step, channel=k, labels=lab, colorscale=colorscale,
                                         title=t("pooling.grid_title")), key="pl_grid",
                        config={"displayModeBar": False})
    with right:
        chart(figure(figs.output_figure, out, pos, labels=lab, title=t("pooling.output_title"),
                                           colorscale="Blues", zmid=None), key="pl_out",
                        config={"displayModeBar": False})
    st.markdown(t("pooling.step_text", n=pos, total=len(walk), r=r, c=c))
    win, text_col = st.columns([3, 2])
    with win:
        chart(figure(figs.window_figure, walk, step, labels=lab, title=t("pooling.window_title")),
                        key="pl_window", config={"displayModeBar": False})
    with text_col:
        values = step.values[0]
        if walk.mode == "max":
            shown = [figs.fmt(v) for v, role in zip(values.ravel(), walk.roles[np.ix_(step.rows, step.cols)].ravel())
                     if role == 0]
            st.markdown(t("pooling.max_text", values=", ".join(shown), y=figs.fmt(step.result)))
        else:
            counted = values[step.counted]
            terms = " + ".join(figs.fmt(v) if v >= 0 else f"({figs.fmt(v)})" for v in counted)
            st.markdown(t("pooling.avg_text", sum=terms, n=int(step.counted.sum()),
                          y=figs.fmt(step.result)))
    if compare is not None:
        show_comparison(compare, pos, lab)


def show_comparison(compare, pos: int, lab: dict) -> None:
    """Max and average pooling of the same input with the same window, side by side, filled up to this step."""
    (max_walk, max_out), (avg_walk, avg_out) = compare
    st.subheader(t("pooling.compare_header"))
    at_max, at_avg = max_walk.step(pos - 1).result, avg_walk.step(pos - 1).result
    left, right = st.columns(2)
    for col, out, key, value in ((left, max_out, "max", at_max), (right, avg_out, "avg", at_avg)):
        with col:
            chart(figure(figs.output_figure, out, pos, labels=lab, title=t(f"pooling.compare_{key}_title"),
                         colorscale="Blues", zmid=None), key=f"pl_cmp_{key}",
                  config={"displayModeBar": False})
    st.markdown(t("pooling.compare_text", max=figs.fmt(at_max), avg=figs.fmt(at_avg),
                  diff=figs.fmt(at_max - at_avg)))


# ---------------------------------------------------------------- sections
def stepper_input() -> tuple[np.ndarray, str]:
    """The stepper's input (a random grid, an image region or an X/O feature map) and its colour scale."""
    src = widget(st.segmented_control, t("pooling.source"), POOLING["pl_input"], format_func=labels("pooling.src_"),
                 required=True)
    colorscale = "Blues"
    if src == "image":
        x = image_region("pooling", "pl", min_size=4)[0]
        colorscale = "Greys"
    elif src == "xo":
        which = widget(st.segmented_control, t("pooling.xo_image"), POOLING["pl_xo"],
                       format_func=labels("pooling.xo_"), required=True)
        x = feature_maps(which)
        st.caption(t("pooling.xo_caption"))
    else:
        x = grid_controls("pooling", "pl", 6)
    return x, colorscale


def stepper_settings() -> tuple:
    """The pooling's settings (mode, window size, stride, padding, ceil mode, padding counted, compare) and the
    overlapping preset's button."""

    def overlapping():
        st.session_state.update(OVERLAP)

    mode = widget(st.segmented_control, t("pooling.mode"), POOLING["pl_mode"],
                  format_func=labels("pooling.mode_"), required=True, help=t("pooling.mode_help"))
    c1, c2, c3 = st.columns(3)
    with c1:
        size = widget(st.slider, t("pooling.size"), POOLING["pl_size"],
                      disabled=mode == "global")
    with c2:
        stride = widget(st.slider, t("pooling.stride"), POOLING["pl_stride"],
                        disabled=mode == "global")
    with c3:
        padding = widget(st.slider, t("pooling.padding"), POOLING["pl_pad"],
                         disabled=mode == "global", help=t("pooling.padding_help"))
    c1, c2 = st.columns(2)
    with c1:
        ceil_mode = widget(st.toggle, t("pooling.ceil"), POOLING["pl_ceil"], help=t("pooling.ceil_help"),
                           disabled=mode == "global")
    with c2:
        include = widget(st.toggle, t("pooling.count_pad"), POOLING["pl_count"],
                         help=t("pooling.count_pad_help"), disabled=mode != "avg")
    compare = widget(st.toggle, t("pooling.compare"), POOLING["pl_compare"], help=t("pooling.compare_help"),
                     disabled=mode == "global")
    st.button(t("pooling.overlap_preset"), key="pl_overlap", on_click=overlapping, help=t("pooling.overlap_help"),
              icon=":material/layers:")
    return mode, size, stride, padding, ceil_mode, include, compare


def walk_sizes(walk, x: np.ndarray, is_global: bool, cm: bool) -> bool:
    """Global pooling's values, or the output size's formulas (after their question); the size sentence, the
    overlap note and the uncovered rows and columns. False: a question waits for its answer."""
    ih, iw = walk.input_shape
    if is_global:
        st.markdown(tn("pooling.global_text", walk.grid.shape[0], h=ih, w=iw, c=walk.grid.shape[0],
                      values=", ".join(figs.fmt(v) for v in np.atleast_1d(global_avg_pool(x)))))
    else:
        fh, fw = walk.window
        if not ask("pooling.out_size", {"n": ih, "f": fh, "s": walk.stride[0], "p": walk.origin[0], "ceil": bool(cm)},
                   "pl"):  # predict first: the sizes and the walk wait for the answer
            return False
        sizes = (pool_size(ih, fh, walk.stride[0], walk.origin[0], cm, "H"),
                 pool_size(iw, fw, walk.stride[1], walk.origin[1], cm, "W"))
        for size_formula in sizes:
            formula(size_formula.latex)
        if any(f.dropped for f in sizes):
            st.caption(t("pooling.ceil_dropped"))
    kc, oh, ow = walk.out_shape
    st.markdown(tn("pooling.size_text", kc, h=ih, w=iw, oh=oh, ow=ow, c=kc, windows=tn("pooling.windows", len(walk)),
                  kept=round(100 * oh * ow / (ih * iw))))
    if walk.window[0] > walk.stride[0] or walk.window[1] > walk.stride[1]:
        st.info(t("pooling.overlap_note"))
    uncovered_warning(walk, "pooling")
    return True


def section_stepper(lab: dict) -> None:
    section("pooling", "stepper")
    x, colorscale = stepper_input()
    mode, size, stride, padding, ceil_mode, include, compare = stepper_settings()
    if mode == "global":
        hh, ww = x.shape[-2:]
        args = Pooling(x, (hh, ww), (1, 1), "avg", 0, False, True)
    else:
        args = Pooling(x, size, stride, mode, padding, ceil_mode, include)
    result, error = keep_last("pl_stepper", lambda: (make_pool_walk(*args), mode == "global", args.ceil_mode))
    if error:
        st.error(error)
    if result is None:
        return
    (walk, out), is_global, cm = result
    if not walk_sizes(walk, x, is_global, cm):
        return
    ih, iw = walk.input_shape
    both = None
    if compare and not is_global and not error:  # the same input and window, pooled both ways (cached, like the walk)
        both = tuple(make_pool_walk(*args._replace(mode=m)) for m in ("max", "avg"))
    if not is_global and not ask("pooling.first_window", {
            "x": walk.grid[0, walk.origin[0]:walk.origin[0] + ih, walk.origin[1]:walk.origin[1] + iw].tolist(),
            "f": int(walk.window[0]), "s": int(walk.stride[0]), "p": int(walk.origin[0]), "ceil": bool(cm),
            "include": bool(args.count_include_pad), "mode": walk.mode}, "pl"):
        return  # predict first: the walk starts at that window
    stepper("pl", len(walk), lambda pos: show_pool_step(walk, out, pos, lab, colorscale, both))
    note(t(f"pooling.stepper_note_{mode}"))


def section_image() -> None:
    section("pooling", "image")
    picked = image_picker("pl_photo", default="camera")
    img = to_grey(picked.array)
    levels = widget(st.slider, t("pooling.levels"), POOLING["pl_levels"],
                    help=t("pooling.levels_help"))
    if min(img.shape) < 2 ** levels:
        st.error(tn("pooling.too_small", levels, h=img.shape[0], w=img.shape[1], levels=levels))
        return
    maxes, avgs = pooled_levels(img, levels)
    mx, av = maxes[-1], avgs[-1]
    cols = st.columns(3)
    for col, im, key in zip(cols, (img, mx, av), ("original", "max", "avg")):
        with col:
            chart(figure(picture, im, title=t(f"pooling.img_{key}", h=im.shape[0], w=im.shape[1]), height=300),
                            key=f"pl_img_{key}", config={"displayModeBar": False})
    st.markdown(tn("pooling.image_sizes", levels, h=img.shape[0], w=img.shape[1], oh=mx.shape[0], ow=mx.shape[1],
                  levels=levels, factor=4 ** levels))
    c1, c2, c3 = st.columns(3)
    c1.metric(t("pooling.mean_original"), f"{img.mean():.0f}")
    c2.metric(t("pooling.mean_max"), f"{mx.mean():.0f}", delta=f"{mx.mean() - img.mean():+.0f}")
    c3.metric(t("pooling.mean_avg"), f"{av.mean():.0f}", delta=f"{av.mean() - img.mean():+.0f}")
    st.markdown(t("pooling.image_kept"))
    note(t("pooling.image_note"))


def section_xo(lab: dict) -> None:
    section("pooling", "xo")
    c1, c2, c3 = st.columns(3)
    with c1:
        which = widget(st.segmented_control, t("pooling.xo_image"), POOLING["pl_xo2"],
                       format_func=labels("pooling.xo_"), required=True)
    with c2:
        dy = widget(st.slider, t("pooling.shift_down"), POOLING["pl_dy"])
    with c3:
        dx = widget(st.slider, t("pooling.shift_right"), POOLING["pl_dx"])
    maps, moved = feature_maps(which), feature_maps(which, dy, dx)
    pooled = pool2d(maps, 2, 2, "max", ceil_mode=True)
    pooled_moved = pool2d(moved, 2, 2, "max", ceil_mode=True)
    names = [t(f"xo.filter_{name}") for name in xo.FILTER_NAMES]
    xo_lab = dict(lab, output=t("pooling.lab_match"))
    for title, arr, key in ((t("pooling.maps_title"), maps, "maps"),
                            (t("pooling.maps_moved_title", dy=dy, dx=dx), moved, "moved")):
        chart(figure(figs.output_figure, arr, arr.size, labels=xo_lab, title=title, height=300, map_titles=names,
                                           outline_current=False), key=f"pl_xo_{key}", config={"displayModeBar": False})
    if not ask("pooling.peak_kept", {"which": which, "dy": int(dy), "dx": int(dx)}, "pl"):  # predict first
        return
    for arr, key, title in ((pooled, "pooled", t("pooling.pooled_title")),
                            (pooled_moved, "pooled_moved", t("pooling.pooled_moved_title"))):
        chart(figure(figs.output_figure, arr, arr.size, labels=xo_lab, title=title, height=260, map_titles=names,
                                           outline_current=False), key=f"pl_xo_{key}", config={"displayModeBar": False})
    same_maps = float(np.mean(np.isclose(maps, moved)))
    same_pooled = float(np.mean(np.isclose(pooled, pooled_moved)))
    peak_same = bool(np.allclose(pooled.max(axis=(1, 2)), pooled_moved.max(axis=(1, 2))))
    m1, m2 = st.columns(2)
    m1.metric(t("pooling.same_maps"), f"{100 * same_maps:.0f} %")
    m2.metric(t("pooling.same_pooled"), f"{100 * same_pooled:.0f} %")
    st.markdown(t("pooling.shift_text", maps=round(100 * same_maps), pooled=round(100 * same_pooled),
                  peak=t("pooling.peak_same") if peak_same else t("pooling.peak_changed")))
    note(t("pooling.xo_note"))


# ---------------------------------------------------------------- page
view = lesson_views("pooling", "pl_view", VIEWS)
LAB = figure_labels()
if view == "stepper":
    section_stepper(LAB)
elif view == "image":
    section_image()
else:
    section_xo(LAB)
