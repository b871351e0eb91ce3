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
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from plotly.basedatatypes import BaseFigure

from explainer.figures.describe import summary as describe, tables
from explainer.figures.style import for_presenter
from explainer.figures.wire import wire_dict
from ui.shell import lang, presenter, t


class _Wired(BaseFigure):
    """A figure already in ``to_dict`` form (``explainer.figures.wire``): ``st.plotly_chart`` takes it as a
    Figure and gets the dict back, without Plotly's deep copy of every trace and the template."""

    def __init__(self, spec: dict):  # no BaseFigure.__init__: nothing is built or validated again
        self.__dict__["_spec"] = spec

    def to_dict(self) -> dict:
        return self._spec


def chart(fig, *, key: str, name: str | None = None, summary: str | None = None, table: bool | None = None, **kwargs: Any):
    """Show ``fig`` (``st.plotly_chart(fig, key=key, alt=name, **kwargs)``) with its text alternative.

    ``name``: the accessible name (default: the figure's title; a figure without one must be given a name).
    ``summary``: the text under the chart (default: computed from the figure's data; ``""`` for none).
    ``table``: a "show as table" expander with the numbers printed in the cells (default: when the figure
    prints numbers in its cells).
    """
    name = name or fig.layout.title.text
    if not name:
        raise ValueError(f"chart {key!r} needs a name (an untitled figure)")
    if presenter():
        fig = for_presenter(fig)
    result = st.plotly_chart(_Wired(wire_dict(fig)), key=key, alt=_plain(name), **kwargs)
    text = describe(fig, lang()) if summary is None else summary
    if text:
        st.caption(text)
    grids = tables(fig) if table is not False else []
    if grids:
        with st.expander(t("chart.table")):
            for g in grids:
                if g["title"] and len(grids) > 1:
                    st.markdown(f"**{_escape(g['title'])}**")
                st.markdown(_markdown_table(g))
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
