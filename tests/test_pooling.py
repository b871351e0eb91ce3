"""pool2d against torch's max_pool2d / avg_pool2d; global average; shift."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer.errors import UserError
from explainer.maths.pooling import global_avg_pool, pool2d, pool_output_size, shift
from tests.conftest import span
from ui.tables.pooling import TABLE as POOLING


def test_pool2d_matches_torch_over_sizes_strides_padding_and_modes():
    rng = np.random.default_rng(0)
    compared = 0
    # windows and strides: every one the Pooling page offers (ui/tables/pooling.py)
    for n, size, stride, ceil in itertools.product(range(1, 10), span(POOLING["pl_size"]), span(POOLING["pl_stride"]),
                                                   (False, True)):
        for padding in range(size // 2 + 1):
            x = rng.normal(size=(2, n, n + 1))
            t = torch.tensor(x)[None]
            try:
                want_max = F.max_pool2d(t, size, stride, padding, ceil_mode=ceil)[0].numpy()
            except RuntimeError:
                with pytest.raises(UserError):
                    pool2d(x, size, stride, "max", padding, ceil)
                continue
            np.testing.assert_allclose(pool2d(x, size, stride, "max", padding, ceil), want_max)
            for include in (True, False):
                want = F.avg_pool2d(t, size, stride, padding, ceil_mode=ceil, count_include_pad=include)[0].numpy()
                np.testing.assert_allclose(pool2d(x, size, stride, "avg", padding, ceil, include), want, atol=1e-12)
            compared += 1
    assert compared > 300


def test_stride_defaults_to_the_window_and_2d_stays_2d():
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(pool2d(x), [[5, 7], [13, 15]])
    np.testing.assert_array_equal(pool2d(x, mode="avg"), [[2.5, 4.5], [10.5, 12.5]])
    assert pool2d(x, 3, 2).shape == (1, 1) and pool2d(x, (2, 1)).shape == (2, 4)


def test_average_pooling_counts_padding_zeros_by_default():
    x = np.full((2, 2), 8.0)
    # window 2, stride 2, padding 1: each window holds one input value and three padded zeros
    np.testing.assert_array_equal(pool2d(x, 2, 2, "avg", padding=1), [[2, 2], [2, 2]])
    np.testing.assert_array_equal(pool2d(x, 2, 2, "avg", padding=1, count_include_pad=False), [[8, 8], [8, 8]])
    # max pooling never picks the padding, even when all inputs are negative
    np.testing.assert_array_equal(pool2d(-x, 2, 2, "max", padding=1), -x)


def test_overlapping_windows_and_ceil_mode_sizes():
    assert pool_output_size(7, 3, 2) == 3 and pool_output_size(7, 2, 2) == 3
    assert pool_output_size(7, 2, 2, ceil_mode=True) == 4  # the X/O tutorial: 7×7 → 4×4
    assert pool2d(np.zeros((7, 7)), 2, 2, ceil_mode=True).shape == (4, 4)


def test_global_average_pooling():
    x = np.stack([np.ones((3, 3)), np.arange(9.0).reshape(3, 3)])
    np.testing.assert_array_equal(global_avg_pool(x), [1, 4])
    assert float(global_avg_pool(np.eye(2))) == 0.5
    t = F.adaptive_avg_pool2d(torch.tensor(x)[None], 1)[0, :, 0, 0].numpy()
    np.testing.assert_allclose(global_avg_pool(x), t)


def test_bad_inputs():
    for call in (lambda: pool2d(np.zeros((2, 2)), 3), lambda: pool2d(np.zeros((4, 4)), 2, padding=2),
                 lambda: pool2d(np.zeros((4, 4)), 2, mode="median"), lambda: pool2d([[1, np.inf]]),
                 lambda: pool2d(np.zeros((2, 2, 2, 2)))):
        with pytest.raises(UserError):
            call()


def test_shift_and_what_max_pooling_absorbs():
    x = np.zeros((6, 6))
    x[2, 2] = 1
    moved = shift(x, 0, 1)
    assert moved[2, 3] == 1 and moved.sum() == 1
    assert shift(x, -3, 0)[:, 2].sum() == 0 and shift(x, 9, 0).sum() == 0
    # moving the bright pixel inside its 2×2 pooling window changes nothing after max pooling
    np.testing.assert_array_equal(pool2d(x), pool2d(moved))
    # ...but moving it across a window border does
    assert not np.array_equal(pool2d(x), pool2d(shift(x, 0, 2)))


def test_xo_tutorial_feature_map_pools_to_the_published_4x4():
    """Brandon Rohrer's X/O example: the X's "\\" feature map (conv / 9) max-pooled 2×2, stride 2,
    keeping partial windows, is the 4×4 grid the tutorial prints (0.55/0.77 there are 5/9 and 7/9)."""
    from explainer.maths.conv import conv2d

    x = -np.ones((9, 9))
    for i in range(1, 8):
        x[i, i] = x[i, 8 - i] = 1
    diag = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    fmap = conv2d(x, diag) / 9
    assert fmap.shape == (7, 7) and fmap[0, 0] == pytest.approx(7 / 9) and fmap[1, 1] == 1
    want = np.array([[9, 3, 5, 3], [3, 9, 3, 5], [5, 3, 9, 1], [3, 5, 1, 7]]) / 9
    np.testing.assert_allclose(pool2d(fmap, 2, 2, ceil_mode=True), want)
    # a one-pixel shift of the X keeps every map's strongest match after pooling
    moved = conv2d(shift(x, 0, 1, fill=-1), diag) / 9
    assert pool2d(moved, 2, 2, ceil_mode=True).max() == pool2d(fmap, 2, 2, ceil_mode=True).max() == 1
