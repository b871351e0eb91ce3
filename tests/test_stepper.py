"""The one sliding-window walk: order of steps, what each step shows, padding ring, coverage."""
import itertools

import numpy as np
import pytest

from explainer.maths.conv import conv2d, conv_transpose2d
from explainer.errors import UserError
from explainer.maths.pooling import pool2d
from explainer.maths.stepper import (INPUT, INSERTED, OUTSIDE, PADDING, conv_walk, parse_grid, pool_walk,
                               transposed_walk)

rng = np.random.default_rng(0)


def _cells(shape):
    return list(itertools.product(*(range(n) for n in shape)))


@pytest.mark.parametrize("k,s,p,d,mode", [(3, 1, 0, 1, "zeros"), (3, 2, 1, 1, "zeros"), (2, 3, 0, 1, "zeros"),
                                          (3, 1, 2, 2, "reflect"), (4, 2, 3, 1, "circular"),
                                          (5, 1, 2, 1, "replicate"), (1, 4, 1, 3, "zeros")])
def test_conv_walk_visits_exactly_the_output_cells_in_order(k, s, p, d, mode):
    x = rng.integers(0, 10, size=(7, 6)).astype(float)
    kern = rng.integers(-2, 3, size=(k, k)).astype(float)
    walk = conv_walk(x, kern, s, p, d, bias=0.5, padding_mode=mode)
    want = conv2d(x, kern, s, p, d, bias=0.5, padding_mode=mode)
    steps = list(walk)
    assert [st.out for st in steps] == _cells((1,) + want.shape)
    assert [st.index for st in steps] == list(range(len(walk)))
    for st in steps:
        _, r, c = st.out
        np.testing.assert_array_equal(st.rows, r * s + d * np.arange(k))
        np.testing.assert_array_equal(st.cols, c * s + d * np.arange(k))
        np.testing.assert_array_equal(st.values[0], walk.grid[0][np.ix_(st.rows, st.cols)])
        np.testing.assert_array_equal(st.products, st.values * st.weights)
        assert st.result == pytest.approx(st.products.sum() + 0.5)
        assert st.result == pytest.approx(want[r, c])


def test_padding_ring_is_marked_and_holds_the_padding_mode_values():
    x = np.arange(12.0).reshape(3, 4)
    walk = conv_walk(x, np.ones((3, 3)), padding=2, padding_mode="replicate")
    assert walk.grid.shape == (1, 7, 8) and walk.origin == (2, 2)
    assert (walk.roles == INPUT).sum() == 12 and (walk.roles == PADDING).sum() == 7 * 8 - 12
    np.testing.assert_array_equal(walk.grid[0, 2:5, 2:6], x)
    assert walk.grid[0, 0, 0] == x[0, 0] and walk.grid[0, 6, 7] == x[-1, -1]
    assert walk.input_cell(2, 2) == (0, 0) and walk.input_cell(0, 0) is None


def test_multichannel_tutorial_example_two_kernels_of_depth_three():
    # cs231n / the tutorials: 5×5×3 input, pad 1, two 3×3×3 kernels, stride 2 → 3×3×2
    x = rng.integers(0, 3, size=(3, 5, 5)).astype(float)
    bank = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(float)
    walk = conv_walk(x, bank, stride=2, padding=1, bias=[1, 0])
    assert walk.out_shape == (2, 3, 3) and len(walk) == 18
    np.testing.assert_allclose(walk.output(), conv2d(x, bank, 2, 1, bias=[1, 0]))
    st = walk.step(9)  # first cell of the second map
    assert st.out == (1, 0, 0) and st.values.shape == (3, 3, 3) and st.bias == 0.0
    per_channel = st.products.sum(axis=(1, 2))
    assert st.result == pytest.approx(per_channel.sum())
    assert walk.step(0).bias == 1.0


def test_uncovered_rows_and_columns_when_the_stride_does_not_tile():
    walk = conv_walk(np.zeros((6, 7)), np.ones((3, 3)), stride=2)
    # rows: windows start at 0 and 2 → rows 0..4 covered, row 5 never; columns 0..6 all covered
    assert walk.out_shape == (1, 2, 3)
    assert walk.uncovered() == ([5], [])
    # dilation skips pixels: taps 0 and 2 only, once
    walk = conv_walk(np.zeros((5, 5)), np.ones((2, 2)), stride=4, dilation=2)
    assert walk.out_shape == (1, 1, 1) and walk.uncovered() == ([1, 3, 4], [1, 3, 4])
    # padding cells never count as uncovered input
    walk = conv_walk(np.zeros((5, 5)), np.ones((3, 3)), stride=2, padding=1)
    assert walk.uncovered() == ([], [])
    cov = walk.coverage()
    assert cov.shape == (7, 7) and cov[1, 1] == 1 and cov[2, 2] == 4


def test_transposed_walk_inserts_zeros_and_rotates_the_kernel():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    kern = np.arange(9.0).reshape(3, 3)
    walk = transposed_walk(x, kern, stride=2, padding=1)
    # stuffed input 3×3 (one zero between values), border d(k−1) − p = 1
    assert walk.grid.shape == (1, 5, 5) and walk.out_shape == (1, 3, 3)
    assert (walk.roles == INPUT).sum() == 4 and (walk.roles == INSERTED).sum() == 5
    assert walk.grid[0, 1, 1] == 1 and walk.grid[0, 3, 3] == 4 and walk.grid[0, 2, 2] == 0
    np.testing.assert_array_equal(walk.weights[0, 0], kern[::-1, ::-1])
    assert walk.input_cell(3, 1) == (1, 0) and walk.input_cell(2, 2) is None
    assert [s.out for s in walk] == _cells((1, 3, 3))
    np.testing.assert_allclose([s.result for s in walk], conv_transpose2d(x, kern, 2, 1).ravel())
    # large padding crops the stuffed input: still the same numbers
    walk = transposed_walk(x, np.ones((2, 2)), stride=3, padding=2)
    np.testing.assert_allclose(walk.output()[0], conv_transpose2d(x, np.ones((2, 2)), 3, 2))


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size,stride,padding,ceil", [(2, None, 0, False), (3, 2, 1, False), (2, 2, 1, True),
                                                       (3, 2, 0, True), (2, 1, 0, False)])
def test_pool_walk_steps_fill_pool2d(mode, size, stride, padding, ceil):
    x = rng.normal(size=(2, 7, 7))
    walk = pool_walk(x, size, stride, mode, padding, ceil)
    want = pool2d(x, size, stride, mode, padding, ceil)
    steps = list(walk)
    assert [s.out for s in steps] == _cells(want.shape)
    for s in steps:
        assert s.result == pytest.approx(want[s.out]) and s.weights is None
        if mode == "max":
            i, j = s.pick
            assert walk.roles[s.rows[i], s.cols[j]] == INPUT and s.values[0, i, j] == s.result
        else:
            assert s.counted.sum() >= 1


def test_pool_ceil_mode_marks_cells_beyond_the_edge():
    walk = pool_walk(np.ones((7, 7)), 2, 2, "avg", ceil_mode=True)
    assert walk.out_shape == (1, 4, 4) and (walk.roles == OUTSIDE).sum() == 8 * 8 - 49
    assert walk.step(15).counted.sum() == 1 and walk.step(15).result == 1.0


def test_bad_settings_raise_user_errors():
    with pytest.raises(UserError) as info:
        conv_walk(np.zeros((3, 3)), np.ones((5, 5)))
    assert info.value.key == "errors.no_output"
    with pytest.raises(UserError):
        conv_walk(np.zeros((3, 3)), np.ones((3, 3)), padding=3, padding_mode="reflect")
    with pytest.raises(UserError):
        conv_walk([[1, np.nan]], np.ones((1, 1)))
    with pytest.raises(UserError) as info:
        pool_walk(np.zeros((4, 4)), 2, padding=2)
    assert info.value.key == "errors.pool_padding"
    with pytest.raises(IndexError):
        conv_walk(np.zeros((3, 3)), np.ones((3, 3))).step(1)


def test_parse_grid():
    np.testing.assert_array_equal(parse_grid("1 0 -1\n2, 0, -2\n1 0 -1"), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(parse_grid("0.5 1; 2 3"), [[0.5, 1], [2, 3]])
    for bad, key in [("1 a", "errors.not_a_number"), ("1 nan", "errors.not_finite"),
                     ("inf 1", "errors.not_finite"), ("", "errors.empty_kernel"),
                     ("1 2\n3", "errors.ragged_rows"), ("\n".join(["1 " * 8] * 8), "errors.grid_too_big")]:
        with pytest.raises(UserError) as info:
            parse_grid(bad)
        assert info.value.key == key


def test_figures_show_padding_window_uncovered_and_filled_cells():
    from explainer.figures import stepper as figs

    walk = conv_walk(np.arange(36.0).reshape(6, 6), np.ones((3, 3)), stride=2, padding=1, dilation=2)
    step = walk.step(1)
    fig = figs.grid_figure(walk, step, labels={**figs.labels_for("en"), "padding": "PAD"})
    heat = [tr for tr in fig.data if tr.type == "heatmap"]
    assert len(heat) == 2  # the input values and, in its own colour, the padding ring
    assert any(name == "PAD" for name in (tr.name for tr in fig.data))
    assert "PAD" in str(heat[1].customdata)
    # dilation 2 with stride 2: the taps land on grid cells 0, 2, 4, 6 only, so input rows/columns
    # 0, 2, 4 (grid 1, 3, 5) are never under the window. One outline per tap (9) plus the dashed span.
    assert walk.uncovered() == ([0, 2, 4], [0, 2, 4])
    dashed = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    taps = [s for s in fig.layout.shapes if s.line.color == figs.WINDOW and s.line.dash is None]
    uncovered = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(dashed) == 1 and len(taps) == 9 and len(uncovered) == 6
    out = figs.output_figure(walk.output(), 3, labels=figs.labels_for("en"))
    shown = [v for row in out.data[0].text for v in row if v != ""]
    assert len(shown) == 3 and out.layout.shapes[-1].line.color == figs.PICK
    win = figs.window_figure(walk, step, labels=figs.labels_for("en"))
    assert "<b>" in win.data[0].text[0][0] and "×" in win.data[0].text[0][0]
    assert figs.equation(walk.step(0)).endswith(f"= {figs.fmt(walk.step(0).result)}")
    assert figs.fmt(-2.0) == "−2" and figs.fmt(0.5) == "0.5" and figs.fmt(float("-inf")) == "−∞"


def test_max_pool_figure_marks_the_pick_and_padding_as_minus_infinity():
    from explainer.figures import stepper as figs

    walk = pool_walk(-np.ones((3, 3)), 2, 2, "max", padding=1)
    step = walk.step(0)
    assert step.pick == (1, 1) and step.result == -1
    fig = figs.grid_figure(walk, step, labels=figs.labels_for("en"))
    assert "−∞" in str(fig.data[1].text)
    assert any(s.line.color == figs.PICK for s in fig.layout.shapes)


def test_figure_words_come_from_the_catalogue_and_are_required():
    from explainer.figures import stepper as figs
    from explainer.i18n import translate

    zh, en = figs.labels_for("zh"), figs.labels_for("en")
    assert zh["row"] == translate("stepper.lab_row", "zh") != "row"
    assert [k for k in figs.LABEL_KEYS if zh[k] == en[k]] == []  # every figure word is Chinese in Chinese
    walk = conv_walk(np.zeros((4, 4)), np.ones((2, 2)))
    fig = figs.grid_figure(walk, walk.step(0), labels=zh)
    assert fig.layout.xaxis.title.text == zh["column"] and fig.layout.yaxis.title.text == zh["row"]
    with pytest.raises(KeyError):
        figs.grid_figure(walk, walk.step(0), labels={"row": "row"})
