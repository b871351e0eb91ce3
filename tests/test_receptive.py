"""Receptive fields: formulas, and the exact field against a brute-force gradient check in torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer.errors import UserError
from explainer.maths.receptive import Layer, field_indices, field_mask, layer_sizes, receptive_field


def test_known_values():
    assert [f.size for f in receptive_field([{"kernel": 3}] * 3)] == [3, 5, 7]
    assert receptive_field([{"kernel": 5}])[-1].size == 5 and receptive_field([("conv", 7)])[-1].size == 7
    # conv3 → pool2/2 → conv3: the pool doubles the jump
    fields = receptive_field([Layer("conv", 3), Layer("pool", 2, 2), Layer("conv", 3)])
    assert [(f.size, f.jump) for f in fields] == [(3, 1), (4, 2), (8, 2)]
    assert receptive_field([Layer("conv", 3, dilation=2)])[-1].size == 5
    assert receptive_field([Layer("conv", 3, padding=1), Layer("conv", 3, stride=2, padding=1)])[-1].start == -2


def test_parameters_two_3x3_versus_one_5x5():
    c = 64
    two = 2 * Layer("conv", 3).params(c)
    one = Layer("conv", 5).params(c)
    assert two == 2 * (9 * c * c + c) and one == 25 * c * c + c and two < one
    assert Layer("pool", 2, 2).params(c) == 0


def _torch_field(layers, n, row, col):
    x = (torch.rand(1, 1, n, n, dtype=torch.float64) + 0.5).requires_grad_()
    y = x
    for L in layers:
        if L.kind == "pool" and L.dilation == 1:
            y = F.avg_pool2d(y, L.kernel, L.stride, L.padding)
        else:  # positive weights: every pixel the window touches gets a non-zero gradient
            y = F.conv2d(y, torch.ones(1, 1, L.kernel, L.kernel, dtype=torch.float64), stride=L.stride,
                         padding=L.padding, dilation=L.dilation)
    y[0, 0, row, col].backward()
    return (x.grad[0, 0] != 0).numpy()


def test_field_mask_equals_the_pixels_with_nonzero_gradient():
    rng = np.random.default_rng(3)
    checked = 0
    while checked < 60:
        depth = int(rng.integers(1, 4))
        layers = []
        for _ in range(depth):
            kind = str(rng.choice(["conv", "pool"]))
            k = int(rng.integers(1, 5))
            layers.append(Layer(kind, k, int(rng.integers(1, 3)), int(rng.integers(1, 3)) if kind == "conv" else 1,
                                int(rng.integers(0, k // 2 + 1))))
        n = int(rng.integers(8, 20))
        try:
            sizes = layer_sizes(layers, n)
        except UserError:
            continue
        row, col = int(rng.integers(0, sizes[-1])), int(rng.integers(0, sizes[-1]))
        want = _torch_field(layers, n, row, col)
        np.testing.assert_array_equal(field_mask(layers, row, col, (n, n)), want, err_msg=str(layers))
        # the span formula bounds the exact field
        f = receptive_field(layers)[-1]
        rows = np.nonzero(want.any(axis=1))[0]
        lo = f.start + row * f.jump
        assert rows.min() >= max(lo, 0) and rows.max() <= lo + f.size - 1
        if all(L.dilation == 1 for L in layers):
            assert rows.min() == max(lo, 0) and rows.max() == min(lo + f.size - 1, n - 1)
        checked += 1


def test_dilation_leaves_holes_and_bad_layers_raise():
    np.testing.assert_array_equal(field_indices([Layer("conv", 3, dilation=2)], 0, 9), [0, 2, 4])
    with pytest.raises(UserError):
        receptive_field([{"kernel": 0}])
    with pytest.raises(UserError):
        receptive_field([{"kind": "dense", "kernel": 3}])
    with pytest.raises(UserError):
        field_indices([Layer("conv", 3)], 5, 6)  # only 4 outputs


def test_layer_table_is_capped():
    """A pasted table of hundreds of rows is refused before any map is built (each row can grow the maps)."""
    import pytest

    from explainer.errors import UserError
    from explainer.limits import RECEPTIVE_LAYERS
    from explainer.maths.receptive import Layer, layer_sizes, receptive_field

    assert len(receptive_field([Layer("conv", 3)] * RECEPTIVE_LAYERS)) == RECEPTIVE_LAYERS
    for fn in (receptive_field, lambda ls: layer_sizes(ls, 28)):
        with pytest.raises(UserError) as exc:
            fn([Layer("conv", 1, padding=3)] * (RECEPTIVE_LAYERS + 1))
        assert exc.value.key == "errors.too_many_layers"
