"""The text catalogue: one set of TOML files per language under ``explainer/locales/<lang>/``.

A key ``title`` in ``locales/en/kernels.toml`` is ``"kernels.title"``; nested tables give dotted keys.
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
_ROOT = Path(__file__).parent / "locales"


def _flatten(prefix: str, table: dict, out: dict) -> None:
    for k, v in table.items():
        key = f"{prefix}.{k}"
        if isinstance(v, dict):
            _flatten(key, v, out)
        else:
            out[key] = v


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key → text for ``lang`` (``"en"`` or ``"zh"``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {sorted(LANGUAGES)}")
    out: dict[str, str] = {}
    for f in sorted((_ROOT / lang).glob("*.toml")):
        with f.open("rb") as fh:
            _flatten(f.stem, tomllib.load(fh), out)
    return out


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **params) -> str:
    """The text for ``key`` in ``lang``, formatted with ``params``.

    A key missing from ``lang`` falls back to English; a key missing everywhere returns the key
    itself (the catalogue tests make sure that never ships).
    """
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    if params and isinstance(text, str):
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


# ---------------------------------------------------------------- plural forms
# A count-dependent text is a key family ``<key>_one`` / ``<key>_other`` (CLDR's names for the forms); English
# uses "one" for exactly 1, Chinese has no plural (both keys hold the same text, so both languages keep the same keys).
PLURAL_RULES = {"en": lambda n: "one" if n == 1 else "other", "zh": lambda n: "other"}
PLURAL_FORMS = ("one", "other")


def plural_form(n, lang: str = DEFAULT_LANGUAGE) -> str:
    """``"one"`` or ``"other"``: the form of a count ``n`` in ``lang``."""
    rule = PLURAL_RULES.get(lang, PLURAL_RULES[DEFAULT_LANGUAGE])
    try:
        return rule(n)
    except TypeError:
        return "other"


def translate_n(key: str, count, lang: str = DEFAULT_LANGUAGE, /, **params) -> str:
    """The text of ``<key>_one`` or ``<key>_other`` for ``count`` in ``lang``, formatted with ``params`` (``{n}`` is the
    count unless ``params`` give ``n``): ``translate_n("chart.lines", 1, "en")`` → "1 line: ", with 2 → "2 lines: "."""
    params.setdefault("n", count)
    return translate(f"{key}_{plural_form(count, lang)}", lang, **params)
