"""conv2d against torch.nn.functional.conv2d (hypothesis: random shapes, kernels, strides, paddings,
dilations, channels, banks, biases) to 1e-9, the tutorial's 60|0 step edge, and the error messages."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

from explainer.maths.conv import conv2d, conv2d_reference, pad
from explainer.errors import UserError, message

pairs = lambda lo, hi: st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))  # noqa: E731


def _two(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("conv", [conv2d, conv2d_reference], ids=["fast", "reference"])
@settings(max_examples=150, deadline=None)
@given(c=st.integers(1, 3), k=st.integers(1, 4), h=st.integers(1, 14), w=st.integers(1, 14),
       kh=st.integers(1, 5), kw=st.integers(1, 5), stride=pairs(1, 4), padding=pairs(0, 3),
       dilation=pairs(1, 3), form=st.sampled_from(["2d", "3d", "bank"]), bias=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_torch(conv, c, k, h, w, kh, kw, stride, padding, dilation, form, bias, seed):
    (sh, sw), (ph, pw), (dh, dw) = _two(stride), _two(padding), _two(dilation)
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    rng = np.random.default_rng(seed)
    if form == "2d":
        c, k = 1, 1
    elif form == "3d":
        k = 1
    x = rng.normal(size=(c, h, w)) * rng.choice([1.0, 255.0])
    bank = rng.normal(size=(k, c, kh, kw))
    b = rng.normal(size=k) if bias else np.zeros(k)
    want = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(bank), torch.from_numpy(b),
                    stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))[0].numpy()
    if form == "2d":
        got = conv(x[0], bank[0, 0], stride, padding, dilation, bias=b[0])
        want = want[0]
    elif form == "3d":
        got = conv(x, bank[0], stride, padding, dilation, bias=b[0])
        want = want[0]
    else:
        got = conv(x, bank, stride, padding, dilation, bias=b)
    assert got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, np.abs(want).max(initial=0)))


def test_tutorial_step_edge_gives_180():
    img = np.array([[60, 60, 60, 0, 0, 0]] * 6, dtype=np.uint8)
    out = conv2d(img, [[1, 0, -1]] * 3)
    assert out.tolist() == [[0, 180, 180, 0]] * 4


def test_large_image_matches_torch():
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(300, 257)).astype(np.float64)
    kern = rng.normal(size=(7, 7))
    want = F.conv2d(torch.from_numpy(img)[None, None], torch.from_numpy(kern)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(conv2d(img, kern), want, rtol=0, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize("mode, torch_mode", [("reflect", "reflect"), ("replicate", "replicate"),
                                              ("circular", "circular")])
def test_padding_modes_match_torch(mode, torch_mode):
    x = np.random.default_rng(3).normal(size=(1, 6, 7))
    want = F.pad(torch.from_numpy(x)[None], (2, 2, 2, 2), mode=torch_mode)[0].numpy()
    np.testing.assert_array_equal(pad(x, 2, mode), want)


@pytest.mark.parametrize("x, kernel, kwargs, key", [
    (np.zeros((4, 4)), np.ones((5, 5)), {}, "errors.no_output"),
    (np.zeros((4, 4)), np.ones((3, 3)), {"dilation": 2}, "errors.no_output"),
    (np.zeros((2, 4, 4)), np.ones((3, 3, 3)), {}, "errors.kernel_depth"),  # depth 3 vs 2 channels
    (np.zeros((4, 4)), [[1, float("nan")]], {}, "errors.not_finite_grid"),
    (np.zeros((4, 4)), [["a", 1]], {}, "errors.not_a_grid"),
    (np.zeros((4, 4)), np.ones((2, 2)), {"stride": 0}, "errors.too_small"),
    (np.zeros((4, 4)), np.ones((2, 2)), {"padding": -1}, "errors.too_small"),
    (np.zeros((4, 4)), np.ones((2, 2)), {"stride": 1.5}, "errors.not_whole"),
    (np.zeros((4,)), np.ones((2, 2)), {}, "errors.shape_image"),
    (np.zeros((4, 4)), np.ones((1, 1, 1, 1, 2)), {}, "errors.shape_kernel"),
    (np.zeros((4, 4)), np.ones((2, 2)), {"bias": [1, 2]}, "errors.bias_count"),
])
def test_invalid_input_is_a_plain_value_error(x, kernel, kwargs, key):
    with pytest.raises(ValueError) as e:
        conv2d(x, kernel, **kwargs)
    assert isinstance(e.value, UserError) and e.value.key == key
    assert "Traceback" not in str(e.value) and len(str(e.value)) > 10
    zh = message(e.value.key, e.value.params, "zh")  # no English word in the Chinese text (shapes read "4×4")
    assert re.findall(r"[A-Za-z]{2,}", zh.replace("NaN", "")) == [], zh


def test_the_reference_reads_as_the_definition_and_is_short():
    """conv2d_reference is the few-line definition (slide, multiply, sum, + bias) beside the fast conv2d."""
    import inspect

    from explainer.maths import conv as conv_module

    lines = [ln for ln in inspect.getsource(conv_module.conv2d_reference).splitlines()
             if ln.strip() and not ln.strip().startswith(("#", '"""')) and '"""' not in ln]
    assert len(lines) <= 16
    x = np.arange(36.0).reshape(6, 6)
    assert np.array_equal(conv2d_reference(x, [[1, 0, -1]] * 3), conv2d(x, [[1, 0, -1]] * 3))
