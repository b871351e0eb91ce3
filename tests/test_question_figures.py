"""A question's figure for a class poll (explainer/figures/questions.py): one test per kind that it draws what the
learner saw when asked (the input, the window, the stride) and not the answer; the registry's coverage; a stored
state that isn't one of the kind's is refused."""
from __future__ import annotations

import numpy as np
import pytest

from explainer import limits
from explainer.figures import questions as fq
from explainer.maths import xo
from explainer.questions import FIGURES, QUESTIONS, Posed, question

WORDS = dict(title="", x_title="column", y_title="row", value_label="value")


def drawn(d: dict):
    fig = fq.build(d, **WORDS)
    assert [tr.type for tr in fig.data] == ["heatmap"]  # one grid, nothing else (no output map, no verdict)
    return np.asarray(fig.data[0].z, dtype=float), [dict(s.to_plotly_json()) for s in fig.layout.shapes]


def box(shape: dict) -> tuple:
    """A rectangle's cells (x0, y0, x1, y1), from ``style.outline``'s half-cell edges."""
    return tuple(int(round(v)) for v in (shape["x0"] + 0.5, shape["y0"] + 0.5, shape["x1"] - 0.5, shape["y1"] - 0.5))


def test_window_draws_the_padded_input_the_kernels_cells_and_the_next_position_not_the_output():
    p = question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 2})
    assert p.figure == {"kind": "window", "n": 5, "k": 3, "s": 2, "p": 1, "d": 2}
    z, shapes = drawn(p.figure)
    assert z.shape == (7, 7)  # the padded input (the output, 2×2 here, is the answer: not drawn)
    assert z.sum() == 25 and z[0].sum() == 0 and z[:, -1].sum() == 0  # the padding ring is 0, the input 1
    cells = {box(s)[:2] for s in shapes if s["fillcolor"] != "rgba(0,0,0,0)"}
    assert cells == {(c, r) for r in (0, 2, 4) for c in (0, 2, 4)}  # dilation 2: every second cell
    outlines = [box(s) for s in shapes if s["fillcolor"] == "rgba(0,0,0,0)"]
    assert (2, 0, 6, 4) in outlines and (0, 0, 4, 4) in outlines  # the next position one stride on, the first
    assert fq.summary(p.figure) == ("poll.figure_window", {"n": 5, "p": 1, "k": 3, "d": 2, "s": 2})


def test_window_of_pooling_and_kernels_and_too_large_an_input_has_none():
    assert question("pooling.out_size").pose({"n": 6, "f": 2, "s": 2, "p": 0, "ceil": False}).figure == \
        {"kind": "window", "n": 6, "k": 2, "s": 2, "p": 0, "d": 1}
    assert question("kernels.out_width").pose({"w": 12, "kw": 5}).figure["n"] == 12
    assert question("kernels.out_width").pose({"w": 512, "kw": 3}).figure is None  # beyond POLL_FIGURE_SIDE
    assert question("stride.out_size").pose({"n": limits.POLL_FIGURE_SIDE, "k": 3, "s": 1, "p": 1, "d": 1}).figure is None
    _, shapes = drawn({"kind": "window", "n": 30, "k": 30, "s": 1, "p": 0, "d": 1})
    assert len(shapes) == 2  # a large kernel: its span filled and outlined, not 900 cells


def test_xo_draws_the_picture_and_the_patch_asked_at():
    grid = xo.grid_text(xo.O)
    p = question("xo.map_value").pose({"grid": grid, "filter": 0, "row": 2, "col": 4})
    z, shapes = drawn(p.figure)
    assert np.array_equal(z, xo.O)  # the ±1 picture itself, not a filter's map (7×7) nor the votes
    assert [box(s) for s in shapes] == [(4, 2, 6, 4)]
    assert fq.summary(p.figure) == ("poll.figure_xo_patch", {"on": int((xo.O > 0).sum()), "row": 2, "col": 4})
    z, shapes = drawn(question("xo.winner").pose({"grid": grid}).figure)
    assert np.array_equal(z, xo.O) and shapes == []


def test_values_draw_the_input_with_the_window_and_never_the_pooled_value():
    x = [[1, 2, 9], [3, 4.5, 0], [7, 8, 6]]
    p = question("pooling.first_window").pose({"x": x, "f": 2, "s": 2, "p": 1, "ceil": False, "include": True,
                                               "mode": "max"})
    z, shapes = drawn(p.figure)
    assert z.shape == (5, 5) and np.isnan(z[0]).all() and np.array_equal(z[1:4, 1:4], np.asarray(x, float))
    assert [box(s) for s in shapes] == [(0, 0, 1, 1)]  # the first window, at the padded grid's corner
    fig = fq.build(p.figure, **WORDS)
    assert not fig.layout.annotations and not fig.layout.title.text  # no pooled value in a title or a note
    e = question("kernels.edge_value").pose({"row": 0, "col": 1})
    z, shapes = drawn(e.figure)
    assert z.shape == (6, 6) and (z[:, :3] == 60).all() and (z[:, 3:] == 0).all()  # the 60|0 step
    assert [box(s) for s in shapes] == [(1, 0, 3, 2)]


def test_pixel_marks_one_pixel_of_the_grid():
    p = question("images.flat_index").pose({"row": 14, "col": 16, "width": 28})
    z, shapes = drawn(p.figure)
    assert z.shape == (28, 28) and z.sum() == 1 and z[14, 16] == 1
    assert [box(s) for s in shapes] == [(16, 14, 16, 14)]
    assert fq.summary(p.figure) == ("poll.figure_pixel", {"w": 28, "row": 14, "col": 16})


def test_questions_without_a_figure_say_none():
    assert question("network.predicted").pose({"probs": [0.05] * 9 + [0.55]}).figure is None  # no picture handed over
    for qid in FIGURES:
        question(qid)  # every key a registered question (KeyError otherwise)
    assert sorted(FIGURES) == sorted(q.id for qs in QUESTIONS.values() for q in qs)  # every question has one


def test_batches_mark_the_first_batch_and_the_left_over_images_not_the_count():
    p = question("train.updates").pose({"train_size": 1000, "batch_size": 64, "epochs": 3})
    z, shapes = drawn(p.figure)
    assert z.shape == (3, fq.STRIP) and shapes == []  # one strip per epoch
    row = z[0]
    assert (row[:6] == 1).all() and row[6] == 0  # 64 of 1000 images: 6 of 100 cells (the first batch)
    assert (row[-4:] == 2).all() and row[-5] == 0  # 1000 % 64 = 40 images left over: 4 cells
    assert (z == z[0]).all() and set(np.unique(z)) == {0, 1, 2}  # nothing else: no band per batch to count
    assert fq.summary(p.figure) == ("poll.figure_batches", {"n": 1000, "bs": 64, "epochs": 3})
    z, _ = drawn(question("train.updates").pose({"train_size": 60000, "batch_size": 64, "epochs": 1}).figure)
    assert (z[0] == 1).sum() == 1 and (z[0] == 2).sum() == 0  # a batch under one cell still shows; 32 left: < 1 cell


def test_batches_of_a_fractional_training_end_the_last_strip_partway():
    p = question("train.updates").pose({"train_size": 60000, "batch_size": 128, "epochs": 2.5})  # Fashion's recipe
    assert p.figure["epochs"] == 2.5
    z, _ = drawn(p.figure)
    assert z.shape == (3, fq.STRIP)  # two whole strips and a half one
    assert not np.isnan(z[:2]).any() and not np.isnan(z[2, :50]).any() and np.isnan(z[2, 50:]).all()
    assert fq.summary(p.figure) == ("poll.figure_batches", {"n": 60000, "bs": 128, "epochs": 2.5})
    assert question("train.updates").pose({"train_size": 60000, "batch_size": 128, "epochs": 3.0}).figure["epochs"] == 3
    for bad in (2.3, 0.5, float("nan"), "2", True):  # a poll's figure from a client is checked: quarters only
        with pytest.raises(ValueError):
            fq.checked({**p.figure, "epochs": bad})


def test_image_is_the_picture_the_network_reads_not_its_softmax():
    x = np.zeros((28, 28))
    x[5:20, 12:15] = 0.8  # a "1"
    state = {"probs": [0.01] * 9 + [0.91], "image": x.tolist()}
    p = question("network.confidence").pose(state)
    z, shapes = drawn(p.figure)
    assert z.shape == (28, 28) and set(np.unique(z)) == {0, 255} and (z[5:20, 12:15] == 255).all() and shapes == []
    assert question("network.predicted").pose(state).figure == p.figure
    fig = fq.build(p.figure, **WORDS)
    assert fig.data[0].text is None and not fig.layout.annotations and not fig.layout.title.text  # no class, no %
    assert fq.summary(p.figure) == ("poll.figure_image", {"h": 28, "w": 28})
    assert question("network.predicted").pose({**state, "image": np.zeros((64, 64)).tolist()}).figure is None


def test_swatch_is_the_pixels_colour_not_its_grey_level():
    p = question("images.grey").pose({"rgb": [200, 10, 30]})
    z, shapes = drawn(p.figure)
    fig = fq.build(p.figure, **WORDS)
    assert z.shape == (1, 1) and {c for _, c in fig.data[0].colorscale} == {"rgb(200,10,30)"}
    assert fq.summary(p.figure) == ("poll.figure_swatch", {"r": 200, "g": 10, "b": 30})
    assert p.answer == 69 and fig.data[0].text is None and not fig.layout.annotations  # no grey level written
    n = question("images.normalised").pose({"value": 59})
    assert n.figure == {"kind": "swatch", "rgb": [59, 59, 59]}


def test_stack_draws_each_kernels_slices_one_per_input_channel():
    p = question("stride.params").pose({"kernels": 2, "channels": 3, "f": 3})
    z, shapes = drawn(p.figure)
    assert z.shape == (7, 11)  # 2 kernels × 3 slices of 3×3, a blank row and column between
    assert np.isfinite(z).sum() == 2 * 3 * 9 and set(np.unique(z[np.isfinite(z)])) == {0, 1, 2}  # a shade a channel
    assert [box(s) for s in shapes] == [(0, 0, 10, 2), (0, 4, 10, 6)]  # one outline a kernel (its biases: not drawn)
    assert question("stride.params").pose({"kernels": 64, "channels": 3, "f": 3}).figure is None  # too many to draw


def test_spread_draws_the_input_apart_and_the_kernel_never_the_output():
    p = question("stride.transposed_size").pose({"n": 3, "k": 2, "s": 2, "p": 0, "op": 1})
    z, shapes = drawn(p.figure)
    assert z.shape == (5, 8)  # the spread input (5×5), a blank column, the kernel: nothing of the 7×7 output
    assert (z[0:5:2, 0:5:2] == 1).all() and (z[:5, :5] == 1).sum() == 9 and (z[:5, :5] == 0).sum() == 16
    assert (z[:2, 6:] == 2).all() and np.isnan(z[:, 5]).all() and np.isnan(z[2:, 6:]).all()
    assert [box(s) for s in shapes] == [(0, 0, 4, 4), (6, 0, 7, 1)]
    assert fq.summary(p.figure) == ("poll.figure_spread", {"n": 3, "k": 2, "s": 2, "p": 0, "op": 1})


def test_peak_kept_shows_the_shifted_picture_not_its_maps():
    from explainer.maths.pooling import shift

    z, shapes = drawn(question("pooling.peak_kept").pose({"which": "o", "dy": 1, "dx": -2}).figure)
    assert np.array_equal(z, shift(xo.O, 1, -2, fill=-1.0)) and shapes == []


def test_surface_is_the_races_surface_with_its_start_and_no_paths():
    from explainer.learning import optim

    race = dict(surface="quadratic", kappa=10.0, runs=[["sgd", [["lr", 0.05]]], ["adam", [["lr", 0.1]]]],
                start=[2.0, 1.5], steps=20, noise=0.0, seed=0)
    p = question("optimizers.first").pose(race)
    assert p.figure == question("optimizers.lowest").pose(race).figure
    z, shapes = drawn(p.figure)  # one heatmap: no optimizer's path, no loss curve
    surf = optim.surface("quadratic", kappa=10.0)
    _, _, loss = optim.loss_grid(surf, fq.SURFACE_SIDE)
    assert z.shape == (fq.SURFACE_SIDE,) * 2 and z.min() == 0 and z.max() == 100
    lv = loss - loss.min()
    lv = np.log1p(lv) if surf.log_scale else lv
    assert np.array_equal(z, np.rint(100 * lv / lv.max()))  # the same surface, on the page's scale
    (x0, x1), (y0, y1) = surf.bounds
    [circle] = shapes
    col = (2.0 - x0) / (x1 - x0) * (fq.SURFACE_SIDE - 1)
    row = (1.5 - y0) / (y1 - y0) * (fq.SURFACE_SIDE - 1)
    assert circle["type"] == "circle" and (circle["x0"] + circle["x1"]) / 2 == pytest.approx(col, abs=0.01)
    assert (circle["y0"] + circle["y1"]) / 2 == pytest.approx(row, abs=0.01)


def test_layers_name_the_layers_without_their_shapes_or_counts():
    from explainer.learning import models as M

    p = question("train.params").pose({"model": "lenet5"})
    rows = M.summary(M.build_model("lenet5"), "")
    assert p.figure["names"] == [r["layer"] for r in rows[:-1]]  # the layer column, not the total row
    fig = fq.build(p.figure, **WORDS)
    assert [list(r) for r in fig.data[0].text] == [[v] for v in p.figure["names"]] and not fig.layout.shapes
    assert not fig.layout.annotations and not fig.layout.title.text  # the names alone: no count, no shape
    f = question("train.first_values").pose({"model": "fast"})
    assert f.figure["names"][1] == "1: Conv2d 1→16, 5×5, pad 2" and f.answer == 16 * 28 * 28


def test_by_hand_input_with_the_stride_and_its_dl_dy_without_their_sum():
    from explainer.questions import _hand

    state = dict(input="step_edge", kernel="sobel_x", target="box_blur_3", bias=1.5, stride=2, padding=1)
    z, shapes = drawn(question("backprop.y_size").pose(state).figure)
    assert z.shape == (8, 8) and np.isnan(z[0]).all() and (z[1:7, 1:4] == 60).all()  # X with its padding ring
    assert [box(s) for s in shapes] == [(0, 0, 2, 2), (2, 0, 4, 2)]  # the 3×3 window and the next, 2 columns on
    assert shapes[1]["line"]["dash"] == "dash"
    g = question("backprop.grad_b").pose(state)
    z, shapes = drawn(g.figure)
    assert np.allclose(z, _hand(state).grad_y, atol=1e-3) and shapes == []  # ∂L/∂Y, no window
    assert fq.summary(g.figure) == ("poll.figure_values_plain", {"h": z.shape[0], "w": z.shape[1]})
    fig = fq.build(g.figure, **WORDS)
    assert not fig.layout.annotations and not fig.layout.title.text  # their sum (the answer) is not written


@pytest.mark.parametrize("bad", [
    None, [], "window", {"kind": "evil"},
    {"kind": "window", "n": 10 ** 9, "k": 3, "s": 1, "p": 0, "d": 1},
    {"kind": "window", "n": 5, "k": 3, "s": 1, "p": 0, "d": 1, "extra": 1},
    {"kind": "window", "n": 5, "k": True, "s": 1, "p": 0, "d": 1},
    {"kind": "window", "n": 5.0, "k": 3, "s": 1, "p": 0, "d": 1},
    {"kind": "window", "n": 5, "k": 99, "s": 1, "p": 0, "d": 1},
    {"kind": "xo", "grid": "1" * 80, "patch": None},
    {"kind": "xo", "grid": "2" * 81, "patch": None},
    {"kind": "xo", "grid": "1" * 81, "patch": [7, 0]},
    {"kind": "values", "x": [[1, 2], [3]], "f": 1, "p": 0, "row": 0, "col": 0},
    {"kind": "values", "x": [[float("nan")]], "f": 1, "p": 0, "row": 0, "col": 0},
    {"kind": "values", "x": [["<b>1</b>"]], "f": 1, "p": 0, "row": 0, "col": 0},
    {"kind": "values", "x": [[0] * 17] * 17, "f": 1, "p": 0, "row": 0, "col": 0},
    {"kind": "values", "x": [[1, 2], [3, 4]], "f": 2, "p": 0, "row": 1, "col": 0},
    {"kind": "pixel", "w": 28, "row": 28, "col": 0},
    {"kind": "pixel", "w": -1, "row": 0, "col": 0},
    {"kind": "values", "x": [[1, 2], [3, 4]], "f": 1, "p": 0, "row": 0, "col": 0, "s": 0},
    {"kind": "values", "x": [[1, 2], [3, 4]], "f": 1, "p": 0, "row": 0, "col": 0, "t": 1},
    {"kind": "swatch", "rgb": [256, 0, 0]},
    {"kind": "swatch", "rgb": "red"},
    {"kind": "stack", "k": 40, "c": 1, "f": 3},
    {"kind": "spread", "n": 30, "k": 3, "s": 3, "p": 0, "op": 0},
    {"kind": "surface", "z": [[0] * 24] * 23, "start": [0, 0]},
    {"kind": "surface", "z": [[101] * 24] * 24, "start": [0, 0]},
    {"kind": "surface", "z": [[0] * 24] * 24, "start": [0, 99]},
    {"kind": "layers", "names": ["<b>Conv2d</b>"]},
    {"kind": "layers", "names": ["x" * 61]},
    {"kind": "layers", "names": ["ReLU"] * 33},
    {"kind": "layers", "names": []},
    {"kind": "image", "x": [[256]]},
    {"kind": "image", "x": [[0] * 41]},
    {"kind": "image", "x": [[0, 1], [2]]},
    {"kind": "batches", "n": 100, "bs": 101, "epochs": 1},
    {"kind": "batches", "n": 100, "bs": 10, "epochs": 41},
])
def test_a_state_that_is_not_one_of_its_kind_is_refused(bad):
    with pytest.raises(ValueError):
        fq.checked(bad)
    with pytest.raises(ValueError):
        fq.build(bad, **WORDS)


def test_a_poll_refuses_a_question_whose_figure_is_bad():
    from explainer.polls import check_question

    d = question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict()
    assert check_question(d)[0].figure == d["figure"]
    with pytest.raises(ValueError):
        check_question({**d, "figure": {"kind": "window", "n": 10 ** 6, "k": 3, "s": 1, "p": 0, "d": 1}})
    assert Posed.from_dict({k: v for k, v in d.items() if k != "figure"}).figure is None  # a poll kept before figures
