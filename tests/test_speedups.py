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


_WIDGETS_SCRIPT = '''
import streamlit as st
from streamlit.runtime.state import get_session_state
from streamlit.elements.widgets import number_input as ni
from ui import speedups

speedups.install()
ss = st.session_state
ss.setdefault("set_none", None)  # a value set through the API: None makes the widget empty
ss.setdefault("set_value", 3)
st.number_input("a", key="set_none", value=None)
st.number_input("b", key="set_value", value=1)
st.number_input("c", key="widget_only", value=5)
st.selectbox("d", [1, 2], key="picked")
real = get_session_state().filtered_state
lazy = ni.get_session_state().filtered_state
probe = ["set_none", "set_value", "widget_only", "picked", "missing", ""]
ss["_same"] = [((k in real), real.get(k, "-")) == ((k in lazy), lazy[k] if k in lazy else "-") for k in probe]
ss["_lazy"] = type(lazy).__name__
'''


def test_widgets_read_the_session_state_without_copying_it_and_see_the_same_values():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(_WIDGETS_SCRIPT, default_timeout=30)
    at.run()
    at.number_input(key="widget_only").set_value(7)
    at.run()
    assert not at.exception
    assert at.session_state["_lazy"] == "_KeyLookup"  # the patch is what the widget module calls
    assert at.session_state["_same"] == [True] * 6
    assert at.number_input(key="set_none").value is None  # the None check the lookup serves still works
    assert at.number_input(key="set_value").value == 3
    assert at.number_input(key="widget_only").value == 7


def _omp_max_threads() -> int:
    """OpenMP's thread count for the calling thread (its own setting), from the runtime PyTorch ships and loaded."""
    import ctypes

    import torch

    lib = str(__import__("pathlib").Path(torch.__file__).parent / "lib")
    with open("/proc/self/maps") as fh:
        paths = {line.split()[-1] for line in fh if "libgomp" in line or "libiomp" in line}
    found = sorted(paths, key=lambda p: not p.startswith(lib))  # torch's own first
    assert found, "no OpenMP runtime loaded"
    return ctypes.CDLL(found[0]).omp_get_max_threads()


def test_every_script_run_sets_pytorchs_threads_on_its_own_thread(monkeypatch):
    """OpenMP's count belongs to the thread that set it, and Streamlit runs a rerun on a new thread: the web
    process's wrapper of ``ScriptRunner._run_script`` sets it there (oneDNN's convolutions would otherwise start a
    team of one thread per core on every click). Here with one more than a new thread gets by default; the wrapper is
    put on once."""
    import threading

    import torch

    import ui.speedups
    from streamlit.runtime.scriptrunner import script_runner

    fresh = {}
    t = threading.Thread(target=lambda: fresh.setdefault("threads", _omp_max_threads()))
    t.start(), t.join()
    want = fresh["threads"] + 1  # what a new thread doesn't have unless it is set there
    seen = {}
    monkeypatch.setattr(script_runner.ScriptRunner, "_run_script",
                        lambda self, rerun_data: seen.setdefault("threads", _omp_max_threads()))
    monkeypatch.setenv(ui.speedups.ENV_WEB_TORCH_THREADS, str(want))
    kept = torch.get_num_threads()
    try:
        ui.speedups._threads_per_run()
        wrapped = script_runner.ScriptRunner._run_script
        ui.speedups._threads_per_run()  # a second install: not wrapped twice
        assert script_runner.ScriptRunner._run_script is wrapped
        t = threading.Thread(target=lambda: script_runner.ScriptRunner._run_script(None, None))
        t.start(), t.join()
    finally:
        torch.set_num_threads(kept)  # ATen's count is the process's: the rest of this worker's tests keep theirs
    assert seen["threads"] == want


def test_malloc_keeps_batch_buffers_in_a_fresh_process():
    """glibc's ``mallopt`` takes every one of the web process's settings (in a fresh process, so this worker's
    allocator is left as it is)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import ui.speedups as s; print(s._tune_malloc(), sorted(s.MALLOC))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stdout.split("\n")[0] == "True [-8, -3, -1]", r.stderr  # M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
