"""``ui.speedups`` (issue 19, item 1: server CPU per click): a page's ``@st.cache_data`` functions are made again on
every rerun; their cache key is Streamlit's own, computed once per code object (no ``inspect.getsource`` per
rerun), and a changed function gets a key of its own."""
from __future__ import annotations

import types


def sample(x):
    return x + 1


def other(x):
    return x + 2


def test_cached_function_key_is_streamlits_and_made_once_per_code(monkeypatch):
    import ui.speedups
    from streamlit.runtime.caching import cache_utils
    from streamlit.runtime.caching.cache_type import CacheType

    ui.speedups.install()
    make = cache_utils._make_function_key
    original = make.original
    key = make(CacheType.DATA, sample)
    assert key == original(CacheType.DATA, sample)
    assert make(CacheType.RESOURCE, sample) == original(CacheType.RESOURCE, sample)

    looked = []
    real = cache_utils.inspect.getsource
    monkeypatch.setattr(cache_utils.inspect, "getsource", lambda f: looked.append(f) or real(f))
    rerun = types.FunctionType(sample.__code__, globals(), "sample")  # what a page's rerun makes: new function, same code
    assert make(CacheType.DATA, rerun) == key and looked == []
    assert make(CacheType.DATA, other) == original(CacheType.DATA, other) != key and len(looked) == 2
