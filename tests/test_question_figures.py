"""A question's figure for a class poll (explainer/figures/questions.py): one test per kind that it draws what the
learner saw when asked (the input, the window, the stride) and not the answer; the registry's coverage; a stored
state that isn't one of the kind's is refused."""
from __future__ import annotations

import numpy as np
import pytest

from explainer import limits
from explainer.figures import questions as fq
from explainer.maths import xo
from explainer.questions import Posed, question

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
    none = {"images.normalised": {"value": 59}, "stride.params": {"kernels": 2, "channels": 3, "f": 3},
            "network.predicted": {"probs": [0.05] * 9 + [0.55]}}
    for qid, state in none.items():
        assert question(qid).pose(state).figure is None
    for qid in fq.BY_QUESTION:
        question(qid)  # every key a registered question (KeyError otherwise)


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
