"""Every Plotly chart of the app goes through ``chart``: an accessible name, a short text summary of its key
numbers, a "show as table" for grids that print numbers, and presenter-mode sizing.

```python
from ui.charts import chart
chart(fig, key="sp_out", name=t("stride.output_title"))
```
The name is Streamlit's ``alt`` (the chart becomes ``role="figure"`` with that ``aria-label``); keep it short
and stable — a name that changes remounts the chart. The summary (``explainer.figures.describe.summary``,
or ``summary=`` from the page) is a caption right under the chart, read in order by a screen reader and
useful to everyone.

A figure whose inputs are small values (arrays, numbers, words) can be built once for every session:
``chart(figure(builder, *args, **kwargs), key=...)`` calls ``builder(*args, **kwargs)`` only the first time
those values (and the language and presenter mode) are seen, and keeps what goes to the browser (the wire
dict, the summary, the table) in a bounded cache shared by all sessions:
```python
chart(figure(figs.feature_map, res.maps[k], title=names[k], x_title=COL, y_title=ROW, value_label=VAL), key="xo_m0")
```
The builder must be a pure function of its arguments (module-level, no session state); a figure changed
after it is built (``fig.data[0].y = ...``) must be passed to ``chart`` as a figure, not through ``figure``.
An argument that is no small value (a network's traced layers, a figure kept by the page) can be passed as
``By(key, value)``: the builder gets ``value``, the cache knows it by ``key``, small values that name it exactly
(e.g. the model's and the input's keys of a trace, as the page's own cache of it does).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, NamedTuple

import numpy as np
import streamlit as st

from plotly.basedatatypes import BaseFigure

from explainer.figures.describe import summary as describe, tables
from explainer.figures.style import presenter_wire
from explainer.figures.wire import wire_dict
from ui.shell import lang, presenter, t
from ui.speedups import WireSpec


class _Wired(BaseFigure):
    """A figure already in ``to_dict`` form (``explainer.figures.wire``): ``st.plotly_chart`` takes it as a
    Figure and gets the dict back, without Plotly's deep copy of every trace and the template."""

    def __init__(self, spec: dict):  # no BaseFigure.__init__: nothing is built or validated again
        self.__dict__["_spec"] = spec

    def to_dict(self) -> dict:
        return self._spec


class By(NamedTuple):
    """A builder argument known to the figure cache by ``key`` (small values that name ``value`` exactly); the
    builder gets ``value``, which the cache never reads."""
    key: Any
    value: Any


def _values(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The builder's arguments, each ``By`` replaced by its value."""
    return (tuple(a.value if isinstance(a, By) else a for a in args),
            {k: v.value if isinstance(v, By) else v for k, v in kwargs.items()})


class Deferred(NamedTuple):
    """A figure not built yet: ``builder(*args, **kwargs)`` (see ``figure``)."""
    builder: Callable
    args: tuple
    kwargs: dict


def figure(builder: Callable, *args, **kwargs) -> Deferred:
    """``builder(*args, **kwargs)``, built by ``chart`` only when no session has shown it with these values."""
    return Deferred(builder, args, kwargs)


class _Uncacheable(Exception):
    pass


_HASHED_BYTES = 4096  # arrays larger than this are keyed by a digest of their bytes, not the bytes themselves


def _key(v):
    """A hashable, exact key for a builder argument (arrays by dtype, shape and bytes)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, By):
        return ("by", _key(v.key))
    if isinstance(v, (bool, int, float)):  # by type and repr: True and 1, 0.0 and −0.0 are different arguments
        return (type(v).__name__, repr(v))
    if isinstance(v, np.ndarray):
        data = np.ascontiguousarray(v).tobytes()
        if len(data) > _HASHED_BYTES:
            data = hashlib.blake2b(data, digest_size=20).digest()
        return ("nd", v.dtype.str, v.shape, data)
    if isinstance(v, np.generic):
        return ("np", v.dtype.str, v.item())
    if isinstance(v, (list, tuple)):
        if set(map(type, v)) == {str}:  # a row of cell texts: the same key, without a call per cell
            return (type(v).__name__, *v)
        return (type(v).__name__, *map(_key, v))
    if isinstance(v, dict):
        return ("dict", *((k, _key(x)) for k, x in v.items()))
    raise _Uncacheable(type(v).__name__)


_SCALARS = frozenset({int, float, bool, type(None)})


def _weight(v) -> int:
    """About how many bytes a built figure of these arguments keeps (its arrays, their cell texts; a long text such
    as a picture's data URI: in the wire dict and in the JSON text kept with it)."""
    if isinstance(v, np.ndarray):
        return 8 * v.nbytes
    if isinstance(v, By):  # a figure kept by the page: the built one shares its traces, but the JSON text kept with
        data = getattr(v.value, "_data", None)  # its wire dict is its own, about as big as those traces
        if isinstance(data, (list, tuple)):
            return _weight(list(data))
        return _weight(v.value)  # arrays (a picture, a tuple of maps): as when given directly
    if isinstance(v, str):
        return 3 * len(v) if len(v) > 1024 else 0
    if isinstance(v, (list, tuple)):
        kinds = set(map(type, v))  # a row of numbers or of short cell texts (the common case) in C, not a call each
        if kinds <= _SCALARS:
            return 0
        if kinds == {str}:
            return sum(3 * len(x) for x in v if len(x) > 1024) if max(map(len, v)) > 1024 else 0
        return sum(map(_weight, v))
    if isinstance(v, dict):
        return sum(map(_weight, v.values()))
    return 0


class _Shown(NamedTuple):
    """What ``chart`` sends for one figure: the wire dict, its default name, the summary, the tables (Markdown)."""
    spec: dict
    title: str | None
    text: str | None
    tables: list[str]
    weight: int


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_BYTES = [0]
CACHE_MAX_BYTES = 192 * 2**20  # least recently shown figures go first beyond this (an estimate)
CACHE_MAX_ENTRIES = 4096


def _shown(fig, summary: str | None, table: bool | None) -> _Shown:
    text = describe(fig, lang()) if summary is None else None
    grids = tables(fig) if table is not False else []
    md = []
    for g in grids:
        if g["title"] and len(grids) > 1:
            md.append(f"**{_escape(g['title'])}**")
        md.append(_markdown_table(g))
    spec = wire_dict(fig)
    if presenter():  # the wire dict restyled for a projector; the figure itself is left as it is
        spec = presenter_wire(fig, spec)
    # its JSON text is made once (ui.speedups), by st.plotly_chart on the first rerun that shows it
    return _Shown(WireSpec(spec), fig.layout.title.text, text, md, 0)


def _cached_shown(d: Deferred, summary: str | None, table: bool | None) -> _Shown:
    try:
        code = getattr(d.builder, "__code__", None)  # a page's functions are all in the module "__main__"
        k = (d.builder.__module__, d.builder.__qualname__, code and code.co_filename, _key(d.args), _key(d.kwargs), lang(), presenter(),
             summary is None, table is not False)
    except _Uncacheable:
        args, kwargs = _values(d.args, d.kwargs)
        return _shown(d.builder(*args, **kwargs), summary, table)
    with _CACHE_LOCK:
        found = _CACHE.get(k)
        if found is not None:
            _CACHE.move_to_end(k)
            return found
    args, kwargs = _values(d.args, d.kwargs)
    shown = _shown(d.builder(*args, **kwargs), summary, table)
    shown = shown._replace(weight=20_000 + _weight(d.args) + _weight(d.kwargs))
    with _CACHE_LOCK:
        if k not in _CACHE:
            _CACHE[k] = shown
            _CACHE_BYTES[0] += shown.weight
            while _CACHE and (_CACHE_BYTES[0] > CACHE_MAX_BYTES or len(_CACHE) > CACHE_MAX_ENTRIES):
                _CACHE_BYTES[0] -= _CACHE.popitem(last=False)[1].weight
    return shown


def chart(fig, *, key: str, name: str | None = None, summary: str | None = None, table: bool | None = None, **kwargs: Any):
    """Show ``fig`` (``st.plotly_chart(fig, key=key, alt=name, **kwargs)``) with its text alternative.

    ``name``: the accessible name (default: the figure's title; a figure without one must be given a name).
    ``summary``: the text under the chart (default: computed from the figure's data; ``""`` for none).
    ``table``: a "show as table" expander with the numbers printed in the cells (default: when the figure
    prints numbers in its cells).
    ``fig``: a Plotly figure, or ``figure(builder, ...)`` to build it once for all sessions.
    """
    shown = _cached_shown(fig, summary, table) if isinstance(fig, Deferred) else _shown(fig, summary, table)
    name = name or shown.title
    if not name:
        raise ValueError(f"chart {key!r} needs a name (an untitled figure)")
    result = st.plotly_chart(_Wired(shown.spec), key=key, alt=_plain(name), **kwargs)
    text = shown.text if summary is None else summary
    if text:
        st.caption(text)
    if shown.tables:
        with st.expander(t("chart.table")):
            for md in shown.tables:
                st.markdown(md)
    return result


def _markdown_table(g: dict) -> str:
    """A grid as a Markdown table (an HTML <table> with headers; cheaper to send than a DataFrame)."""
    head = [_escape(t("chart.row"))] + [_escape(c) for c in g["cols"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([f"**{_escape(r)}**"] + [_escape(v) for v in row]) + " |"
              for r, row in zip(g["rows"], g["cells"])]
    return "\n".join(lines)


def _plain(text: str) -> str:
    """A title as plain text (Plotly titles may hold <b>, <br>)."""
    import re

    return re.sub(r"<[^>]+>", " ", str(text)).strip()


def _escape(text: str) -> str:
    """Markdown-literal text (labels may hold user-chosen names)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~" else c for c in str(text))
