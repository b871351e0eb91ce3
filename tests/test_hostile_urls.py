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


# ---------------------------------------------------------------- random combinations of valid values
# The classes above set every key to the same kind of value at once, so a crash that needs two keys at
# *different* valid values (a transposed convolution's padding at or above its kernel size, a torch optimizer
# setting that another one forbids …) never shows. Here each run draws, for every key a page reads, a valid
# value of its own from the declaration (``ui/tables``: a number in its range, boundaries often, an option, a
# subset of the options, a grid of numbers for text), in both languages, seeded; nothing may raise.
COMBO_SEED = 20261203
COMBO_RUNS = 24  # per page (half in each language); more with $COMBO_RUNS
COMBO_SECONDS = 60.0  # per page: runs stop early (after at least 2) once a page has used this much


def _draw_number(rng, lo, hi, is_int: bool):
    if lo is None:
        lo = 0 if hi is None or hi >= 0 else hi - 50
    if hi is None:
        hi = lo + (60 if is_int else 100.0)
    roll = rng.random()
    if roll < 0.2:
        return lo
    if roll < 0.4:
        return hi
    if is_int:
        return rng.randint(int(lo), int(hi))
    if lo > 0 and hi / lo > 100:  # learning rates and the like: log-uniform
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return rng.uniform(lo, hi)


def valid_value(spec: pagewalk.WidgetSpec, rng) -> str | None:
    """A random valid URL value for ``spec`` (None: leave the key out of the link)."""
    p = spec.param
    if p is None:  # URL state with its own parser
        if spec.key.endswith("_pos"):
            return str(rng.randint(1, 120))
        if isinstance(spec.default, str) and len(spec.default) == 81 and set(spec.default) <= {"0", "1"}:
            return "".join(rng.choice("01") for _ in range(81))
        if spec.key == "xo_grid" or (hasattr(spec.default, "shape") and getattr(spec.default, "size", 0) == 81):
            return "".join(rng.choice("01") for _ in range(81))
        return None
    if p.type == "bool":
        return p.format(rng.random() < 0.5)
    if p.type == "choice":
        return p.format(rng.choice(list(spec.options if spec.options is not None else p.choices())))
    if p.type == "multi":
        options = list(spec.options if spec.options is not None else p.choices())
        n = rng.randint(0, min(len(options), p.max_selections or len(options)))
        return p.format(rng.sample(options, n))
    if p.type == "text":
        if rng.random() < 0.3:
            return p.format(p.default)
        rows, cols = rng.randint(1, 5), rng.randint(1, 5)
        text = "\n".join(" ".join(str(rng.randint(-3, 3)) for _ in range(cols)) for _ in range(rows))
        return text[: p.max_chars or limits.TEXT_CHARS]
    lo, hi = p.bounds()
    is_int = p.type in ("int", "int_range")
    if p.type in ("int", "float"):
        if spec.max_value is not None and p.hi is None:  # an open range the page narrows on this run
            hi = spec.max_value
        return p.format(_draw_number(rng, lo, hi, is_int))
    a, b = sorted(_draw_number(rng, lo, hi, is_int) for _ in range(2))
    return p.format((a, b))


def combo_plan(page: str, seed: int, runs: int) -> list[tuple[dict, str]]:
    """``runs`` (URL parameters, language): the contexts the walk found (the settings that reveal some widgets)
    in turn, each with a random valid value for every other key the page reads; each context gets runs in both
    languages."""
    import random

    specs = pagewalk.widget_keys(page)
    contexts = sorted({tuple(sorted(s.context.items())) for s in specs.values()}, key=lambda c: (len(c), c))
    plan = []
    for i in range(runs):
        params = dict(contexts[i % len(contexts)])
        for key in sorted(specs):
            if key in params or key == "lang":
                continue
            # a generator per run and key: the same draws whatever other keys the walk found
            value = valid_value(specs[key], random.Random(f"{seed}:{page}:{i}:{key}"))
            if value is not None:
                params[key] = value
        # alternating within a round, and each context switches language from one round to the next
        lang = ("en", "zh")[(i + i // len(contexts)) % 2]
        if page == pagewalk.ENTRY:  # the entry script reads the language from its own widget's key
            params["lang"] = lang
        plan.append((params, lang))
    return plan


def _query(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@pytest.mark.parametrize("page", pagewalk.pages())
def test_url_fuzz_random_valid_combinations(page):
    import os
    import time

    runs = int(os.environ.get("COMBO_RUNS", COMBO_RUNS))
    budget = float(os.environ.get("COMBO_SECONDS", COMBO_SECONDS))
    start = time.monotonic()
    for n, (params, lang) in enumerate(combo_plan(page, COMBO_SEED, runs)):
        if n >= 2 and time.monotonic() - start > budget:
            break
        at = pagewalk.run_page(page, params, lang=lang)
        where = f"/{'' if page == pagewalk.ENTRY else page}?{_query(params)} (lang={lang})"
        assert not at.exception, f"{where}: {[e.value for e in at.exception]}"


def test_combo_values_are_valid_and_vary():
    """The drawn values parse under their declarations, and the draws differ between runs (not one class)."""
    for page in ("stride", "pooling"):
        plan = combo_plan(page, COMBO_SEED, 6)
        specs = pagewalk.widget_keys(page)
        for params, _lang in plan:
            for key, value in params.items():
                if specs[key].param is not None:
                    specs[key].param.parse(value)  # raises ValueError on an invalid draw
        assert len({tuple(sorted(p.items())) for p, _ in plan}) == len(plan)
        assert {lang for _, lang in plan} == {"en", "zh"}


# ---------------------------------------------------------------- ?job=: the Train page's training, for a reconnection
A_KEY = "explainer-train-1733300000000000000-12-0123456789ab-0-x"  # a training key's shape, no such training
HOSTILE_JOBS = [LONG, LONG[:limits.URL_VALUE_CHARS + 100], MARKUP, "", "\x00\u202e１２；,,,;;[[]]/0",
                "../../../etc/passwd", "/tmp/x.pt", A_KEY + ".pt", A_KEY + "/../x", A_KEY.upper(), A_KEY + "\n",
                A_KEY.replace("train", "landscape"), A_KEY.replace("-x", "-" + "f" * 17),
                A_KEY.replace("1733300000000000000", "9" * 21), f"[{A_KEY}](http://{EVIL})"]


@pytest.mark.parametrize("value", HOSTILE_JOBS, ids=range(len(HOSTILE_JOBS)))
def test_hostile_job_link_is_refused_and_starts_nothing(value):
    """Anything but a training's key as the engine makes it is refused before anything is done with it: no
    traceback, no job, no Retry, quoted literally (and short) in a toast, and taken off the URL."""
    at = pagewalk.run_page("train", {"job": value})
    check_page(at, f"train job={value[:40]!r}", {"job": value})
    for name in ("tr_job", "tr_lost", "tr_rejoin"):
        assert name not in at.session_state, name
    assert "job" not in at.query_params
    assert not any(b.key in ("tr_retry", "tr_lost_dismiss") for b in at.button)
    assert any("job=" in t.value for t in at.toast)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_another_browsers_job_link_is_refused_and_starts_nothing(lang):
    """A well-formed training key whose visitor is not this browser's (a shared link, or a made-up key): refused with
    a toast in the learner's language before anything is done with it (no Retry, which could resume, stop and so
    delete another learner's checkpoint), and taken off the URL."""
    from explainer.i18n import translate

    at = pagewalk.run_page("train", {"job": A_KEY}, lang=lang)
    check_page(at, f"train job={A_KEY}", {"job": A_KEY})
    for name in ("tr_job", "tr_lost", "tr_rejoin"):
        assert name not in at.session_state, name
    assert not any(b.key in ("tr_retry", "tr_lost_dismiss") for b in at.button)
    assert "job" not in at.query_params
    assert translate("train.rejoin_foreign", lang) in [t.value for t in at.toast]
