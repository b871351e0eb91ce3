"""A figure in the form the browser gets, without Plotly's deep copy.

``go.Figure.to_dict()`` (what ``st.plotly_chart`` calls) deep-copies every trace and the layout — the
template too, about 3.7 kB of nested dicts per figure — and then walks the copy once more to turn NumPy
arrays into base64 typed arrays. On a page of 27 small heatmaps that was about a third of a click's server
CPU. ``wire_dict`` gives the same dict (the same JSON, a test checks it) by copying only the containers on
the way to an array and sharing everything else with the figure, which it never changes.
"""
from __future__ import annotations

import numpy as np
from _plotly_utils.utils import is_skipped_key, to_typed_array_spec

_CONTAINERS = (dict, list, tuple, np.ndarray)
# the layout's template (Streamlit's theme, copied into every figure) holds no arrays: shared as it is
_SHARED = frozenset({"template"})


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _walk(o):
    if isinstance(o, dict):
        if not any(isinstance(v, _CONTAINERS) for v in o.values()):
            return o  # nothing inside to convert: shared, not copied
        return {k: (v if k in _SHARED or is_skipped_key(k) else _walk(v)) for k, v in o.items()}
    if isinstance(o, np.ndarray):
        return to_typed_array_spec(o)
    if isinstance(o, (list, tuple)) and not set(map(type, o)) <= _LEAVES and any(isinstance(v, _CONTAINERS) for v in o):
        return [_walk(v) for v in o]  # (a row of numbers or texts, the common case, is told by its types in C)
    return o


def wire_dict(fig) -> dict:
    """``fig.to_dict()`` of a ``plotly.graph_objects.Figure`` without its deep copy (the result shares the
    figure's lists and scalars: read it, don't change it)."""
    out = {"data": [_walk(t) for t in fig._data], "layout": _walk(fig._layout)}
    frames = [_walk(f._props) for f in fig._frame_objs]
    if frames:
        out["frames"] = frames
    return out
