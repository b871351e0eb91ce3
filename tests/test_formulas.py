"""The formulas the pages show agree with the library and with PyTorch for every slider combination."""
import itertools
import re

import pytest
import torch
import torch.nn.functional as F

from explainer.errors import UserError
from explainer.maths.formulas import conv_params_latex, conv_size, inspection_latex, pool_size, transposed_size
from explainer.maths.pooling import pool2d
from tests.conftest import span
from ui.tables.pooling import TABLE as POOLING
from ui.tables.stride import TABLE as STRIDE


def _last_number(latex: str) -> int:
    return int(re.search(r"= (-?\d+)$", latex).group(1))


def test_pool_formula_equals_the_output_shape_for_every_slider_combination():
    """Every setting of the Pooling page's sliders (read from its table): input, window, stride, padding, floor and ceil."""
    checked = dropped = 0
    sizes = range(1, span(POOLING["pl_h"], POOLING["pl_w"]).stop)  # the grid's sides, and 1 (a one-pixel crop)
    for n, f, s, p, ceil in itertools.product(sizes, span(POOLING["pl_size"]), span(POOLING["pl_stride"]),
                                              span(POOLING["pl_pad"]), (False, True)):
        try:
            want = F.max_pool2d(torch.zeros(1, 1, n, n), f, s, p, ceil_mode=ceil).shape[-1]
        except RuntimeError:
            with pytest.raises(UserError):
                pool_size(n, f, s, p, ceil)
            continue
        got = pool_size(n, f, s, p, ceil, "H")
        assert got.value == want == _last_number(got.latex), (n, f, s, p, ceil, got)
        assert pool2d(torch.zeros(n, n).numpy(), f, s, "max", p, ceil).shape == (want, want)
        assert got.dropped == (r"+ 1 - 1 =" in got.latex)
        checked += 1
        dropped += got.dropped
    assert (checked, dropped) == (729, 82)  # 82 settings where the old page formula said one more


def test_the_issue_example_ceil_mode_drops_the_window_in_the_padding():
    got = pool_size(3, 2, 2, 1, ceil_mode=True, axis="H")
    assert got.value == 2 and got.dropped
    assert got.latex == (r"H_{out} = \left\lceil \frac{3 + 2\cdot1 - 2}{2} \right\rceil + 1 - 1"
                         r" = \left\lceil \frac{3}{2} \right\rceil + 1 - 1 = 2")


def test_conv_formula_equals_the_output_shape_for_every_slider_combination():
    """Every setting of the Stride page's sliders (read from its table): input, kernel, stride, padding, dilation."""
    no_output = 0
    sizes = range(1, span(STRIDE["sp_h"], STRIDE["sp_w"]).stop)
    for n, k, s, p, d in itertools.product(sizes, *(span(STRIDE[key]) for key in ("sp_k", "sp_s", "sp_p", "sp_d"))):
        got = conv_size(n, k, s, p, d, "W")
        try:
            want = F.conv2d(torch.zeros(1, 1, 1, n), torch.zeros(1, 1, 1, k), stride=s, padding=(0, p),
                            dilation=d).shape[-1]
        except RuntimeError:
            assert got.value is None and got.latex.endswith("< 0")
            no_output += 1
            continue
        assert got.value == want == _last_number(got.latex), (n, k, s, p, d)
    assert no_output > 0


def test_transposed_formula_equals_the_output_shape_for_every_slider_combination():
    """Every setting of the Transposed view's sliders (read from the table): input, kernel, stride, padding, output padding."""
    checked = 0
    for n, k, s, p, op in itertools.product(*(span(STRIDE[key]) for key in ("sp_tn", "sp_tk", "sp_ts", "sp_tp", "sp_tpad"))):
        if op >= s:  # torch and the library refuse an output padding that is not smaller than the stride
            with pytest.raises(UserError):
                transposed_size(n, k, s, p, 1, op)
            continue
        got = transposed_size(n, k, s, p, 1, op)
        try:
            want = F.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                      output_padding=op).shape[-1]
            if want < 1:  # torch returns an empty tensor here, the library says "no output"
                raise RuntimeError
        except RuntimeError:
            assert got.value is None and got.raw < 1 and got.latex.endswith(f"= {got.raw} < 1")
            continue
        assert got.value == want == got.raw == _last_number(got.latex), (n, k, s, p, op)
        checked += 1
    assert checked > 200


def test_conv_params_latex():
    assert conv_params_latex(2, 3, 3, "params") == (
        r"\text{params} = K\cdot C\cdot F\cdot F + K = 2\cdot3\cdot3\cdot3 + 2 = 56")


def test_the_inspectors_formula_ends_with_the_reference_convolution():
    import numpy as np

    from explainer.maths.conv import conv2d_reference
    from explainer.maths.inspector import inspect_pixel

    def fmt(v):
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.4g}"

    img = np.array([[60, 60, 60, 0, 0, 0]] * 6, dtype=float)
    edge = [[1, 0, -1]] * 3
    latex = inspection_latex(inspect_pixel(img, edge, 0, 1), fmt)
    assert latex == (r"\begin{aligned} \text{out}_{0,1} &= 60\cdot(1) + 0\cdot(-1) + 60\cdot(1) + 0\cdot(-1)"
                     r" \\ &\quad + 60\cdot(1) + 0\cdot(-1) \\ &= 180 \end{aligned}")
    assert latex.endswith(f"&= {fmt(conv2d_reference(img, edge)[0, 1])} \\end{{aligned}}")
    with_bias = inspection_latex(inspect_pixel(img, edge, 0, 1, divisor=4, bias=-2), fmt)
    assert with_bias.endswith(rf"\frac{{180}}{{4}} - 2 = {fmt(conv2d_reference(img, edge)[0, 1] / 4 - 2)} \end{{aligned}}")


def test_xo_pixel_formula_and_matching_cells():
    from explainer.maths import xo
    from explainer.maths.formulas import xo_pixel_latex, xo_vote_latex
    from explainer.maths.inspector import inspect_pixel

    info = inspect_pixel(xo.X, xo.FILTERS[0], 0, 0, divisor=9)
    # the classic top-left window of the X under the "\\" filter: 8 of 9 cells match, 7/9 (printed 0.77 in the tutorial)
    assert xo_pixel_latex(info) == r"\frac{-1 +1 +1 +1 +1 +1 +1 +1 +1}{9} = \frac{7}{9} = 0.78"
    assert info.value == xo.run(xo.X).maps[0][0, 0] and xo.matching_cells(info.total) == 8
    assert xo.matching_cells(9.0) == 9 and xo.matching_cells(-9.0) == 0
    assert xo_vote_latex([0.5, -0.25], "票数") == (r"\text{票数}_X = w_X \cdot \hat f + b_X = +0.500,\qquad "
                                                   r"\text{票数}_O = w_O \cdot \hat f + b_O = -0.250")


def test_tutorial_size_agrees_with_torch_exactly_when_the_windows_fit():
    """The tutorial's (W − F + 2P)/S + 1 next to PyTorch's floor form: equal whenever it is a whole number."""
    from explainer.maths.conv import output_size
    from explainer.maths.formulas import tutorial_size

    assert tutorial_size(5, 3, 2, 1) == (r"H_{out} = \frac{H - F + 2P}{S} + 1 = \frac{5 - 3 + 2\cdot1}{2} + 1 = 3", True)
    assert tutorial_size(6, 3, 2, 0, axis="W")[1] is False  # (6 − 3)/2 + 1 = 2.5: PyTorch floors to 2
    for n in range(1, 12):
        for k in range(1, 6):
            for s in range(1, 4):
                for p in range(0, 3):
                    latex, agree = tutorial_size(n, k, s, p)
                    if agree:
                        assert latex.endswith(f"= {output_size(n, k, s, p)}")
