"""The size and parameter formulas the pages show, as LaTeX, with the value the library computes.

Each builder fills the textbook formula with the learner's numbers and ends with the value of the
library's own rule (``explainer.maths.conv.output_size``, ``output_size_transposed``,
``explainer.maths.stepper.pool_output_size``), so the formula on a page can never disagree with the shape
of the result below it (tests check every slider combination against PyTorch).

    >>> pool_size(3, 2, 2, 1, ceil_mode=True, axis="H").value
    2
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from explainer.maths.conv import output_size, output_size_transposed
from explainer.errors import UserError
from explainer.maths.receptive import Layer
from explainer.maths.stepper import pool_output_size

TRANSPOSED_GENERAL = r"H_{out} = (H - 1)\cdot S - 2P + D\cdot(F - 1) + P_{out} + 1"


@dataclass(frozen=True)
class SizeFormula:
    latex: str
    value: int | None  # the output length; None where no output exists
    dropped: bool = False  # pooling's ceil mode dropped a last window that would start in the padding
    raw: int | None = None  # the transposed formula's number, also when it is below 1


def conv_size(n: int, k: int, s: int, p: int, d: int, axis: str = "H") -> SizeFormula:
    """``⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1`` filled in; ``value`` is ``output_size``'s."""
    head = rf"{axis}_{{out}} = \left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k} - 1) - 1}}{{{s}}} \right\rfloor + 1"
    span = n + 2 * p - d * (k - 1) - 1
    try:
        value = output_size(n, k, s, p, d)
    except UserError:
        return SizeFormula(rf"{head} \;\Rightarrow\; {span} < 0", None)
    return SizeFormula(rf"{head} = \left\lfloor \frac{{{span}}}{{{s}}} \right\rfloor + 1 = {value}", value)


def tutorial_size(n: int, k: int, s: int, p: int, d: int = 1, axis: str = "H") -> tuple[str, bool]:
    """The tutorials' ``(W − F + 2P)/S + 1`` filled in (F: the dilated kernel's extent ``d·(k − 1) + 1``), and
    whether it is the same whole number as PyTorch's floor form (it is not when the windows don't fit a whole
    number of strides: then it shows the fraction)."""
    f = d * (k - 1) + 1
    num = n - f + 2 * p
    agree = num >= 0 and num % s == 0
    value = f"{num // s + 1}" if agree else f"{num / s + 1:g}"
    return (rf"{axis}_{{out}} = \frac{{{axis} - F + 2P}}{{S}} + 1 = \frac{{{n} - {f} + 2\cdot{p}}}{{{s}}} + 1 = {value}",
            agree)


def pool_size(n: int, f: int, s: int, p: int, ceil_mode: bool, axis: str = "H") -> SizeFormula:
    """``⌊(n + 2p − f) / s⌋ + 1`` (or ⌈…⌉ in ceil mode) filled in; ``value`` is ``pool_output_size``'s.

    In ceil mode a last window that would start inside the right/bottom padding is dropped (PyTorch's
    rule): the formula then shows ``− 1`` and ``dropped`` is True. Raises ``UserError`` for settings
    with no output, as the library does.
    """
    value = pool_output_size(n, f, s, p, ceil_mode)
    num = n + 2 * p - f
    left, right = (r"\left\lceil", r"\right\rceil") if ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    rounded = -(-num // s) + 1 if ceil_mode else num // s + 1
    dropped = rounded - value
    tail = r" - 1" if dropped else ""
    return SizeFormula(rf"{axis}_{{out}} = {left} \frac{{{n} + 2\cdot{p} - {f}}}{{{s}}} {right} + 1{tail}"
                       rf" = {left} \frac{{{num}}}{{{s}}} {right} + 1{tail} = {value}", value, bool(dropped))


def transposed_size(n: int, k: int, s: int, p: int, d: int = 1, output_padding: int = 0,
                    axis: str = "H") -> SizeFormula:
    """``(n − 1)·s − 2p + d·(k − 1) + output_padding + 1`` filled in; ``value`` is
    ``output_size_transposed``'s (None where the padding crops everything away)."""
    raw = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    head = rf"{axis}_{{out}} = ({n} - 1)\cdot{s} - 2\cdot{p} + {d}\cdot({k} - 1) + {output_padding} + 1"
    try:
        value = output_size_transposed(n, k, s, p, d, output_padding)
    except UserError as exc:
        if exc.key != "errors.no_output":  # an output padding the stride doesn't allow: as the library says
            raise
        return SizeFormula(rf"{head} = {raw} < 1", None, raw=raw)
    return SizeFormula(rf"{head} = {value}", value, raw=raw)


def conv_params_latex(kernels: int, channels: int, size: int, word: str) -> str:
    """``word = K·C·F·F + K = …`` filled in (``word``: the catalogue's word for "parameters"); the value is
    ``Layer.params``'."""
    params = Layer("conv", size).params(channels, kernels)
    return (rf"\text{{{word}}} = K\cdot C\cdot F\cdot F + K = {kernels}\cdot{channels}\cdot{size}\cdot{size}"
            rf" + {kernels} = {params}")


def inspection_latex(info, fmt: Callable[[float], str], per_line: int = 4, max_lines: int = 6) -> str:
    """One output pixel of ``explainer.maths.inspector.inspect_pixel`` written out: the sum of products, a few terms per
    line so it fits the page, then ÷ divisor + bias (numbers written with ``fmt``)."""
    terms = [rf"{fmt(x)}\cdot({fmt(w)})" for x, w in zip(info.window.ravel(), info.kernel.ravel()) if w != 0]
    lines = [" + ".join(terms[i: i + per_line]) for i in range(0, len(terms), per_line)] or ["0"]
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [r"\dots"]
    body = r" \\ &\quad + ".join(lines)
    out = rf"\text{{out}}_{{{info.row},{info.col}}}"
    if info.divisor == 1 and info.bias == 0:
        return rf"\begin{{aligned}} {out} &= {body} \\ &= {fmt(info.value)} \end{{aligned}}"
    step = rf"\frac{{{fmt(info.total)}}}{{{fmt(info.divisor)}}}" if info.divisor != 1 else fmt(info.total)
    step += "" if info.bias == 0 else (rf" + {fmt(info.bias)}" if info.bias > 0 else rf" - {fmt(-info.bias)}")
    return (rf"\begin{{aligned}} \Sigma &= {body} \\ &= {fmt(info.total)} \\ "
            rf"{out} &= {step} = {fmt(info.value)} \end{{aligned}}")


def xo_pixel_latex(info) -> str:
    """One value of an X/O feature map written out: the nine ±1 products over 9, their sum over 9, the value
    (``info``: ``explainer.maths.inspector.inspect_pixel(grid, filter, row, col, divisor=9)``)."""
    terms = " ".join(f"{'+' if i and v >= 0 else ''}{v:g}" for i, v in enumerate(info.products.ravel()))
    return rf"\frac{{{terms}}}{{{info.divisor:g}}} = \frac{{{info.total:g}}}{{{info.divisor:g}}} = {info.value:.2f}"


def xo_vote_latex(votes, word: str) -> str:
    """``vote_X = w_X · f̂ + b_X = …, vote_O = w_O · f̂ + b_O = …`` (f̂: the features scaled to length 1) with the
    catalogue's ``word`` for "vote"."""
    return (rf"\text{{{word}}}_X = w_X \cdot \hat f + b_X = {votes[0]:+.3f},\qquad "
            rf"\text{{{word}}}_O = w_O \cdot \hat f + b_O = {votes[1]:+.3f}")
