"""Receptive fields of a stack of convolution and pooling layers.

    >>> from explainer.maths.receptive import receptive_field
    >>> [(f.size, f.jump) for f in receptive_field([{"kernel": 3}, {"kernel": 3}])]
    [(3, 1), (5, 1)]

For layer ``l`` with kernel ``k``, stride ``s``, dilation ``d`` and padding ``p`` (the layers
before it having field ``r``, jump ``j`` and start ``a``):
``r' = r + d·(k − 1)·j``, ``j' = j·s``, ``a' = a − p·j``. Output cell ``u`` of the layer sees input
pixels ``a' + u·j'`` … ``a' + u·j' + r' − 1`` (indices outside the image are padding); with dilation
some pixels inside that span are skipped — :func:`field_mask` gives the exact set.
"""
from __future__ import annotations

from dataclasses import dataclass

from explainer.errors import UserError
from explainer.limits import RECEPTIVE_LAYERS

# NumPy and explainer.maths.conv are imported inside the functions that need them (``layer_sizes``,
# ``field_indices``, ``field_mask``): the layer description and the field arithmetic need neither.

KINDS = ("conv", "pool")


@dataclass(frozen=True)
class Layer:
    kind: str = "conv"
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    padding: int = 0

    def params(self, channels_in: int, channels_out: int | None = None) -> int:
        """Weights and biases: ``C_out·C_in·k·k + C_out`` for a convolution, 0 for pooling."""
        if self.kind == "pool":
            return 0
        c_out = channels_in if channels_out is None else channels_out
        return c_out * channels_in * self.kernel * self.kernel + c_out


@dataclass(frozen=True)
class Field:
    """After a layer: ``size`` (pixels across), ``jump`` (input pixels between neighbouring
    outputs) and ``start`` (input index where output 0's field begins; negative: in the padding)."""

    layer: Layer
    size: int
    jump: int
    start: int


def as_layer(spec) -> Layer:
    """A :class:`Layer` from a Layer, a dict (``kind``, ``kernel``, ``stride``, ``dilation``, ``padding``)
    or a tuple ``(kind, kernel, stride, dilation, padding)`` (trailing items optional)."""
    if isinstance(spec, Layer):
        layer = spec
    elif isinstance(spec, dict):
        layer = Layer(**{k: spec[k] for k in ("kind", "kernel", "stride", "dilation", "padding") if k in spec})
    elif isinstance(spec, (tuple, list)):
        layer = Layer(*spec)
    else:
        raise UserError("errors.bad_layer", value=repr(spec))
    values = {}
    for name, lo in (("kernel", 1), ("stride", 1), ("dilation", 1), ("padding", 0)):
        v = getattr(layer, name)
        try:
            ok = not isinstance(v, bool) and float(v).is_integer() and int(v) >= lo
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise UserError("errors.whole_at_least", param=name, lo=lo, value=repr(v))
        values[name] = int(v)
    if layer.kind not in KINDS:
        raise UserError("errors.not_one_of", param="kind", choices=" / ".join(KINDS), value=repr(layer.kind))
    return Layer(layer.kind, **values)


def _check_count(layers) -> None:
    if len(layers) > RECEPTIVE_LAYERS:
        raise UserError("errors.too_many_layers", n=len(layers), max=RECEPTIVE_LAYERS)


def receptive_field(layers) -> list[Field]:
    """Per layer: receptive field size, jump and start (see the module docstring)."""
    _check_count(layers)
    out, size, jump, start = [], 1, 1, 0
    for spec in layers:
        layer = as_layer(spec)
        size += layer.dilation * (layer.kernel - 1) * jump
        start -= layer.padding * jump
        jump *= layer.stride
        out.append(Field(layer, size, jump, start))
    return out


def layer_sizes(layers, n: int) -> list[int]:
    """Map size along one axis: the input ``n`` followed by each layer's output size."""
    from explainer.maths.conv import output_size

    _check_count(layers)
    sizes = [int(n)]
    for spec in layers:
        layer = as_layer(spec)
        sizes.append(output_size(sizes[-1], layer.kernel, layer.stride, layer.padding, layer.dilation))
    return sizes


def field_indices(layers, index: int, n: int):
    """The exact input indices (along one axis of length ``n``) that output ``index`` of the last
    layer depends on — holes included where dilation skips pixels; padding dropped."""
    import numpy as np

    layers = [as_layer(s) for s in layers]
    sizes = layer_sizes(layers, n)
    if not 0 <= index < sizes[-1]:
        raise UserError("errors.out_of_range", param="output_cell", lo=0, hi=sizes[-1] - 1, value=index)
    current = np.array([index])
    for layer, size_before in zip(reversed(layers), reversed(sizes[:-1])):
        taps = layer.dilation * np.arange(layer.kernel) - layer.padding
        current = np.unique((current[:, None] * layer.stride + taps[None]).ravel())
        current = current[(current >= 0) & (current < size_before)]
    return current


def field_mask(layers, row: int, col: int, shape: tuple[int, int]):
    """``(H, W)`` bool array: the input pixels output cell ``(row, col)`` of the last layer depends on."""
    import numpy as np

    mask = np.zeros(shape, dtype=bool)
    mask[np.ix_(field_indices(layers, row, shape[0]), field_indices(layers, col, shape[1]))] = True
    return mask
