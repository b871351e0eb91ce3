"""Inside a whole trained network: every layer's output for one input, the exact arithmetic of any unit, softmax
with its numbers, and what a channel looks for (its strongest test-set patches, an input optimised for it,
Grad-CAM).

    >>> from explainer.learning.network import reference_model, trace, explain_unit, softmax_steps
    >>> model = reference_model()                    # the shipped CNN (weights in explainer/data/)
    >>> layers = trace(model, x)                     # x: (1, 28, 28) float, pixels / 255
    >>> [l.kind for l in layers][:4]
    ['input', 'conv', 'activation', 'pool']
    >>> u = explain_unit(model, x, 1, channel=3, row=10, col=12)
    >>> u.pre_activation == u.partial_sums.sum() + u.bias   # ≈, and u.value is layers[1].output[3, 10, 12]

How the zoo's layers map onto the trace (``explainer.learning.models``): the model's ``Normalize`` gives the first entry,
kind ``"input"`` (the normalised 28×28 the first convolution reads: its windows hold these values, and zero
padding pads them). A convolution and the batch normalisation right after it are **one** ``"conv"`` entry: in
evaluation mode BN is an affine map per channel, so it folds into the convolution's weights and bias
(``w·γ/√(σ²+ε)``, ``(b − μ)·γ/√(σ²+ε) + β``), and the entry's ``output`` is what the BN layer outputs (the hook
oracle compares it with that module's output). ``Dropout`` does nothing in evaluation mode and gets no entry.
Linear layers are ``"dense"``, ReLU/Tanh ``"activation"``, max/average pooling ``"pool"``; the last entry is the
``"softmax"`` of the logits (the last dense layer's output).

Reference model: ``python -m explainer.learning.network --make-reference`` trains the zoo's ``fast`` CNN (2 epochs,
seed 0) on MNIST, scores it on the 10,000 test digits and writes ``explainer/data/network_reference.pt`` (a
``train.save_checkpoint`` file) and ``network_reference.json`` (its test accuracy and how it was made).

Long work (``top_patches`` over the test set, ``optimise_input``) runs on the engine (``jobs.TopPatchesJob``,
``jobs.OptimiseInputJob``); ``grad_cam`` for one input is one forward and one backward pass.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explainer.errors import UserError
from explainer.learning.models import Normalize, evaluating

DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # explainer/data/: the reference network
REFERENCE_WEIGHTS = DATA_DIR / "network_reference.pt"
REFERENCE_INFO = DATA_DIR / "network_reference.json"
REFERENCE_CONFIG = dict(model="fast", epochs=2, seed=0, optimizer="adam", one_cycle=True, batch_size=128)
KINDS = ("input", "conv", "activation", "pool", "flatten", "dense", "softmax")
TOP_K = 9  # patches per channel
OPTIMISE_STEPS = 120


@dataclass
class LayerTrace:
    """One layer's output for one input. ``output``: channels × H × W (input, conv, activation, pool) or features.
    ``weight``/``bias``: conv (BN folded in: out × in × kh × kw) and dense (out × in); else None. ``stride``,
    ``padding``: a conv's or pool's (else 1, 0); ``size``: a pool's window. ``modules``: the model's indices of the
    modules this entry stands for (its output is the last one's)."""

    name: str
    kind: str
    output: np.ndarray
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: int = 1
    padding: int = 0
    size: int = 1
    pool: str = ""
    function: str = ""
    modules: tuple = ()


@dataclass
class UnitExplanation:
    """Every number behind one unit (``layer``, ``channel``, ``row``, ``col``) of a conv or dense entry.

    conv: ``windows`` (in × kh × kw, the input under the kernel, zero padding included), ``kernels`` (in × kh ×
    kw), ``products`` = windows ⊙ kernels, ``partial_sums`` (in,), ``bias``, ``pre_activation`` = Σ partial sums
    + bias, ``value`` = the traced output there. dense: one "channel" of input features (1 × 1 × n), its weight
    row. ``activated`` / ``pooled``: the value after the next activation, and the pooled value this position
    feeds (with ``pooled_at`` its place), when the layers that follow have them. ``top``/``left``: the window's
    corner in the (unpadded) input's coordinates."""

    layer: int
    channel: int
    row: int
    col: int
    windows: np.ndarray
    kernels: np.ndarray
    products: np.ndarray
    partial_sums: np.ndarray
    bias: float
    pre_activation: float
    value: float
    top: int = 0
    left: int = 0
    activated: float | None = None
    activation: str = ""
    pooled: float | None = None
    pooled_at: tuple | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class SoftmaxSteps:
    """``softmax(logits / T)`` step by step: ``scaled`` = logits / T, ``exp`` = e^(scaled − shift), ``total`` = Σ exp,
    ``probs`` = exp / total. ``shift`` is 0 unless an e^scaled would overflow (then the largest scaled logit, which
    changes no probability)."""

    logits: np.ndarray
    temperature: float
    scaled: np.ndarray
    shift: float
    exp: np.ndarray
    total: float
    probs: np.ndarray

    @property
    def winner(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def margin(self) -> float:
        """The winning logit minus the runner-up's (before the temperature)."""
        s = np.sort(self.logits)
        return float(s[-1] - s[-2]) if s.size > 1 else 0.0


MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def softmax_steps(logits, temperature: float = 1.0) -> SoftmaxSteps:
    """The softmax of ``logits`` at ``temperature``, with every intermediate number (float64)."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    try:
        temp = float(temperature)
    except (TypeError, ValueError):
        raise UserError("errors.not_number", param="temperature", value=temperature) from None
    if not (np.isfinite(temp) and MIN_TEMPERATURE <= temp <= MAX_TEMPERATURE):
        raise UserError("errors.out_of_range", param="temperature", lo=MIN_TEMPERATURE, hi=MAX_TEMPERATURE,
                        value=temperature)
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise UserError("errors.not_number", param="logits", value=z.size)
    scaled = z / temp
    shift = float(scaled.max()) if scaled.max() > 700 else 0.0  # e^709 is float64's largest
    e = np.exp(scaled - shift)
    total = float(e.sum())
    return SoftmaxSteps(z, temp, scaled, shift, e, total, e / total)


# ====================================================================== the reference model
_REFERENCE = None


def reference_model() -> nn.Module:
    """The shipped reference CNN (the zoo's ``fast`` architecture, trained with a fixed seed), in eval mode.
    Loaded once per process; the same module is returned every call (treat it as read-only)."""
    global _REFERENCE
    if _REFERENCE is None:
        model, _ = reference_checkpoint()
        _REFERENCE = model
    return _REFERENCE


def reference_checkpoint():
    """``(model, TrainConfig)`` of the shipped reference model, read from ``explainer/data``."""
    from explainer.learning.train import load_checkpoint

    model, config = load_checkpoint(REFERENCE_WEIGHTS.read_bytes())
    model.eval()
    return model, config


def reference_info() -> dict:
    """What ``--make-reference`` recorded: ``test_accuracy``, ``correct``, ``seed``, ``config``, ``command`` (a copy)."""
    global _INFO
    if _INFO is None:
        _INFO = json.loads(REFERENCE_INFO.read_text(encoding="utf-8"))
    return json.loads(json.dumps(_INFO))


_INFO = None


def make_reference(data=None) -> dict:
    """Train the reference model with the fixed seed, score it on the 10,000 test digits, write both files."""
    from explainer.data.mnist import load_mnist
    from explainer.learning.train import TrainConfig, evaluate, save_checkpoint, train

    data = data or load_mnist()
    config = TrainConfig(device="cpu", **REFERENCE_CONFIG)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # one thread: the same arithmetic order wherever it is made, and no oversubscription
    res = train(config, data, on_progress=lambda r: print({k: r[k] for k in ("step", "total_steps") if k in r},
                                                           flush=True) if "test_acc" in r else None)
    res.model.eval()
    ev = evaluate(res.model, data[2], data[3])
    correct = int((ev["predictions"] == np.asarray(data[3])).sum())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    REFERENCE_WEIGHTS.write_bytes(save_checkpoint(res.model, config))
    info = {"test_accuracy": correct / len(data[3]), "correct": correct, "test_digits": int(len(data[3])),
            "seed": config.seed, "config": config.to_dict(),
            "command": "python -m explainer.learning.network --make-reference", "torch": torch.__version__}
    REFERENCE_INFO.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


# ====================================================================== trace
def _modules(model: nn.Module) -> list[nn.Module]:
    return list(model) if isinstance(model, nn.Sequential) else [model]


def _int(v) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


SIDES = (28, 32)  # the pictures a traced model takes: 28×28 (MNIST, Fashion-MNIST, grey own) or 32×32 (colour own)


def _as_input(x) -> torch.Tensor:
    """One picture as a batch of one, ``(1, C, H, W)``: grey ``(28, 28)``, ``(1, 28, 28)`` (or any 784 values),
    colour ``(H, W, 3)`` or ``(3, H, W)``, or already ``(1, C, H, W)``; sides 28 or 32, 1 or 3 channels."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.dim() == 3 and t.shape[2] == 3 and t.shape[0] != 3:
        t = t.permute(2, 0, 1)
    if t.dim() == 2 or (t.dim() == 3 and t.shape[0] in (1, 3)):
        t = t.reshape(1, -1, *t.shape[-2:])
    if t.dim() == 4 and t.shape[0] == 1 and t.shape[1] in (1, 3) and t.shape[2] == t.shape[3] and t.shape[2] in SIDES:
        return t.contiguous()
    if t.numel() == 28 * 28:
        return t.reshape(1, 1, 28, 28)
    from explainer.errors import shape_text

    raise UserError("errors.shape_image", param="image", shape=shape_text(tuple(np.asarray(x).shape)))


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[np.ndarray, np.ndarray]:
    """The convolution's weights and bias with an eval-mode BatchNorm after it folded in (float64)."""
    w = conv.weight.detach().double().cpu().numpy()
    b = conv.bias.detach().double().cpu().numpy() if conv.bias is not None else np.zeros(w.shape[0])
    if bn is None:
        return w, b
    scale = bn.weight.detach().double().cpu().numpy() / np.sqrt(bn.running_var.detach().double().cpu().numpy()
                                                                 + bn.eps)
    shift = bn.bias.detach().double().cpu().numpy() - bn.running_mean.detach().double().cpu().numpy() * scale
    return w * scale[:, None, None, None], b * scale + shift


def trace(model: nn.Module, x) -> list[LayerTrace]:
    """Every layer's output for one input ``x`` ((1, 28, 28), (28, 28) or (1, 1, 28, 28), pixels / 255), in
    order, computed by the model's own modules (in eval mode; the model's mode is restored)."""
    mods = _modules(model)
    t = _as_input(x)
    out: list[LayerTrace] = []
    counts: dict[str, int] = {}

    def name(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind} {counts[kind]}"

    with evaluating(model), torch.no_grad():
        if not isinstance(mods[0], Normalize):
            out.append(LayerTrace("input", "input", t[0].numpy().astype(np.float64), modules=()))
        i = 0
        while i < len(mods):
            m = mods[i]
            t = m(t)
            if isinstance(m, Normalize):
                out.append(LayerTrace("input", "input", t[0].numpy().astype(np.float64), modules=(i,)))
            elif isinstance(m, nn.Conv2d):
                if _int(m.dilation) != 1:
                    raise UserError("errors.not_one_of", param="dilation", choices="1", value=_int(m.dilation))
                bn = mods[i + 1] if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) else None
                idx = (i,)
                if bn is not None:
                    t = bn(t)
                    idx, i = (i, i + 1), i + 1
                w, b = _fold(m, bn)
                out.append(LayerTrace(name("conv"), "conv", t[0].numpy().astype(np.float64), w, b,
                                      stride=_int(m.stride), padding=_int(m.padding), size=_int(m.kernel_size),
                                      modules=idx))
            elif isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
                out.append(LayerTrace(name("activation"), "activation", t[0].numpy().astype(np.float64),
                                      function=type(m).__name__, modules=(i,)))
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                size = _int(m.kernel_size)
                stride = _int(m.stride) if m.stride is not None else size
                out.append(LayerTrace(name("pool"), "pool", t[0].numpy().astype(np.float64), stride=stride,
                                      padding=_int(m.padding), size=size,
                                      pool="max" if isinstance(m, nn.MaxPool2d) else "avg", modules=(i,)))
            elif isinstance(m, nn.Flatten):
                out.append(LayerTrace("flatten", "flatten", t[0].numpy().astype(np.float64), modules=(i,)))
            elif isinstance(m, nn.Linear):
                out.append(LayerTrace(name("dense"), "dense", t[0].numpy().astype(np.float64),
                                      m.weight.detach().double().cpu().numpy(),
                                      (m.bias.detach().double().cpu().numpy() if m.bias is not None
                                       else np.zeros(m.out_features)), modules=(i,)))
            elif isinstance(m, nn.Dropout):
                pass  # identity in evaluation mode
            else:
                raise UserError("errors.not_one_of", param="model", choices=" / ".join(KINDS),
                                value=type(m).__name__)
            i += 1
        logits = t[0]
        out.append(LayerTrace("softmax", "softmax", torch.softmax(logits, 0).numpy().astype(np.float64),
                              modules=()))
    return out


def logits_of(layers: list[LayerTrace]) -> np.ndarray:
    """The logits: the last dense layer's output (the entry before the softmax)."""
    return layers[-2].output


# ====================================================================== one unit
def explain_unit(model: nn.Module, x, layer: int, channel: int, row: int = 0, col: int = 0,
                 traced: list[LayerTrace] | None = None) -> UnitExplanation:
    """Every number behind one unit of a conv entry (``channel``, ``row``, ``col``) or a dense one (``channel``
    is the feature; ``row``/``col`` 0). ``layer`` indexes ``trace(model, x)`` (pass ``traced`` to reuse one)."""
    layers = traced if traced is not None else trace(model, x)
    n = len(layers)
    if not 0 <= int(layer) < n:
        raise UserError("errors.out_of_range", param="layer", lo=0, hi=n - 1, value=layer)
    layer = int(layer)
    L = layers[layer]
    if L.kind not in ("conv", "dense"):
        raise UserError("errors.not_one_of", param="layer", choices="conv / dense", value=L.kind)
    prev = layers[layer - 1].output
    channel, row, col = int(channel), int(row), int(col)
    if not 0 <= channel < L.output.shape[0]:
        raise UserError("errors.out_of_range", param="channel", lo=0, hi=L.output.shape[0] - 1, value=channel)
    if L.kind == "dense":
        if row or col:
            raise UserError("errors.position_outside", row=row, col=col, h=1, w=1)
        window = prev.reshape(1, 1, -1)
        kernel = L.weight[channel].reshape(1, 1, -1)
        value = float(L.output[channel])
        top = left = 0
    else:
        h, w = L.output.shape[1:]
        if not (0 <= row < h and 0 <= col < w):
            raise UserError("errors.position_outside", row=row, col=col, h=h, w=w)
        k, s, p = L.size, L.stride, L.padding
        padded = np.pad(prev, ((0, 0), (p, p), (p, p))) if p else prev
        window = padded[:, row * s: row * s + k, col * s: col * s + k]
        kernel = L.weight[channel]
        value = float(L.output[channel, row, col])
        top, left = row * s - p, col * s - p
    products = window * kernel
    partial = products.reshape(products.shape[0], -1).sum(axis=1)
    bias = float(L.bias[channel])
    pre = float(partial.sum() + bias)
    u = UnitExplanation(layer, channel, row, col, window.copy(), kernel.copy(), products, partial, bias, pre, value,
                        top, left)
    # what this unit becomes: the next activation, then the pool window holding it
    j = layer + 1
    if j < n and layers[j].kind == "activation":
        A = layers[j]
        u.activation = A.function
        u.activated = float(A.output[channel] if L.kind == "dense" else A.output[channel, row, col])
        j += 1
    if L.kind == "conv" and j < n and layers[j].kind == "pool":
        P = layers[j]
        pr, pc = (row + P.padding) // P.stride, (col + P.padding) // P.stride
        inside = (row + P.padding) - pr * P.stride < P.size and (col + P.padding) - pc * P.stride < P.size
        if inside and pr < P.output.shape[1] and pc < P.output.shape[2]:
            u.pooled, u.pooled_at = float(P.output[channel, pr, pc]), (pr, pc)
    return u


def unit_for(layers: list[LayerTrace], layer: int, channel: int, row: int = 0, col: int = 0):
    """The conv or dense unit whose arithmetic explains (``layer``, ``channel``, ``row``, ``col``): itself for conv and
    dense entries; for an activation the unit it activates; for a pool the unit that wins its window (max pooling;
    the window's largest value for average pooling too). ``None`` for input, flatten and softmax."""
    layer, channel, row, col = int(layer), int(channel), int(row), int(col)
    while 0 < layer < len(layers):
        L = layers[layer]
        if L.kind in ("conv", "dense"):
            return layer, channel, row, col
        if L.kind == "activation":
            layer -= 1
            continue
        if L.kind == "pool":
            prev = layers[layer - 1].output[channel]
            r0, c0 = row * L.stride - L.padding, col * L.stride - L.padding
            rs, cs = max(r0, 0), max(c0, 0)
            win = prev[rs: r0 + L.size, cs: c0 + L.size]
            if win.size == 0:
                return None
            dr, dc = np.unravel_index(int(np.argmax(win)), win.shape)
            layer, row, col = layer - 1, rs + int(dr), cs + int(dc)
            continue
        return None
    return None


def feeders(layers: list[LayerTrace], layer: int, channel: int) -> np.ndarray:
    """How strongly each channel of the previous entry feeds ``channel`` of ``layer``: a conv's Σ|kernel| per input
    channel, a dense unit's Σ|weights| of each input channel's features; activation/pool: only the same channel."""
    L = layers[int(layer)]
    prev = layers[int(layer) - 1].output
    c_in = prev.shape[0] if prev.ndim == 3 else 1
    if L.kind == "conv":
        return np.abs(L.weight[channel]).reshape(c_in, -1).sum(axis=1)
    if L.kind == "dense":
        w = np.abs(L.weight[channel])
        if prev.ndim == 1 and layer >= 2 and layers[layer - 1].kind == "flatten":
            before = layers[layer - 2].output
            if before.ndim == 3:
                return w.reshape(before.shape[0], -1).sum(axis=1)
        return w
    if L.kind in ("activation", "pool"):
        out = np.zeros(c_in)
        if 0 <= channel < c_in:
            out[channel] = 1.0
        return out
    return np.ones(c_in)


# ====================================================================== receptive fields
def receptive_fields(layers: list[LayerTrace]) -> list[tuple[int, int, int]]:
    """Per entry, ``(size, jump, start)``: a unit at (r, c) of a spatial entry sees the input rows
    ``start + r·jump … + size − 1`` (and likewise columns), padding included (start may be negative)."""
    size, jump, start = 1, 1, 0
    out = []
    for L in layers:
        if L.kind in ("conv", "pool"):
            k, s, p = L.size, L.stride, L.padding
            size, start, jump = size + (k - 1) * jump, start - p * jump, jump * s
        out.append((size, jump, start))
    return out


def patch_at(image28: np.ndarray, field_: tuple[int, int, int], row: int, col: int) -> np.ndarray:
    """The receptive field of unit (row, col) cut from an image (outside the image: 0): a grey 28×28 (or any (H, W))
    gives (size, size), a colour (H, W, 3) gives (size, size, 3)."""
    size, jump, start = field_
    r0, c0 = start + row * jump, start + col * jump
    img = np.asarray(image28, dtype=np.float64)
    img = img.reshape(28, 28) if img.ndim < 2 else img  # 784 values: MNIST's digit
    h, w = img.shape[:2]
    out = np.zeros((size, size, *img.shape[2:]), dtype=np.float64)
    rs, re = max(r0, 0), min(r0 + size, h)
    cs, ce = max(c0, 0), min(c0 + size, w)
    if rs < re and cs < ce:
        out[rs - r0: re - r0, cs - c0: ce - c0] = img[rs:re, cs:ce]
    return out


def _upto(model: nn.Module, layers: list[LayerTrace], layer: int) -> nn.Sequential:
    """The model's modules up to and including entry ``layer``'s last one."""
    mods = _modules(model)
    last = max(max(L.modules) for L in layers[: layer + 1] if L.modules)
    return nn.Sequential(*mods[: last + 1])


def top_patches(model: nn.Module, images_uint8: np.ndarray, layer: int, k: int = TOP_K, batch: int = 500,
                progress=None) -> dict:
    """For every channel of spatial entry ``layer``: the ``k`` (image, row, col) of ``images_uint8`` (N, 28, 28)
    where it is strongest (one per image), their values and their receptive-field patches (pixels / 255); colour
    pictures (N, H, W, 3) give colour patches (…, s, s, 3). Returns ``{"index": (C, k), "row", "col", "value": (C, k), "patches": (C, k, s, s), "field": (size, jump,
    start)}``. ``progress(fraction)`` after each batch (it may raise to stop)."""
    model.eval()
    x0 = np.zeros(np.shape(images_uint8)[1:] if np.ndim(images_uint8) in (3, 4) else (28, 28), dtype=np.float32)
    layers = trace(model, x0)
    L = layers[int(layer)]
    if L.output.ndim != 3:
        raise UserError("errors.not_one_of", param="layer", choices="conv / activation / pool", value=L.kind)
    sub = _upto(model, layers, int(layer))
    C = L.output.shape[0]
    best_v = np.full((C, 0), -np.inf)
    best_i = np.zeros((C, 0), dtype=np.int64)
    best_p = np.zeros((C, 0), dtype=np.int64)
    n = len(images_uint8)
    with torch.no_grad():
        for s in range(0, n, batch):
            xb = torch.from_numpy(np.asarray(images_uint8[s: s + batch], dtype=np.float32) / 255.0)
            xb = xb.permute(0, 3, 1, 2) if xb.dim() == 4 else xb[:, None]  # colour (B, H, W, 3) → (B, 3, H, W)
            a = sub(xb).flatten(2)  # (B, C, HW)
            v, pos = a.max(dim=2)   # each image's strongest place per channel
            v, pos = v.T.numpy().astype(np.float64), pos.T.numpy()
            idx = np.broadcast_to(np.arange(s, s + len(xb)), v.shape)
            allv, alli, allp = (np.concatenate([best_v, v], 1), np.concatenate([best_i, idx], 1),
                                np.concatenate([best_p, pos], 1))
            order = np.argsort(-allv, axis=1, kind="stable")[:, :k]
            best_v, best_i, best_p = (np.take_along_axis(allv, order, 1), np.take_along_axis(alli, order, 1),
                                      np.take_along_axis(allp, order, 1))
            if progress is not None:
                progress(min(1.0, (s + len(xb)) / n))
    w = L.output.shape[2]
    rows, cols = best_p // w, best_p % w
    field_ = receptive_fields(layers)[int(layer)]
    patches = np.stack([np.stack([patch_at(images_uint8[i] / 255.0, field_, r, c)
                                  for i, r, c in zip(best_i[ch], rows[ch], cols[ch])]) for ch in range(C)])
    return {"index": best_i, "row": rows, "col": cols, "value": best_v, "patches": patches, "field": field_}


def optimise_input(model: nn.Module, layer: int, channel: int, steps: int = OPTIMISE_STEPS, lr: float = 0.05,
                   l2: float = 0.002, blur_every: int = 4, seed: int = 0, progress=None,
                   shape: tuple[int, int, int] = (1, 28, 28)) -> dict:
    """An input (``shape`` = (C, H, W): 28×28 grey by default, (3, 32, 32) for colour; pixels in [0, 1]) that makes ``channel`` of entry ``layer`` strong: gradient ascent on the mean of the
    channel's map (a dense unit: its value), from a grey image with a little noise (``seed``), with an L2 penalty
    and a light blur every ``blur_every`` steps; pixels stay in [0, 1]. Returns ``{"image", "start", "values"}``
    (the channel's mean after each step); ``image`` and ``start`` are (H, W), or (H, W, 3) for colour."""
    model.eval()
    c, h, w = (int(v) for v in shape)
    layers = trace(model, np.zeros((1, c, h, w), dtype=np.float32))
    L = layers[int(layer)]
    if L.kind in ("input", "softmax", "flatten"):
        raise UserError("errors.not_one_of", param="layer", choices="conv / activation / pool / dense", value=L.kind)
    if not 0 <= int(channel) < L.output.shape[0]:
        raise UserError("errors.out_of_range", param="channel", lo=0, hi=L.output.shape[0] - 1, value=channel)
    sub = _upto(model, layers, int(layer))
    for p in sub.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(int(seed))
    start = (0.2 + 0.05 * torch.randn(1, c, h, w, generator=gen)).clamp(0, 1)
    x = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    blur = (torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])[None, None] / 16.0).repeat(c, 1, 1, 1)
    values = []
    try:
        with torch.enable_grad():
            for step in range(int(steps)):
                opt.zero_grad()
                a = sub(x)[0, int(channel)]
                score = a.mean()
                loss = -score + l2 * (x ** 2).sum()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    if blur_every and (step + 1) % blur_every == 0:
                        x.copy_(nn.functional.conv2d(x, blur, padding=1, groups=c))  # each channel on its own
                    x.clamp_(0, 1)
                values.append(float(score.detach()))
                if progress is not None and (step + 1) % 10 == 0:
                    progress((step + 1) / steps)
    finally:
        for p in sub.parameters():
            p.requires_grad_(True)
    picture = (lambda v: v[0, 0] if c == 1 else v[0].permute(1, 2, 0))  # noqa: E731 — (H, W) or (H, W, 3)
    return {"image": picture(x.detach()).numpy().astype(np.float64), "start": picture(start).numpy().astype(np.float64),
            "values": np.array(values)}


def grad_cam(model: nn.Module, x, label: int | None = None, traced: list[LayerTrace] | None = None
             ) -> tuple[np.ndarray, int, int]:
    """Grad-CAM (Selvaraju et al., 2017) of ``label`` (None: the predicted class) on the model's last convolution
    (its output after BN and the activation that follows, if any): ReLU(Σ_k α_k A_k) with α_k the mean gradient
    of the class's logit over channel k's map, upsampled to 28×28 (bilinear). Returns ``(map 28×28, class, entry
    index of the convolution)``; a model without convolution raises ``UserError``. ``traced``: ``trace(model, x)``
    when the caller has it already (only its layer kinds and modules are read)."""
    model.eval()
    t = _as_input(x)
    layers = traced if traced is not None else trace(model, t)
    convs = [i for i, L in enumerate(layers) if L.kind == "conv"]
    if not convs:
        raise UserError("errors.not_one_of", param="model", choices="conv", value="mlp")
    at = convs[-1] + (1 if convs[-1] + 1 < len(layers) and layers[convs[-1] + 1].kind == "activation" else 0)
    mods = _modules(model)
    cut = max(layers[at].modules)
    head, tail = nn.Sequential(*mods[: cut + 1]), nn.Sequential(*mods[cut + 1:])
    with torch.enable_grad():
        a = head(t).detach().requires_grad_(True)
        logits = tail(a)
        k = int(logits.argmax(1)) if label is None else int(label)
        (g,) = torch.autograd.grad(logits[0, k], a)
    alpha = g[0].mean(dim=(1, 2))
    cam = torch.relu((alpha[:, None, None] * a[0].detach()).sum(0))
    up = nn.functional.interpolate(cam[None, None], size=tuple(t.shape[-2:]), mode="bilinear", align_corners=False)[0, 0]
    return up.numpy().astype(np.float64), k, convs[-1]


def input_map(layers: list[LayerTrace], layer: int, channel: int) -> np.ndarray:
    """Input channel ``channel`` of conv entry ``layer`` as its convolution reads it: the previous entry's map with
    the convolution's zero padding around it (float64). The Kernels lesson's valid, stride-1 convolution of this map
    with that channel's kernel holds, at (row·stride, col·stride), the unit's partial sum for this channel."""
    layer, channel = int(layer), int(channel)
    if not 0 < layer < len(layers):
        raise UserError("errors.out_of_range", param="layer", lo=1, hi=len(layers) - 1, value=layer)
    L = layers[layer]
    if L.kind != "conv":
        raise UserError("errors.not_one_of", param="layer", choices="conv", value=L.kind)
    prev = layers[layer - 1].output
    if not 0 <= channel < prev.shape[0]:
        raise UserError("errors.out_of_range", param="channel", lo=0, hi=prev.shape[0] - 1, value=channel)
    return np.pad(prev[channel].astype(np.float64), L.padding)


def kernel_text(kernel) -> str:
    """A learned kernel slice as the Kernels lesson's kernel text (rows by ";", values by ","): each weight the
    shortest decimal that reads back as the same float32 (the precision the network computes in; 6e-8 relative to
    the float64 of a batch-norm-folded weight), so a 7×7 kernel stays within ``limits.KERNEL_TEXT_CHARS``."""
    k = np.asarray(kernel, dtype=np.float32)
    return ";".join(",".join(np.format_float_positional(v, unique=True, trim="-") for v in row) for row in k)


def model_key_of(model: nn.Module) -> str:
    """A small key for a model's weights (sha1 of its state): the same weights give the same results."""
    import hashlib

    h = hashlib.sha1()
    for name, p in model.state_dict().items():
        h.update(name.encode())
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m explainer.learning.network", description=__doc__.splitlines()[0])
    ap.add_argument("--make-reference", action="store_true",
                    help="train the shipped reference model (seed 0) and write explainer/data/network_reference.*")
    args = ap.parse_args(argv)
    if not args.make_reference:
        ap.print_help()
        return 0
    info = make_reference()
    size = REFERENCE_WEIGHTS.stat().st_size
    print(f"wrote {REFERENCE_WEIGHTS} ({size:,} bytes): {info['correct']}/{info['test_digits']} test digits "
          f"({100 * info['test_accuracy']:.2f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
