"""URL fuzzer: every widget key the app reads (found by walking the pages, ``tests/pagewalk.py``) gets
garbage, extremes, NaN/±inf, 100 kB values, markdown and HTML through a shared link. No page may raise,
no user-supplied value may reach the page as markup, and nothing refused or oversized is published back
to the URL.

Each page is opened once per hostile class with *every* key set to that class's value; the keys that
only appear under some setting are fuzzed under that setting, with a rotating subset of three classes
(so all classes reach them across the settings), to keep the suite's runtime reasonable for CI.
"""
from __future__ import annotations

import math
import re

import pytest

from explainer import limits
from tests import pagewalk

EVIL = "evil.invalid"
MARKUP = f"[a](http://{EVIL}) ![x](http://{EVIL}/p.png) <b>evil</b> <img src=http://{EVIL}/i.png> :red[evil] $x$"
LONG = f"![x](http://{EVIL}/p.png)<b>evil</b>" + "9" * 100_000  # 100 kB


def _number_extreme(spec: pagewalk.WidgetSpec, which: str) -> str:
    is_int = isinstance(spec.default, int) and not isinstance(spec.default, bool)
    lo, hi = spec.min_value, spec.max_value
    if which == "above":
        return str(2**70) if is_int and hi is None else repr(hi + 1) if hi is not None else "1e308"
    if which == "below":
        return str(-2**70) if is_int and lo is None else repr(lo - 1) if lo is not None else "-1e308"
    if which == "max":
        return repr(hi) if hi is not None else ("9007199254740991" if is_int else "1e300")
    if which == "min":
        return repr(lo) if lo is not None else ("0" if is_int else "1e-306")  # e.g. a divisor of 1e-306
    raise ValueError(which)


def hostile(spec: pagewalk.WidgetSpec, cls: str, i: int) -> str:
    """The URL value of hostile class ``cls`` for widget ``spec`` (``i``: the key's index, to alternate)."""
    if cls == "long":  # 100 kB for the first keys (text boxes first); Streamlit drops a query over 512 kB
        return LONG if i < 4 else LONG[:limits.URL_VALUE_CHARS + 100]
    if cls == "markup":
        return MARKUP
    if cls == "nan_inf":
        return ("nan", "inf", "-inf")[i % 3]
    if cls == "empty":
        return ""
    if cls == "garbage":
        return "\x00\u202e１２；,,,;;[[]]/0"
    if spec.options is not None:  # extremes of an option widget: first / last option, or one not offered
        if isinstance(spec.default, (list, tuple)):
            return {"max": spec.param.format(spec.options), "min": "", "above": "zz,zz",
                    "below": ","}[cls]
        return {"max": spec.param.format(spec.options[-1]), "min": spec.param.format(spec.options[0]), "above": "zz",
                "below": "-1"}[cls]
    if spec.kind == "restore":  # URL state with its own parser (the X/O grid's 81 digits …)
        return {"max": "1" * 81, "min": "0" * 81, "above": "2" * 81, "below": "-1" * 40}[cls]
    if isinstance(spec.default, bool):
        return {"max": "1", "min": "0", "above": "2", "below": "-1"}[cls]
    if isinstance(spec.default, (int, float)):
        return _number_extreme(spec, cls)
    if isinstance(spec.default, (tuple, list)):  # range slider
        return ",".join([_number_extreme(spec, cls)] * len(spec.default))
    return {"max": "9" * (spec.max_chars or limits.TEXT_CHARS), "min": "0", "above": "1e308 " * 50,
            "below": "-1e308"}[cls]


CLASSES = ("long", "markup", "nan_inf", "above", "below", "max", "min", "empty", "garbage")
# Markdown that would render as a link, an image, HTML, an autolink, LaTeX or a Streamlit directive if a
# value got through raw: the characters that start it, not escaped with a backslash.
_RAW_MARKUP = re.compile(r"(?<!\\)(?:\]\(|!\[|<[A-Za-z/!]|:\/\/|:red\[|\$x)")


def unescaped_markup(body: str) -> list[str]:
    """The raw markup starts in a markdown ``body`` (empty when every user character was escaped)."""
    return _RAW_MARKUP.findall(body)
TEXT_ELEMENTS = {"Markdown", "Caption", "Error", "Warning", "Info", "Success", "Toast", "Text", "Title",
                 "Header", "Subheader", "Exception", "Latex", "Code"}


def _nodes(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for c in children.values():
            yield from _nodes(c)


def check_page(at, where: str, sent: dict) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    rendered = {getattr(n, "key", None) for n in _nodes(at._tree)}
    for node in _nodes(at._tree):
        if type(node).__name__ not in TEXT_ELEMENTS:
            continue
        body = getattr(node, "value", None)
        if isinstance(body, str) and ("evil" in body or "99999999" in body):
            assert not unescaped_markup(body), f"{where}: user text rendered as markup: {body[:300]!r}"
            assert len(body) < 5_000, f"{where}: a 100 kB value was echoed: {len(body)} characters"
    for key, value in dict(at.query_params).items():
        value = value if isinstance(value, str) else ",".join(value)
        if value == sent.get(key) and key not in rendered:
            continue  # a parameter this view doesn't read: left as the visitor sent it, not published by the app
        assert len(value) <= limits.URL_PUBLISH_CHARS, f"{where}: {key} published {len(value)} characters"
        assert EVIL not in value and "evil" not in value, f"{where}: refused value published for {key}"


def _plan(page: str) -> list[tuple[dict, str]]:
    """(URL parameters, label) for each run of ``page``."""
    specs = pagewalk.widget_keys(page)
    contexts: dict[tuple, list[str]] = {}
    for key, spec in specs.items():
        contexts.setdefault(tuple(sorted(spec.context.items())), []).append(key)
    runs = []
    for n, (ctx_items, keys) in enumerate(sorted(contexts.items(), key=lambda kv: len(kv[0]))):
        ctx = dict(ctx_items)
        classes = CLASSES if not ctx else [CLASSES[(n * 3 + j) % len(CLASSES)] for j in range(3)]
        for cls in classes:
            params = dict(ctx)
            # every key the page reads under this setting, except those that make the setting
            # under the page's defaults: every key; under a setting that reveals more: the keys it reveals
            # (the others were fuzzed already, and keeping them at their defaults keeps the run cheap)
            keys = sorted((k for k, s in specs.items() if k not in params and s.context == ctx),
                          key=lambda k: specs[k].kind not in ("text_area", "text_input"))
            for i, key in enumerate(keys):
                params[key] = hostile(specs[key], cls, i)
            runs.append((params, f"{page} {cls} {dict(ctx)}"))
    return runs


@pytest.mark.parametrize("page", pagewalk.pages())
def test_url_fuzz(page):
    for params, where in _plan(page):
        at = pagewalk.run_page(page, params)
        check_page(at, where, params)


def test_walker_finds_widgets_behind_settings():
    """The walk reaches widgets that only appear for some settings (a check that walking works at all)."""
    kernels = pagewalk.widget_keys("kernels")
    assert kernels["kn_custom"].kind == "text_area" and kernels["kn_custom"].context == {"kn_kernel": "custom"}
    assert "kn_divnum" in kernels and kernels["kn_kernel"].kind == "selectbox"
    assert {"op_x", "op_y", "op_steps"} <= set(pagewalk.widget_keys("optimizers"))
    assert {"lang", "presenter"} <= set(pagewalk.widget_keys(pagewalk.ENTRY))
    assert pagewalk.widget_keys("xo")["xo_grid"].kind == "restore"


def test_hostile_values_cover_every_kind():
    """Every class gives every kind of widget a value (no class silently skips a kind)."""
    for page in pagewalk.pages():
        for i, spec in enumerate(pagewalk.widget_keys(page).values()):
            for cls in CLASSES:
                value = hostile(spec, cls, i)
                assert isinstance(value, str)
                if cls == "long":
                    assert len(value) > (100_000 if i < 4 else limits.URL_VALUE_CHARS)
    assert math.isnan(float(hostile(pagewalk.WidgetSpec("k", "number_input", 1.0), "nan_inf", 0)))
