"""Per-rerun costs of Streamlit that the app pays on every click, made once per server (issue 19: ≤ 40 ms CPU
per interaction). ``ui.boot`` calls ``install()`` once per process.

- **The key of a cached function.** A page script runs again on every click, so each ``@st.cache_data`` /
  ``@st.cache_resource`` in it builds a new cached-function wrapper on every run, and Streamlit computes the
  function's cache key each time: ``inspect.getsource`` (the page file read and tokenised up to the end of the
  function) and a hash of it. On the Kernels page that was ~10 % of a click's CPU (8 decorators). The key
  depends only on the function's module, qualified name and source; a page's code is compiled once per server
  (Streamlit's script cache), so the code object of a decorated function is the same on every run. The key is
  kept per (cache type, module, qualified name, file, code object): Streamlit's own key, computed the first
  time. A changed source compiles to a different code object and gets its key computed afresh (an edit that
  only touches a comment inside a function can keep the old key: the cache is not cleared, as the code is
  the same).
- **The names of a cached function's arguments.** For every call of a cached function Streamlit finds the name
  of each positional argument (to leave out those starting with ``_``) with ``inspect.signature``, once per
  argument: ~0.1 ms each, 1–2 ms a click on the Kernels page (a cached call with ten arguments). The names and
  kinds of a plain function's parameters are fixed by its code object: kept per (code object, position).
- **A chart's JSON text.** ``st.plotly_chart`` turns the figure into JSON on every rerun (``plotly.io.to_json``:
  Plotly's encoder, then a decode and a second encode to clean NaN and infinity), also for a chart whose wire
  dict ``ui.charts`` keeps for all sessions. Such a dict is a ``WireSpec``: its text is made the first time by
  Plotly's own ``to_json`` and kept with it, so the same figure is sent as the same bytes without the work.
- **A widget's look at the session state.** Before drawing, ``st.number_input``, ``st.selectbox``, ``st.radio``,
  ``st.slider`` and the text and time widgets ask whether their key's value is ``None``, through
  ``filtered_state``: a copy of the whole session state (every key and widget value, each looked up), made for one
  key. A lesson with many settings pays it for every widget on every click: on the Optimizers page, 18 copies of
  ~60 entries, ~15 % of a click's script CPU (cProfile). Those modules get a ``get_session_state`` whose
  ``filtered_state`` answers ``key in`` and ``[key]`` from the session state itself (the same lookups the copy
  makes for that key, under its lock); every other attribute is the session state's own.
- **PyTorch's threads.** The web process runs PyTorch on one picture at a time (a trace, a unit's arithmetic, a
  saliency map); training and the other long work run in the engine's worker processes, which set their own
  threads (``explainer.engine.worker``). With PyTorch's default of one OpenMP thread per core, each small operation
  is split over the cores and every thread then spin-waits at the region's end for the others: on a 2-core
  machine whose other core was busy, one forward pass of the reference CNN on one digit took 55–60 ms of the
  script thread's CPU instead of 1 ms (the helper thread's spinning came on top). So the web process computes
  on one thread; ``EXPLAINER_WEB_TORCH_THREADS`` sets another number. ``torch.set_num_threads`` sets ATen's own
  count for the whole process, but OpenMP's (which oneDNN, PyTorch's convolutions, asks for) belongs to the thread
  that set it, and Streamlit runs every rerun on a new thread: there oneDNN found OpenMP's default again (one
  thread per core), started a team of threads for that thread and spun: the first convolution of a click cost
  1–14 ms of the script thread's CPU (5 ms median over 10 new threads) and 17 ms of the process's, not 1 ms. So
  each script run sets the number again on its own thread first (~0.03 ms).
- **Memory for PyTorch's larger buffers.** glibc gives an allocation over its (dynamic) threshold fresh pages from
  the kernel and returns them at ``free``, and it trims an arena's free top early; a rerun's new thread may also land
  on an arena that has given its memory back. So a batch of 121 occluded digits (Grad-CAM's occlusion, 6 MB a layer)
  paid the page faults of its buffers on every click: 20–30 ms of the script thread's CPU instead of 9–19 ms. In the
  web process, allocations up to 8 MB come from the arenas (``mallopt``: the mmap threshold; larger ones, such as
  Pillow's 16 MB blocks of a decoded upload or the upload's bytes, are mapped and unmapped as before, so they leave
  no holes in the arenas), and an arena keeps up to 64 MB of free memory at its top (the trim threshold) before it
  gives it back. That bounds the free top of each heap, not the holes below live blocks; at most 4 arenas are asked
  for (glibc keeps its own limit if more than 8 already exist).
- Only in a process with a Streamlit runtime: a server, and an ``AppTest`` run (which gives its script a runtime
  too, so page tests compute as the server does); a tool that imports the pages keeps PyTorch's and glibc's defaults.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import threading

import numpy as np

_KEYS: dict = {}
_KEYS_MAX = 4096  # distinct decorated functions per server are a few dozen; a bound all the same
_LOCK = threading.Lock()
_installed = False
ENV_WEB_TORCH_THREADS = "EXPLAINER_WEB_TORCH_THREADS"  # PyTorch's threads in the web process (default 1)


def _keep(store: dict, key, found):
    """Keep ``found`` under ``key`` in one of the bounded per-server memos (cleared whole when full), and return it."""
    with _LOCK:
        if len(store) >= _KEYS_MAX:
            store.clear()
        store[key] = found
    return found


def _memoised(original):
    def make_function_key(cache_type, func):
        code = getattr(func, "__code__", None)
        if code is None:
            return original(cache_type, func)
        k = (cache_type, getattr(func, "__module__", None), getattr(func, "__qualname__", None), code.co_filename, code)
        found = _KEYS.get(k)
        return found if found is not None else _keep(_KEYS, k, original(cache_type, func))

    make_function_key.original = original
    return make_function_key


_ARG_NAMES: dict = {}


def _arg_names_kept(original):
    def get_positional_arg_name(func, arg_index):
        code = getattr(func, "__code__", None)
        # a wrapper or an explicit signature says other names than the code: Streamlit's own answer
        if code is None or hasattr(func, "__wrapped__") or hasattr(func, "__signature__"):
            return original(func, arg_index)
        k = (code, arg_index)
        try:
            return _ARG_NAMES[k]
        except KeyError:
            pass
        return _keep(_ARG_NAMES, k, original(func, arg_index))

    get_positional_arg_name.original = original
    return get_positional_arg_name


class WireSpec(dict):
    """A figure's wire dict (``explainer.figures.wire``) that keeps its JSON text once ``plotly.io.to_json`` made it.
    Never change one after it was sent (``ui.charts`` keeps them unchanged)."""

    __slots__ = ("json",)


def _json_kept(original):
    def to_json(fig, validate=True, pretty=False, remove_uids=True, engine=None):
        if type(fig) is not WireSpec or pretty or not remove_uids or engine is not None:
            return original(fig, validate, pretty, remove_uids, engine)
        try:
            return fig.json
        except AttributeError:
            text = fig.json = original(fig, validate, pretty, remove_uids, engine)
            return text

    to_json.original = original
    return to_json


def array_key(a) -> str:
    """A small exact key for an array's content (dtype, shape and a 128-bit BLAKE2 digest of its bytes), for
    ``st.cache_*`` functions that take the array itself as an unhashed ``_`` argument: Streamlit hashes an array
    argument by its bytes (MD5, after a copy) on every call, ~1 ms for a 512² image, and a page that passes one
    image to several cached functions pays it several times a rerun."""
    a = np.ascontiguousarray(a)
    return f"{a.dtype.str}{a.shape}:" + hashlib.blake2b(a.data, digest_size=16).hexdigest()


class _KeyLookup:
    """``filtered_state`` as the widgets read it (``key in it``, ``it[key]`` for a widget's user key): the session
    state's own lookups, under its lock, not a copy of every entry."""

    __slots__ = ("_safe",)

    def __init__(self, safe):
        self._safe = safe

    def __contains__(self, key) -> bool:
        with self._safe._lock:
            return key in self._safe._state

    def __getitem__(self, key):
        with self._safe._lock:
            return self._safe._state[key]


class _LazyFiltered:
    """The session state (``SafeSessionState``) with a ``filtered_state`` that copies nothing; the rest is its own."""

    __slots__ = ("_safe",)

    def __init__(self, safe):
        self._safe = safe

    @property
    def filtered_state(self) -> _KeyLookup:
        return _KeyLookup(self._safe)

    def __getattr__(self, name):
        return getattr(self._safe, name)


WIDGET_MODULES = ("number_input", "selectbox", "radio", "slider", "text_widgets", "time_widgets")


def _lazy_session_state(original):
    def get_session_state():
        return _LazyFiltered(original())

    get_session_state.original = original
    return get_session_state


def _web_torch_threads() -> int:
    """``EXPLAINER_WEB_TORCH_THREADS`` as a whole number ≥ 1; unset or not a number: 1."""
    raw = os.environ.get(ENV_WEB_TORCH_THREADS, "")
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


def install() -> None:
    """Replace Streamlit's cached-function key maker and argument-name lookup by memoised ones, and
    ``plotly.io.to_json`` by one that keeps a ``WireSpec``'s text, the widgets' ``filtered_state`` by a lookup; PyTorch
    on one thread (idempotent)."""
    global _installed
    import plotly.io
    import torch
    from streamlit import runtime
    from streamlit.runtime.caching import cache_utils

    with _LOCK:
        if _installed:
            return
        if getattr(cache_utils._make_function_key, "original", None) is None:
            cache_utils._make_function_key = _memoised(cache_utils._make_function_key)
        if getattr(cache_utils._get_positional_arg_name, "original", None) is None:
            cache_utils._get_positional_arg_name = _arg_names_kept(cache_utils._get_positional_arg_name)
        if getattr(plotly.io.to_json, "original", None) is None:
            plotly.io.to_json = _json_kept(plotly.io.to_json)
        for name in WIDGET_MODULES:
            module = importlib.import_module(f"streamlit.elements.widgets.{name}")
            found = getattr(module, "get_session_state", None)
            if found is not None and getattr(found, "original", None) is None:
                module.get_session_state = _lazy_session_state(found)
        if runtime.exists():  # a server's web process (not a test run or a tool that imports the pages)
            torch.set_num_threads(_web_torch_threads())
            _threads_per_run()
            _tune_malloc()
        _installed = True


def _threads_per_run() -> None:
    """Every script run (a rerun or a fragment's, each on a new thread) sets PyTorch's threads on its own thread
    first: OpenMP's count is per thread (see the module's text)."""
    import torch
    from streamlit.runtime.scriptrunner import script_runner

    run = script_runner.ScriptRunner._run_script
    if getattr(run, "original", None) is not None:
        return
    n = _web_torch_threads()

    def _run_script(self, rerun_data):
        torch.set_num_threads(n)
        return run(self, rerun_data)

    _run_script.original = run
    script_runner.ScriptRunner._run_script = _run_script


MALLOC = {-3: 8 * 2**20, -1: 64 * 2**20, -8: 4}  # mallopt: M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_ARENA_MAX


def _tune_malloc() -> bool:
    """glibc's allocator kept from handing PyTorch's batch buffers back to the kernel on every click (see the
    module's text); False where there is no glibc (another C library: nothing changes)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    done = [mallopt(ctypes.c_int(k), ctypes.c_int(v)) == 1 for k, v in MALLOC.items()]  # each one, whatever the others
    return all(done)
