"""The pixel inspector's numbers are the map's numbers: every position, exactly."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from explainer.errors import UserError
from explainer.maths.inspector import apply_kernel, apply_kernel_rgb, curve_example, gradient_magnitude, inspect_pixel, oriented
from explainer.maths.kernels import NAMES, kernel


def test_tutorial_step_edge_gives_180_on_the_edge_and_0_elsewhere():
    img = np.array([[60, 60, 60, 0, 0, 0]] * 6)
    out = apply_kernel(img, kernel("vertical_edge").weights)
    assert out.shape == (4, 4)
    assert (out[:, 1:3] == 180).all() and (out[:, [0, 3]] == 0).all()
    ins = inspect_pixel(img, kernel("vertical_edge").weights, 2, 1)
    assert ins.window.tolist() == [[60, 60, 0]] * 3
    assert ins.products.tolist() == [[60, 0, 0]] * 3
    assert ins.total == 180 and ins.value == 180


@pytest.mark.parametrize("name", NAMES)
def test_inspector_equals_the_map_at_every_position_for_every_bank_kernel(name):
    rng = np.random.default_rng(len(name))
    img = rng.integers(0, 256, size=(13, 11)).astype(np.uint8)
    k = kernel(name)
    for flip in (False, True):
        out = apply_kernel(img, k.weights, k.divisor, 3.5, flip=flip, padding=1)
        for r in range(out.shape[0]):
            for c in range(out.shape[1]):
                ins = inspect_pixel(img, k.weights, r, c, k.divisor, 3.5, flip=flip, padding=1)
                assert ins.value == out[r, c]  # bit-identical, not just close
                assert np.isclose(ins.products.sum(), ins.total)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), kh=st.integers(1, 7), kw=st.integers(1, 7),
       padding=st.integers(0, 3), flip=st.booleans(), seed=st.integers(0, 2**32 - 1),
       divisor=st.sampled_from([1.0, 9.0, -4.0, 0.5]))
def test_inspector_equals_map_random(h, w, kh, kw, padding, flip, seed, divisor):
    if h + 2 * padding < kh or w + 2 * padding < kw:
        with pytest.raises(UserError):
            apply_kernel(np.zeros((h, w)), np.ones((kh, kw)), padding=padding)
        return
    rng = np.random.default_rng(seed)
    img = rng.normal(size=(h, w)) * 100
    k = rng.integers(-3, 4, size=(kh, kw)) * rng.random((kh, kw))
    out = apply_kernel(img, k, divisor, -1.25, flip, padding)
    assert out.shape == (h + 2 * padding - kh + 1, w + 2 * padding - kw + 1)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            assert inspect_pixel(img, k, r, c, divisor, -1.25, flip, padding).value == out[r, c]


def test_flip_is_true_convolution():
    from scipy.signal import convolve2d

    rng = np.random.default_rng(1)
    img, k = rng.normal(size=(9, 10)), rng.normal(size=(3, 4))
    assert np.allclose(apply_kernel(img, k, flip=True), convolve2d(img, k, mode="valid"), atol=1e-12)
    assert np.array_equal(oriented(k, True), k[::-1, ::-1])
    # symmetric kernels don't care; the edge kernel changes sign
    edge = kernel("vertical_edge").weights
    assert np.array_equal(apply_kernel(img, edge, flip=True), -apply_kernel(img, edge))


def test_padding_window_shows_zeros_and_corner_coordinates():
    img = np.arange(1, 17, dtype=float).reshape(4, 4)
    ins = inspect_pixel(img, np.ones((3, 3)), 0, 0, padding=1)
    assert ins.window.tolist() == [[0, 0, 0], [0, 1, 2], [0, 5, 6]]
    assert (ins.top, ins.left) == (-1, -1) and ins.value == 14


def test_bad_positions_and_divisors_are_user_errors():
    img = np.zeros((6, 6))
    with pytest.raises(UserError) as e:
        inspect_pixel(img, np.ones((3, 3)), 4, 0)
    assert e.value.key == "errors.position_outside" and e.value.params == {"row": 4, "col": 0, "h": 4, "w": 4}
    for bad in (0, float("nan"), float("inf")):
        with pytest.raises(UserError) as e:
            apply_kernel(img, np.ones((3, 3)), divisor=bad)
        assert e.value.key == "errors.bad_divisor"
    with pytest.raises(UserError) as e:
        apply_kernel(np.zeros((2, 2)), np.ones((3, 3)))
    assert e.value.key == "errors.no_output"


def test_magnitude_of_sobel_pair():
    img = np.zeros((8, 8))
    img[:, 4:] = 100
    gx = apply_kernel(img, kernel("sobel_x").weights)
    gy = apply_kernel(img, kernel("sobel_y").weights)
    mag = gradient_magnitude(gx, gy)
    assert np.allclose(mag, np.abs(gx)) and mag.max() == 400


def test_curve_detector_responds_to_its_curve_only():
    ex = curve_example()
    big = inspect_pixel(ex["match"], ex["kernel"], 0, 0).value
    small = inspect_pixel(ex["other"], ex["kernel"], 0, 0).value
    assert big == 9000 and small == 0


def test_colour_image_through_a_depth_3_kernel():
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(9, 10, 3)).astype(np.uint8)
    w = kernel("sobel_x").weights
    per, total = apply_kernel_rgb(rgb, w, 2.0, 5.0)
    assert per.shape == (3, 7, 8) and total.shape == (7, 8)
    for ch in range(3):  # each slice: the 2-D kernel on that channel alone, without the bias
        assert np.array_equal(per[ch], apply_kernel(rgb[..., ch], w, 2.0))
    assert np.allclose(total, per.sum(0) + 5.0)
    # linearity: the grey image's map is the luma-weighted sum of the channel maps
    grey = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.allclose(apply_kernel(grey, w, 2.0, 5.0), np.tensordot([0.299, 0.587, 0.114], per, axes=1) + 5.0)


def test_equal_brightness_colour_edge_vanishes_in_grey_but_not_in_the_channels():
    luma = np.array([0.299, 0.587, 0.114])
    rgb = np.zeros((5, 6, 3))
    rgb[:, :3] = (200, 60, 0)  # reddish on the left …
    rgb[:, 3:] = (0, (200, 60, 0) @ luma / luma[1], 0)  # … pure green of the same brightness on the right
    grey = rgb @ luma
    edge = kernel("vertical_edge").weights
    per, _ = apply_kernel_rgb(rgb, edge)
    assert np.abs(apply_kernel(grey, edge)).max() < 1e-12
    assert np.abs(per[0]).max() == pytest.approx(600) and np.abs(per[1]).max() > 100


def test_colour_kernel_needs_a_colour_image():
    with pytest.raises(UserError):
        apply_kernel_rgb(np.zeros((5, 5)), [[1]])


def test_the_inspector_and_the_stepper_equal_the_reference_convolution():
    """Every number the pages write out (the inspector's sum, the stepper's step results) is conv2d_reference's."""
    from explainer.maths.conv import conv2d_reference
    from explainer.figures import stepper as figs
    from explainer.maths.stepper import conv_walk

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (7, 8)).astype(float)
    k = rng.integers(-2, 3, (3, 3)).astype(float)
    for padding in (0, 1):
        ref = conv2d_reference(img, k, padding=padding) / 4 + 1.5
        for r in range(ref.shape[0]):
            for c in range(ref.shape[1]):
                assert inspect_pixel(img, k, r, c, divisor=4, bias=1.5, padding=padding).value == pytest.approx(ref[r, c])
    for stride, padding, dilation in ((1, 0, 1), (2, 1, 1), (1, 2, 2)):
        walk = conv_walk(img, k, stride, padding, dilation, 0.5)
        ref = conv2d_reference(img, k, stride, padding, dilation, 0.5)
        for n in range(len(walk)):
            step = walk.step(n)
            m, r, c = step.out
            assert step.result == pytest.approx(ref[r, c])
            assert figs.equation(step).endswith(f"= {figs.fmt(ref[r, c])}")
