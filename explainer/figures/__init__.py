"""Plotly figure builders. Shared pieces live here; each topic has its own module.

Every builder takes its user-visible words as arguments (the pages pass them from the text
catalogue), so the library holds no UI language.

May import: the base, ``maths/``, ``data/`` and modules of ``figures/``; never ``learning/`` or ``engine/``
(a page passes the numbers a figure shows).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from explainer.figures.style import margins, scale, texts

MAX_NUMBERED_CELLS = 400  # show the numbers in each cell up to 20×20


def _fmt_for(z: np.ndarray) -> str:
    finite = z[np.isfinite(z)]
    if finite.size and np.allclose(finite, np.round(finite)):
        return ".0f"
    return ".2f"


def heatmap(
    z,
    *,
    title: str | None = None,
    colorscale: str | list = "Greys",
    reversescale: bool = False,
    zmin: float | None = None,
    zmax: float | None = None,
    zmid: float | None = None,
    colorbar_title: str = "",
    x_title: str,
    y_title: str,
    value_label: str,
    numbers: bool | None = None,
    number_format: str | None = None,
    height: int | None = None,
    width: int | None = None,
    showscale: bool = True,
    hover: bool = True,
    parts: bool = False,
) -> go.Figure:
    """A grid of numbers as a heatmap: row 0 at the top, square cells, a colour bar, hover values.

    ``x_title``, ``y_title``, ``value_label``: the axis titles and the hover's word for a value, in the
    learner's language (required: the library holds no UI words).

    ``numbers``: print each value in its cell (default: when the grid has ≤ 400 cells).
    ``zmid``: centre a diverging scale (for signed outputs, use ``colorscale="diverging"`` and ``zmid=0``).
    Cell numbers and hover values are written with a true minus sign (``style.number``).
    ``hover=False``: no hover (a mosaic of pictures): the cell texts for it are not made.
    ``parts=True``: the trace and layout dicts instead of the figure, for a builder that adds to them before
    ``fast_figure`` (Plotly's validating ``add_trace``/``add_shape``/``update_layout`` cost ~1 ms each).
    """
    z = np.asarray(z, dtype=float)
    if numbers is None:
        numbers = z.size <= MAX_NUMBERED_CELLS
    fmt = number_format or _fmt_for(z)
    text = texts(z, fmt) if z.size <= 40_000 and (hover or numbers) else None  # the hover's "−"; beyond ~200×200, Plotly's own
    trace = dict(
        type="heatmap",
        z=z,
        text=text,
        colorscale=scale(colorscale),
        reversescale=reversescale,
        zmin=zmin,
        zmax=zmax,
        zmid=zmid,
        showscale=showscale,
        colorbar=dict(title=dict(text=colorbar_title), thickness=12),
        hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = "
                      + ("%{text}" if text is not None else f"%{{z:{fmt}}}") + "<extra></extra>",
        xgap=1 if numbers else 0,
        ygap=1 if numbers else 0,
    )
    if numbers:
        trace.update(texttemplate="%{text}", textfont=dict(size=_font_size(z.shape)))
    layout = _grid_layout(z, title=title, x_title=x_title, y_title=y_title, height=height, width=width)
    if parts:
        return trace, layout
    return fast_figure([trace], layout)


def _grid_layout(z: np.ndarray, *, title: str | None, x_title: str, y_title: str, height: int | None,
                 width: int | None) -> dict:
    """``heatmap``'s layout: row 0 at the top, square cells, whole-number ticks on a small grid."""
    layout = dict(
        margin=margins(title=bool(title), left=40),
        height=height,
        width=width,
        plot_bgcolor="white",
        xaxis=dict(title=dict(text=x_title), side="bottom", constrain="domain", showgrid=False, zeroline=False),
        yaxis=dict(title=dict(text=y_title), autorange="reversed", scaleanchor="x", constrain="domain",
                   showgrid=False, zeroline=False),
    )
    if z.ndim == 2 and z.shape[1] <= 20:  # whole-number ticks only (no −0.5, 0.5 on small grids)
        layout["xaxis"].update(dtick=1, tick0=0)
    if z.ndim == 2 and z.shape[0] <= 20:
        layout["yaxis"].update(dtick=1, tick0=0)
    if title:
        layout["title"] = dict(text=title)
    return layout


_TEMPLATES: dict[str, dict] = {}


def _own(v):
    """``v`` with every dict copied (in lists too) and its ``None`` values dropped (Plotly's "unset"; a nested
    ``title=None`` left Plotly's setters unable to set the title's font); lists and arrays of values shared."""
    if isinstance(v, dict):
        return {k: _own(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)) and any(isinstance(x, (dict, list, tuple)) for x in v[:1]) and \
            any(isinstance(x, dict) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], dict)) for x in v):
        return [_own(x) for x in v]
    return v


def _default_template() -> dict | None:
    """Plotly's default template (by name) as a plain dict, made once per name; None when there is none."""
    name = pio.templates.default
    if not isinstance(name, str) or not name:
        return None
    if name not in _TEMPLATES:
        _TEMPLATES[name] = pio.templates[name].to_plotly_json()
    return _TEMPLATES[name]


def fast_figure(data: list[dict], layout: dict, frames: list[dict] | None = None) -> go.Figure:
    """A Figure from plain dicts without Plotly's per-property validation (10–50× faster to build).

    Use exact Plotly attribute names: nothing checks them here (the figure tests and the browser do).
    ``None`` values are dropped so they fall back to Plotly's defaults.

    The figure copies the given dicts but shares their lists and arrays of values (no deep copy). Plotly's default template (Streamlit's theme in
    the app) is not copied into each figure either: the figure refers
    to one shared plain copy of it (copying and checking it was a fifth of a 27-chart page's CPU). Set
    ``layout["template"]`` for another one; never change ``fig.layout.template`` in place.
    """
    clean = lambda d: {k: _own(v) for k, v in d.items() if v is not None}  # noqa: E731
    traces, layout = [clean(t) for t in data], clean(layout)
    shared = _default_template() if "template" not in layout else None
    # Plotly deep-copies whatever it is given (a 120×120 grid of cell texts: ~30 ms). So it gets each trace's
    # type and an empty template (so it adds no copy of its default one) and the figure's own dicts are then
    # filled with the given values: every dict copied (Plotly's setters write into them, e.g. a shared legend
    # constant), lists and arrays of values shared (setters replace those, never change them in place).
    # numbered subplot keys (xaxis2, legend2 …) are declared to the Layout when it is built: given now (empty)
    fig = go.Figure(data=[{"type": t["type"]} if "type" in t else t for t in traces],
                    layout={"template": {}, **{k: {} for k in layout if k[-1:].isdigit()}}, _validate=False)
    for own, t in zip(fig._data, traces):
        own.update(t)
    fig._layout.clear()
    fig._layout.update(layout)
    if shared is not None:
        fig._layout["template"] = shared
    if frames:
        fig._frame_objs = tuple(go.Frame(f, _validate=False) for f in frames)  # unvalidated, like the rest
    return fig


def _font_size(shape) -> int:
    n = max(shape[-1], shape[-2] if len(shape) > 1 else 1)
    return 14 if n <= 6 else 12 if n <= 10 else 10 if n <= 14 else 8
