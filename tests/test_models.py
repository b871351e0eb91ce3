"""Models: shapes, parameter counts (the tutorial's reference), summaries, feature maps."""
from __future__ import annotations

import pytest
import torch

from explainer.errors import UserError
from explainer.learning import models as M
from explainer.learning.models import MODEL_NAMES, build_model, feature_maps, first_conv_weights, summary


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_digits_to_10_logits(name):
    m = build_model(name)
    assert m(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_reference_is_the_tutorials_model():
    m = build_model("reference")
    rows = summary(m, "total")
    convs = [r for r in rows if "Conv2d" in r["layer"]]
    assert convs[0]["layer"].endswith("Conv2d 1→32, 5×5, pad 2") and convs[0]["output_shape"] == (32, 28, 28)
    linears = [r["layer"].split(": ")[1] for r in rows if "Linear" in r["layer"]]
    assert linears == ["Linear 6272→70", "Linear 70→30", "Linear 30→10"]
    expected = (32 * 25 + 32) + 64 + (6272 * 70 + 70) + (70 * 30 + 30) + (30 * 10 + 10)
    assert rows[-1]["params"] == expected


def test_mlp_is_784_256_256_256_10():
    rows = summary(build_model("mlp"), "total")
    assert [r["layer"].split(": ")[1] for r in rows if "Linear" in r["layer"]] == [
        "Linear 784→256", "Linear 256→256", "Linear 256→256", "Linear 256→10"]
    assert first_conv_weights(build_model("mlp")) is None


def test_custom_options_and_errors():
    m = build_model("custom", blocks=3, channels=8, kernel_size=5, pool="avg", dropout=0.2, batchnorm=False)
    assert m(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert first_conv_weights(m).shape == (8, 1, 5, 5)
    for bad in ({"blocks": 4}, {"blocks": "two"}, {"pool": "median"}, {"kernel_size": 4}, {"dropout": 0.95},
                {"channels": 0}, {"colour": 1}):
        with pytest.raises(UserError):
            build_model("custom", **bad)
    with pytest.raises(UserError):
        build_model("resnet")


def test_feature_maps_follow_the_summary():
    m = build_model("fast")
    maps = feature_maps(m, torch.rand(28, 28).numpy())
    rows = summary(m, "total")[:-1]
    assert [tuple(t.shape) for _, t in maps] == [r["output_shape"] for r in rows]
    assert maps[-1][1].shape == (10,)


@pytest.mark.parametrize("name, options", [(n, {}) for n in M.MODEL_NAMES if n != "custom"] + [
    ("custom", {}), ("custom", {"batchnorm": False, "pool": "avg", "dropout": 0.25, "kernel_size": 5})])
def test_layer_code_rebuilds_the_model_and_describe_reads_the_same_table(name, options):
    """The exported script's layers (layer_code) and the summary rows (describe) come from one table."""
    torch.manual_seed(0)
    model = M.build_model(name, **options).eval()
    rebuilt = torch.nn.Sequential(*[eval(M.layer_code(m), {"nn": torch.nn, "Normalize": M.Normalize})  # noqa: S307
                                    for m in model]).eval()
    rebuilt.load_state_dict(model.state_dict())  # strict: same layers, same shapes, same biases
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    for m, row in zip(model, M.summary(model, "total")):
        args, kwargs = M.layer_args(m)
        assert row["layer"].split(": ", 1)[1] == M.describe(m)
        assert all(str(a if not isinstance(a, float) else f"{a:g}") in M.describe(m) for a in args)


def test_describe_and_layer_code_exact():
    conv = torch.nn.Conv2d(1, 16, 3, padding=1, bias=False)
    assert M.describe(conv) == "Conv2d 1→16, 3×3, pad 1"
    assert M.layer_code(conv) == "nn.Conv2d(1, 16, 3, padding=1, bias=False)"
    assert M.describe(torch.nn.Dropout(0.25)) == "Dropout 0.25" and M.layer_code(torch.nn.ReLU()) == "nn.ReLU()"
    assert M.layer_code(M.Normalize()) == "Normalize()" and M.describe(torch.nn.MaxPool2d(2)) == "MaxPool2d 2×2"


class _Boom(torch.nn.Module):
    """A layer that records the mode it ran in, then fails: the body of ``evaluating`` raising. The record is the
    class's (``seen``), so a private copy of the model that a function runs instead records there too."""

    seen: list = []

    def forward(self, x):
        _Boom.seen.append(self.training)
        raise RuntimeError("boom")


def _boom_model():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), _Boom())


def test_evaluating_restores_the_mode_also_when_the_body_raises():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    for was in (True, False):
        m.train(was)
        with pytest.raises(RuntimeError, match="boom"):
            with M.evaluating(m) as inside:
                assert inside is m and not m.training and not m[1].training
                raise RuntimeError("boom")
        assert m.training is was and m[1].training is was


def _callers():
    from explainer.learning import backprop, network, train
    x = torch.zeros(28, 28).numpy()
    return {
        "summary": lambda m: summary(m, "total"),
        "feature_maps": lambda m: feature_maps(m, x),
        "predict_proba": lambda m: train.predict_proba(m, x),
        "evaluate": lambda m: train.evaluate(m, x[None].astype("uint8"), [0]),
        "saliency": lambda m: backprop.saliency(m, x),
        "occlusion": lambda m: backprop.occlusion(m, x, 0),
        "trace": lambda m: network.trace(m, x),
    }


@pytest.mark.parametrize("name", sorted(_callers()))
def test_a_failing_forward_pass_leaves_the_model_in_its_training_mode(name):
    """Each library function that evaluates a learner's model runs it in eval mode and gives it back in the
    mode it came in, even when the forward pass fails half-way."""
    m = _boom_model().train()
    _Boom.seen.clear()
    with pytest.raises(RuntimeError, match="boom"):
        _callers()[name](m)
    assert _Boom.seen == [False]  # it ran (the model or a private copy of it) in evaluation mode
    assert m.training and all(layer.training for layer in m)
