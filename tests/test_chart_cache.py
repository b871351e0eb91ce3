"""``ui.charts.figure``: a figure built once for all sessions, keyed by its arguments (issue 19, item 1: server
CPU per click). The cached chart sends exactly what the uncached one sends, in each language and in presenter
mode; a second session with the same values builds nothing; any changed value (an array's content, a number's
type or sign, the language) builds again; the cache stays within its bound."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from explainer.figures import heatmap

CALLS: list = []  # builds of ``counted_heatmap`` (read through the module the app script imports)


def counted_heatmap(z, **kwargs):
    CALLS.append(1)
    return heatmap(z, x_title="x", y_title="y", value_label="v", **kwargs)


def _script():
    import numpy as np
    import streamlit as st

    from tests.test_chart_cache import counted_heatmap
    from ui.charts import chart, figure

    z = np.asarray(st.session_state.get("z", [[1.0, -2.0], [0.5, 3.0]]))
    title = st.session_state.get("title", "t")
    chart(figure(counted_heatmap, z, title=title, zmid=0), key="cached")
    chart(counted_heatmap(z, title=title, zmid=0), key="direct")


def _run(**state):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_script, default_timeout=30)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _calls() -> int:
    return len(importlib.import_module("tests.test_chart_cache").CALLS)


@pytest.mark.parametrize("lang, presenter", [("en", False), ("zh", False), ("en", True)])
def test_cached_chart_sends_what_the_direct_chart_sends(lang, presenter):
    at = _run(lang=lang, presenter=presenter, z=[[1.0, -2.0], [0.25, 7.0]])
    cached, direct = at.get("plotly_chart")
    assert cached.proto.spec == direct.proto.spec
    from explainer.figures.style import PRESENTER_FONT_PX

    assert (f'"font":{{"size":{PRESENTER_FONT_PX}}}' in cached.proto.spec) == presenter  # projector type sizes
    captions = [c.value for c in at.caption]
    assert len(captions) == 2 and captions[0] == captions[1]  # the summary under each
    tables = [m.value for m in at.markdown]
    assert len(tables) == 2 and tables[0] == tables[1] and "7" in tables[0]  # "show as table"


def test_a_second_session_builds_nothing_and_any_change_builds_again():
    z = np.arange(6.0).reshape(2, 3) + 0.125  # values no other test uses
    _run(z=z.tolist())
    first = _calls()
    _run(z=z.tolist())
    assert _calls() == first + 1  # only the direct chart was built again
    for state in (dict(z=(z + 1).tolist()),  # the same shape, other values
                  dict(z=z.astype(int).tolist()),  # the same numbers as integers: another dtype
                  dict(z=z.tolist(), title="other"),
                  dict(z=z.tolist(), lang="zh"),
                  dict(z=z.tolist(), presenter=True)):
        before = _calls()
        at = _run(**state)
        assert _calls() == before + 2, state  # the cached chart too: a new key
        cached, direct = at.get("plotly_chart")
        assert cached.proto.spec == direct.proto.spec, state


def test_keys_tell_apart_values_that_compare_equal():
    from ui.charts import _key

    assert _key(True) != _key(1) and _key(0.0) != _key(-0.0) and _key(1) != _key(1.0)
    assert _key(np.zeros(3)) != _key(np.zeros(3, dtype=np.float32)) != _key(np.zeros((3, 1)))
    big = np.zeros(10_000)
    other = big.copy()
    other[-1] = 1e-300
    assert _key(big) != _key(other)  # a digest for large arrays, of every byte
    assert _key([1, (2, 3)]) != _key([1, [2, 3]])


def test_the_cache_stays_within_its_bound(monkeypatch):
    from ui import charts

    monkeypatch.setattr(charts, "CACHE_MAX_ENTRIES", 3)
    for v in range(6):
        _run(z=[[float(v) + 0.375]])
        assert len(charts._CACHE) <= 3
    assert charts._CACHE_BYTES[0] == sum(s.weight for s in charts._CACHE.values())
    before = _calls()
    _run(z=[[5.375]])  # the newest is still kept
    assert _calls() == before + 1
    _run(z=[[0.375]])  # the oldest was dropped: built again
    assert _calls() == before + 3


def test_a_kept_chart_is_serialised_once_and_sent_as_the_same_text(monkeypatch):
    """``ui.speedups``: st.plotly_chart's JSON of a chart kept for all sessions is made once (Plotly's own
    ``to_json``), then reused: a second session's rerun serialises only the chart built afresh for it."""
    import plotly.io._json as pjson

    import ui.speedups

    ui.speedups.install()
    made = []
    real = pjson.to_json_plotly
    monkeypatch.setattr(pjson, "to_json_plotly", lambda *a, **k: made.append(1) or real(*a, **k))
    z = [[3.0, -1.0], [0.5, 9.5]]  # values no other test shows
    first = _run(z=z, title="serialised once")
    assert len(made) == 2  # the kept chart (built now) and the direct one
    second = _run(z=z, title="serialised once")
    assert len(made) == 3  # the direct one only
    for at in (first, second):
        cached, direct = at.get("plotly_chart")
        assert cached.proto.spec == direct.proto.spec
    assert first.get("plotly_chart")[0].proto.spec == second.get("plotly_chart")[0].proto.spec


def test_a_picture_in_the_arguments_counts_toward_the_bound():
    """A kept map's data URI (Kernels: the input and output maps are kept per box) weighs on the cache's bound:
    its text is kept in the wire dict and in the JSON text; short words don't count."""
    from ui.charts import _key, _weight

    uri = "data:image/jpeg;base64," + "A" * 100_000
    d = {"data": [{"type": "image", "source": uri}], "layout": {"title": {"text": "t"}}}
    assert _weight((d, (1, 2, 3, 3), 512)) == 3 * len(uri)
    assert _weight(("title", ["a", "b"])) == 0
    assert _key([["1", "−2"], ["3", "4"]]) == ("list", ("list", "1", "−2"), ("list", "3", "4"))
    assert _key(["1", 2]) == ("list", "1", ("int", "2"))
