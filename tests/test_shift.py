"""Shift invariance: on pixels a shifted "1" is closer to a "7"; after conv → ReLU → max-pool the two "1"s are."""
from __future__ import annotations

import numpy as np
import pytest

from explainer.maths import shift
from explainer.data.mnist import load_mnist


@pytest.fixture
def digits(mnist_dir):
    _, _, x, y = load_mnist(mnist_dir, download=False)
    assert y[shift.ONE_INDEX] == 1 and y[shift.SEVEN_INDEX] == 7
    return x[shift.ONE_INDEX], x[shift.SEVEN_INDEX]


@pytest.mark.parametrize("s", range(2, 8))
def test_the_tutorial_argument_holds_on_real_mnist(digits, s):
    one, seven = digits
    c = shift.compare(one, seven, s)
    assert c.pixel_to_seven < c.pixel_to_one  # pixel by pixel the shifted 1 looks more like the 7
    assert c.feature_to_one < c.feature_to_seven  # the pooled features recognise the 1 again


def test_no_shift_is_distance_zero(digits):
    c = shift.compare(*digits, 0)
    assert c.pixel_to_one == 0 and c.feature_to_one == 0
    assert c.pixel_to_seven > 0 and c.feature_to_seven > 0


def test_shapes_and_values(digits):
    c = shift.compare(*digits, 3)
    assert c.shifted.shape == (28, 28) and c.one.max() <= 1.0
    assert c.features_one.shape == (len(shift.FEATURE_KERNELS), 2, 2)
    assert (c.features_one >= 0).all()  # after ReLU
    # the shift moves pixels right and fills with 0
    np.testing.assert_array_equal(c.shifted[:, 3:], c.one[:, :-3])
    assert (c.shifted[:, :3] == 0).all()
    # distances are Euclidean norms of the differences
    assert c.pixel_to_seven == pytest.approx(np.linalg.norm(c.shifted - c.seven))
    assert c.feature_to_one == pytest.approx(np.linalg.norm(c.features_shifted - c.features_one))


def test_features_are_conv_relu_pool():
    img = np.zeros((28, 28))
    img[5:20, 10] = 1.0  # a vertical stroke in the top-left quarter
    f = shift.features(img)
    vertical = f[shift.FEATURE_KERNELS.index("vertical_edge")]
    assert vertical[0, 0] > 0 and vertical[1, 1] == 0
