"""One sliding-window walk shared by convolution, transposed convolution and pooling.

A :class:`Walk` holds the grid the window slides over (the padded input; for a transposed
convolution the input with zeros inserted between its values and a border of zeros), what each
grid cell is (an input value, padding, an inserted zero, or beyond the edge), the window and the
order in which the window visits the output cells. ``walk.step(n)`` gives everything step ``n``
shows: the window's cells, the values under it, the products with the kernel, their sum and the
output cell it fills.

    >>> from explainer.maths.stepper import conv_walk
    >>> w = conv_walk([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0], [0, -1]])
    >>> len(w), w.out_shape
    (4, (1, 2, 2))
    >>> s = w.step(0)
    >>> s.out, s.products.tolist(), s.result
    ((0, 0, 0), [[[1.0, 0.0], [0.0, -5.0]]], -4.0)

Shapes follow PyTorch (see ``explainer.maths.conv``): inputs ``(H, W)`` or ``(C, H, W)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explainer.maths.conv import (_as_float, _pair, output_size, output_size_transposed, pad)
from explainer.errors import UserError, shape_text
from explainer.maths.grids import parse_grid  # noqa: F401 (the stride lesson reads its grids here)

# What a grid cell is.
INPUT, PADDING, INSERTED, OUTSIDE = 0, 1, 2, 3


@dataclass(frozen=True)
class Step:
    """Everything one position of the window shows.

    ``out``: the output cell ``(map, row, col)`` being filled. ``rows``/``cols``: the grid rows and
    columns under the window's taps (with dilation they skip cells). ``values``: the grid values
    under the window, ``(C, kh, kw)`` (for pooling ``C`` is 1: the map being pooled). ``weights``
    and ``products``: the kernel slice and ``values × weights`` (``None`` for pooling).
    ``counted``: for average pooling, which cells the divisor counts. ``pick``: for max pooling,
    the ``(i, j)`` of the chosen maximum within the window. ``result``: the output value.
    """

    index: int
    out: tuple[int, int, int]
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    weights: np.ndarray | None
    products: np.ndarray | None
    bias: float
    result: float
    pick: tuple[int, int] | None = None
    counted: np.ndarray | None = None


@dataclass(frozen=True)
class Walk:
    """The window's walk over ``grid``, one step per output cell, maps then rows then columns.

    ``grid``: ``(C, Hg, Wg)`` what the window slides over. ``roles``: ``(Hg, Wg)`` with ``INPUT``,
    ``PADDING``, ``INSERTED`` (transposed convolution's zeros) or ``OUTSIDE`` (pooling's ceil mode).
    ``origin``: the grid cell of input pixel (0, 0); ``spacing``: grid cells between neighbouring
    input pixels (the stride of a transposed convolution, else 1). ``weights``: ``(K, C, kh, kw)``
    for convolutions (already flipped for a transposed one), ``None`` for pooling.
    """

    kind: str  # "conv" | "transposed" | "pool"
    grid: np.ndarray
    roles: np.ndarray
    window: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int]
    input_shape: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    spacing: tuple[int, int] = (1, 1)
    weights: np.ndarray | None = None
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1))
    mode: str = "max"  # pooling
    count_include_pad: bool = True  # average pooling

    # ------------------------------------------------------------ positions
    def __len__(self) -> int:
        k, h, w = self.out_shape
        return k * h * w

    def __iter__(self):
        for n in range(len(self)):
            yield self.step(n)

    def position(self, n: int) -> tuple[int, int, int]:
        """Output cell ``(map, row, col)`` filled at step ``n``."""
        if not 0 <= n < len(self):
            raise IndexError(f"step {n} is outside 0..{len(self) - 1}")
        k, r, c = np.unravel_index(n, self.out_shape)
        return int(k), int(r), int(c)

    def taps(self, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Grid rows and columns under the window for output cell ``(row, col)``."""
        (kh, kw), (sh, sw), (dh, dw) = self.window, self.stride, self.dilation
        return row * sh + dh * np.arange(kh), col * sw + dw * np.arange(kw)

    # ------------------------------------------------------------ one step
    def step(self, n: int) -> Step:
        """What step ``n`` shows (see :class:`Step`)."""
        k, r, c = self.position(n)
        rows, cols = self.taps(r, c)
        if self.kind == "pool":
            values = self.grid[k][np.ix_(rows, cols)][None]
            roles = self.roles[np.ix_(rows, cols)]
            if self.mode == "max":
                flat = np.where(roles == INPUT, values[0], -np.inf).ravel()
                i = int(np.argmax(flat))
                pick = divmod(i, values.shape[2])
                return Step(n, (k, r, c), rows, cols, values, None, None, 0.0, float(flat[i]), pick=pick)
            counted = self._counted(roles)
            total = float(np.sum(np.where(counted, values[0], 0.0)))
            return Step(n, (k, r, c), rows, cols, values, None, None, 0.0,
                        total / max(int(counted.sum()), 1), counted=counted)
        values = self.grid[:, rows][:, :, cols]
        weights = self.weights[k]
        products = values * weights
        bias = float(self.bias[k])
        return Step(n, (k, r, c), rows, cols, values, weights, products, bias, float(products.sum() + bias))

    def _counted(self, roles: np.ndarray) -> np.ndarray:
        return (roles == INPUT) | ((roles == PADDING) & self.count_include_pad)

    # ------------------------------------------------------------ all steps at once
    def windows(self) -> np.ndarray:
        """All windows at once: ``(C, Ho, Wo, kh, kw)`` grid values."""
        _, ho, wo = self.out_shape
        return gather_windows(self.grid, self.window, self.stride, self.dilation, (ho, wo))

    def output(self) -> np.ndarray:
        """The whole output ``(K, Ho, Wo)`` (what stepping through every cell fills in)."""
        win = self.windows()
        if self.kind == "pool":
            _, ho, wo = self.out_shape
            roles = gather_windows(self.roles[None], self.window, self.stride, self.dilation, (ho, wo))[0]
            if self.mode == "max":
                return np.where(roles[None] == INPUT, win, -np.inf).max(axis=(-1, -2))
            counted = self._counted(roles)
            return np.where(counted[None], win, 0.0).sum(axis=(-1, -2)) / np.maximum(counted.sum(axis=(-1, -2)), 1)
        return np.einsum("chwij,kcij->khw", win, self.weights) + self.bias[:, None, None]

    def coverage(self) -> np.ndarray:
        """``(Hg, Wg)`` how many windows touch each grid cell (0: never covered)."""
        _, ho, wo = self.out_shape
        count = np.zeros(self.roles.shape, dtype=int)
        (kh, kw), (sh, sw), (dh, dw) = self.window, self.stride, self.dilation
        for i in range(kh):
            for j in range(kw):
                count[i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw] += 1
        return count

    def uncovered(self) -> tuple[list[int], list[int]]:
        """Input rows and columns (input coordinates) that no window ever touches.

        For a convolution without dilation these are the last rows/columns left over when the
        stride doesn't tile the input evenly; with dilation, rows between the taps can be skipped too.
        A transposed convolution's padding at or above its kernel size crops input rows off the grid (a
        negative border): those are cut, not left over, and not listed.
        """
        cov = self.coverage() > 0
        oh, ow = self.origin
        sh, sw = self.spacing
        h, w = self.input_shape
        gh, gw = cov.shape
        rows = [r for r in range(h) if 0 <= oh + r * sh < gh and not cov[oh + r * sh].any()]
        cols = [c for c in range(w) if 0 <= ow + c * sw < gw and not cov[:, ow + c * sw].any()]
        return rows, cols

    def input_cell(self, grid_row: int, grid_col: int) -> tuple[int, int] | None:
        """The input pixel a grid cell holds, or None for padding / inserted zeros."""
        if self.roles[grid_row, grid_col] != INPUT:
            return None
        return ((grid_row - self.origin[0]) // self.spacing[0], (grid_col - self.origin[1]) // self.spacing[1])


def gather_windows(grid: np.ndarray, window, stride, dilation, out_hw) -> np.ndarray:
    """``(C, Ho, Wo, kh, kw)``: the values under every window position of ``grid`` ``(C, Hg, Wg)``."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = window, stride, dilation, out_hw
    out = np.empty(grid.shape[:1] + (ho, wo, kh, kw), dtype=grid.dtype)
    for i in range(kh):
        band = grid[:, i * dh: i * dh + sh * (ho - 1) + 1: sh]
        for j in range(kw):
            out[:, :, :, i, j] = band[:, :, j * dw: j * dw + sw * (wo - 1) + 1: sw]
    return out


# ---------------------------------------------------------------- building walks
def _chw(x, param: str = "image") -> np.ndarray:
    x = _as_float(x, param)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.size == 0:
        raise UserError("errors.shape_image", param=param, shape=shape_text(x.shape))
    return x


def _bias(bias, k: int) -> np.ndarray:
    b = _as_float(bias, "bias")
    if b.ndim > 1 or b.size not in (1, k):
        raise UserError("errors.bias_count", k=k, n=b.size)
    return np.broadcast_to(b.reshape(-1), (k,)).astype(float)


def conv_walk(x, kernel, stride=1, padding=0, dilation=1, bias=0.0, padding_mode: str = "zeros") -> Walk:
    """The walk of ``explainer.maths.conv.conv2d(x, kernel, ...)``: same arguments, same output.

    ``kernel``: ``(kh, kw)``, ``(C, kh, kw)`` or a bank ``(K, C, kh, kw)``. Raises ``UserError``
    when the settings leave no output.
    """
    x = _chw(x)
    k = _as_float(kernel, "kernel")
    if k.ndim not in (2, 3, 4) or k.size == 0:
        raise UserError("errors.shape_kernel", shape=shape_text(k.shape))
    while k.ndim < 4:
        k = k[None]
    if k.shape[1] != x.shape[0]:
        raise UserError("errors.kernel_depth", depth=k.shape[1], channels=x.shape[0])
    s, p, d = _pair(stride, "stride", 1), _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    kh, kw = k.shape[2:]
    h, w = x.shape[1:]
    ho, wo = output_size(h, kh, s[0], p[0], d[0]), output_size(w, kw, s[1], p[1], d[1])
    grid = pad(x, p, padding_mode)
    roles = np.full(grid.shape[1:], PADDING, dtype=np.int8)
    roles[p[0]: p[0] + h, p[1]: p[1] + w] = INPUT
    return Walk("conv", grid, roles, (kh, kw), s, d, (k.shape[0], ho, wo), (h, w), origin=p,
                weights=k, bias=_bias(bias, k.shape[0]))


def transposed_walk(x, kernel, stride=1, padding=0, dilation=1, output_padding=0, bias=0.0) -> Walk:
    """The walk of ``explainer.maths.conv.conv_transpose2d(x, kernel, ...)`` seen as an ordinary convolution.

    A transposed convolution equals a stride-1 convolution of the *stuffed* input — ``stride − 1``
    zeros inserted between neighbouring values, a border of ``dilation·(k − 1) − padding`` zeros
    (``output_padding`` more at the bottom/right; a negative border crops) — with the kernel
    rotated by 180°. ``kernel``: ``(kh, kw)`` or ``(C, K, kh, kw)`` as torch stores it.
    """
    x = _chw(x)
    k = _as_float(kernel, "kernel")
    if k.ndim == 2:
        k = k[None, None]
    if k.ndim != 4 or k.size == 0 or k.shape[0] != x.shape[0]:
        raise UserError("errors.shape_transposed", image=shape_text(x.shape), kernel=shape_text(k.shape))
    s, p = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    d, op = _pair(dilation, "dilation", 1), _pair(output_padding, "output_padding", 0)
    c, kk, kh, kw = k.shape
    h, w = x.shape[1:]
    ho = output_size_transposed(h, kh, s[0], p[0], d[0], op[0])
    wo = output_size_transposed(w, kw, s[1], p[1], d[1], op[1])
    gh, gw = ho + d[0] * (kh - 1), wo + d[1] * (kw - 1)
    qh, qw = d[0] * (kh - 1) - p[0], d[1] * (kw - 1) - p[1]  # border (negative: crop)
    grid = np.zeros((c, gh, gw))
    roles = np.full((gh, gw), PADDING, dtype=np.int8)
    # the stuffed input occupies grid rows qh .. qh + (h-1)*s, every s-th one an input value
    sr = np.arange((h - 1) * s[0] + 1) + qh
    sc = np.arange((w - 1) * s[1] + 1) + qw
    rin, cin = (sr >= 0) & (sr < gh), (sc >= 0) & (sc < gw)
    roles[np.ix_(sr[rin], sc[cin])] = INSERTED
    ir, ic = np.arange(h) * s[0] + qh, np.arange(w) * s[1] + qw
    rk, ck = (ir >= 0) & (ir < gh), (ic >= 0) & (ic < gw)
    roles[np.ix_(ir[rk], ic[ck])] = INPUT
    grid[np.ix_(np.arange(c), ir[rk], ic[ck])] = x[np.ix_(np.arange(c), np.nonzero(rk)[0], np.nonzero(ck)[0])]
    weights = np.ascontiguousarray(np.transpose(k[:, :, ::-1, ::-1], (1, 0, 2, 3)))  # (K, C, kh, kw)
    return Walk("transposed", grid, roles, (kh, kw), (1, 1), d, (kk, ho, wo), (h, w), origin=(qh, qw),
                spacing=s, weights=weights, bias=_bias(bias, kk))


def pool_output_size(n: int, size: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> int:
    """Pooling output length along one axis, as ``torch.nn.functional.max_pool2d`` computes it.

    Floor mode: ``⌊(n + 2p − size) / stride⌋ + 1``. Ceil mode rounds up, but the last window must
    start inside the input or its left/top padding.
    """
    if n < 1 or size < 1 or stride < 1 or padding < 0:
        raise UserError("errors.bad_sizes",
                        value=(n, size, stride, padding))
    if padding > size // 2:
        raise UserError("errors.pool_padding", p=padding, k=size, half=size // 2)
    span = n + 2 * padding - size + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    if out < 1:
        raise UserError("errors.no_output", n=n, k=size, d=1, p=padding, s=stride)
    return out


def pool_walk(x, size=2, stride=None, mode: str = "max", padding=0, ceil_mode: bool = False,
              count_include_pad: bool = True) -> Walk:
    """The walk of ``explainer.maths.pooling.pool2d``: each map pooled on its own, one step per output cell.

    Max pooling ignores padding (as if it were −∞); average pooling divides by the number of
    cells in the window that are input or padding (``count_include_pad=True``, torch's default) or
    input only (``False``); cells beyond the padded edge (ceil mode) never count.
    """
    if mode not in ("max", "avg"):
        raise UserError("errors.not_one_of", param="pooling_mode", choices="max / avg", value=mode)
    x = _chw(x)
    kh, kw = _pair(size, "window_size", 1)
    sh, sw = _pair(kh if stride is None else stride, "stride", 1)
    if stride is None:
        sw = kw
    ph, pw = _pair(padding, "padding", 0)
    h, w = x.shape[1:]
    ho = pool_output_size(h, kh, sh, ph, ceil_mode)
    wo = pool_output_size(w, kw, sw, pw, ceil_mode)
    gh, gw = max(h + 2 * ph, (ho - 1) * sh + kh), max(w + 2 * pw, (wo - 1) * sw + kw)
    grid = np.zeros((x.shape[0], gh, gw))
    grid[:, ph: ph + h, pw: pw + w] = x
    roles = np.full((gh, gw), OUTSIDE, dtype=np.int8)
    roles[: h + 2 * ph, : w + 2 * pw] = PADDING
    roles[ph: ph + h, pw: pw + w] = INPUT
    return Walk("pool", grid, roles, (kh, kw), (sh, sw), (1, 1), (x.shape[0], ho, wo), (h, w),
                origin=(ph, pw), mode=mode, count_include_pad=count_include_pad)
