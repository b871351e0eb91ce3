"""The X/O network reproduces the tutorial's numbers and votes right for every preset."""
from __future__ import annotations

import numpy as np
import pytest

from explainer.maths import xo
from explainer.errors import UserError


def test_classic_feature_map():
    """Standard X with the "\\" filter: 7/9 top-left (printed 0.77 in the familiar figure), 1 on the diagonal."""
    m = xo.run(xo.X).maps[0]
    assert m.shape == (7, 7)
    assert m[0, 0] == pytest.approx(7 / 9) and m[6, 6] == pytest.approx(7 / 9)
    # 1.00 along the diagonal except where the two strokes cross (5/9 = 0.55 in the figure)
    assert np.allclose(np.diag(m) * 9, [7, 9, 9, 5, 9, 9, 7])
    assert m[0, 1] == pytest.approx(-1 / 9) and m[1, 0] == pytest.approx(-1 / 9)
    assert np.allclose(m * 9, np.round(m * 9))  # every value is a multiple of 1/9


def test_shapes_through_the_stages():
    r = xo.run(xo.X)
    assert r.maps.shape == (3, 7, 7) and r.relu1.shape == (3, 7, 7)
    assert r.pooled1.shape == (3, 4, 4) and r.maps2.shape == (3, 4, 4)
    assert r.pooled2.shape == (3, 2, 2) and r.flat.shape == (12,)
    assert (r.relu1 >= 0).all() and np.array_equal(r.relu1, np.maximum(r.maps, 0))
    # the 7th row/column is kept: the pooled corner is the max of the single corner value
    assert r.pooled1[0, 3, 3] == pytest.approx(max(r.relu1[0, 6, 6], 0))


@pytest.mark.parametrize("name", list(xo.PRESETS))
def test_presets_vote_as_expected(name):
    r = xo.run(xo.PRESETS[name])
    assert r.winner == xo.EXPECTED[name]
    assert r.probabilities.sum() == pytest.approx(1.0)


def test_presets_are_pm_one_9x9():
    for g in xo.PRESETS.values():
        assert g.shape == (9, 9) and set(np.unique(g)) <= {-1.0, 1.0}


def test_toggle_flips_one_cell():
    g = xo.toggle(xo.X, 0, 0)
    assert g[0, 0] == 1 and xo.X[0, 0] == -1 and (g != xo.X).sum() == 1


def test_bad_shape():
    with pytest.raises(UserError) as exc:
        xo.run(np.ones((8, 9)))
    assert exc.value.key == "errors.xo_shape" and exc.value.params == {"side": 9, "shape": "8×9"}
    assert str(exc.value) == "The X/O input must be a 9×9 grid, not 8×9."


def test_the_xo_filters_live_in_one_place():
    """The kernel bank's X/O filters and the pooling page's maps are explainer.maths.xo's filters and first stage."""
    from explainer.maths.kernels import kernel

    for name, weights in zip(xo.FILTER_NAMES, xo.FILTERS):
        assert np.array_equal(kernel(f"xo_{name}").weights, weights) and kernel(f"xo_{name}").divisor == 9
    assert np.array_equal(xo.run(xo.X).maps, xo.filter_maps(xo.X))


@pytest.mark.parametrize("name", list(xo.PRESETS))
def test_every_preset_wins_clearly(name):
    """The vote is decisive: the winner gets ≥ 80 % and leads by ≥ 0.25 (the standard pictures score ±1)."""
    r = xo.run(xo.PRESETS[name])
    k = xo.CLASSES.index(xo.EXPECTED[name])
    assert r.probabilities[k] >= 0.8
    assert r.votes[k] - r.votes[1 - k] >= 0.5


def test_vote_weights_come_from_the_standard_pictures_only():
    x, o = xo.run(xo.X), xo.run(xo.O)
    assert x.votes == pytest.approx([1.0, -1.0]) and o.votes == pytest.approx([-1.0, 1.0])
    assert np.linalg.norm(x.unit) == pytest.approx(1.0)
    # a feature both pictures have equally gets no weight; the votes are W·f̂ + b
    assert np.allclose(xo.FC_WEIGHTS[0], -xo.FC_WEIGHTS[1])
    assert x.votes == pytest.approx(xo.FC_WEIGHTS @ x.unit + xo.FC_BIAS)
    # thicker strokes (a scaled feature vector) vote the same: only the pattern counts
    assert xo.run(xo.X).votes == pytest.approx(xo.FC_WEIGHTS @ (2 * x.flat / np.linalg.norm(2 * x.flat)) + xo.FC_BIAS)


@pytest.mark.parametrize("name", list(xo.PRESETS))
def test_grid_text_round_trips(name):
    g = xo.PRESETS[name]
    text = xo.grid_text(g)
    assert len(text) == 81 and set(text) <= {"0", "1"}
    assert np.array_equal(xo.parse_grid_text(text), g)


@pytest.mark.parametrize("text", ["", "hello", "0" * 80, "0" * 82, "2" + "0" * 80, "1" * 80 + " "])
def test_parse_grid_text_refuses_malformed(text):
    with pytest.raises(ValueError):
        xo.parse_grid_text(text)
