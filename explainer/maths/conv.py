"""2-D convolution as CNNs compute it (cross-correlation), in plain NumPy.

    >>> from explainer.maths.conv import conv2d
    >>> conv2d([[60, 60, 60, 0, 0, 0]] * 3, [[1, 0, -1]] * 3)
    array([[  0., 180., 180.,   0.]])

Shapes follow PyTorch: an image is ``(H, W)`` or ``(C, H, W)``; a kernel is ``(kh, kw)``,
``(C, kh, kw)`` or a bank ``(K, C, kh, kw)`` giving ``K`` output maps.
"""
from __future__ import annotations

import numpy as np

from explainer.errors import UserError, shape_text

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pair(v, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(v, (tuple, list, np.ndarray)):
        if len(v) != 2:
            raise UserError("errors.not_pair", param=name, value=repr(v))
        a, b = v
    else:
        a = b = v
    out = []
    for x in (a, b):
        if isinstance(x, (bool, np.bool_)) or not float(x).is_integer():
            raise UserError("errors.not_whole", param=name, value=repr(x))
        x = int(x)
        if x < minimum:
            raise UserError("errors.too_small", param=name, lo=minimum, value=x)
        out.append(x)
    return out[0], out[1]


def output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1``.

    Raises ``UserError`` (a ``ValueError``) with a plain message when no output exists.
    """
    n, kernel, stride, padding, dilation = (int(v) for v in (n, kernel, stride, padding, dilation))
    if n < 1 or kernel < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise UserError("errors.bad_sizes", value=(n, kernel, stride, dilation, padding))
    span = n + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise UserError("errors.no_output", n=n, k=kernel, d=dilation, p=padding, s=stride)
    return span // stride + 1


def output_size_transposed(n: int, kernel: int, stride: int = 1, padding: int = 0,
                           dilation: int = 1, output_padding: int = 0) -> int:
    """Output length of a transposed convolution: ``(n − 1)·s − 2p + d·(k − 1) + output_padding + 1``."""
    n, kernel, stride, padding, dilation, output_padding = (
        int(v) for v in (n, kernel, stride, padding, dilation, output_padding))
    if n < 1 or kernel < 1 or stride < 1 or dilation < 1 or padding < 0 or output_padding < 0:
        raise UserError("errors.bad_sizes", value=(n, kernel, stride, dilation, padding))
    if output_padding >= max(stride, dilation):
        raise UserError("errors.output_padding", value=output_padding)
    size = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if size < 1:
        raise UserError("errors.no_output", n=n, k=kernel, d=dilation, p=padding, s=stride)
    return size


def _as_float(a, param: str) -> np.ndarray:
    """``a`` as float64; ``param`` names it by its catalogue word (``errors.param.<param>``) in the message."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError("errors.not_a_grid", param=param) from None
    if not np.all(np.isfinite(arr)):
        raise UserError("errors.not_finite_grid", param=param)
    return arr


def pad(x: np.ndarray, padding, mode: str = "zeros") -> np.ndarray:
    """Pad the last two axes of ``x`` by ``padding`` (int or (ph, pw)) in one of ``PADDING_MODES``."""
    if mode not in PADDING_MODES:
        raise UserError("errors.not_one_of", param="padding_mode", choices=" / ".join(PADDING_MODES), value=mode)
    ph, pw = _pair(padding, "padding", 0)
    x = np.asarray(x, dtype=np.float64)
    if ph == 0 and pw == 0:
        return x
    if mode == "reflect" and (ph >= x.shape[-2] or pw >= x.shape[-1]):
        raise UserError("errors.reflect_padding", h=x.shape[-2], w=x.shape[-1], value=(ph, pw))
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x, widths, mode=_NP_PAD[mode])


def _normalise(x, kernel):
    """Return x as (C,H,W), kernel as (K,C,kh,kw), and whether the result should be 2-D."""
    x = _as_float(x, "image")
    k = _as_float(kernel, "kernel")
    if x.ndim not in (2, 3) or x.size == 0:
        raise UserError("errors.shape_image", param="image", shape=shape_text(x.shape))
    if k.ndim not in (2, 3, 4) or k.size == 0:
        raise UserError("errors.shape_kernel", shape=shape_text(k.shape))
    squeeze = k.ndim < 4
    if x.ndim == 2:
        x = x[None]
    if k.ndim == 2:
        k = k[None]
    if k.ndim == 3:
        k = k[None]
    if k.shape[1] != x.shape[0]:
        raise UserError("errors.kernel_depth", depth=k.shape[1], channels=x.shape[0])
    return x, k, squeeze


def conv2d(x, kernel, stride=1, padding=0, dilation=1, bias=0.0, padding_mode: str = "zeros") -> np.ndarray:
    """Slide ``kernel`` over ``x``, multiply and sum (cross-correlation, as CNN layers do).

    ``x``: (H, W) or (C, H, W). ``kernel``: (kh, kw), (C, kh, kw) → one (H', W') map, or a bank
    (K, C, kh, kw) → (K, H', W'). ``stride``, ``padding``, ``dilation``: int or (rows, cols).
    ``bias``: a number, or one per kernel. Returns float64. Raises ``ValueError`` (a ``UserError``)
    with a plain message for shapes that don't fit or settings that leave no output.
    """
    x, k, squeeze = _normalise(x, kernel)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    K, C, kh, kw = k.shape
    ho = output_size(x.shape[1], kh, sh, ph, dh)
    wo = output_size(x.shape[2], kw, sw, pw, dw)
    xp = pad(x, (ph, pw), padding_mode)
    b = _as_float(bias, "bias")
    if b.ndim > 1 or b.size not in (1, K):
        raise UserError("errors.bias_count", k=K, n=b.size)
    b = np.broadcast_to(b, (K,))

    out = np.empty((K, ho, wo))
    # Accumulate one shifted slice per kernel tap, in strips of output rows that stay in cache.
    rows = max(1, 16384 // max(wo, 1))
    col_stop = lambda j: j * dw + sw * (wo - 1) + 1  # noqa: E731
    for r0 in range(0, ho, rows):
        r1 = min(ho, r0 + rows)
        for kk in range(K):
            acc = out[kk, r0:r1]
            acc.fill(b[kk])
            for c in range(C):
                plane = xp[c]
                for i in range(kh):
                    top = r0 * sh + i * dh
                    band = plane[top: top + sh * (r1 - r0 - 1) + 1: sh]
                    for j in range(kw):
                        w = k[kk, c, i, j]
                        if w != 0.0:
                            acc += w * band[:, j * dw: col_stop(j): sw]
    return out[0] if squeeze else out


def conv2d_reference(x, kernel, stride=1, padding=0, dilation=1, bias=0.0) -> np.ndarray:
    """``conv2d`` written as its definition, to read rather than to run fast (zero padding only):
    for every output position, take the window under the kernel, multiply, sum, add the bias.

    Same arguments, shapes and result as :func:`conv2d` (tests check both against PyTorch).
    """
    x, k, squeeze = _normalise(x, kernel)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    K, C, kh, kw = k.shape
    ho, wo = output_size(x.shape[1], kh, sh, ph, dh), output_size(x.shape[2], kw, sw, pw, dw)
    xp = pad(x, (ph, pw))
    b = np.broadcast_to(_as_float(bias, "bias"), (K,))
    out = np.zeros((K, ho, wo))
    for m in range(K):                      # each kernel gives one output map
        for r in range(ho):                 # slide down …
            for c in range(wo):             # … and across
                window = xp[:, r * sh: r * sh + dh * (kh - 1) + 1: dh, c * sw: c * sw + dw * (kw - 1) + 1: dw]
                out[m, r, c] = np.sum(window * k[m]) + b[m]   # multiply, sum, + bias
    return out[0] if squeeze else out


def conv_transpose2d(x, kernel, stride=1, padding=0, dilation=1, output_padding=0, bias=0.0) -> np.ndarray:
    """Transposed convolution ("deconvolution", upsampling), matching ``torch.nn.functional.conv_transpose2d``.

    ``x``: (H, W) or (C, H, W). ``kernel``: (kh, kw) for a single channel, or (C, K, kh, kw) as torch
    stores it → (K, H', W'). Each input value stamps ``value × kernel`` onto the output at
    ``stride`` spacing; ``padding`` then crops the border.
    """
    x = _as_float(x, "image")
    k = _as_float(kernel, "kernel")
    squeeze = k.ndim == 2
    if x.ndim == 2:
        x = x[None]
    if k.ndim == 2:
        k = k[None, None]
    if x.ndim != 3 or k.ndim != 4 or k.shape[0] != x.shape[0]:
        raise UserError("errors.shape_transposed", image=shape_text(x.shape), kernel=shape_text(k.shape))
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    oph, opw = _pair(output_padding, "output_padding", 0)
    C, K, kh, kw = k.shape
    H, W = x.shape[1:]
    ho = output_size_transposed(H, kh, sh, ph, dh, oph)
    wo = output_size_transposed(W, kw, sw, pw, dw, opw)
    full_h = (H - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (W - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((K, full_h, full_w))
    for i in range(kh):
        for j in range(kw):
            # (K, H, W) contribution of tap (i, j), summed over input channels
            contrib = np.einsum("chw,ck->khw", x, k[:, :, i, j])
            full[:, i * dh: i * dh + sh * (H - 1) + 1: sh, j * dw: j * dw + sw * (W - 1) + 1: sw] += contrib
    out = full[:, ph: ph + ho, pw: pw + wo]
    b = np.broadcast_to(_as_float(bias, "bias"), (K,))
    out = out + b[:, None, None]
    return out[0] if squeeze else out
