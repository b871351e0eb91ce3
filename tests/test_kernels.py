"""The kernel bank and the parser of a learner's kernel: formats accepted, mistakes explained."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from explainer.errors import UserError
from explainer.i18n import translate
from explainer.maths.kernels import MAX_ABS, MAX_SIZE, NAMES, divisor_for, format_kernel, kernel, parse_kernel

ISSUE_BANK = {"identity", "box_blur_3", "box_blur_5", "gaussian_3", "gaussian_5", "sharpen", "vertical_edge",
              "horizontal_edge", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "scharr_x", "scharr_y",
              "laplacian_4", "laplacian_8", "emboss", "outline", "xo_diag_down", "xo_cross", "xo_diag_up", "curve"}


def test_bank_has_every_kernel_the_issue_lists():
    assert ISSUE_BANK <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_bank_kernels_are_well_formed(name):
    k = kernel(name)
    assert k.weights.ndim == 2 and 1 <= k.weights.shape[0] <= MAX_SIZE and np.all(np.isfinite(k.weights))
    assert k.divisor != 0 and not k.weights.flags.writeable
    if k.pair:
        assert kernel(k.pair).pair == name
        assert np.array_equal(kernel(k.pair).weights, k.weights.T)  # x ↔ y pairs are transposes


def test_tutorial_values():
    assert kernel("vertical_edge").weights.tolist() == [[1, 0, -1]] * 3
    assert np.array_equal(kernel("horizontal_edge").weights, kernel("vertical_edge").weights.T)
    for name in ("box_blur_3", "box_blur_5", "gaussian_3", "gaussian_5"):  # blurs keep the brightness
        assert math.isclose(kernel(name).effective.sum(), 1.0)
    for name in ("vertical_edge", "sobel_x", "prewitt_y", "scharr_x", "laplacian_4", "laplacian_8", "outline"):
        assert kernel(name).weights.sum() == 0  # flat areas give 0
    assert kernel("sharpen").weights.sum() == 1 and kernel("identity").weights.sum() == 1
    assert kernel("xo_diag_down").divisor == 9 and set(np.unique(kernel("xo_cross").weights)) == {-1, 1}


def test_unknown_name_is_a_user_error():
    with pytest.raises(UserError):
        kernel("nope")


@pytest.mark.parametrize("text, want", [
    ("1 0 -1; 1 0 -1", [[1, 0, -1], [1, 0, -1]]),
    ("1,0,-1\n2,0,-2\n1,0,-1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
    ("[[1, 0, -1], [1, 0, -1]]", [[1, 0, -1], [1, 0, -1]]),   # Python / NumPy style
    ("[1, 2]\n[3, 4]", [[1, 2], [3, 4]]),
    ("1，0，－1；2、0、-2", [[1, 0, -1], [2, 0, -2]]),          # full-width punctuation from a Chinese IME
    ("−1 2.5 1e2", [[-1, 2.5, 100]]),                          # typographic minus, decimals, exponent
    ("1/9 1/9; 1/9 1/9", [[1 / 9, 1 / 9], [1 / 9, 1 / 9]]),
    ("  7  ", [[7]]),
])
def test_parser_accepts(text, want):
    np.testing.assert_allclose(parse_kernel(text), want)


@pytest.mark.parametrize("text, key", [
    ("1 a 3", "errors.not_a_number"),
    ("edge", "errors.not_a_number"),
    ("1 nan", "errors.not_finite"),
    ("inf 1", "errors.not_finite"),
    ("-inf", "errors.not_finite"),
    ("1e400", "errors.not_finite"),
    ("1e9 0", "errors.too_large"),
    ("1 2 3; 4 5", "errors.ragged_rows"),
    ("", "errors.empty_kernel"),
    (" ;; ", "errors.empty_kernel"),
    ("1/0", "errors.not_a_number"),
    (";".join(["1 " * 8] * 8), "errors.grid_too_big"),
])
def test_parser_rejects_with_a_translated_message(text, key):
    with pytest.raises(UserError) as e:
        parse_kernel(text)
    assert e.value.key == key
    for lang in ("en", "zh"):
        msg = translate(key, lang, **e.value.params)
        assert msg != key and "{" not in msg


def test_parser_accepts_grids_and_rejects_bad_cells():
    np.testing.assert_array_equal(parse_kernel(np.eye(3)), np.eye(3))
    np.testing.assert_array_equal(parse_kernel([[1, "2"], [3, 4]]), [[1, 2], [3, 4]])
    for bad, key in (([[1, "x"]], "errors.not_a_number"), ([[1, float("nan")]], "errors.not_finite"),
                     ([[MAX_ABS * 10]], "errors.too_large")):
        with pytest.raises(UserError) as e:
            parse_kernel(bad)
        assert e.value.key == key


@settings(max_examples=60, deadline=None)
@given(st.integers(1, MAX_SIZE), st.integers(1, MAX_SIZE), st.integers(0, 2**32 - 1))
def test_format_then_parse_round_trips(h, w, seed):
    rng = np.random.default_rng(seed)
    k = np.round(rng.normal(size=(h, w)) * 10, 3)
    text = format_kernel(k)
    assert " " not in text and text.count(";") == h - 1  # the shared-link format: rows by ';', values by ','
    np.testing.assert_allclose(parse_kernel(text), k, rtol=1e-5)


def test_divisor_modes():
    w = np.ones((3, 3))
    assert divisor_for(w, "none") == 1 and divisor_for(w, "sum") == 9 and divisor_for(w, "count") == 9
    assert divisor_for(kernel("vertical_edge").weights, "sum") == 1  # sum 0: nothing to divide by
    assert divisor_for(w, "number", 4) == 4
    for bad in (0.0, float("nan"), float("inf")):
        with pytest.raises(UserError) as e:
            divisor_for(w, "number", bad)
        assert e.value.key == "errors.bad_divisor"


def test_grid_edits_apply_like_typed_values():
    from explainer.maths.kernels import apply_edits

    w = kernel("vertical_edge").weights
    out = apply_edits(w, {"0": {"1": 5}, 2: {"0": None}, "9": {"0": 1}})  # row 9 doesn't exist: ignored
    assert out.tolist() == [[1, 5, -1], [1, 0, -1], [0, 0, -1]]
    assert w.tolist() == [[1, 0, -1]] * 3  # the bank's kernel is untouched
    for bad, key in (("abc", "errors.not_a_number"), (float("inf"), "errors.not_finite"), (1e9, "errors.too_large")):
        with pytest.raises(UserError) as e:
            apply_edits(w, {0: {0: bad}})
        assert e.value.key == key
