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


def mixed(a, _b, c=1, *rest, d, **more):
    return a


def test_cached_functions_argument_names_are_streamlits_and_looked_up_once_per_code(monkeypatch):
    """Which arguments a cached call hashes (those not starting with "_"): the same names as Streamlit's own lookup
    for every position (positional, underscored, *args, keyword-only, out of range), once per code object."""
    import functools

    import ui.speedups
    from streamlit.runtime.caching import cache_utils

    ui.speedups.install()
    name = cache_utils._get_positional_arg_name
    original = name.original
    for i in range(-1, 7):
        assert name(mixed, i) == original(mixed, i)
    assert [name(mixed, i) for i in range(4)] == ["a", "_b", "c", None]

    looked = []
    real = cache_utils.type_util.get_func_parameters
    monkeypatch.setattr(cache_utils.type_util, "get_func_parameters", lambda f: looked.append(f) or real(f))
    rerun = types.FunctionType(mixed.__code__, globals(), "mixed")  # a page's rerun: a new function, the same code
    assert [name(rerun, i) for i in range(3)] == ["a", "_b", "c"] and looked == []

    @functools.wraps(mixed)
    def wrapper(*args, **kwargs):  # its signature is the wrapped one's, not its code's: Streamlit's answer
        return mixed(*args, **kwargs)

    assert name(wrapper, 1) == original(wrapper, 1) == "_b" and looked


def test_array_key_is_exact_on_content_dtype_and_shape():
    """The key a page's cached functions take instead of hashing an image: equal arrays (also a non-contiguous
    view of the same numbers) get one key; one changed pixel, another dtype or another shape gets another."""
    import numpy as np
    from ui.speedups import array_key

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 48), dtype=np.uint8)
    key = array_key(img)
    assert array_key(img.copy()) == key
    assert array_key(np.asfortranarray(img)) == key and array_key(img[:, ::1]) == key
    changed = img.copy()
    changed[63, 47] ^= 1
    keys = {key, array_key(changed), array_key(img.astype(np.int16)), array_key(img.reshape(48, 64)),
            array_key(img.T)}
    assert len(keys) == 5
