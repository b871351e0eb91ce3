"""Streamlit-side helpers every page uses: text, URL-synced widgets, notes.

Pages import ``t``, ``widget`` and friends from here; ``explainer/`` never imports Streamlit.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from explainer import limits
from explainer.errors import UserError, message
from explainer.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate, translate_n
from ui.state import Param

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
    if getattr(PagesManager, "uses_pages_directory", False) and get_script_run_ctx() is not None:
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


def tn(key: str, count, /, **params) -> str:
    """The count-dependent catalogue text ``{key}_one`` / ``{key}_other`` for ``count`` in the current language
    (``{n}`` is the count unless ``params`` give ``n``): ``tn("pooling.windows", 1)`` → "1 window"."""
    return translate_n(key, count, lang(), **params)


def labels(prefix: str) -> Callable[[Any], str]:
    """A ``format_func`` for options: ``labels("pooling.mode_")("max")`` is the text of the key ``pooling.mode_max``.

    It binds the current language now, so it also works when Streamlit (or AppTest) calls it
    outside the script run, where ``t`` can't see the session's language.
    """
    code = lang()
    return lambda value: translate(f"{prefix}{value}", code)


# CommonMark lets a backslash escape every ASCII punctuation character, and an escaped character is
# always literal text: no emphasis, link, image, autolink, HTML tag, entity, code span, heading, list,
# table, LaTeX ($) or Streamlit directive (:red[…], :material/…:) can start from it. Line breaks become
# spaces (no block structure either).
_MARKDOWN_ESCAPES = {ord(c): "\\" + c for c in r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"""}
_MARKDOWN_ESCAPES.update({ord("\n"): " ", ord("\r"): " ", ord("\t"): " ", ord("\x0b"): " ", ord("\x0c"): " ",
                          ord("\u2028"): " ", ord("\u2029"): " "})


# Streamlit's markdown also turns plain text into links (GFM autolink literals: http://…, www.…, a@b.c)
# and emoji (:smile:) *after* escapes are resolved, so escaping can't stop those. An invisible WORD
# JOINER (U+2060) after every ":" and "@" and around every "." breaks each of these patterns and shows
# nothing (a test in a real browser checks it).
_JOIN = "\u2060"
_BREAK_PATTERNS = {ord(":"): ":" + _JOIN, ord("@"): "@" + _JOIN, ord("."): _JOIN + "." + _JOIN}


def literal(text: Any) -> str:
    """``text`` escaped so that Streamlit's markdown (``st.markdown``, ``st.toast``, ``st.error``,
    ``st.caption`` …) shows it exactly as typed: every ASCII punctuation character backslash-escaped,
    line breaks as spaces, and an invisible word joiner after ``:``, ``@`` and around ``.`` so that no URL,
    e-mail address or emoji code turns into a link or a picture. Use it for every user-supplied string
    (file names, URL values, typed text, error details) placed into a catalogue message."""
    return str(text).translate(_BREAK_PATTERNS).translate(_MARKDOWN_ESCAPES)


def _literal_params(params: dict) -> dict:
    """Values shown literally; ``param`` names a catalogue word (``errors.param.*``), not user text. A negative number
    gets a true minus sign, as the pages write numbers ("size −1", not "size -1")."""
    def shown(k, v):
        if k == "param":
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v if not v < 0 else "−" + str(-v)
        return literal(v)

    return {k: shown(k, v) for k, v in params.items()}


def t_error(exc: Exception) -> str:
    """A learner-facing message for an exception raised by ``explainer``; its values are shown literally."""
    if isinstance(exc, UserError):
        return message(exc.key, _literal_params(exc.params), lang())
    return t("common.unexpected_error", detail=literal(str(exc)[:200]))


def presenter() -> bool:
    """Presenter mode: larger type, wide layout, fewer side notes."""
    return bool(st.session_state.get("presenter", False))


def phone() -> bool:
    """A phone's browser (its User-Agent says "Mobi", the test MDN recommends), outside presenter mode: a grid of
    captioned pictures gets fewer columns there (8 names side by side on 412 px ran into each other)."""
    try:
        agent = st.context.headers.get("User-Agent") or ""
    except Exception:  # noqa: BLE001 — no request headers (AppTest, a bare run): a desktop
        agent = ""
    return "Mobi" in agent and not presenter()


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
    from ui.tables.shared import view_param

    return widget(st.segmented_control, t(f"{page}.view"), view_param(key, views), format_func=labels(f"{page}.view_"),
                  required=True)


def section(page: str, name: str) -> None:
    """A lesson section's header and intro: ``{page}.{name}_header``, ``{page}.{name}_intro``."""
    st.header(t(f"{page}.{name}_header"))
    st.markdown(t(f"{page}.{name}_intro"))


def formula(latex: str) -> None:
    st.latex(latex)


# ---------------------------------------------------------------- URL-synced widgets
def _store(name: str) -> dict:
    return st.session_state.setdefault(name, {})


_HISTORY = "_published_url_history"  # per key: the texts this session wrote to the URL on the page it is on
_HISTORY_MAX = 64  # per key (each text is at most limits.URL_PUBLISH_CHARS long)


def from_outside(key: str, raw: str | None) -> bool:
    """Whether the URL value ``raw`` of ``key`` came from outside (a shared link, ``st.switch_page(...,
    query_params=...)``) rather than from this session. A value the session itself published on this page
    is the browser's URL lagging behind: a rerun sent before the newest URL reached the browser (quick
    clicks on a busy server; seen in a real browser, where a paused race jumped back to the step it was
    published at) must not move anything back."""
    return (raw is not None and raw != _store("_published_url_values").get(key)
            and raw not in _store(_HISTORY).get(key, {}))


def page_entered(page: str) -> None:
    """The entry script calls this on every full run: on another page the URL history starts afresh, so an
    in-app link to a value the learner had before still applies."""
    ss = st.session_state
    if ss.get("_url_history_page") != page:
        ss["_url_history_page"] = page
        _store(_HISTORY).clear()


def restore(key: str, default: Any, parse: Callable[[str], Any] | None = None) -> Any:
    """The value for ``key`` on this run, for state that is not a widget (pair with ``publish``).

    A URL parameter that differs from what the app last wrote there came from outside (a shared
    link, ``st.switch_page(..., query_params=...)``) and wins; a malformed one falls back to the
    kept value or ``default`` with a toast. Otherwise: the value kept from the last visit, else
    ``default``.
    """
    kept, published = _store(_KEPT), _store("_published_url_values")
    raw = st.query_params.get(key)
    if from_outside(key, raw):
        published[key] = raw
        try:
            if len(raw) > limits.URL_VALUE_CHARS:  # refused before any parser sees it
                raise ValueError("too long")
            value = (parse or str)(raw)
        except (ValueError, TypeError, OverflowError):
            shown = raw[:limits.SHOWN_VALUE_CHARS] + ("…" if len(raw) > limits.SHOWN_VALUE_CHARS else "")
            st.toast(t("common.bad_url_param", name=literal(key[:limits.SHOWN_VALUE_CHARS]), value=literal(shown)),
                     icon="⚠️", duration="long")
        else:
            kept[key] = value
            return value
    return kept.get(key, default)


def publish(key: str, value: Any, text: str | None = None, ok: bool = True) -> None:
    """Remember ``value`` for ``key`` across page switches and write it to the URL.

    A value the page refused (``ok=False``) or one longer than ``limits.URL_PUBLISH_CHARS`` is kept for
    this session but not written: the URL keeps the last value that was published."""
    _store(_KEPT)[key] = value
    text = text if text is not None else str(value)
    good = _store("_good_url_values")
    if not ok or len(text) > limits.URL_PUBLISH_CHARS:
        text = good.get(key)  # the URL goes back to the last value published (or loses the parameter)
        if text is None:
            _store("_published_url_values").pop(key, None)
            if key in st.query_params:
                del st.query_params[key]
            return
    good[key] = text
    _store("_published_url_values")[key] = text
    history = _store(_HISTORY).setdefault(key, {})
    history.pop(text, None)
    history[text] = True  # newest last; the oldest go first
    while len(history) > _HISTORY_MAX:
        del history[next(iter(history))]
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def unpublish(key: str, seen: str | None = None) -> None:
    """Take ``key`` off the URL and forget its value (a job that ended). What this session wrote there before, and
    ``seen`` (a value it read and refused), stay in its history: a rerun from a browser whose URL lags behind
    still holds them, and they don't come back as if from outside."""
    for store in (_KEPT, "_good_url_values", "_published_url_values"):
        _store(store).pop(key, None)
    if seen is not None and len(seen) <= limits.URL_VALUE_CHARS:
        history = _store(_HISTORY).setdefault(key, {})
        history[seen] = True
        while len(history) > _HISTORY_MAX:
            del history[next(iter(history))]
    if key in st.query_params:
        del st.query_params[key]


_UNSET = object()


def widget(fn: Callable, label: str, param: Param, *, default: Any = _UNSET, min_value: Any = None,
           max_value: Any = None, options: Any = None, url: bool | None = None, **kwargs) -> Any:
    """Create ``fn(label, key=param.key, ...)`` for the declared setting ``param`` (a ``ui.state.Param`` from
    the page's table): its value survives page switches and lives in the URL.

    The range, options, step and length limit come from the declaration. A page may narrow them for this
    run (``min_value=``/``max_value=`` clamped into the declared range, ``options=`` a subset of the
    declared ones) and give a computed ``default=`` (e.g. the image's most detailed cell). The value comes
    from the URL parameter when it came from outside (a shared link or ``st.switch_page(...,
    query_params=...)``; parsed by the declared type; a malformed or out-of-range one falls back with a
    toast), else from the widget's current state, else from the value kept when the user last left the
    page, else the default. A kept value that no longer fits this run's range (a smaller image) falls
    back to the default.

    ``publish_if(value) -> bool``: only values it accepts are written to the URL (typed text that
    doesn't parse stays off the shareable link). ``url=False`` (or a declaration with ``url=False``):
    session state only.
    """
    key = param.key
    url = param.url if url is None else url
    default = param.default if default is _UNSET else param.coerce(default)
    narrowed = {"lo": min_value, "hi": max_value, "options": options}
    publish_if = kwargs.pop("publish_if", None)
    kwargs = {**param.widget_kwargs(min_value, max_value, options), **kwargs}
    ss = st.session_state
    if url:
        if from_outside(key, st.query_params.get(key)) or key not in ss:
            ss[key] = restore(key, ss.get(key, _store(_KEPT).get(key, default)),
                              lambda r: param.parse(r, **narrowed))
    elif key not in ss:
        ss[key] = _store(_KEPT).get(key, default)
    if not param.fits(ss[key], **narrowed):  # e.g. a slider's range shrank with a smaller image
        ss[key] = default
    result = fn(label, key=key, **kwargs)
    value = ss.get(key, result)
    if url:
        publish(key, value, param.format(value), ok=publish_if is None or bool(publish_if(value)))
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
