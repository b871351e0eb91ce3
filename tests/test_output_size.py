"""output_size / conv2d / transposed convolution against PyTorch, over every setting the Stride page offers
(read from ``ui/tables/stride.py``): a grid of 1…12, kernel 1…7, stride 1…4, padding 0…3, dilation 1…3 today."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer.maths.conv import conv2d, conv_transpose2d, output_size, output_size_transposed
from explainer.errors import UserError
from explainer.maths.stepper import conv_walk, transposed_walk

from tests.conftest import span
from ui.tables.stride import TABLE as STRIDE

SIZES = range(1, span(STRIDE["sp_h"], STRIDE["sp_w"]).stop)  # the random grid's sides, and 1 (a one-pixel crop)
KERNELS, STRIDES, PADS, DILATIONS = (span(STRIDE[k]) for k in ("sp_k", "sp_s", "sp_p", "sp_d"))
ALL = list(itertools.product(KERNELS, STRIDES, PADS, DILATIONS))


def _torch_len(fn, n, k, **kw):
    try:
        return fn(torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1), **kw).shape[2]
    except RuntimeError:
        return None


def test_output_size_every_combination_matches_torch():
    checked = no_output = 0
    with torch.no_grad():
        for n, (k, s, p, d) in itertools.product(SIZES, ALL):
            want = _torch_len(F.conv2d, n, k, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
            if want is None:
                with pytest.raises(UserError) as info:
                    output_size(n, k, s, p, d)
                assert info.value.key == "errors.no_output" and isinstance(info.value, ValueError)
                assert "no output" in str(info.value)
                no_output += 1
            else:
                assert output_size(n, k, s, p, d) == want, (n, k, s, p, d)
            checked += 1
    assert checked == 12 * 7 * 4 * 4 * 3 and 0 < no_output < checked


def test_output_size_transposed_every_combination_matches_torch():
    checked = 0
    with torch.no_grad():
        for n, (k, s, p, d) in itertools.product(SIZES, ALL):
            for op in {0, max(s, d) - 1}:
                want = _torch_len(F.conv_transpose2d, n, k, stride=(s, 1), padding=(p, 0), dilation=(d, 1),
                                  output_padding=(op, 0))
                if want is None or want < 1:
                    with pytest.raises(UserError):
                        output_size_transposed(n, k, s, p, d, op)
                else:
                    assert output_size_transposed(n, k, s, p, d, op) == want, (n, k, s, p, d, op)
                checked += 1
    assert checked > 4000


def _size_for(k, s, p, d, salt):
    """A valid input size for (k, s, p, d), varied over the whole 1..12 range by ``salt``."""
    smallest = max(1, d * (k - 1) + 1 - 2 * p)
    return smallest + (salt % (13 - smallest)) if smallest <= 12 else None


def test_conv2d_and_its_walk_match_torch_for_every_kernel_stride_padding_dilation():
    rng = np.random.default_rng(0)
    compared = 0
    for idx, (k, s, p, d) in enumerate(ALL):
        h, w = _size_for(k, s, p, d, idx), _size_for(k, s, p, d, 7 * idx + 3)
        if h is None:
            continue
        x = rng.integers(-5, 6, size=(2, h, w)).astype(float)
        kern = rng.integers(-3, 4, size=(3, 2, k, k)).astype(float)
        bias = rng.integers(-2, 3, size=3).astype(float)
        want = F.conv2d(torch.tensor(x)[None], torch.tensor(kern), torch.tensor(bias), stride=s, padding=p,
                        dilation=d)[0].numpy()
        np.testing.assert_allclose(conv2d(x, kern, s, p, d, bias), want, atol=1e-9)
        np.testing.assert_allclose(conv_walk(x, kern, s, p, d, bias).output(), want, atol=1e-9)
        compared += 1
    assert compared > 300


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_match_torch(mode):
    rng = np.random.default_rng(1)
    for k, s, p, d in [(3, 1, 1, 1), (3, 2, 2, 1), (5, 1, 2, 2), (2, 3, 3, 1), (7, 1, 3, 1)]:
        x = rng.normal(size=(1, 8, 9))
        kern = rng.normal(size=(1, 1, k, k))
        xp = F.pad(torch.tensor(x)[None], (p, p, p, p), mode=mode)
        want = F.conv2d(xp, torch.tensor(kern), stride=s, dilation=d)[0].numpy()
        np.testing.assert_allclose(conv2d(x, kern, s, p, d, padding_mode=mode), want, atol=1e-9)
        np.testing.assert_allclose(conv_walk(x, kern, s, p, d, padding_mode=mode).output(), want, atol=1e-9)


def test_transposed_walk_matches_conv_transpose2d_for_every_combination():
    rng = np.random.default_rng(2)
    compared = 0
    for idx, (k, s, p, d) in enumerate(ALL):
        h, w = 1 + idx % 5, 1 + (idx * 3) % 6
        op = idx % max(s, d)
        x = rng.integers(-4, 5, size=(2, h, w)).astype(float)
        kern = rng.integers(-3, 4, size=(2, 3, k, k)).astype(float)
        try:
            want = F.conv_transpose2d(torch.tensor(x)[None], torch.tensor(kern), stride=s, padding=p,
                                      dilation=d, output_padding=op)[0].numpy()
        except RuntimeError:
            with pytest.raises(UserError):
                transposed_walk(x, kern, s, p, d, op)
            continue
        if min(want.shape[1:]) < 1:
            continue
        np.testing.assert_allclose(transposed_walk(x, kern, s, p, d, op).output(), want, atol=1e-9)
        np.testing.assert_allclose(conv_transpose2d(x, kern, s, p, d, op), want, atol=1e-9)
        compared += 1
    assert compared > 250
