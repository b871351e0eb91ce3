"""explainer.learning.network against the models' own forward pass (PyTorch forward hooks): every layer, channel and
position of every CNN of the zoo, on a drawn digit and a test digit; softmax with numbers; the shipped reference
model re-scored on the 10,000 test digits; receptive fields, top patches, the optimised input and Grad-CAM."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from explainer.learning import network as N
from explainer.data.draw import preprocess_drawing
from explainer.errors import UserError
from explainer.figures.style import number
from explainer.learning.models import Normalize, build_model

ZOO = [("fast", {}), ("reference", {}), ("lenet5", {}), ("custom", {}),
       ("custom", dict(blocks=3, channels=4, kernel_size=7, pool="avg", batchnorm=False)),
       ("custom", dict(blocks=1, channels=8, kernel_size=5, dropout=0.3))]


def drawn_digit() -> np.ndarray:
    """A "7" drawn with strokes on a 56×56 canvas, prepared as the canvas's drawings are (preprocess_drawing)."""
    img = Image.new("L", (56, 56), 0)
    d = ImageDraw.Draw(img)
    d.line([(12, 12), (44, 12), (24, 48)], fill=255, width=5)
    d.line([(18, 30), (38, 30)], fill=255, width=4)
    return preprocess_drawing(np.asarray(img))


def strided_model() -> nn.Module:
    """Not in the zoo: stride 2 and padding 1 / 0, so the windows' stride arithmetic is exercised too."""
    return nn.Sequential(Normalize(), nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 6, 3, stride=2), nn.Tanh(), nn.MaxPool2d(2, stride=1), nn.Flatten(),
                         nn.Linear(6 * 5 * 5, 10))


def randomised(model: nn.Module, seed: int = 1) -> nn.Module:
    """Eval mode with BatchNorm statistics and affine parameters far from 0/1, so folding BN is really tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.2)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.3)
    return model.eval()


def hooked(model: nn.Module, x: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Each module's output (by its index in the Sequential), from forward hooks, and the logits."""
    seen: dict[int, np.ndarray] = {}
    handles = [m.register_forward_hook(lambda mod, inp, out, i=i: seen.__setitem__(i, out[0].detach().double().numpy()))
               for i, m in enumerate(model)]
    try:
        with torch.no_grad():
            logits = model(torch.as_tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28))[0].double().numpy()
    finally:
        for h in handles:
            h.remove()
    return seen, logits


def check_against_hooks(model: nn.Module, x: np.ndarray) -> int:
    """Every entry's output = its module's hook output; every conv/dense unit's arithmetic = that value (1e-5).
    Returns the number of units checked."""
    seen, logits = hooked(model, x)
    layers = N.trace(model, x)
    kinds = {type(m) for m in model}
    assert layers[0].kind == "input" and layers[-1].kind == "softmax"
    assert len([L for L in layers if L.kind == "conv"]) == sum(isinstance(m, nn.Conv2d) for m in model)
    assert len([L for L in layers if L.kind == "dense"]) == sum(isinstance(m, nn.Linear) for m in model)
    for L in layers[:-1]:
        assert L.kind in N.KINDS
        np.testing.assert_allclose(L.output, seen[L.modules[-1]], rtol=0, atol=1e-6, err_msg=L.name)
    np.testing.assert_allclose(N.logits_of(layers), logits, rtol=0, atol=1e-6)
    np.testing.assert_allclose(layers[-1].output, torch.softmax(torch.tensor(logits), 0).numpy(), atol=1e-6)
    units = 0
    for li, L in enumerate(layers):
        if L.kind == "conv":
            C, H, W = L.output.shape
            for c in range(C):
                for r in range(H):
                    for col in range(W):
                        u = N.explain_unit(model, x, li, c, r, col, traced=layers)
                        assert u.value == L.output[c, r, col]
                        assert abs(u.pre_activation - seen[L.modules[-1]][c, r, col]) <= 1e-5 * max(1, abs(u.value))
                        assert abs(u.partial_sums.sum() + u.bias - u.pre_activation) < 1e-12
                        units += 1
            # the windows are what the layer read: the previous entry's map, padded, at stride
            u = N.explain_unit(model, x, li, C - 1, H - 1, W - 1, traced=layers)
            assert u.windows.shape == (layers[li - 1].output.shape[0], L.size, L.size)
            np.testing.assert_array_equal(u.products, u.windows * u.kernels)
        elif L.kind == "dense":
            for c in range(L.output.shape[0]):
                u = N.explain_unit(model, x, li, c, traced=layers)
                assert abs(u.pre_activation - seen[L.modules[-1]][c]) <= 1e-5 * max(1, abs(u.value))
                units += 1
    assert nn.Dropout not in kinds or all(L.kind != "dropout" for L in layers)
    return units


@pytest.mark.parametrize("name,options", ZOO, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ZOO)])
def test_every_unit_of_every_zoo_cnn_equals_the_forward_pass(name, options):
    torch.manual_seed(3)
    model = randomised(build_model(name, **options))
    units = check_against_hooks(model, drawn_digit())
    assert units > 1000


def test_strides_and_paddings_and_the_trained_reference_model(mnist_dir):
    from explainer.data.mnist import load_mnist

    torch.manual_seed(4)
    x_test = load_mnist()[2]
    assert check_against_hooks(randomised(strided_model()), drawn_digit()) > 100
    ref = N.reference_model()
    assert not ref.training
    assert check_against_hooks(ref, x_test[0] / 255.0) > 10_000
    assert check_against_hooks(ref, drawn_digit()) > 10_000


def test_the_unit_feeds_its_activation_and_its_pool():
    torch.manual_seed(5)
    model = randomised(build_model("fast"))
    x = drawn_digit()
    layers = N.trace(model, x)
    u = N.explain_unit(model, x, 1, 2, 9, 13, traced=layers)
    assert u.activation == "ReLU" and u.activated == max(0.0, u.value)
    assert u.pooled_at == (4, 6) and u.pooled == layers[3].output[2, 4, 6]
    assert u.pooled == layers[2].output[2, 8:10, 12:14].max()
    assert (u.top, u.left) == (7, 11)  # 5×5, padding 2: the window starts 2 rows and columns before (9, 13)
    with pytest.raises(UserError):
        N.explain_unit(model, x, 2, 0, 0, 0, traced=layers)  # an activation has no arithmetic of its own
    with pytest.raises(UserError):
        N.explain_unit(model, x, 1, 0, 28, 0, traced=layers)
    with pytest.raises(UserError):
        N.explain_unit(model, x, 1, 16, 0, 0, traced=layers)
    f = N.feeders(layers, 4, 5)
    assert f.shape == (16,) and np.allclose(f, np.abs(layers[4].weight[5]).sum(axis=(1, 2)))
    assert list(N.feeders(layers, 5, 7)).index(1.0) == 7


def test_softmax_steps_numbers():
    s = N.softmax_steps([2.0, 1.0, 0.0])
    e = np.array([np.e ** 2, np.e, 1.0])
    np.testing.assert_allclose(s.exp, e)
    assert s.total == pytest.approx(e.sum())
    np.testing.assert_allclose(s.probs, e / e.sum())
    assert s.probs.sum() == pytest.approx(1.0) and s.winner == 0 and s.margin == 1.0 and s.shift == 0.0
    np.testing.assert_allclose(s.probs, torch.softmax(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64), 0))
    hot, cold = N.softmax_steps([2.0, 1.0, 0.0], 5.0), N.softmax_steps([2.0, 1.0, 0.0], 0.2)
    assert hot.probs.max() < s.probs.max() < cold.probs.max()  # higher temperature: less confident
    np.testing.assert_allclose(hot.exp, np.exp([0.4, 0.2, 0.0]))
    big = N.softmax_steps([1000.0, 999.0], 1.0)  # e^1000 overflows: shifted, same probabilities
    assert big.shift == 1000.0 and np.isfinite(big.exp).all()
    np.testing.assert_allclose(big.probs, [1 / (1 + np.e ** -1), 1 / (1 + np.e)])
    for bad in (0.0, -1.0, float("nan"), 100.0):
        with pytest.raises(UserError):
            N.softmax_steps([1.0, 2.0], bad)


def test_reference_model_is_small_recorded_and_scores_what_it_records(mnist_dir):
    from explainer.data.mnist import load_mnist
    from explainer.learning.train import evaluate

    assert N.REFERENCE_WEIGHTS.stat().st_size <= 1024 * 1024
    info = N.reference_info()
    assert info["command"] == "python -m explainer.learning.network --make-reference" and info["seed"] == 0
    _, _, x_test, y_test = load_mnist()
    assert len(y_test) == 10_000 == info["test_digits"]
    ev = evaluate(N.reference_model(), x_test, y_test)
    correct = int((ev["predictions"] == y_test).sum())
    assert abs(correct - info["correct"]) <= 2  # float rounding across machines may move a borderline digit
    assert correct / 10_000 >= 0.985 and info["test_accuracy"] >= 0.985


def test_receptive_fields_and_patches():
    torch.manual_seed(6)
    model = randomised(build_model("fast"))
    layers = N.trace(model, drawn_digit())
    rf = N.receptive_fields(layers)
    assert rf[1] == (5, 1, -2) and rf[3] == (6, 2, -2) and rf[4] == (10, 2, -4) and rf[7] == (20, 4, -8)
    img = np.arange(784, dtype=np.float64).reshape(28, 28)
    p = N.patch_at(img, rf[1], 0, 0)
    assert p.shape == (5, 5) and (p[:2] == 0).all() and p[2, 2] == 0.0 and p[4, 4] == img[2, 2]
    # a conv unit depends on its receptive field only: changing a pixel outside it leaves it unchanged
    x = drawn_digit().copy()
    before = layers[4].output[0, 5, 5]
    size, jump, start = rf[4]
    r0 = start + 5 * jump
    x[r0 + size + 1, 14] += 0.9
    assert N.trace(model, x)[4].output[0, 5, 5] == before
    x[r0 + size - 1, start + 5 * jump + 3] += 0.9
    assert N.trace(model, x)[4].output[0, 5, 5] != before


def test_top_patches_are_the_strongest_places(mnist_dir):
    from explainer.data.mnist import load_mnist

    x_test = load_mnist()[2][:120]
    model = N.reference_model()
    res = N.top_patches(model, x_test, 2, k=9, batch=128)
    assert res["index"].shape == (16, 9) and res["patches"].shape == (16, 9, 5, 5)
    assert (np.diff(res["value"], axis=1) <= 0).all()
    layers = [N.trace(model, x_test[i] / 255.0)[2].output for i in res["index"][3]]
    for act, r, c, v in zip(layers, res["row"][3], res["col"][3], res["value"][3]):
        assert act[3, r, c] == pytest.approx(v, abs=1e-5) and act[3].max() == pytest.approx(v, abs=1e-5)
    best_any = max(N.trace(model, x / 255.0)[2].output[3].max() for x in x_test)
    assert res["value"][3, 0] == pytest.approx(best_any, abs=1e-5)
    np.testing.assert_array_equal(res["patches"][3, 0], N.patch_at(x_test[res["index"][3, 0]] / 255.0,
                                                                   res["field"], res["row"][3, 0], res["col"][3, 0]))


def test_optimised_input_raises_the_channel():
    model = N.reference_model()
    out = N.optimise_input(model, 7, 5, steps=40)
    assert out["image"].shape == (28, 28) and 0 <= out["image"].min() and out["image"].max() <= 1
    layers_start = N.trace(model, out["start"])
    layers_end = N.trace(model, out["image"])
    assert layers_end[7].output[5].mean() > layers_start[7].output[5].mean() + 0.5
    assert all(p.requires_grad for p in model.parameters())  # the shared model is left as it was


def test_grad_cam_matches_a_hand_computation():
    model = N.reference_model()
    x = drawn_digit()
    cam, k, conv = N.grad_cam(model, x)
    assert cam.shape == (28, 28) and (cam >= 0).all() and conv == 7
    assert k == int(np.argmax(N.trace(model, x)[-1].output))
    # by hand: hooks on the last ReLU, gradient of the logit
    acts = {}
    h = model[11].register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    t = torch.as_tensor(x).reshape(1, 1, 28, 28)
    with torch.enable_grad():
        out = model(t)
        (g,) = torch.autograd.grad(out[0, k], acts["a"])
    h.remove()
    small = torch.relu((g[0].mean((1, 2))[:, None, None] * acts["a"][0].detach()).sum(0))
    ref = nn.functional.interpolate(small[None, None], size=(28, 28), mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(cam, ref.numpy(), atol=1e-6)
    # the page's trace handed over (no second trace): the very same map, class and convolution
    again = N.grad_cam(model, x, traced=N.trace(model, x))
    assert np.array_equal(again[0], cam) and again[1:] == (k, conv)
    with pytest.raises(UserError):
        N.grad_cam(build_model("mlp").eval(), x)


def test_unit_for_finds_the_arithmetic_behind_activations_and_pools():
    torch.manual_seed(7)
    model = randomised(build_model("fast"))
    layers = N.trace(model, drawn_digit())
    assert N.unit_for(layers, 4, 3, 2, 5) == (4, 3, 2, 5)
    assert N.unit_for(layers, 5, 3, 2, 5) == (4, 3, 2, 5)
    layer, c, r, col = N.unit_for(layers, 6, 3, 2, 5)  # pool 2 (7×7) → the winning place of its 2×2 window
    assert (layer, c) == (4, 3) and r in (4, 5) and col in (10, 11)
    assert layers[5].output[3, r, col] == layers[6].output[3, 2, 5]
    assert N.unit_for(layers, 0, 0) is None and N.unit_for(layers, len(layers) - 1, 0) is None
    assert N.unit_for(layers, 11, 4) == (11, 4, 0, 0)


@pytest.mark.parametrize("name, options", [("fast", {}), ("lenet5", {})])
def test_input_map_and_kernel_text_give_each_channels_partial_sum_in_the_kernels_inspector(name, options):
    """What the Kernels link carries: the input channel's map as the convolution reads it and the kernel as text;
    the Kernels inspector (valid, stride 1) at (row·s, col·s) then holds the unit's window and partial sum."""
    from explainer.maths.inspector import inspect_pixel
    from explainer.maths.kernels import parse_kernel
    from explainer.limits import KERNEL_TEXT_CHARS

    torch.manual_seed(3)
    model = build_model(name, **options).eval()
    x = np.random.default_rng(4).random((28, 28)).astype(np.float32)
    layers = N.trace(model, x)
    convs = [i for i, L in enumerate(layers) if L.kind == "conv"]
    assert len(convs) >= 2
    for li in convs:
        L = layers[li]
        C, h, w = L.output.shape
        for channel, row, col in ((0, 0, 0), (C - 1, h - 1, w - 1), (C // 2, h // 2, w // 3)):
            u = N.explain_unit(model, x, li, channel, row, col, traced=layers)
            for k in {0, u.windows.shape[0] - 1}:
                text = N.kernel_text(u.kernels[k])
                assert len(text) <= KERNEL_TEXT_CHARS
                kernel = parse_kernel(text)
                assert np.allclose(kernel, u.kernels[k], rtol=1e-7, atol=0)  # the weights, as float32
                m = N.input_map(layers, li, k)
                got = inspect_pixel(m, kernel, row * L.stride, col * L.stride)
                assert np.array_equal(got.window, u.windows[k])
                assert abs(got.total - u.partial_sums[k]) <= 1e-5 * max(1.0, abs(u.partial_sums[k]))
    with pytest.raises(UserError):
        N.input_map(layers, convs[0] + 1, 0)  # not a convolution


def test_kernel_text_reads_back_as_the_same_float32_weights():
    from explainer.maths.kernels import parse_kernel
    from explainer.limits import KERNEL_TEXT_CHARS

    for k in (np.random.default_rng(1).normal(0, 0.1, (3, 3)), np.random.default_rng(2).normal(0, 1e-3, (7, 7))):
        text = N.kernel_text(k)
        assert len(text) <= KERNEL_TEXT_CHARS
        assert np.array_equal(parse_kernel(text).astype(np.float32), k.astype(np.float32))


def test_unit_grids_print_short_numbers_and_the_map_keeps_its_axes():
    from explainer.figures import network as F

    assert F.cell_format(np.array([[0.018, -0.4243], [0.00012, 0.1]])) == ".3f"
    assert F.cell_format(np.array([[3.65, -1.0]])) == ".2f"
    assert F.cell_format(np.array([[12.5, 0.0]])) == ".1f"
    assert F.cell_format(np.array([[250.0, -3.0]])) == ".0f"
    kernel = np.random.default_rng(0).normal(0, 0.2, (5, 5))
    fig = F.unit_grid(kernel, title="k", colorbar_title="w", x_title="c", y_title="r", value_label="v")
    cells = [c for row in fig.data[0].text for c in row]
    assert max(len(c) for c in cells) <= 6 and fig.data[0].texttemplate == "%{text}"
    m = F.map_picker(np.arange(14 * 14, dtype=float).reshape(14, 14) - 90, 3, 4, title="t", x_title="c",
                     y_title="r", value_label="v")
    assert m.layout.xaxis.range == (-0.6, 13.6) and m.layout.xaxis.constrain == "domain"
    assert m.layout.yaxis.constrain == "domain"
    from explainer.figures.describe import summary

    assert summary(m, "en").count("14×14") == 1  # said once (the builder's numbers, not also the markers')
    # the occlusion map (11×11 patch centres 3.5 … 23.5 on the digit) leaves its ticks to Plotly: a tick per centre
    # (dtick 1 from a small grid) printed 21 labels under it that ran into each other
    from explainer.figures.backprop import attribution

    occ = attribution(np.zeros((11, 11)), title="t", x_title="c", y_title="r", value_label="v",
                      coords=[3.5 + 2 * i for i in range(11)])
    assert occ.layout.xaxis.dtick is None and occ.layout.yaxis.dtick is None
    assert list(occ.data[0].x) == [3.5 + 2 * i for i in range(11)]


def test_overview_labels_the_softmax_rows_and_keeps_the_logits_short():
    from explainer.figures import network as F

    torch.manual_seed(0)
    model = build_model("fast").eval()
    layers = N.trace(model, np.random.default_rng(5).random((28, 28)).astype(np.float32))
    names = [f"{L.kind} {i}" for i, L in enumerate(layers)]
    fig, points = F.overview(layers, shown=16, selected=(1, 0), feed=None, predicted=3, names=names,
                             range_fmt="{lo}…{hi}", hover="value", channel_word="channel", title="t")
    texts = [a.text for a in fig.layout.annotations if "<b>" not in a.text]
    logits, probs = texts[:10], texts[10:20]
    assert logits == [number(v, ".2f") for v in layers[-2].output]  # short: the softmax beside them names the rows
    assert probs == [f"{k}: {number(p, '.2f')}" for k, p in enumerate(layers[-1].output)]


def test_phone_overview_runs_down_the_page_with_maps_twice_as_wide():
    from explainer.figures import network as F

    torch.manual_seed(0)
    model = build_model("fast").eval()
    layers = N.trace(model, np.random.default_rng(5).random((28, 28)).astype(np.float32))
    names = [f"{L.kind} {i}" for i, L in enumerate(layers)]
    kw = dict(predicted=3, names=names, range_fmt="{lo}…{hi}", hover="value", channel_word="channel", title="t")
    sel = next(i for i, L in enumerate(layers) if L.kind == "conv" and i > 1)
    fig, points = F.overview_rows(layers, shown=8, selected=(sel, 2), feed=N.feeders(layers, sel, 2), **kw)
    wide, _ = F.overview(layers, shown=16, selected=(sel, 2), feed=None, **kw)
    spatial = [i for i, L in enumerate(layers) if L.output.ndim == 3]
    dense = [i for i, L in enumerate(layers) if L.kind == "dense"]
    assert sorted(points) == sorted([(i, c) for i in spatial for c in range(min(8, layers[i].output.shape[0]))] +
                                    [(i, k) for i in dense for k in range(layers[i].output.size)])
    marks = fig.data[-1]
    assert len(marks.x) == len(points) and len(set(zip(marks.x, marks.y))) == len(points)
    # one row of at most 8 maps per layer: the plot is ~9 maps wide (the wide overview ~19), and runs down
    width = fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0]
    assert width <= 9.1 < 17 < wide.layout.xaxis.range[1] - wide.layout.xaxis.range[0]
    bottom, top = fig.layout.yaxis.range
    assert top < 0 < bottom and fig.layout.yaxis.scaleanchor is False  # no square-pixel constraint: no empty band
    assert abs(fig.layout.height - (bottom * F.PHONE_PX + 50)) <= 1  # the height follows the content
    assert max(marks.y) < bottom and min(marks.y) > top
    # each layer's title line is above its maps, in order down the page
    heads = [a for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert [a.text.split("</b>")[0][3:] for a in heads] == names and all(
        a.y < b.y for a, b in zip(heads, heads[1:]))
    # the selection outlined, the channels feeding it dotted, the predicted class outlined on the softmax
    solid = [s for s in fig.layout.shapes if s.line.dash is None]
    dotted = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    i = points.index((sel, 2))
    assert any(s.x0 < marks.x[i] < s.x1 and s.y0 < marks.y[i] < s.y1 for s in solid) and dotted
    dx = width - 0.2
    assert any(abs(s.x0 - 3 * dx / 10) < 1e-9 for s in solid)
    # "show all": every channel, still 8 a row
    every, pts = F.overview_rows(layers, shown=0, selected=None, feed=None, **kw)
    assert len([p for p in pts if p[0] in spatial]) == sum(layers[i].output.shape[0] for i in spatial)
    assert every.layout.xaxis.range == fig.layout.xaxis.range and every.layout.height > fig.layout.height


def test_patches_in_rows_leave_a_band_for_their_captions():
    """A phone shows the 9 top patches 3 a row: each row's captions sit in a blank band above the next row (with a
    1-pixel gap, as 9 in a row has, they were drawn over the next row's pictures)."""
    from explainer.figures import network as F

    fig = F.patches(np.ones((9, 10, 10)), [f"#{i}" for i in range(9)], title="", cols=3, height=430)
    z = np.asarray(fig.data[0].z, dtype=float)
    p = 14  # a row: 10 pixels of picture, 4 of captions' band
    assert z.shape == (2 * p + 10, 3 * 11 - 1)
    for r in (0, 1):
        assert np.isnan(z[p * r + 10: p * (r + 1)]).all() and (~np.isnan(z[p * (r + 1)])).sum() == 30
        assert {a.y for a in fig.layout.annotations[3 * r: 3 * r + 3]} == {p * r + 9.5}
    one = F.patches(np.ones((9, 10, 10)), [f"#{i}" for i in range(9)], title="t")  # 9 in a row, as before
    assert np.asarray(one.data[0].z, dtype=float).shape == (10, 9 * 11 - 1)


@pytest.mark.parametrize("phone", [False, True])
def test_a_selection_drawn_on_the_overview_without_one_is_the_overview_drawn_with_it(phone):
    """The page draws the overview's maps once per input (``selected=None``) and each selection on that figure
    (``with_selection``): the same figure, to the byte, as the overview drawn with the selection."""
    import plotly.io as pio

    from explainer.figures import network as F
    from explainer.figures.wire import wire_dict

    torch.manual_seed(0)
    model = build_model("fast").eval()
    layers = N.trace(model, np.random.default_rng(5).random((28, 28)).astype(np.float32))
    names = [f"{L.kind} {i}" for i, L in enumerate(layers)]
    kw = dict(predicted=3, names=names, range_fmt="{lo}…{hi}", hover="value", channel_word="channel", title="t",
              classes=[str(k) for k in range(10)])
    draw = F.overview_rows if phone else F.overview
    text = lambda fig: pio.to_json(wire_dict(fig), validate=False)  # noqa: E731
    for shown in (0, 8):
        boxes: dict = {}
        base, base_points = draw(layers, shown=shown, selected=None, feed=None, boxes=boxes, **kw)
        for li, L in enumerate(layers[1:], start=1):
            for c in {0, L.output.shape[0] - 1} if L.output.ndim == 3 or L.kind == "dense" else {0}:
                feed = N.feeders(layers, li, c)
                fig, points = draw(layers, shown=shown, selected=(li, c), feed=feed, **kw)
                assert points == base_points
                assert text(F.with_selection(base, boxes, (li, c), feed)) == text(fig)
        assert text(base) == text(draw(layers, shown=shown, selected=None, feed=None, **kw)[0])  # left as it was
        # the chart cache weighs a selection's figure by the overview it is drawn on: its JSON text is kept with it
        from ui.charts import By, _weight

        assert _weight(By("an input's key", base)) >= len(text(base)) / 2, (_weight(By("k", base)), len(text(base)))
