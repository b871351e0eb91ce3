"""Walk the app's pages with AppTest and find every URL-synced widget key they read.

Nothing here is a hand-kept list: the pages are the files the app's navigation serves
(``ui.nav.available_lessons()``) plus the entry script's sidebar, and the widgets are those the pages
create through ``ui.shell.widget`` (and the URL state they read with ``ui.shell.restore``) while AppTest
runs them. To reach widgets that only appear for some
settings (the custom kernel's text box, the MNIST digit index, a stepper's other views …), every
option widget found is switched through its options — all option widgets of a page at once, option
``i`` of each on run ``i`` — and whatever new keys appear are recorded with the URL that revealed them.

    >>> from tests.pagewalk import widget_keys
    >>> widget_keys("kernels")["kn_kernel"].kind
    'selectbox'
"""
from __future__ import annotations

import functools
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "streamlit_app"  # the entry script: the sidebar's keys (language, presenter mode) and the home page


@dataclass
class WidgetSpec:
    key: str
    kind: str  # the Streamlit function's name ("selectbox", "slider", "number_input", …) or "restore"
    default: Any
    options: list | None = None
    min_value: Any = None
    max_value: Any = None
    max_chars: int | None = None
    context: dict = field(default_factory=dict)  # URL parameters under which the page shows this widget
    param: Any = None  # the declared ``ui.state.Param`` the page passed (None for "restore")
    asked: tuple = (None, None)  # the narrower (min_value, max_value) the page asked for on this run


def pages() -> list[str]:
    """The page scripts the app's navigation serves (stems of ``pages/*.py``), and the entry script."""
    sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
    from ui.nav import available_lessons

    return [ENTRY] + sorted({Path(path).stem for path, *_ in available_lessons()})


def _script(page: str) -> str:
    return str(ROOT / f"{ENTRY}.py") if page == ENTRY else str(ROOT / "pages" / f"{page}.py")


class _Recorder:
    """Wraps ``ui.shell.widget``, ``ui.shell.restore`` and ``ui.shell.publish`` (in every module that imported
    them) and records what each call asked for: a widget with its declared ``Param`` and this run's range,
    URL state that is not a widget (read with ``restore`` or written with ``publish``) as kind "restore"."""

    def __init__(self):
        import ui.shell

        self.original = ui.shell.widget
        self.seen: dict[str, WidgetSpec] = {}
        self.lock = threading.Lock()

    def __call__(self, fn, label, param, *, url=None, **kwargs):
        if param.url if url is None else url:
            asked = {k: kwargs.get(k) for k in ("min_value", "max_value", "options")}
            kw = param.widget_kwargs(*asked.values())
            default = param.coerce(kwargs["default"]) if "default" in kwargs else param.default
            spec = WidgetSpec(param.key, getattr(fn, "__name__", type(fn).__name__), default, kw.get("options"),
                              kw.get("min_value"), kw.get("max_value"), kw.get("max_chars"), param=param,
                              asked=(asked["min_value"], asked["max_value"]))
            with self.lock:
                self.seen.setdefault(param.key, spec)
        return self.original(fn, label, param, url=url, **kwargs)

    def restore(self, key, default, parse=None):
        """``ui.shell.restore``: URL state that is not a widget (the X/O grid …), recorded as kind "restore"."""
        with self.lock:
            self.seen.setdefault(key, WidgetSpec(key, "restore", default))
        return self.original_restore(key, default, parse)

    def publish(self, key, value, text=None, ok=True):
        """``ui.shell.publish``: URL state written by a page (a stepper's position …), also kind "restore"."""
        with self.lock:
            self.seen.setdefault(key, WidgetSpec(key, "restore", value))
        return self.original_publish(key, value, text, ok)

    def __enter__(self):
        import ui.shell

        self.original_restore, self.original_publish = ui.shell.restore, ui.shell.publish
        self._patched = [(m, name, old, new) for m in list(sys.modules.values()) if m is not None
                         for name, old, new in (("widget", self.original, self),
                                                ("restore", self.original_restore, self.restore),
                                                ("publish", self.original_publish, self.publish))
                         if getattr(m, name, None) is old or _left_by_a_walk(getattr(m, name, None))]
        for m, name, _old, new in self._patched:
            setattr(m, name, new)
        return self

    def __exit__(self, *exc):
        for m, name, old, _new in self._patched:
            setattr(m, name, old)


def _left_by_a_walk(value) -> bool:
    """A recorder a module bound on an earlier run (``from ui.shell import publish`` while it was patched)."""
    return isinstance(value, _Recorder) or (isinstance(value, types.MethodType) and isinstance(value.__self__, _Recorder))


def run_page(page: str, params: dict | None = None, lang: str = "en", timeout: float = 180):
    """AppTest of ``page`` opened with URL ``params`` (as a shared link would), run once."""
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    config.set_option("client.showErrorDetails", "full")  # visitors get "none"; a test wants the traceback
    at = AppTest.from_file(_script(page), default_timeout=timeout)
    if page != ENTRY:
        at.session_state["lang"] = lang
    at.session_state["predict"] = False  # "Predict first" off: every widget of the page is drawn at once
    for k, v in (params or {}).items():
        at.query_params[k] = v
    return at.run()


@functools.cache
def _walk(page: str, max_runs: int = 36) -> dict[str, WidgetSpec]:
    if page == ENTRY:  # the sidebar's own keys; the home page it shows is walked as "home"
        max_runs = 1
    found: dict[str, WidgetSpec] = {}
    runs = 0

    def visit(ctx: dict) -> set[str]:
        nonlocal runs
        runs += 1
        with _Recorder() as rec:
            run_page(page, ctx)
        new = set(rec.seen) - set(found)
        for k in new:
            rec.seen[k].context = dict(ctx)
            found[k] = rec.seen[k]
        return new

    frontier = [{}]
    visit({})
    for _depth in range(2):
        next_frontier = []
        for ctx in frontier:
            switchable = {k: s.options for k, s in found.items()
                          if s.options and k not in ctx and not isinstance(s.default, (list, tuple))
                          and s.context.items() <= ctx.items()}
            for k, options in switchable.items():
                for o in reversed(options):  # the special settings ("custom", "upload" …) usually come last
                    text = found[k].param.format
                    if runs >= max_runs or text(o) == text(found[k].default):
                        continue
                    c2 = ctx | {k: text(o)}
                    if visit(c2):
                        next_frontier.append(c2)
            # a multiselect's options can reveal widgets too (an optimizer's own settings appear when it is
            # chosen): choose all of them, in chunks of at most max_selections, the default's last
            multi = {k: s for k, s in found.items() if s.options and isinstance(s.default, (list, tuple))
                     and k not in ctx and s.context.items() <= ctx.items() and s.param is not None}
            for k, s in multi.items():
                options = sorted(s.options, key=lambda o: o in s.default)
                size = s.param.max_selections or len(options)
                for i in range(0, len(options), size):
                    chunk = options[i: i + size]
                    if runs >= max_runs or list(chunk) == list(s.default):
                        continue
                    c2 = ctx | {k: s.param.format(chunk)}
                    if visit(c2):
                        next_frontier.append(c2)
        frontier = next_frontier
    return found


def widget_keys(page: str) -> dict[str, WidgetSpec]:
    """Every URL-synced widget key ``page`` reads → its spec (kind, default, options, bounds, and the URL
    context under which it appears). Cached for the test session."""
    return dict(_walk(page))


# ---------------------------------------------------------------- every widget a page creates, from AppTest's tree
# Elements a learner acts with that hold no setting: a click, a download, an upload (read once, kept by the page).
# Charts' selections and table editors (st.data_editor) are not widgets in AppTest's tree: their edits write a declared
# setting (the Kernels page's grid → ``kn_custom``) or are the page's working copy (the receptive-field layers).
ACTIONS = ("Button", "DownloadButton", "FileUploader")


def undeclared(at) -> list[str]:
    """Every value widget in ``at``'s element tree (whatever created it: ``ui.shell.widget`` or a bare ``st`` call)
    that no table declares, or whose value or range its declaration refuses: ``"<type> <key>: <why>"``.

    Unlike the recorder above, this sees what Streamlit drew, so a widget created without ``widget(...)`` is found too."""
    from streamlit.testing.v1.element_tree import Widget

    from ui.tables import all_tables

    declared = {p.key: p for table in all_tables().values() for p in table}
    found = []
    for node in at._tree:
        kind = type(node).__name__
        if not isinstance(node, Widget) or kind in ACTIONS:
            continue
        p = declared.get(node.key)
        if p is None:
            found.append(f"{kind} {node.key}: not declared")
            continue
        value = node.value
        if isinstance(value, tuple) and p.type == "multi":
            value = list(value)
        if not p.fits(p.coerce(value)):
            found.append(f"{kind} {node.key}: value {value!r} does not fit its declaration")
        proto = node.proto
        if kind in ("NumberInput", "Slider") and p.type in ("int", "float", "int_range", "float_range"):
            lo = proto.min if kind == "Slider" or proto.has_min else None  # a number input may be unbounded
            hi = proto.max if kind == "Slider" or proto.has_max else None
            if p.lo is not None and (lo is None or lo < p.lo):
                found.append(f"{kind} {node.key}: minimum {lo} below the declared {p.lo}")
            if p.hi is not None and (hi is None or hi > p.hi):
                found.append(f"{kind} {node.key}: maximum {hi} above the declared {p.hi}")
    return found
