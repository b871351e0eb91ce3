"""Streamlit-side helpers every page uses: text, URL-synced widgets, notes.

Pages import ``t``, ``widget`` and friends from here; ``explainer/`` never imports Streamlit.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import streamlit as st

from explainer.errors import UserError, message
from explainer.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

_KEPT = "_kept_widget_values"


# ---------------------------------------------------------------- navigation mode (once per server)
def _route_through_entry_script() -> None:
    """Make a lesson's URL, opened as the very first request of a fresh server, go through ``streamlit_app.py``.

    Why this reaches into Streamlit: with a ``pages/`` folder beside the entry script, Streamlit starts in
    its old folder-based multipage mode and stays there until some session runs ``st.navigation``
    (documented: from then on the folder is ignored across all sessions). If the first visitor opens
    ``/stride`` directly, Streamlit runs ``pages/stride.py`` on its own: no sidebar, no language. No
    public setting turns the folder mode off, and the design keeps the lessons in ``pages/``; so this
    flips the flag that ``st.navigation`` itself sets and reruns, and the entry script routes to the
    same URL. It runs when ``ui.shell`` is first imported in the server process (every page imports it),
    i.e. once per server; after that the flag is False for good and nothing here runs again.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # a Streamlit without the flag: nothing to do
        return
    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
        PagesManager.uses_pages_directory = False
        st.rerun()


# ---------------------------------------------------------------- language and presenter mode
def lang() -> str:
    """The current language code (``"en"`` or ``"zh"``)."""
    value = st.session_state.get("lang")
    if value not in LANGUAGES:
        value = st.query_params.get("lang", DEFAULT_LANGUAGE)
        if value not in LANGUAGES:
            value = DEFAULT_LANGUAGE
    return value


def t(key: str, **params) -> str:
    """The catalogue text for ``key`` in the current language."""
    return translate(key, lang(), **params)


def labels(prefix: str) -> Callable[[Any], str]:
    """A ``format_func`` for options: ``labels("pooling.mode_")("max")`` is the text of the key ``pooling.mode_max``.

    It binds the current language now, so it also works when Streamlit (or AppTest) calls it
    outside the script run, where ``t`` can't see the session's language.
    """
    code = lang()
    return lambda value: translate(f"{prefix}{value}", code)


def t_error(exc: Exception) -> str:
    """A learner-facing message for an exception raised by ``explainer``."""
    if isinstance(exc, UserError):
        return message(exc.key, exc.params, lang())
    return t("common.unexpected_error", detail=str(exc))


def presenter() -> bool:
    """Presenter mode: larger type, wide layout, fewer side notes."""
    return bool(st.session_state.get("presenter", False))


def note(markdown: str) -> None:
    """A side note; hidden in presenter mode."""
    if not presenter():
        st.caption(markdown)


def lesson_link(path: str, label: str, icon: str | None = None) -> None:
    """``st.page_link`` to another lesson; a plain link where navigation doesn't know the page
    (a page run on its own, as in tests, or a lesson not built yet)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(path, label=label, icon=icon)
    except StreamlitAPIException:
        slug = path.rsplit("/", 1)[-1].removesuffix(".py")
        st.markdown(f"[{label}](/{slug})")


def lesson_views(page: str, key: str, views) -> str:
    """A lesson's title and intro (``{page}.title``, ``{page}.intro``) and its switch between views
    (``{page}.view``, option labels ``{page}.view_<name>``); returns the chosen view (the first by default)."""
    st.title(t(f"{page}.title"))
    st.markdown(t(f"{page}.intro"))
    return widget(st.segmented_control, t(f"{page}.view"), key=key, default=views[0], options=list(views),
                  format_func=labels(f"{page}.view_"), required=True)


def section(page: str, name: str) -> None:
    """A lesson section's header and intro: ``{page}.{name}_header``, ``{page}.{name}_intro``."""
    st.header(t(f"{page}.{name}_header"))
    st.markdown(t(f"{page}.{name}_intro"))


def formula(latex: str) -> None:
    st.latex(latex)


# ---------------------------------------------------------------- URL-synced widgets
def _parse(raw: str, default: Any, kwargs: dict) -> Any:
    """Turn a URL string back into a widget value; ``ValueError`` when it doesn't fit."""
    options = kwargs.get("options")
    if options is not None:
        options = list(options)
        by_text = {str(o): o for o in options}
        if isinstance(default, (list, tuple)):  # multiselect / pills(selection_mode="multi")
            parts = [p for p in raw.split(",") if p != ""]
            if any(p not in by_text for p in parts):
                raise ValueError(raw)
            return [by_text[p] for p in parts]
        if raw not in by_text:
            raise ValueError(raw)
        return by_text[raw]
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if isinstance(default, (tuple, list)):  # range slider
        parts = raw.split(",")
        if len(parts) != len(default):
            raise ValueError(raw)
        return tuple(_parse(p, d, {k: v for k, v in kwargs.items() if k != "options"})
                     for p, d in zip(parts, default))
    if isinstance(default, int):
        value = int(raw)
    elif isinstance(default, float):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
    elif isinstance(default, str):
        if len(raw) > 2000:
            raise ValueError(raw)
        return raw
    else:
        raise ValueError(raw)
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(raw)
    return value


def _fits(value: Any, kwargs: dict) -> bool:
    """Whether a kept value is still valid for the widget as it is configured on this run."""
    options = kwargs.get("options")
    if options is not None:
        options = list(options)
        if isinstance(value, (list, tuple)):
            return all(v in options for v in value)
        return value in options
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return False
    return True


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(_format(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _store(name: str) -> dict:
    return st.session_state.setdefault(name, {})


def restore(key: str, default: Any, parse: Callable[[str], Any] | None = None) -> Any:
    """The value for ``key`` on this run, for state that is not a widget (pair with ``publish``).

    A URL parameter that differs from what the app last wrote there came from outside (a shared
    link, ``st.switch_page(..., query_params=...)``) and wins; a malformed one falls back to the
    kept value or ``default`` with a toast. Otherwise: the value kept from the last visit, else
    ``default``.
    """
    kept, published = _store(_KEPT), _store("_published_url_values")
    raw = st.query_params.get(key)
    if raw is not None and raw != published.get(key):
        published[key] = raw
        try:
            value = (parse or (lambda r: _parse(r, default, {})))(raw)
        except (ValueError, TypeError, OverflowError):
            st.toast(t("common.bad_url_param", name=key, value=raw[:40]), icon="⚠️", duration="long")
        else:
            kept[key] = value
            return value
    return kept.get(key, default)


def publish(key: str, value: Any, text: str | None = None) -> None:
    """Remember ``value`` for ``key`` across page switches and write it to the URL."""
    _store(_KEPT)[key] = value
    text = text if text is not None else _format(value)
    _store("_published_url_values")[key] = text
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def widget(fn: Callable, label: str, *, key: str, default: Any, url: bool = True, **kwargs) -> Any:
    """Create ``fn(label, key=key, **kwargs)`` whose value survives page switches and lives in the URL.

    The value comes from the URL parameter ``key`` when it came from outside (a shared link or
    ``st.switch_page(..., query_params=...)``; a malformed or stale one falls back with a toast),
    else from the widget's current state, else from the value kept when the user last left the
    page, else ``default``. Don't pass ``value=``/``index=``: ``default`` is the default.
    """
    ss = st.session_state
    if url:
        raw = st.query_params.get(key)
        external = raw is not None and raw != _store("_published_url_values").get(key)
        if external or key not in ss:
            ss[key] = restore(key, ss.get(key, _store(_KEPT).get(key, default)),
                              lambda r: _parse(r, default, kwargs))
    elif key not in ss:
        ss[key] = _store(_KEPT).get(key, default)
    if not _fits(ss[key], kwargs):  # e.g. a slider's range shrank with a smaller image
        ss[key] = default
    result = fn(label, key=key, **kwargs)
    value = ss.get(key, result)
    if url:
        publish(key, value)
    else:
        _store(_KEPT)[key] = value
    return result


def keep_last(key: str, compute: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run ``compute``; on a user error return the last good result and the message to show.

    The page shows ``st.error(message)`` when it is not None, and goes on drawing the last good
    view, so nothing the user had is lost.
    """
    store = st.session_state.setdefault("_last_good", {})
    try:
        value = compute()
    except (UserError, ValueError) as exc:
        return store.get(key), t_error(exc)
    store[key] = value
    return value, None


_route_through_entry_script()
