"""The models of the MNIST lesson: the tutorial's reference CNN, LeNet-5, a fast default CNN,
the tutorial's MLP baseline, and a configurable custom CNN.

Every model takes ``(N, 1, 28, 28)`` float images with values in [0, 1] (pixels / 255) and returns
10 logits; the normalisation to MNIST's mean and standard deviation happens inside the model. For another data
set (``explainer.data.datasets``) ``build_model`` takes its image ``shape`` (channels, height, width), the number of
``classes`` and its ``mean`` / ``std`` per channel: the first layer adapts to the channels, the last to the classes.
"""
from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from explainer.errors import UserError

MODEL_NAMES = ("fast", "reference", "lenet5", "mlp", "custom")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# the custom CNN's choices
MAX_BLOCKS, MAX_CHANNELS, KERNEL_SIZES, POOLS, MAX_DROPOUT = 3, 128, (3, 5, 7), ("max", "avg"), 0.9


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``with evaluating(model):`` the body runs with the model in evaluation mode (dropout off, batch norm on its
    running statistics); the mode it had before comes back afterwards, also when the body raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class Normalize(nn.Module):
    """(x − mean) / std per channel (MNIST's statistics by default), so inputs can stay as pixels / 255.
    The statistics are not part of the weights (a non-persistent buffer): a checkpoint's state is the same."""

    def __init__(self, mean=(MNIST_MEAN,), std=(MNIST_STD,)):
        super().__init__()
        self.mean_values, self.std_values = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.register_buffer("mean", torch.tensor(self.mean_values).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.std_values).view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


def _fast(c: int = 1, h: int = 28, w: int = 28, k: int = 10) -> nn.Module:
    """Our default: three small conv blocks (16, 32, 64 kernels; about 30,000 weights). On two CPU
    cores (AMD EPYC, bfloat16: ``prefers_bfloat16``) one epoch with Adam 0.006 + one-cycle takes about 8 s and
    reaches ≈ 99.0 %, two epochs ≈ 99.2 %."""
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(c, 16, 5, padding=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 16×14×14
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32×7×7
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 64×3×3
        nn.Flatten(), nn.Linear(64 * (h // 8) * (w // 8), k),
    )


def _reference(c: int = 1, h: int = 28, w: int = 28, k: int = 10) -> nn.Module:
    """The tutorial's model: Conv 1→32 5×5 pad 2 + BN + ReLU + MaxPool 2 → FC 70 tanh → FC 30 tanh → FC 10."""
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(c, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32×14×14
        nn.Flatten(), nn.Linear(32 * (h // 2) * (w // 2), 70), nn.Tanh(), nn.Linear(70, 30), nn.Tanh(),
        nn.Linear(30, k),
    )


def _lenet5(c: int = 1, h: int = 28, w: int = 28, k: int = 10) -> nn.Module:
    """LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, padding the 28×28 digit to 32×32's geometry."""
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6×14×14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # 16×5×5
        nn.Flatten(), nn.Linear(16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2), 120), nn.ReLU(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, k),
    )


def _mlp(c: int = 1, h: int = 28, w: int = 28, k: int = 10) -> nn.Module:
    """The tutorial's MLP baseline: 784-256-256-256-10 with ReLU — no convolution at all."""
    return nn.Sequential(
        Normalize(), nn.Flatten(),
        nn.Linear(c * h * w, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, k),
    )


def _custom(c: int = 1, h: int = 28, w: int = 28, k: int = 10, *, blocks: int = 2, channels: int = 16,
            kernel_size: int = 3, pool: str = "max", dropout: float = 0.0, batchnorm: bool = True) -> nn.Module:
    """``blocks`` × (conv → [BN] → ReLU → pool), channels doubling each block, then [dropout] → FC 10."""
    if not 1 <= int(blocks) <= MAX_BLOCKS:
        raise UserError("errors.out_of_range", param="blocks", lo=1, hi=MAX_BLOCKS, value=blocks)
    if not 1 <= int(channels) <= MAX_CHANNELS:
        raise UserError("errors.out_of_range", param="channels", lo=1, hi=MAX_CHANNELS, value=channels)
    if int(kernel_size) not in KERNEL_SIZES:
        raise UserError("errors.not_one_of", param="kernel_size", choices=" / ".join(map(str, KERNEL_SIZES)),
                        value=kernel_size)
    if pool not in POOLS:
        raise UserError("errors.not_one_of", param="pool", choices=" / ".join(POOLS), value=pool)
    if not 0.0 <= float(dropout) <= MAX_DROPOUT:
        raise UserError("errors.out_of_range", param="dropout", lo=0, hi=MAX_DROPOUT, value=dropout)
    layers: list[nn.Module] = [Normalize()]
    c_in, size, width = c, h, w
    for b in range(int(blocks)):
        c_out = int(channels) * 2 ** b
        layers += [nn.Conv2d(c_in, c_out, int(kernel_size), padding=int(kernel_size) // 2, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(c_out))
        layers += [nn.ReLU(), nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)]
        c_in, size, width = c_out, size // 2, width // 2
    layers.append(nn.Flatten())
    if dropout:
        layers.append(nn.Dropout(float(dropout)))
    layers.append(nn.Linear(c_in * size * width, k))
    return nn.Sequential(*layers)


_BUILDERS = {"fast": _fast, "reference": _reference, "lenet5": _lenet5, "mlp": _mlp, "custom": _custom}


def build_model(name: str, *, shape=(1, 28, 28), classes: int = 10, mean=(MNIST_MEAN,), std=(MNIST_STD,),
                **options) -> nn.Module:
    """A fresh, untrained model by name (``MODEL_NAMES``); ``options`` only for ``"custom"``. ``shape``
    (channels, height, width), ``classes``, ``mean`` and ``std``: the data set's (``explainer.data.datasets``,
    MNIST's by default)."""
    if name not in _BUILDERS:
        raise UserError("errors.not_one_of", param="model", choices=" / ".join(MODEL_NAMES), value=name)
    if options and name != "custom":
        raise UserError("errors.no_options", model=name, value=options)
    c, h, w = (int(v) for v in shape)
    try:
        model = _BUILDERS[name](c, h, w, int(classes), **options)
        model[0] = Normalize(mean, std)
        return model
    except UserError:
        raise
    except (TypeError, ValueError) as exc:  # an unknown option, or a value that isn't a number
        raise UserError("errors.bad_options", value=str(exc),
                        choices=", ".join(p.name for p in inspect.signature(_custom).parameters.values()
                                          if p.kind is p.KEYWORD_ONLY)) from None


def prefers_channels_last(model: nn.Module) -> bool:
    """Channels-last (NHWC) convolutions: measured on 2 CPU cores (oneDNN), 1.5× the images/s for the fast
    and the default custom CNN, 1.2× for LeNet-5 (6 and 16 kernels), but 0.7× with only 4 kernels a layer."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return bool(convs) and min(c.out_channels for c in convs) >= 6


def cpu_has_bfloat16() -> bool:
    """This CPU has native bfloat16 instructions (AVX512-BF16 or AMX); elsewhere bfloat16 is emulated, slower than
    float32."""
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(bool(check()) for check in checks if check is not None)


def prefers_bfloat16(model: nn.Module, device="cpu") -> bool:
    """Training in bfloat16 (``torch.autocast``: the weights, the optimizer and the evaluation stay float32) on a CPU
    with native bfloat16 instructions: measured on 2 AMD EPYC (Zen 4) cores, 1.35× the images/s for the fast CNN
    (6,080 → 8,170), one epoch 98.99 % against 98.92 % in float32. Only for the models trained channels-last
    (oneDNN's bfloat16 convolutions); ``EXPLAINER_BFLOAT16=0`` turns it off."""
    return torch.device(device).type == "cpu" and cpu_has_bfloat16() and bfloat16_model(model)


def bfloat16_model(model: nn.Module) -> bool:
    """``model`` trains in bfloat16 on a CPU that has it (``prefers_bfloat16``; the exported script asks its CPU)."""
    return os.environ.get("EXPLAINER_BFLOAT16", "1") != "0" and prefers_channels_last(model)


def summary(model: nn.Module, total_label: str, input_shape=(1, 1, 28, 28)) -> list[dict]:
    """One row per layer: its name, output shape (without the batch) and parameter count; a total row last,
    named ``total_label`` (the page's word for "total")."""
    rows = []
    x = torch.zeros(input_shape)
    with evaluating(model), torch.no_grad():
        for i, layer in enumerate(_layers(model)):
            x = layer(x)
            params = sum(p.numel() for p in layer.parameters())
            rows.append({"layer": f"{i}: {describe(layer)}", "output_shape": tuple(x.shape[1:]), "params": params})
    rows.append({"layer": total_label, "output_shape": tuple(x.shape[1:]),
                 "params": sum(p.numel() for p in model.parameters())})
    return rows


def _layers(model: nn.Module) -> list[nn.Module]:
    return list(model) if isinstance(model, nn.Sequential) else [model]


# One entry per layer type: the constructor arguments that rebuild a layer (for the exported script) and
# how a summary row shows them. ``describe`` and ``layer_code`` both read this table.
def _pool_size(m) -> int:
    return m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]


_LAYERS: dict[type, tuple[Callable, str]] = {
    nn.Conv2d: (lambda m: ((m.in_channels, m.out_channels, m.kernel_size[0]),
                           {"padding": m.padding[0], **({} if m.bias is not None else {"bias": False})}),
                "{0}→{1}, {2}×{2}, pad {padding}"),
    nn.Linear: (lambda m: ((m.in_features, m.out_features), {}), "{0}→{1}"),
    nn.BatchNorm2d: (lambda m: ((m.num_features,), {}), "{0}"),
    nn.MaxPool2d: (lambda m: ((_pool_size(m),), {}), "{0}×{0}"),
    nn.AvgPool2d: (lambda m: ((_pool_size(m),), {}), "{0}×{0}"),
    nn.Dropout: (lambda m: ((m.p,), {}), "{0:g}"),
}


def layer_args(layer: nn.Module) -> tuple[tuple, dict]:
    """The positional and keyword arguments that rebuild ``layer`` (none for a layer without settings)."""
    entry = _LAYERS.get(type(layer))
    return entry[0](layer) if entry else ((), {})


def describe(layer: nn.Module) -> str:
    """A summary row's text: ``"Conv2d 1→16, 3×3, pad 1"``."""
    entry = _LAYERS.get(type(layer))
    if entry is None:
        return type(layer).__name__
    args, kwargs = entry[0](layer)
    return f"{type(layer).__name__} {entry[1].format(*args, **kwargs)}"


def layer_code(layer: nn.Module) -> str:
    """The Python expression that rebuilds ``layer``: ``"nn.Conv2d(1, 16, 3, padding=1)"``."""
    if isinstance(layer, Normalize):
        same = (layer.mean_values, layer.std_values) == ((MNIST_MEAN,), (MNIST_STD,))
        return "Normalize()" if same else f"Normalize({layer.mean_values!r}, {layer.std_values!r})"
    args, kwargs = layer_args(layer)
    text = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    prefix = "" if isinstance(layer, Normalize) else "nn."
    return f"{prefix}{type(layer).__name__}({text})"


def feature_maps(model: nn.Module, x) -> list[tuple[str, torch.Tensor]]:
    """The activation after each layer for one input ``(1, 1, 28, 28)`` (or ``(28, 28)``), in eval mode."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3 and x.shape[2] == 3:  # a colour picture (H, W, 3) → (1, 3, H, W)
        x = x.permute(2, 0, 1)[None]
    out = []
    with evaluating(model), torch.no_grad():
        for i, layer in enumerate(_layers(model)):
            x = layer(x)
            out.append((f"{i}: {describe(layer)}", x[0].clone()))
    return out


def first_conv_weights(model: nn.Module) -> np.ndarray | None:
    """The first convolution's kernels ``(K, 1, kh, kw)`` as NumPy, or None for a model without one."""
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            return layer.weight.detach().cpu().numpy().copy()
    return None
