"""Load the app's modules once per server, in one thread, before any page imports them.

Streamlit runs every session's script in a thread of its own, all in one process. When a class opens a
fresh server at once, several threads import the same packages at the same moment; Python's import
locks then meet packages with internal circular imports (pandas, plotly; the app's own ``ui`` helpers had some
then, none now) from two sides, and one thread gets a half-initialised module: "cannot import name 'keep_alive' from
'ui.jobs'", "partially initialized module 'pandas' has no attribute 'Series'" — 12 of 18 sessions that
opened a fresh server together saw a traceback page (``tests/test_concurrent_start.py``).

So the entry script and every lesson import this module first. Its body imports the app's libraries
and modules; Python runs a module's body once, and a second thread that imports this module waits on
its lock until the body has finished, holding no other import lock meanwhile, so it can't deadlock.
After that every ``import`` in a page finds a finished module. Dask stays lazy (``explainer.engine.worker``, with the engine).
"""
from __future__ import annotations

import importlib

# third-party packages the pages use, directly or through Streamlit's elements (st.dataframe → pandas, pyarrow)
LIBRARIES = ("numpy", "scipy.ndimage", "scipy.signal", "torch", "PIL.Image", "pandas", "pyarrow",
             "plotly.graph_objects", "plotly.io", "plotly.express", "skimage.data")
# the app's own modules (each imports what it needs of the above); the Dask ones load with the first job
APP = ("explainer.maths", "explainer.data", "explainer.learning", "explainer.engine", "explainer.maths.grids",
       "explainer.learning.runs", "explainer.learning.backprop", "explainer.maths.conv", "explainer.data.datasets", "explainer.data.draw", "explainer.errors", "explainer.learning.evaluation",
       "explainer.maths.formulas", "explainer.i18n", "explainer.data.images", "explainer.maths.inspector", "explainer.engine.core", "explainer.engine.protocol", "explainer.engine.jobs",
       "explainer.maths.kernels", "explainer.limits", "explainer.data.mnist", "explainer.learning.models", "explainer.learning.network", "explainer.learning.optim",
       "explainer.learning.optim_rules", "explainer.learning.optimizers", "explainer.data.ownimages", "explainer.maths.pooling", "explainer.questions", "explainer.maths.receptive", "explainer.engine.runstore", "explainer.maths.shift",
       "explainer.maths.stepper", "explainer.learning.train", "explainer.maths.xo", "explainer.figures", "explainer.figures.backprop",
       "explainer.figures.describe", "explainer.figures.images", "explainer.figures.wire", "explainer.figures.kernels", "explainer.figures.network",
       "explainer.figures.optim", "explainer.figures.stepper", "explainer.figures.style", "explainer.figures.train",
       "explainer.figures.xo", "ui.state", "ui.tables", "ui.tables.shared", "ui.shell", "ui.charts", "ui.canvas", "ui.images",
       "ui.jobs", "ui.data", "ui.nav", "ui.runs", "ui.stepper", "ui.registry", "ui.questions", "ui.speedups",
       "explainer.engine.db", "explainer.polls", "explainer.figures.polls", "explainer.figures.questions", "ui.polls",
       "explainer.learning.shift")


def _load(names) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 — a library that fails to load (missing, a broken build): the page that
            if name.startswith(("explainer", "ui")):  # needs it fails alone, as before; the others still open
                raise


_load(LIBRARIES)
_load(APP)
_load(f"ui.tables.{page}" for page in importlib.import_module("ui.tables").PAGES)  # every lesson of ui/nav.py, + "app"
importlib.import_module("ui.speedups").install()  # per-rerun Streamlit costs paid once per server (issue 19)


def _compile_lessons() -> None:
    """Every lesson's script compiled into Streamlit's script cache now, not when a learner first opens it: the
    compile includes Streamlit's "magic" pass over the script's syntax tree, 40–120 ms of one core per lesson (the
    first "Open in Kernels" from another lesson cost 400 ms, most of it this). The lessons are the navigation's
    (``ui.nav``), by the path ``st.Page`` gives them (links resolved); one that fails to compile is left for
    Streamlit to report when it is opened, as before. Outside a server (tests, tools) there is no cache to fill."""
    from streamlit.runtime import Runtime

    from ui.nav import ROOT, available_lessons

    if not Runtime.exists():
        return
    cache = getattr(Runtime.instance(), "_script_cache", None)  # Streamlit's own (pinned version); else nothing
    if cache is None:
        return
    for path, *_ in available_lessons():
        try:
            cache.get_bytecode(str((ROOT / path).resolve()))
        except Exception:  # noqa: BLE001 — a broken lesson fails alone, when opened (not every page, here)
            pass


def _warm() -> None:
    """Both languages' catalogues, read now (~15 ms each) rather than on a language's first use in a learner's click
    (issue 19). The costlier warm-ups (``warm_in_background``) run in the entry script's background thread, after
    the first page has been sent."""
    from explainer.i18n import LANGUAGES, catalogue

    for code in LANGUAGES:
        catalogue(code)


def warm_in_background() -> None:
    """What libraries otherwise do lazily on a learner's click, paid once per server in a background thread
    (``streamlit_app._warm_up``): every lesson's script compiled (``_compile_lessons``), and torch's first optimizer
    (``torch.optim.Optimizer.__init__`` imports ``torch._dynamo`` on first use: 0.6–1.6 s, seen with py-spy on the
    first kernel fit of How kernels learn) with its first backward pass; the sample pictures (scikit-image's photos
    decoded: tens of ms each, the first RGB patch of Stride) and the built-in data sets this machine has a copy of
    (``ui.data.built_in``: MNIST for most lessons, Fashion-MNIST's first pick cost 281 ms of a click; no download
    is tried here); the class polls' database (its engine and schema check: ~40 ms, and SQLAlchemy's first use) and the
    QR code maker (segno's import, 40 ms: the lecturer's first "Ask the class" paid both)."""
    import torch

    _compile_lessons()
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p])
    (p * p).sum().backward()
    opt.step()
    _load_pictures_and_data()
    _open_polls()


def _open_polls() -> None:
    try:
        import segno  # noqa: F401

        from explainer.polls import shared_polls

        shared_polls()
    except Exception:  # noqa: BLE001 — no database (yet): the poll pages say so, in the learner's language, when used
        pass


def _load_pictures_and_data() -> None:
    from explainer.data import datasets
    from explainer.data.images import SAMPLES, sample
    from ui.data import built_in

    for name in SAMPLES:
        try:
            sample(name)
        except Exception:  # noqa: BLE001 — a picture that fails to decode: its page says so when it is picked
            pass
    for key, ds in datasets.DATASETS.items():
        try:
            if ds.is_available():
                built_in(key)
        except Exception:  # noqa: BLE001 — a broken copy: the page that needs it says so, in the learner's language
            pass


_warm()
